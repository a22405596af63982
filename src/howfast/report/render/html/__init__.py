"""HTML renderer: one self-contained page (no network) with the layer tree and interactive charts.

The page holds, inline: its style sheet, the report's data as JSON in a
``<script type="application/json">`` element (``<``, ``>`` and ``&`` written as ``\\u003c``...), the
plotly.js library (``plotly.offline.get_plotlyjs()``, once) and a small script
(``report/assets/report.js``) that builds the layer table and the charts with DOM calls and
``textContent`` only. Text in the static header is escaped with ``html.escape``; text shown by plotly
(names in hovers and ticks) is entity-escaped too, since plotly reads a subset of HTML in labels.

``render_html(report)`` renders one report, with a per-layer chart; ``render_comparison_html(reports,
labels)`` renders several side by side, comparing them by their totals and by op type (never layer
against layer). The page makes no network request: the charts' toolbar keeps only local actions
(``report.js``). ``docs/html-report.md`` describes the page.

The modules: ``page`` (the shell: head, CSP, inline data and scripts), ``header`` and ``facts`` (the
header), ``generation`` (a generation report's section and charts), ``sections`` (coverage, charts, layer tables, conventions), ``table`` (the layer table's
data), ``figures`` and ``totals`` (the plotly figure specs) and ``escape``. Op types are named by
``report/render/opdisplay.py``.
"""

from __future__ import annotations

from typing import Any

from howfast.errors import UsageError
from howfast.report.render.html.figures import build_figures
from howfast.report.render.html.generation import ORDER, generation_figures, generation_section
from howfast.report.render.html.header import header_compare, header_single
from howfast.report.render.html.page import json_for_script, page
from howfast.report.render.html.sections import charts_section, conventions_section, coverage_section, table_section
from howfast.report.render.html.table import DEFAULT_COLLAPSE_DEPTH, HOT_LAYERS, LARGE_TREE_ROWS, layer_table
from howfast.report.render.html.training import ORDER as TRAINING_ORDER
from howfast.report.render.html.training import training_figures, training_section
from howfast.report.report import Report

__all__ = ["DEFAULT_COLLAPSE_DEPTH", "HOT_LAYERS", "LARGE_TREE_ROWS", "json_for_script", "render_comparison_html", "render_html"]


def render_html(report: Report, depth: int | None = None, title: str | None = None, **_: Any) -> str:
    """The report as one self-contained HTML page.

    ``depth`` (the CLI's ``--depth``) sets how deep the layer tree opens; by default a tree of more
    than ``LARGE_TREE_ROWS`` layers opens collapsed below depth ``DEFAULT_COLLAPSE_DEPTH``. All
    layers are in the page either way.
    """
    label = report.model.name or "model"
    figures = build_figures([report], [label], compare=False)
    extra = generation_figures(report)
    if extra:
        figures.update(extra)
        figures["order"] = [*ORDER, *figures["order"]]
    training = training_figures(report)
    if training:
        figures.update(training)
        figures["order"] = [*TRAINING_ORDER, *figures["order"]]
    payload: dict[str, Any] = {
        "kind": "single",
        "labels": [label],
        "tables": [layer_table(report, "layers-0", depth)],
        "figures": figures,
    }
    body = [
        header_single(report),
        generation_section(report),
        training_section(report),
        coverage_section(report, None),
        table_section("layers-0", "Layers", report),
        charts_section(figures, report_count=1),
        conventions_section(report),
    ]
    return page(title or f"howfast: {label}", body, payload)


def render_comparison_html(reports: list[Report], labels: list[str], explanation: str = "") -> str:
    """Several reports on one page: summaries side by side, charts of their totals and op types, one table each.

    ``labels`` names each report (as the comparison's command line gave them); ``explanation`` is
    free text shown under the title (escaped; line breaks kept).
    """
    reports = list(reports)
    labels = [str(label) for label in labels]
    if not reports:
        raise UsageError("nothing to compare: no reports given")
    if len(labels) != len(reports):
        raise UsageError(f"{len(reports)} reports but {len(labels)} labels")
    tables = [layer_table(r, f"layers-{k}", None) for k, r in enumerate(reports)]
    figures = build_figures(reports, labels, compare=True)
    payload: dict[str, Any] = {"kind": "compare", "labels": labels, "tables": tables, "figures": figures}
    body = [header_compare(reports, labels, explanation)]
    body.extend(coverage_section(report, label, k) for k, (report, label) in enumerate(zip(reports, labels)))
    body.append(charts_section(figures, report_count=len(reports)))
    body.extend(table_section(f"layers-{k}", f"Layers: {label}", report) for k, (report, label) in enumerate(zip(reports, labels)))
    body.append(conventions_section(reports[0]))
    return page("howfast: " + " vs ".join(labels), body, payload)
