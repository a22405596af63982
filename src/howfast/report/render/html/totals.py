"""The comparison page's totals chart: each model's totals side by side, one small bar chart per total.

A comparison compares models by their totals and by op type, never layer against layer: two
architectures' layers do not pair up by position. Each total has its own axis (they are in different
units): MACs, FLOPs, bytes moved (read + written, compulsory model), parameters and, when any report
has a roofline, the predicted time. One colour per model, the same in every panel; the hover shows
the exact figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from howfast import units
from howfast.report.render.html.escape import plot_text
from howfast.report.render.html.ticks import byte_axis
from howfast.report.report import Report


@dataclass(frozen=True)
class Total:
    """One panel of the chart: its title, a report's value (None when it has none), and how to show it."""

    key: str
    title: str
    value: Callable[[Report], float | None]
    human: Callable[[float], str]
    suffix: str = ""  # the axis's unit after SI prefixes: "B" (bytes), "s" (seconds)


def predicted_s(report: Report) -> float | None:
    """The roofline's predicted latency, or None without a roofline."""
    return report.roofline.predicted_latency_s if report.roofline is not None else None


TOTALS: tuple[Total, ...] = (
    Total("macs", "MACs", lambda r: r.totals.macs, units.count),
    Total("flops", "FLOPs", lambda r: r.totals.flops, units.count),
    Total("bytes", "bytes moved (read + written)", lambda r: r.totals.bytes_read + r.totals.bytes_written, units.nbytes, "B"),
    Total("params", "parameters", lambda r: r.totals.params, units.params),
    Total("predicted_s", "predicted time (roofline)", predicted_s, units.seconds, "s"),
)
GAP = 0.05  # between panels, as a fraction of the chart's width


def shown_totals(reports: list[Report]) -> list[Total]:
    """The panels drawn: every total, the predicted time only when a report has a roofline."""
    return [t for t in TOTALS if any(t.value(r) is not None for r in reports)]


def totals_figure(reports: list[Report], labels: list[str], colours: list[str]) -> dict[str, Any]:
    """The chart: one panel per total (``shown_totals``), one bar per model in each, ``colours[k]`` for model ``k``."""
    totals = shown_totals(reports)
    data = []
    for i, total in enumerate(totals):
        suffix = "" if i == 0 else str(i + 1)
        for k, (report, label) in enumerate(zip(reports, labels)):
            value = total.value(report)
            if value is None:
                continue
            data.append({
                "type": "bar", "x": [plot_text(label)], "y": [value], "name": plot_text(label), "legendgroup": plot_text(label),
                "showlegend": i == 0, "marker": {"color": colours[k]}, "xaxis": "x" + suffix, "yaxis": "y" + suffix,
                "customdata": [[plot_text(total.human(value)), plot_text(exact(value, total.suffix))]],
                "hovertemplate": (f"<b>{plot_text(label)}</b><br>{plot_text(total.title)}: %{{customdata[0]}}<br>"
                                  "%{customdata[1]}<extra></extra>"),
            })
    missing = [label for report, label in zip(reports, labels) if predicted_s(report) is None]
    caption = ("Each model's totals side by side, one panel per total (each on its own axis), one colour per model: "
               "MACs, FLOPs, bytes read + written (compulsory model), parameters"
               + (" and the roofline's predicted time" if any(t.key == "predicted_s" for t in totals) else "")
               + ". Hover a bar for the exact figure.")
    if missing and len(missing) < len(reports):
        caption += " No predicted time for " + ", ".join(missing) + ": no roofline (no device profile)."
    return {"data": data, "layout": totals_layout(totals, reports), "caption": caption}


def exact(value: float, suffix: str) -> str:
    """The exact figure: ``4,089,184,256``, or a time in seconds to 4 significant digits."""
    if suffix == "s":
        return f"{value:.4g} s"
    return f"{int(value):,}" + (" B" if suffix == "B" else "")


def totals_layout(totals: list[Total], reports: list[Report]) -> dict[str, Any]:
    """Side-by-side panels, each titled by its total below its bars (the models' labels): SI ticks with
    no offset, bytes in KiB/MiB/GiB as on the rest of the page."""
    n = max(len(totals), 1)
    width = (1.0 - GAP * (n - 1)) / n
    layout: dict[str, Any] = {
        "title": {"text": "Totals per model", "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "height": 420, "margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "hovermode": "closest", "barmode": "group",
        "legend": {"orientation": "h", "y": -0.3}, "paper_bgcolor": "white", "plot_bgcolor": "white",
    }
    for i, total in enumerate(totals):
        suffix = "" if i == 0 else str(i + 1)
        left = i * (width + GAP)
        layout["xaxis" + suffix] = {"domain": [left, left + width], "anchor": "y" + suffix, "type": "category",
                                    "title": {"text": plot_text(total.title)}, "automargin": True}
        ticks = (byte_axis([v for v in (total.value(r) for r in reports) if v is not None]) if total.suffix == "B"
                 else {"tickformat": "~s", "ticksuffix": total.suffix})
        layout["yaxis" + suffix] = {"anchor": "x" + suffix, "rangemode": "tozero", "gridcolor": "#e5e5e5", "zeroline": False,
                                    "automargin": True, **ticks}
    return layout
