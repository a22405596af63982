"""Terminal renderer: a rich table of the module tree with totals and conventions, and the
report's sections (the roofline) after it."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from howfast.report.render.columns import layer_columns, visible_layers
from howfast.report.render.roofline import render_roofline_table
from howfast.report.render.summary import summary_lines
from howfast.report.report import Report


def render_table(report: Report, depth: int | None = None, width: int | None = None, color: bool = False, **_: Any) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 160, force_terminal=color, no_color=not color, highlight=False)
    table = Table(title=f"howfast: {escape(report.model.name)}", show_lines=False, header_style="bold")
    columns = layer_columns(report)
    for column in columns:
        table.add_column(column.title, justify="left" if column.key in ("name", "type", "output_shape") else "right", overflow="fold")
    for row in visible_layers(report, depth):
        cells = [escape(c.human(row)) for c in columns]
        cells[0] = "  " * row.depth + cells[0]
        table.add_row(*cells, style="bold" if row.depth == 0 else None)
    console.print(table)
    for line in summary_lines(report):
        console.print(escape(line))
    console.print("conventions:")
    for key, text in report.conventions.describe().items():
        console.print(f"  {key}: {escape(text)}")
    text = buffer.getvalue()
    if report.roofline is not None:
        text += "\n" + render_roofline_table(report, depth=depth, width=width)
    return text
