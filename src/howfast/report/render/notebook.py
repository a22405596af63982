"""A report in a notebook: ``Report._repr_html_`` — the summary, the heaviest layers and the module
tree (folded as in the terminal, every layer one click away), as light, static HTML: no script, no
plotting library (``report.render("html")`` is the full page with the charts)."""

from __future__ import annotations

import html

from howfast import units
from howfast.report.render import tree
from howfast.report.render.columns import measured_times
from howfast.report.render.summary import compute_line, coverage_line, size_line, what_if_line
from howfast.report.report import LayerRow, Report

TREE_ROWS = 40
_STYLE = ("<style>.howfast table{border-collapse:collapse;font-size:12px}.howfast td,.howfast th{padding:1px 8px;"
          "text-align:right}.howfast td.name,.howfast th.name,.howfast td.type{text-align:left}"
          ".howfast .warn{color:#b00;font-weight:bold}</style>")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def notebook_html(report: Report) -> str:
    """The report as an HTML fragment for a notebook cell."""
    t = report.totals
    model = report.memory_model
    total_bytes = t.traffic(model).get("bytes", 0)
    times = measured_times(report) or ({layer.name: layer.predicted_s for layer in report.roofline.layers} if report.roofline else {})
    facts = [("params", f"{units.params(t.params)} ({units.nbytes(t.param_bytes)})"), ("MACs", units.count(t.macs)),
             ("FLOPs", units.count(t.flops)), (f"bytes moved ({model})", units.nbytes(total_bytes)),
             ("peak activation memory", units.nbytes(t.peak_activation_bytes))]
    if report.roofline is not None:
        facts.append((f"predicted on {report.roofline.device.label}", units.seconds(report.roofline.predicted_latency_s)))
    inputs = ", ".join(f"{i.name} {'x'.join(map(str, i.shape))} {i.dtype}" for i in report.inputs)
    parts = ['<div class="howfast">', _STYLE, f"<b>howfast: {_e(report.model.name)}</b> ({_e(report.model.type)}) · inputs {_e(inputs)}<br>",
             " · ".join(f"{_e(k)} <b>{_e(v)}</b>" for k, v in facts) + "<br>",
             *(f"{_e(line)}<br>" for line in (size_line(report), compute_line(report), what_if_line(report)) if line),
             f'<span class="{"warn" if report.uncounted_ops else ""}">{_e(coverage_line(report))}</span>']
    root = tree.build_tree(report)
    if root is not None:
        rows = tree.flatten(root, tree.fitting_depth(root, TREE_ROWS))
        parts.append(_table(rows, report, total_bytes, times, "layers"))
        everything = tree.flatten(tree.build_tree(report, fold=False) or root, None)
        if len(everything) > len(rows):
            parts.append(f"<details><summary>all {len(everything)} layers</summary>{_table(everything, report, total_bytes, times, '')}</details>")
    parts.append("</div>")
    return "".join(parts)


def _table(rows: list[tree.TreeRow], report: Report, total_bytes: int, times: dict[str, float], caption: str) -> str:
    model = report.memory_model
    head = ["Layer", "Type", "MACs", "%", "Bytes", "%", "Params"] + (["Time"] if times else [])
    out = ["<table>", f"<caption style='text-align:left'>{_e(caption)}</caption>" if caption else "",
           "<tr>" + "".join(f'<th class="{"name" if h == "Layer" else ""}">{_e(h)}</th>' for h in head) + "</tr>"]
    for row in rows:
        macs = row.total(lambda x: x.macs)
        nbytes = row.total(lambda x: _bytes(x, model))
        cells = [units.count(macs), _share(macs, report.totals.macs), units.nbytes(nbytes), _share(nbytes, total_bytes),
                 units.params(row.total(lambda x: x.params))]
        if times:
            cells.append(units.seconds(row.total(lambda x: times.get(x.name, 0.0))))
        indent = "&nbsp;" * 2 * row.depth
        out.append(f'<tr><td class="name">{indent}{_e(row.label)}</td><td class="type">{_e(row.layer.type)}</td>'
                   + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _bytes(layer: LayerRow, model: str) -> int:
    return layer.traffic(model).get("bytes", 0)


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"
