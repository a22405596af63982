"""The page header as escaped HTML: one report's facts, or the comparison's cards and totals table."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from howfast import units
from howfast.report.render.html.escape import escape
from howfast.report.render.html.facts import Fact, benchmark_items, device_items, inputs_text, model_text, param_dtypes_text, totals_items
from howfast.report.render.summary import compute_line, what_if_line
from howfast.report.report import Report

Metric = tuple[str, Callable[[Report], int], Callable[[int], str]]  # (title, value of a report, its text)

# The rows of the comparison's totals table.
COMPARED_TOTALS: tuple[Metric, ...] = (
    ("Parameters", lambda r: r.totals.params, units.params),
    ("Model size", lambda r: r.totals.param_bytes, units.nbytes),
    ("MACs", lambda r: r.totals.macs, units.count),
    ("FLOPs", lambda r: r.totals.flops, units.count),
    ("Bytes moved (read + written)", lambda r: r.totals.bytes_read + r.totals.bytes_written, units.nbytes),
    ("Peak live activation memory", lambda r: r.totals.peak_activation_bytes, units.nbytes),
    ("Bytes read (compulsory)", lambda r: r.totals.bytes_read, units.nbytes),
    ("Bytes written (compulsory)", lambda r: r.totals.bytes_written, units.nbytes),
    ("Write-up accesses (elements)", lambda r: r.totals.mem_accesses, units.count),
    ("Layers", lambda r: len(r.layers), lambda v: f"{v:,}"),
    ("Ops", lambda r: r.coverage.ops, lambda v: f"{v:,}"),
)


def definition_list(items: Sequence[tuple[str, ...]], cls: str = "facts") -> str:
    """``<dl>`` of (label, value) items; a third element, when given and not empty, is the value's tooltip."""
    parts = [f'<dl class="{cls}">']
    for item in items:
        label, value = item[0], item[1]
        tip = f' title="{escape(item[2])}"' if len(item) > 2 and item[2] else ""
        parts.append(f"<div><dt>{escape(label)}</dt><dd{tip}>{escape(value)}</dd></div>")
    parts.append("</dl>")
    return "".join(parts)


def roofline_notes(report: Report) -> str:
    """The roofline's notes as a list; empty when it has none."""
    notes = report.roofline.notes if report.roofline is not None else None
    if not notes:
        return ""
    return '<ul class="notes roofline-notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


def header_single(report: Report) -> str:
    """The header of one report's page: model, totals, device profile and benchmark."""
    facts: list[Fact] = [("Model", model_text(report)), ("Inputs", inputs_text(report))]
    if report.model.param_dtypes:
        facts.append(("Parameter dtypes", param_dtypes_text(report)))
    for line in (what_if_line(report), compute_line(report)):
        if line:
            label, _, text = line.partition(": ")
            facts.append((label[0].upper() + label[1:], text))
    parts = [
        '<header id="top">',
        f'<h1>howfast report: <span class="model-name">{escape(report.model.name)}</span></h1>',
        definition_list(facts),
        '<h2 class="sub">Totals</h2>',
        definition_list(totals_items(report), "facts totals"),
    ]
    device = device_items(report)
    parts.append('<h2 class="sub">Device profile</h2>')
    parts.append(definition_list(device, "facts device") if device
                 else '<p class="muted" id="no-device">No device profile: this report has no roofline.</p>')
    parts.append(roofline_notes(report))
    bench = benchmark_items(report)
    if bench:
        parts.append('<h2 class="sub">Benchmark</h2>')
        parts.append(definition_list(bench))
    parts.append("</header>")
    return "\n".join(parts)


def header_compare(reports: list[Report], labels: list[str], explanation: str) -> str:
    """The header of a comparison: the title, the explanation, a card per report and the totals table."""
    parts = ['<header id="top">', f"<h1>howfast comparison: {escape(' vs '.join(labels))}</h1>"]
    if explanation:
        parts.append(f'<p class="explanation">{escape(explanation)}</p>')
    parts.append('<div class="cards">')
    parts.extend(report_card(report, label) for report, label in zip(reports, labels))
    parts.append("</div>")
    parts.append(comparison_table(reports, labels))
    parts.append("</header>")
    return "\n".join(parts)


def report_card(report: Report, label: str) -> str:
    """One report's card in a comparison: model, inputs, totals, device profile and benchmark."""
    device = device_items(report)
    parts = [
        '<section class="card">',
        f"<h2>{escape(label)}</h2>",
        definition_list([("Model", model_text(report)), ("Inputs", inputs_text(report))]),
        definition_list(totals_items(report), "facts totals"),
        definition_list(device, "facts device") if device else '<p class="muted">No device profile: no roofline.</p>',
        roofline_notes(report),
    ]
    bench = benchmark_items(report)
    if bench:
        parts.append(definition_list(bench))
    parts.append("</section>")
    return "\n".join(parts)


def comparison_table(reports: list[Report], labels: list[str]) -> str:
    """The totals of each report side by side, and each one's ratio to the first."""
    head = "".join(f'<th scope="col">{escape(label)}</th>' for label in labels)
    ratio_head = "".join(f'<th scope="col">{escape(label)} / {escape(labels[0])}</th>' for label in labels[1:])
    rows = "".join(_comparison_row(metric, reports) for metric in COMPARED_TOTALS)
    return ('<table class="compare-totals" id="compare-totals"><thead><tr><th scope="col">Total</th>'
            f"{head}{ratio_head}</tr></thead><tbody>{rows}</tbody></table>")


def _comparison_row(metric: Metric, reports: list[Report]) -> str:
    title, get, fmt = metric
    values = [get(r) for r in reports]
    cells = "".join(f'<td class="num" title="{escape(f"{v:,}")}">{escape(fmt(v))}</td>' for v in values)
    ratios = "".join(f'<td class="num">{escape(ratio(v, values[0]))}</td>' for v in values[1:])
    return f'<tr><th scope="row">{escape(title)}</th>{cells}{ratios}</tr>'


def ratio(value: float, base: float) -> str:
    """``value / base`` as ``x1.23``, or ``n/a`` when ``base`` is zero."""
    if not base:
        return "n/a"
    return f"x{value / base:.3g}"
