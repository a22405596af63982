"""A comparison as text: table, Markdown, CSV, JSON (the versioned document) or one HTML page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from howfast import units
from howfast.report.comparison import COLUMNS, Comparison

FORMATS = ("table", "json", "csv", "md", "html")


def render_comparison(comparison: Comparison, fmt: str, width: int | None = None, color: bool = False) -> str:
    rows = comparison.rows()
    if fmt == "json":
        return json.dumps(comparison.to_dict(), indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    if fmt == "html":
        from howfast.report.render.html import render_comparison_html

        return render_comparison_html(comparison.reports, comparison.labels, "\n".join(comparison.explanation))
    columns: list[tuple[str, str, Callable[[float], str]]] = [(key, title, human) for key, title, _, human in COLUMNS]
    if comparison.benchmarks:
        columns += [("latency_s", "Latency", units.seconds), ("fps", "FPS", lambda v: f"{v:.1f}")]
    cells = [[_label(r)] + [f"{human(r[key])} ({r[key + '_ratio']:.2f}x)" if r[key + "_ratio"] is not None else human(r[key])
                            for key, _, human in columns] + [f"{r['accesses_per_mac']:.2f}" if r["accesses_per_mac"] else "-"]
             for r in rows]
    titles = ["Model"] + [title for _, title, _ in columns] + ["Acc/MAC"]
    if fmt == "md":
        lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        lines += [""] + [f"- {line}" for line in comparison.explanation]
        lines += [f"- measured: {line}" for line in comparison.measurement_notes] + [""] + _conventions(comparison)
        return "\n".join(lines) + "\n"
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 100, force_terminal=color, no_color=not color, highlight=False)
    table = Table(title="howfast compare (ratios to the first model)", header_style="bold")
    for title in titles:
        table.add_column(title, justify="left" if title == "Model" else "right")
    for row in cells:
        table.add_row(*(escape(c) for c in row))
    console.print(table)
    for line in comparison.explanation:
        console.print(escape(line))
    for line in comparison.measurement_notes:
        console.print(escape(f"measured: {line}"))
    for line in _conventions(comparison):
        console.print(escape(line))
    return buffer.getvalue()


def _label(row: dict[str, object]) -> str:
    model = str(row["model"])
    return model + (f" (to {row['truncated_at']})" if row.get("truncated_at") and "@" not in model else "")


def _conventions(comparison: Comparison) -> list[str]:
    described = comparison.reports[0].conventions.describe()
    fused = " Fused programs (BN folded, element-wise ops fused)." if comparison.reports[0].fusion else ""
    return [f"Conventions: {'; '.join(f'{k}: {v}' for k, v in described.items())}.{fused}"]
