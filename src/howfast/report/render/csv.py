"""CSV renderer: one row per layer with raw integer values (no units), for spreadsheets."""

from __future__ import annotations

import csv
import io
from typing import Any

from howfast.report.render.columns import EXTRA_CSV_COLUMNS, LAYER_COLUMNS, visible_layers
from howfast.report.report import Report


def render_csv(report: Report, depth: int | None = None, **_: Any) -> str:
    columns = LAYER_COLUMNS + EXTRA_CSV_COLUMNS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.key for c in columns])
    for row in visible_layers(report, depth):
        writer.writerow([c.raw(row) for c in columns])
    return buffer.getvalue()
