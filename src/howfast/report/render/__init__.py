"""Renderers: each turns a whole ``Report`` (sections included) into text in one format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from howfast.errors import UsageError
from howfast.report.report import Report

FORMATS = ("table", "json", "csv", "md", "html")


def _renderer(fmt: str) -> Callable[..., str]:
    # Imported on use: the html renderer pulls in plotly's library only when a page is made.
    if fmt == "table":
        from howfast.report.render.table import render_table

        return render_table
    if fmt == "json":
        from howfast.report.render.json import render_json

        return render_json
    if fmt == "csv":
        from howfast.report.render.csv import render_csv

        return render_csv
    if fmt == "md":
        from howfast.report.render.markdown import render_markdown

        return render_markdown
    if fmt == "html":
        from howfast.report.render.html import render_html

        return render_html
    raise UsageError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")


def render(report: Report, fmt: str, **options: Any) -> str:
    """``report`` as text in ``fmt`` (table, json, csv, md or html). A generation report
    (``report.llm``) prints its own page as a table or Markdown (``render/llm.py``)."""
    if report.llm is not None and fmt in ("table", "md"):
        from howfast.report.render.llm import render_llm_markdown, render_llm_table

        return (render_llm_table if fmt == "table" else render_llm_markdown)(report, **options)
    return _renderer(fmt)(report, **options)
