"""CSV renderer: one row per layer with raw integer values (no units), for spreadsheets.

Text cells are made safe to open (OWASP, "CSV Injection"): a cell starting with ``=``, ``+``, ``-``
or ``@`` (a module or node name a spreadsheet would run as a formula) gets a leading single quote,
and control characters are written as ``\\xNN`` (``units.printable``). Numbers stay numbers."""

from __future__ import annotations

import csv
import io
from typing import Any

from howfast.report.render.columns import EXTRA_CSV_COLUMNS, LAYER_COLUMNS, visible_layers
from howfast.report.report import Report
from howfast.units import printable


def render_csv(report: Report, depth: int | None = None, **_: Any) -> str:
    columns = LAYER_COLUMNS + EXTRA_CSV_COLUMNS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.key for c in columns])
    for row in visible_layers(report, depth):
        writer.writerow([safe_cell(c.raw(row)) for c in columns])
    return buffer.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text (a leading ``'`` before a formula's first character,
    control characters escaped); any other value as it is."""
    if not isinstance(value, str):
        return value
    text = printable(value)
    return "'" + text if value.startswith(FORMULA_STARTS) or text.startswith(FORMULA_STARTS) else text
