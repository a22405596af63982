"""The page's other static sections as escaped HTML: coverage, charts, layer tables and conventions.

The charts and the layer tables are empty boxes here; the page script fills them from the data.
"""

from __future__ import annotations

from typing import Any

from howfast.report.render.html.escape import escape
from howfast.report.render.html.table import HOT_LAYERS
from howfast.report.report import Report


def coverage_section(report: Report, label: str | None, index: int = 0) -> str:
    """How many ops have a cost formula, the uncounted ones, and the report's notes.

    ``label`` names the report on a comparison page (``None`` on a single report's page).
    """
    c = report.coverage
    ident = "coverage" if label is None else f"coverage-{index}"
    title = "Coverage" if label is None else f"Coverage: {label}"
    cls = "coverage warn" if report.uncounted_ops else "coverage ok"
    share = 100 * c.share
    parts = [f'<section class="{cls}" id="{escape(ident)}">', f"<h2>{escape(title)}</h2>",
             "<p>" + escape(f"{c.counted:,} of {c.ops:,} ops have a cost formula ({share:.1f}%).") + "</p>"]
    if report.uncounted_ops:
        parts.extend(_uncounted_table(report))
    else:
        parts.append('<p class="muted">No uncounted ops.</p>')
    if report.notes:
        parts.append('<h3>Notes</h3><ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _uncounted_table(report: Report) -> list[str]:
    parts = ["<p><strong>Not counted</strong> (these ops add nothing to the totals above):</p>",
             '<table class="uncounted"><thead><tr><th scope="col">Op</th><th scope="col">Count</th>'
             '<th scope="col">In modules (first five)</th></tr></thead><tbody>']
    for item in report.uncounted_ops:
        modules = ", ".join(m or "(model)" for m in item.modules)
        parts.append(f"<tr><td>{escape(item.op)}</td><td class=\"num\">{escape(item.count)}</td><td>{escape(modules)}</td></tr>")
    parts.append("</tbody></table>")
    return parts


def charts_section(figures: dict[str, Any], report_count: int) -> str:
    """A box and caption for each chart in ``figures`` (``figures.build_figures``), in its order."""
    parts = ['<section id="charts"><h2>Charts</h2>']
    for fig in figures["order"]:
        spec = figures[fig]
        if spec is None:
            continue
        parts.append(f'<figure class="chart-box"><div class="chart" id="chart-{escape(fig)}" data-chart="{escape(fig)}"></div>'
                     f"<figcaption>{escape(spec['caption'])}</figcaption></figure>")
    if figures.get("roofline") is None:
        parts.append('<p class="muted" id="no-roofline">No roofline chart: '
                     + ("this report has" if report_count == 1 else "these reports have") + " no roofline (no device profile).</p>")
    parts.append("</section>")
    return "\n".join(parts)


def table_section(container: str, title: str, report: Report) -> str:
    """The layer table's section: its title, how to use it, and the box (``container``) it is drawn in."""
    help_text = (f"{len(report.layers):,} modules. Click a column title to sort (siblings stay under their parent; "
                 "tick 'flat list' to sort all rows together), the triangle to fold or unfold a module, and filter by "
                 f"type or name. Highlighted: the top {HOT_LAYERS} leaf layers by MACs and by bytes.")
    return (f'<section class="layers"><h2>{escape(title)}</h2><p class="muted">{escape(help_text)}</p>'
            f'<div class="layer-table" id="{escape(container)}"></div></section>')


def conventions_section(report: Report) -> str:
    """The counting conventions: their settings, and a sentence for each."""
    described = report.conventions.describe()
    items = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in described.items())
    settings = ", ".join(f"{k}={v}" for k, v in report.conventions.as_dict().items())
    return (f'<section id="conventions"><h2>Conventions</h2><p class="muted">{escape(settings)}</p>'
            f'<dl class="conventions">{items}</dl></section>')
