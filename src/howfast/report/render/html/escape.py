"""Escaping text for the page: in the static HTML, and in plotly's labels (which read a subset of HTML)."""

from __future__ import annotations

import html


def escape(value: object) -> str:
    """``value`` as text in HTML, quotes included (safe in element text and attribute values)."""
    return html.escape(str(value), quote=True)


def plot_text(value: object) -> str:
    """Text for plotly labels: plotly reads a subset of HTML there, so entity-escape it."""
    return html.escape(str(value), quote=True)
