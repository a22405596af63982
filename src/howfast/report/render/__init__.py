"""Renderers: each turns a ``Report`` into text in one format."""

from __future__ import annotations

from typing import Any

from howfast.errors import UsageError

FORMATS = ("table", "json", "csv", "md", "html")


def render(report: Any, fmt: str, **options: Any) -> str:
    if fmt == "table":
        from howfast.report.render.table import render_table

        return render_table(report, **options)
    if fmt == "json":
        from howfast.report.render.json import render_json

        return render_json(report, **options)
    if fmt == "csv":
        from howfast.report.render.csv import render_csv

        return render_csv(report, **options)
    if fmt == "md":
        from howfast.report.render.markdown import render_markdown

        return render_markdown(report, **options)
    if fmt == "html":
        from howfast.report.render.html import render_html

        return render_html(report, **options)
    raise UsageError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
