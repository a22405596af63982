"""The roofline section of a report as Markdown: per layer FLOPs, bytes, intensity, bound, predicted
time and share, with measured time beside it when joined. (The terminal shows the same figures as
columns of its layer tree: ``render/table.py``.)"""

from __future__ import annotations

from howfast import units
from howfast.report.render.summary import roofline_lines
from howfast.report.report import Report
from howfast.report.sections import Roofline, RooflineLayer

HEADERS = ("Layer", "Type", "FLOPs", "Bytes", "FLOP/B", "Bound", "Predicted", "Share")
MEASURED_HEADERS = ("Measured", "Pred/Meas")
_LEFT = ("Layer", "Type", "Bound")


def _cells(layer: RooflineLayer, measured: bool) -> list[str]:
    cells = [units.count(layer.flops), units.nbytes(layer.bytes), "-" if layer.intensity is None else f"{layer.intensity:.2f}",
             layer.bound, units.seconds(layer.predicted_s), f"{100 * layer.share:.1f}%"]
    if measured:
        cells += [units.seconds(layer.measured_s), "-" if layer.ratio is None else f"{layer.ratio:.2f}"]
    return cells


def _visible(rl: Roofline, depth: int | None) -> list[RooflineLayer]:
    return [layer for layer in rl.layers if depth is None or layer.depth <= depth]


def render_roofline_markdown(report: Report, depth: int | None = None) -> str:
    """The roofline columns per layer as a Markdown table, with the summary lines."""
    rl = report.roofline
    if rl is None:
        return ""
    measured = rl.measured is not None
    head = HEADERS + (MEASURED_HEADERS if measured else ())
    lines = [f"## Roofline on {rl.device.label}", "", "| " + " | ".join(head) + " |",
             "|" + "|".join("---" if h in _LEFT else "---:" for h in head) + "|"]
    for layer in _visible(rl, depth):
        cells = [f"`{layer.name or '(model)'}`", layer.type] + _cells(layer, measured)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    lines.extend(f"- {line.strip()}" for line in roofline_lines(rl))
    return "\n".join(lines) + "\n"
