"""The generation section of the HTML page (a report with ``llm``): the answer, prefill against decode
side by side, the batch sweep, and three charts — cost per phase, time per token over the
generation, and the sweep's throughput."""

from __future__ import annotations

from typing import Any

from howfast.report.llm import LlmSection
from howfast.report.render.html.escape import escape, plot_text
from howfast.report.render.html.figures import axis, base_layout, color
from howfast.report.render.llm import crossover_line, footer, headline, phase_rows, sweep_rows
from howfast.report.report import Report

ORDER = ("phases", "tpot", "sweep")
NUM = '<td class="num">'


def generation_section(report: Report) -> str:
    """The generation's figures as escaped HTML (empty when the report has no ``llm``)."""
    llm = report.llm
    if llm is None:
        return ""
    lines = headline(report, llm)
    parts = ['<section id="generation">', f"<h2>{escape('Generation')}</h2>", f"<p><strong>{escape(lines[0])}</strong></p>",
             "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines[1:]) + "</ul>", _table(*phase_rows(llm), "phases")]
    if llm.sweep:
        parts.append(_table(*sweep_rows(llm.sweep), "sweep"))
        cross = crossover_line(llm.sweep)
        if cross:
            parts.append(f"<p>{escape(cross)}</p>")
    parts.append('<ul class="notes">' + "".join(f"<li>{escape(line)}</li>" for line in footer(report, llm)) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[str]], ident: str) -> str:
    cells = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join((NUM if k else "<td>") + f"{escape(c)}</td>" for k, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f'<table class="generation" id="generation-{escape(ident)}"><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>'


def generation_figures(report: Report) -> dict[str, Any]:
    """The charts of the generation by name (None where the report lacks the figures)."""
    llm = report.llm
    if llm is None:
        return {}
    return {"phases": _phases_figure(llm), "tpot": _tpot_figure(llm), "sweep": _sweep_figure(llm)}


def _phases_figure(llm: LlmSection) -> dict[str, Any]:
    figures = [("prefill", llm.prefill)]
    if llm.decode.first is not None:
        figures.append((f"decode, first (C={llm.decode.first.context:,})", llm.decode.first))
    if llm.decode.last is not None:
        figures.append((f"decode, last (C={llm.decode.last.context:,})", llm.decode.last))
    names = [plot_text(name) for name, _ in figures]
    data = [
        {"type": "bar", "name": "MACs per token", "x": names, "y": [f.macs_per_token for _, f in figures],
         "marker": {"color": color(0)}, "hovertemplate": "%{x}<br>%{y:.4s} MACs per token<extra></extra>"},
        {"type": "bar", "name": "bytes moved per token", "x": names, "y": [f.bytes_per_token for _, f in figures],
         "marker": {"color": color(1)}, "hovertemplate": "%{x}<br>%{y:.4s} bytes per token<extra></extra>"},
    ]
    layout = {**base_layout("Prefill against decode, per token", 420), "barmode": "group",
              "yaxis": axis("per token (log)", type="log"), "xaxis": axis("")}
    return {"data": data, "layout": layout,
            "caption": "MACs and bytes moved (read + written) per token processed: the prefill reuses each weight over "
                       "the prompt's tokens; a decode step reads every weight and the KV cache for one token per sequence."}


def _tpot_figure(llm: LlmSection) -> dict[str, Any] | None:
    p = llm.predicted
    if p is None or not p.curve:
        return None
    data: list[dict[str, Any]] = [{"type": "scatter", "mode": "lines+markers", "name": f"predicted on {plot_text(p.device)}",
                                   "x": [t.context for t in p.curve], "y": [t.tpot_s * 1e3 for t in p.curve],
                                   "marker": {"color": color(0)}, "hovertemplate": "context %{x}<br>%{y:.4g} ms<extra></extra>"}]
    m = llm.measured
    if m is not None and llm.decode.first is not None and llm.decode.last is not None:
        data.append({"type": "scatter", "mode": "markers", "name": "measured (first and last quarter of the steps)",
                     "x": [llm.decode.first.context, llm.decode.last.context], "y": [m.tpot_first_s * 1e3, m.tpot_last_s * 1e3],
                     "marker": {"color": color(1), "size": 10}, "hovertemplate": "context %{x}<br>%{y:.4g} ms<extra></extra>"})
    layout = {**base_layout("Time per output token over the generation", 420), "xaxis": axis("context (keys attended to)"),
              "yaxis": axis("TPOT (ms)", rangemode="tozero")}
    return {"data": data, "layout": layout,
            "caption": "Predicted time of each decode step against its context: the KV cache a step reads grows by one "
                       "position per token."}


def _sweep_figure(llm: LlmSection) -> dict[str, Any] | None:
    points = [p for p in llm.sweep if p.aggregate_tokens_per_s is not None]
    if len(points) < 2:
        return None
    batches = [p.batch for p in points]
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": "tokens/s, all sequences", "x": batches,
         "y": [p.aggregate_tokens_per_s for p in points], "marker": {"color": color(0)},
         "hovertemplate": "batch %{x}<br>%{y:.4s} tokens/s in all<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "name": "TPOT, first step (ms)", "x": batches, "yaxis": "y2",
         "y": [(p.tpot_s or 0.0) * 1e3 for p in points], "marker": {"color": color(1)},
         "hovertemplate": "batch %{x}<br>%{y:.4g} ms per token<extra></extra>"},
    ]
    layout = {**base_layout("Batch sweep", 420), "xaxis": axis("batch", type="log"), "yaxis": axis("tokens/s in all"),
              "yaxis2": axis("TPOT (ms)", overlaying="y", side="right", rangemode="tozero")}
    return {"data": data, "layout": layout,
            "caption": "Throughput of all sequences together and the time per token as the batch grows: while decode is "
                       "memory-bound, more sequences share each read of the weights."}
