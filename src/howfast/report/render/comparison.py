"""A comparison as text: table, Markdown, CSV, JSON (the versioned document) or one HTML page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from howfast import units
from howfast.report.comparison import COLUMNS, Comparison
from howfast.report.render.csv import safe_cell

FORMATS = ("table", "json", "csv", "md", "html")


def render_comparison(comparison: Comparison, fmt: str, width: int | None = None, color: bool = False) -> str:
    rows = comparison.rows()
    if fmt == "json":
        return json.dumps(comparison.to_dict(), indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()), lineterminator="\n")
        writer.writeheader()
        writer.writerows([{key: safe_cell(value) for key, value in row.items()} for row in rows])  # labels are user text
        return buffer.getvalue()
    if fmt == "html":
        from howfast.report.render.html import render_comparison_html

        return render_comparison_html(comparison.reports, comparison.labels, "\n".join(comparison.explanation))
    columns: list[tuple[str, str, Callable[[float], str]]] = [(key, title, human) for key, title, _, human in COLUMNS]
    if comparison.benchmarks:
        columns += [("latency_s", "Latency", units.seconds), ("fps", "FPS", lambda v: f"{v:.1f}")]

    def cell(r: dict[str, Any], key: str, human: Callable[[float], str]) -> str:
        ratio = r.get(key + "_ratio")
        return f"{human(r[key])} ({ratio:.2f}x)" if ratio is not None and r is not rows[0] else human(r[key])

    acc = [("Acc/MAC", [f"{r['accesses_per_mac']:.2f}" if r["accesses_per_mac"] else "-" for r in rows])]
    metrics = [(title, [cell(r, key, human) for r in rows]) for key, title, human in columns] + acc
    models = [_label(r) for r in rows]
    if fmt == "md":
        lines = ["| Metric | " + " | ".join(m.replace("|", "\\|") for m in models) + " |", "|---|" + "---:|" * len(models)]
        lines += ["| " + title + " | " + " | ".join(c.replace("|", "\\|") for c in values) + " |" for title, values in metrics]
        lines += [""] + [f"- {line}" for line in comparison.explanation]
        lines += [f"- measured: {line}" for line in comparison.measurement_notes] + [""] + _conventions(comparison)
        return "\n".join(lines) + "\n"
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 100, force_terminal=color, no_color=not color, highlight=False)
    table = Table(title=f"howfast compare (ratios to {escape(models[0])})", header_style="bold", box=box.SIMPLE_HEAD,
                  title_justify="left", title_style="bold")
    table.add_column("Metric", no_wrap=True)
    for model in models:
        table.add_column(escape(model), justify="right", overflow="fold")
    for title, values in metrics:
        table.add_row(title, *(escape(v) for v in values))
    console.print(table)
    for line in comparison.explanation:
        console.print(escape(line))
    for line in comparison.measurement_notes:
        console.print(escape(f"measured: {line}"))
    c = comparison.reports[0].conventions
    fused = "; fused programs (BN folded, element-wise ops fused)" if comparison.reports[0].fusion else ""
    console.print(f"conventions: FLOPs {'= 2 x MACs' if c.flops == '2mac' else '2n-1 per dot product'}, {c.memory_model} bytes"
                  f"{escape(fused)} · all: -f md or docs/conventions.md", style="dim")
    return buffer.getvalue()


def _label(row: dict[str, object]) -> str:
    model = str(row["model"])
    return model + (f" (to {row['truncated_at']})" if row.get("truncated_at") and "@" not in model else "")


def _conventions(comparison: Comparison) -> list[str]:
    described = comparison.reports[0].conventions.describe()
    fused = " Fused programs (BN folded, element-wise ops fused)." if comparison.reports[0].fusion else ""
    return [f"Conventions: {'; '.join(f'{k}: {v}' for k, v in described.items())}.{fused}"]
