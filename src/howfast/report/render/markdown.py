"""Markdown renderer: totals, the layer table and the conventions, for READMEs and issues; the
roofline section after them when the report has one."""

from __future__ import annotations

from typing import Any

from howfast.report.render.columns import layer_columns, visible_layers
from howfast.report.render.roofline import render_roofline_markdown
from howfast.report.render.summary import summary_lines
from howfast.report.report import Report
from howfast.units import printable


def _cell(text: str) -> str:
    """``text`` for one table cell: pipes and markup escaped, control characters shown as ``\\xNN``."""
    return printable(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(report: Report, depth: int | None = None, **_: Any) -> str:
    lines = [f"# howfast report: {_cell(report.model.name)}", ""]
    lines += [f"- {_cell(line)}" for line in summary_lines(report)]
    columns = layer_columns(report)
    lines += ["", "| " + " | ".join(c.title for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in visible_layers(report, depth):
        cells = [c.human(row) for c in columns]
        cells[0] = "&nbsp;&nbsp;" * row.depth + _cell(cells[0])
        lines.append("| " + " | ".join(_cell(c) if i else c for i, c in enumerate(cells)) + " |")
    lines += ["", "## Conventions", ""]
    lines += [f"- **{key}**: {_cell(text)}" for key, text in report.conventions.describe().items()]
    if report.uncounted_ops:
        lines += ["", "## Uncounted ops", ""]
        lines += [f"- `{printable(u.op)}` x{u.count} (in {', '.join(_cell(m or '(model)') for m in u.modules)})" for u in report.uncounted_ops]
    text = "\n".join(lines) + "\n"
    if report.roofline is not None:
        text += "\n" + render_roofline_markdown(report, depth=depth)
    return text
