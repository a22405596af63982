"""The comparison CSV makes its text cells safe to open, as the layer CSV does (OWASP "CSV Injection")."""

from __future__ import annotations

import csv
import io

from torch import nn

import howfast
from howfast.report.render.comparison import render_comparison


def test_comparison_csv_labels_cannot_run_as_formulas() -> None:
    models = [nn.Linear(4, 3), nn.Linear(4, 5)]
    comparison = howfast.compare(models, "2x4", labels=["=HYPERLINK(\"x\")", "@sum"])
    rows = list(csv.DictReader(io.StringIO(render_comparison(comparison, "csv"))))
    labels = [next(v for v in row.values() if "HYPERLINK" in v or "sum" in v) for row in rows]
    assert labels == ["'=HYPERLINK(\"x\")", "'@sum"]
    macs = [int(row["macs"]) for row in rows]  # numbers stay numbers: 2 x 3 x 4 and 2 x 5 x 4
    assert macs == [24, 40]
