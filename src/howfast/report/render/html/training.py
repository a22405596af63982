"""The training section of the HTML page (a report with ``training``): the step in one sentence, its
phases side by side and its memory by category (the rows of ``render/training.py``), and two
charts — FLOPs and bytes per phase, and the memory categories as one stacked bar beside the peak (with
activation checkpointing, a third bar: the saved activations without it)."""

from __future__ import annotations

from typing import Any

from howfast import units
from howfast.report.render.html.escape import escape, plot_text
from howfast.report.render.html.figures import axis, base_layout, color
from howfast.report.render.training import headline, memory_rows, phase_rows
from howfast.report.report import Report
from howfast.report.training import TrainingMemory

ORDER = ("training_phases", "training_memory")
NUM = '<td class="num">'
CATEGORIES = (("parameters", "parameters"), ("gradients", "gradients"), ("optimizer_state", "optimizer state"),
              ("saved_activations", "saved activations"))


def training_section(report: Report) -> str:
    """The training step's figures as escaped HTML (empty when the report has no ``training``)."""
    memory = report.training
    if memory is None:
        return ""
    parts = ['<section id="training">', f"<h2>{escape('Training step')}</h2>",
             f"<p><strong>{escape(headline(report, memory))}</strong></p>",
             f"<h3>{escape('Phases side by side')}</h3>", _table(*phase_rows(report), "phases", numeric_last=True),
             f"<h3>{escape('Memory by category')}</h3>", _table(*memory_rows(report, memory), "memory", numeric_last=False)]
    if memory.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in memory.notes) + "</ul>")
    parts.append('<p class="muted">' + escape("Definitions: docs/training.md. The categories do not all live at once: the "
                                              "peak is the most bytes live at one time over the step.") + "</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[str]], ident: str, numeric_last: bool) -> str:
    cells = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    last = len(head) - 1

    def cell(k: int, text: str) -> str:
        numeric = k > 0 and (numeric_last or k < last)
        return (NUM if numeric else "<td>") + f"{escape(text)}</td>"

    body = "".join("<tr>" + "".join(cell(k, c) for k, c in enumerate(row)) + "</tr>" for row in rows)
    return (f'<table class="generation training" id="training-{escape(ident)}"><thead><tr>{cells}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def training_figures(report: Report) -> dict[str, Any]:
    """The charts of the training step by name (none when the report has no ``training``)."""
    memory = report.training
    if memory is None:
        return {}
    return {"training_phases": _phases_figure(report), "training_memory": _memory_figure(memory)}


def _phases_figure(report: Report) -> dict[str, Any]:
    phases = [p for p in report.phases if p.name in ("forward", "backward", "optimizer")]
    names = [plot_text(p.name) for p in phases]
    data = [
        {"type": "bar", "name": "FLOPs", "x": names, "y": [p.totals.flops for p in phases], "marker": {"color": color(0)},
         "offsetgroup": "flops", "hovertemplate": "%{x}<br>%{y:.4s} FLOPs<extra></extra>"},
        {"type": "bar", "name": "bytes moved", "x": names, "y": [p.totals.traffic(report.memory_model).get("bytes", 0) for p in phases],
         "marker": {"color": color(1)}, "offsetgroup": "bytes", "hovertemplate": "%{x}<br>%{y:.4s} bytes<extra></extra>"},
    ]
    if report.roofline is not None and all(p.roofline is not None for p in phases):
        data.append({"type": "bar", "name": "predicted seconds", "x": names, "yaxis": "y2", "marker": {"color": color(2)},
                     "y": [p.roofline.predicted_latency_s for p in phases if p.roofline is not None],
                     "hovertemplate": "%{x}<br>predicted %{y:.4s}s<extra></extra>", "offsetgroup": "time"})
    layout = {**base_layout("The step's phases side by side", 420), "barmode": "group", "xaxis": axis(""),
              "yaxis": axis("FLOPs and bytes (log)", type="log")}
    if len(data) > 2:
        layout["yaxis2"] = axis("predicted seconds", overlaying="y", side="right", rangemode="tozero")
    return {"data": data, "layout": layout,
            "caption": "FLOPs and bytes moved by forward (with the loss), backward and the optimizer step; with a device "
                       "profile, the predicted time of each (right axis). Backward is about twice forward: a gradient for "
                       "the input and one for the weight of every layer that needs them."}


def _memory_figure(memory: TrainingMemory) -> dict[str, Any]:
    rows = [plot_text("by category"), plot_text("peak (live at once)")]
    data: list[dict[str, Any]] = []
    for k, (key, label) in enumerate(CATEGORIES):
        value = int(getattr(memory, key))
        data.append({"type": "bar", "orientation": "h", "name": plot_text(label), "y": [rows[0]], "x": [value],
                     "marker": {"color": color(k)}, "customdata": [[units.nbytes(value)]],
                     "hovertemplate": plot_text(label) + ": %{customdata[0]}<extra></extra>"})
    data.append({"type": "bar", "orientation": "h", "name": plot_text("peak"), "y": [rows[1]], "x": [memory.peak],
                 "marker": {"color": color(7)}, "customdata": [[units.nbytes(memory.peak), plot_text(memory.peak_phase)]],
                 "hovertemplate": "peak: %{customdata[0]}, in %{customdata[1]}<extra></extra>"})
    c = memory.checkpoint
    if c is not None:
        row = plot_text("saved activations, no checkpointing")
        data.append({"type": "bar", "orientation": "h", "name": plot_text("saved, no checkpointing"), "y": [row],
                     "x": [c.saved_without], "marker": {"color": color(3)}, "opacity": 0.5,
                     "customdata": [[units.nbytes(c.saved_without), units.nbytes(c.bytes_saved)]],
                     "hovertemplate": "without checkpointing: %{customdata[0]} (checkpointing saves %{customdata[1]})"
                                      "<extra></extra>"})
    layout = {**base_layout("Training memory by category", 320), "barmode": "stack", "xaxis": axis("bytes"),
              "yaxis": axis("", autorange="reversed")}
    return {"data": data, "layout": layout,
            "caption": "Parameters, gradients, optimizer state and the activations saved for backward, stacked; below, the "
                       "peak of live bytes over the step (the categories are not all live at once; buffers and temporaries "
                       "count in the peak)."}
