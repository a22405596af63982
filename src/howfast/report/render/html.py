"""HTML renderer: one self-contained page (no network) with the layer tree and interactive charts.

The page holds, inline: its style sheet, the report's data as JSON in a
``<script type="application/json">`` element (``<``, ``>`` and ``&`` written as ``\\u003c``...), the
plotly.js library (``plotly.offline.get_plotlyjs()``, once) and a small script
(``report/assets/report.js``) that builds the layer table and the charts with DOM calls and
``textContent`` only. Text in the static header is escaped with ``html.escape``; text shown by plotly
(names in hovers and ticks) is entity-escaped too, since plotly reads a subset of HTML in labels.

``render_html(report)`` renders one report; ``render_comparison_html(reports, labels)`` renders several
side by side with the same charts overlaid. ``docs/html-report.md`` describes the page.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from howfast.errors import UsageError
from howfast import units
from howfast.graph.opnames import short
from howfast.report.render import plots
from howfast.report.render.columns import LAYER_COLUMNS
from howfast.report.report import Report

# Reports with more layers than this open with the tree collapsed below ``DEFAULT_COLLAPSE_DEPTH``.
LARGE_TREE_ROWS = 150
DEFAULT_COLLAPSE_DEPTH = 2
HOT_LAYERS = 5
_ASSETS = Path(__file__).resolve().parent.parent / "assets"
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


# ---------------------------------------------------------------------------------------------
# Public entry points


def render_html(report: Report, depth: int | None = None, title: str | None = None, **_: Any) -> str:
    """The report as one self-contained HTML page.

    ``depth`` (the CLI's ``--depth``) sets how deep the layer tree opens; by default a tree of more
    than ``LARGE_TREE_ROWS`` layers opens collapsed below depth ``DEFAULT_COLLAPSE_DEPTH``. All
    layers are in the page either way.
    """
    label = report.model.name or "model"
    payload = {
        "kind": "single",
        "labels": [label],
        "tables": [_table(report, "layers-0", depth)],
        "figures": _figures([report], [label]),
    }
    body = [
        _header_single(report),
        _coverage_section(report, None),
        _table_section("layers-0", "Layers", report),
        _charts_section(payload["figures"], report_count=1),
        _conventions_section(report),
    ]
    return _page(title or f"howfast: {label}", body, payload)


def render_comparison_html(reports: list[Report], labels: list[str], explanation: str = "") -> str:
    """Several reports on one page: summaries side by side, the same charts overlaid, one table each.

    ``labels`` names each report (as the comparison's command line gave them); ``explanation`` is
    free text shown under the title (escaped; line breaks kept).
    """
    reports = list(reports)
    labels = [str(label) for label in labels]
    if not reports:
        raise UsageError("nothing to compare: no reports given")
    if len(labels) != len(reports):
        raise UsageError(f"{len(reports)} reports but {len(labels)} labels")
    payload = {
        "kind": "compare",
        "labels": labels,
        "tables": [_table(r, f"layers-{k}", None) for k, r in enumerate(reports)],
        "figures": _figures(reports, labels),
    }
    body = [_header_compare(reports, labels, explanation)]
    for k, (report, label) in enumerate(zip(reports, labels)):
        body.append(_coverage_section(report, label, k))
    body.append(_charts_section(payload["figures"], report_count=len(reports)))
    for k, (report, label) in enumerate(zip(reports, labels)):
        body.append(_table_section(f"layers-{k}", f"Layers: {label}", report))
    body.append(_conventions_section(reports[0]))
    return _page("howfast: " + " vs ".join(labels), body, payload)


# ---------------------------------------------------------------------------------------------
# The page


def _page(title: str, body: list[str], payload: dict[str, Any]) -> str:
    css = _asset("report.css")
    script = _asset("report.js")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may be fetched: the page is self-contained (inline scripts and styles, data: images).
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'unsafe-inline'; img-src data: blob:; font-src data:\">",
        f"<title>{_e(title)}</title>",
        f"<style>\n{css}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        *body,
        '<footer><p>Made by <a href="#top">howfast</a>. Everything on this page is in this one file.</p></footer>',
        "</main>",
        # Data, then the tables (drawn before the 4.8 MB plotly.js is parsed), then plotly.js and the charts.
        f'<script type="application/json" id="howfast-data">{json_for_script(payload)}</script>',
        f"<script>\n{_script_safe(script)}\n</script>",
        f"<script>\n{_script_safe(_plotly_js())}\n</script>",
        "<script>window.howfastDrawCharts();</script>",
        "</body>",
        "</html>",
        "",
    ])


def json_for_script(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>``, ``&`` and U+2028/9 as ``\\u`` escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _script_safe(code: str) -> str:
    # An inline script ends at the first "</script"; neither plotly.js nor ours has one, but be sure.
    return code.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:
        raise UsageError("the html format needs plotly: pip install 'howfast[plot]'") from exc
    return get_plotlyjs()


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


# ---------------------------------------------------------------------------------------------
# Static sections (escaped HTML)


def _inputs_text(report: Report) -> str:
    return ", ".join(f"{i.name} {'x'.join(map(str, i.shape))}:{i.dtype}" for i in report.inputs) or "none"


def _totals_items(report: Report) -> list[tuple[str, str, str]]:
    """(label, human value, exact value) for the header."""
    t = report.totals
    items = [
        ("Parameters", units.count(t.params), f"{t.params:,} ({units.nbytes(t.param_bytes)})"),
        ("MACs", units.count(t.macs), f"{t.macs:,}"),
        ("FLOPs", units.count(t.flops), f"{t.flops:,}"),
        ("Memory accesses (write-up model)", units.count(t.mem_accesses), f"{t.mem_accesses:,} elements"),
        ("Bytes read (compulsory model)", units.nbytes(t.bytes_read), f"{t.bytes_read:,} B"),
        ("Bytes written (compulsory model)", units.nbytes(t.bytes_written), f"{t.bytes_written:,} B"),
        ("Activations", units.count(t.activation_elements), f"{t.activation_elements:,} elements"),
        ("Peak live activation memory", units.nbytes(t.peak_activation_bytes), f"{t.peak_activation_bytes:,} B"),
        ("Buffers", units.count(t.buffers), f"{t.buffers:,} ({units.nbytes(t.buffer_bytes)})"),
    ]
    return items


def _device_items(report: Report) -> list[tuple[str, str]]:
    roofline = report.roofline.to_dict() if report.roofline is not None else None
    if not roofline:
        return []
    device = roofline.get("device") or {}
    out = []
    for key, value in device.items():
        if isinstance(value, (dict, list)) or value is None:
            continue
        out.append((_key_title(str(key)), _human_value(str(key), value)))
    for key, value in roofline.items():
        if isinstance(value, (dict, list)) or value is None:
            continue
        out.append((_key_title(str(key), "roofline "), _human_value(str(key), value)))
    return out


_KEY_TITLES = {
    "name": "Device",
    "title": "Device title",
    "per_op_overhead_s": "Per-op overhead",
    "predicted_latency_s": "Predicted latency (roofline)",
    "memory_model": "Memory model (roofline)",
    "peak_flops": "Peak compute",
    "bandwidth_bytes_per_s": "Memory bandwidth",
    "ridge_point": "Ridge point",
    "predicted_s": "Predicted time",
}


def _key_title(key: str, prefix: str = "") -> str:
    if key in _KEY_TITLES:
        return _KEY_TITLES[key]
    return (prefix + key.removesuffix("_s").replace("_", " ")).strip()


def _roofline_notes(report: Report) -> str:
    notes = report.roofline.notes if report.roofline is not None else None
    if not notes:
        return ""
    return '<ul class="notes roofline-notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"


def _human_value(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if "bytes_per_s" in key or "bandwidth" in key:
        return units.count(value) + "B/s"  # bandwidths are quoted in powers of 1000
    if key == "ridge_point" or "intensity" in key:
        return f"{value:.4g} FLOP/B"
    if "flops" in key:
        return units.count(value) + (" FLOP/s" if "peak" in key or key.endswith("_per_s") else " FLOP")
    if key.endswith("_s") or key in ("seconds", "latency", "time"):
        return units.seconds(value)
    if "bytes" in key:
        return units.nbytes(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"{value:,}"


def _dl(items: list[tuple[str, str]] | list[tuple[str, str, str]], cls: str = "facts") -> str:
    parts = [f'<dl class="{cls}">']
    for item in items:
        label, value = item[0], item[1]
        tip = f' title="{_e(item[2])}"' if len(item) > 2 else ""
        parts.append(f"<div><dt>{_e(label)}</dt><dd{tip}>{_e(value)}</dd></div>")
    parts.append("</dl>")
    return "".join(parts)


def _model_text(report: Report) -> str:
    name, mtype = report.model.name, report.model.type
    text = name if not mtype or mtype == name else f"{name} ({mtype})"
    if report.model.truncated_at:
        text += f", up to {report.model.truncated_at}"
    return text


def _header_single(report: Report) -> str:
    model = _model_text(report)
    facts: list[Any] = [("Model", model), ("Inputs", _inputs_text(report))]
    dtypes = report.model.param_dtypes
    if dtypes:
        facts.append(("Parameter dtypes", ", ".join(f"{k}: {units.count(v)}" for k, v in dtypes.items())))
    parts = [
        '<header id="top">',
        f'<h1>howfast report: <span class="model-name">{_e(report.model.name)}</span></h1>',
        _dl(facts),
        '<h2 class="sub">Totals</h2>',
        _dl(_totals_items(report), "facts totals"),
    ]
    device = _device_items(report)
    parts.append('<h2 class="sub">Device profile</h2>')
    parts.append(_dl(device) if device else '<p class="muted" id="no-device">No device profile: this report has no roofline.</p>')
    parts.append(_roofline_notes(report))
    bench = _benchmark_items(report)
    if bench:
        parts.append('<h2 class="sub">Benchmark</h2>')
        parts.append(_dl(bench))
    parts.append("</header>")
    return "\n".join(parts)


def _benchmark_items(report: Report) -> list[tuple[str, str]]:
    bench = report.benchmark.to_dict() if report.benchmark is not None else None
    if not bench:
        return []
    return [(_key_title(str(k)) if str(k) != "name" else "name", _human_value(str(k), v))
            for k, v in bench.items() if not isinstance(v, (dict, list)) and v is not None]


def _header_compare(reports: list[Report], labels: list[str], explanation: str) -> str:
    parts = ['<header id="top">', f"<h1>howfast comparison: {_e(' vs '.join(labels))}</h1>"]
    if explanation:
        parts.append(f'<p class="explanation">{_e(explanation)}</p>')
    parts.append('<div class="cards">')
    for report, label in zip(reports, labels):
        device = _device_items(report)
        parts.append('<section class="card">')
        parts.append(f"<h2>{_e(label)}</h2>")
        parts.append(_dl([("Model", _model_text(report)), ("Inputs", _inputs_text(report))]))
        parts.append(_dl(_totals_items(report), "facts totals"))
        parts.append(_dl(device) if device else '<p class="muted">No device profile: no roofline.</p>')
        parts.append(_roofline_notes(report))
        bench = _benchmark_items(report)
        if bench:
            parts.append(_dl(bench))
        parts.append("</section>")
    parts.append("</div>")
    parts.append(_comparison_table(reports, labels))
    parts.append("</header>")
    return "\n".join(parts)


def _comparison_table(reports: list[Report], labels: list[str]) -> str:
    metrics = [
        ("Parameters", lambda r: r.totals.params, units.count),
        ("MACs", lambda r: r.totals.macs, units.count),
        ("FLOPs", lambda r: r.totals.flops, units.count),
        ("Memory accesses (write-up, elements)", lambda r: r.totals.mem_accesses, units.count),
        ("Bytes read (compulsory)", lambda r: r.totals.bytes_read, units.nbytes),
        ("Bytes written (compulsory)", lambda r: r.totals.bytes_written, units.nbytes),
        ("Peak live activation memory", lambda r: r.totals.peak_activation_bytes, units.nbytes),
        ("Layers", lambda r: len(r.layers), lambda v: f"{v:,}"),
        ("Ops", lambda r: r.coverage.ops, lambda v: f"{v:,}"),
    ]
    head = "".join(f'<th scope="col">{_e(label)}</th>' for label in labels)
    ratio_head = "".join(f'<th scope="col">{_e(label)} / {_e(labels[0])}</th>' for label in labels[1:])
    rows = []
    for title, get, fmt in metrics:
        values = [get(r) for r in reports]
        cells = "".join(f'<td class="num" title="{_e(f"{v:,}")}">{_e(fmt(v))}</td>' for v in values)
        ratios = "".join(f'<td class="num">{_e(_ratio(v, values[0]))}</td>' for v in values[1:])
        rows.append(f'<tr><th scope="row">{_e(title)}</th>{cells}{ratios}</tr>')
    return ('<table class="compare-totals" id="compare-totals"><thead><tr><th scope="col">Total</th>'
            f"{head}{ratio_head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _ratio(value: float, base: float) -> str:
    if not base:
        return "n/a"
    return f"x{value / base:.3g}"


def _coverage_section(report: Report, label: str | None, index: int = 0) -> str:
    c = report.coverage
    ident = "coverage" if label is None else f"coverage-{index}"
    title = "Coverage" if label is None else f"Coverage: {label}"
    cls = "coverage warn" if report.uncounted_ops else "coverage ok"
    share = 100 * c.share
    parts = [f'<section class="{cls}" id="{_e(ident)}">', f"<h2>{_e(title)}</h2>",
             "<p>" + _e(f"{c.counted:,} of {c.ops:,} ops have a cost formula ({share:.1f}%).") + "</p>"]
    if report.uncounted_ops:
        parts.append("<p><strong>Not counted</strong> (these ops add nothing to the totals above):</p>")
        parts.append('<table class="uncounted"><thead><tr><th scope="col">Op</th><th scope="col">Count</th>'
                     '<th scope="col">In modules (first five)</th></tr></thead><tbody>')
        for item in report.uncounted_ops:
            modules = ", ".join(m or "(model)" for m in item.modules)
            parts.append(f"<tr><td>{_e(item.op)}</td><td class=\"num\">{_e(item.count)}</td><td>{_e(modules)}</td></tr>")
        parts.append("</tbody></table>")
    else:
        parts.append('<p class="muted">No uncounted ops.</p>')
    if report.notes:
        parts.append('<h3>Notes</h3><ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in report.notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _charts_section(figures: dict[str, Any], report_count: int) -> str:
    parts = ['<section id="charts"><h2>Charts</h2>']
    for fig in figures["order"]:
        spec = figures[fig]
        if spec is None:
            continue
        parts.append(f'<figure class="chart-box"><div class="chart" id="chart-{_e(fig)}" data-chart="{_e(fig)}"></div>'
                     f"<figcaption>{_e(spec['caption'])}</figcaption></figure>")
    if figures.get("roofline") is None:
        parts.append('<p class="muted" id="no-roofline">No roofline chart: '
                     + ("this report has" if report_count == 1 else "these reports have") + " no roofline (no device profile).</p>")
    parts.append("</section>")
    return "\n".join(parts)


def _table_section(container: str, title: str, report: Report) -> str:
    help_text = (f"{len(report.layers):,} modules. Click a column title to sort (siblings stay under their parent; "
                 "tick 'flat list' to sort all rows together), the triangle to fold or unfold a module, and filter by "
                 f"type or name. Highlighted: the top {HOT_LAYERS} leaf layers by MACs and by bytes.")
    return (f'<section class="layers"><h2>{_e(title)}</h2><p class="muted">{_e(help_text)}</p>'
            f'<div class="layer-table" id="{_e(container)}"></div></section>')


def _conventions_section(report: Report) -> str:
    described = report.conventions.describe()
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in described.items())
    settings = ", ".join(f"{k}={v}" for k, v in report.conventions.as_dict().items())
    return (f'<section id="conventions"><h2>Conventions</h2><p class="muted">{_e(settings)}</p>'
            f'<dl class="conventions">{items}</dl></section>')


# ---------------------------------------------------------------------------------------------
# The layer table's data


def _shape_elements(shapes: list[list[int]]) -> int:
    return sum(math.prod(s) for s in shapes) if shapes else 0


def _table(report: Report, container: str, depth: int | None) -> dict[str, Any]:
    """Columns and rows of one layer table: raw values to sort by, human text to show."""
    times, time_what = plots.layer_times(report)
    measured = time_what == "measured time"
    roof = {layer.name: layer.to_dict() for layer in report.roofline.layers} if report.roofline is not None else {}
    columns: list[dict[str, Any]] = []
    getters: list[tuple[Any, Any]] = []
    for column in LAYER_COLUMNS:
        numeric = column.key not in ("name", "type", "output_shape")
        columns.append({"key": column.key, "title": column.title, "num": numeric})
        if column.key == "output_shape":
            getters.append((lambda r: _shape_elements(r.output_shape), column.human))
        else:
            getters.append((column.raw, column.human))
    columns.append({"key": "bytes", "title": "Bytes", "num": True, "tip": plots.BYTES_LABEL + " (the charts' bytes)"})
    getters.append((lambda r: plots.traffic_bytes(r), lambda r: units.nbytes(plots.traffic_bytes(r))))
    columns.append({"key": "calls", "title": "Calls", "num": True})
    getters.append((lambda r: r.calls, lambda r: f"{r.calls:,}"))
    if roof:
        columns.append({"key": "bound", "title": "Bound", "num": False, "tip": "roofline: memory- or compute-bound"})
        getters.append((lambda r: str(roof.get(r.name, {}).get("bound", "")), lambda r: str(roof.get(r.name, {}).get("bound", ""))))
        columns.append({"key": "intensity", "title": "FLOP/B", "num": True, "tip": "arithmetic intensity (roofline)"})
        getters.append((lambda r: _num(roof.get(r.name, {}).get("intensity")), lambda r: _fmt_opt(roof.get(r.name, {}).get("intensity"), lambda v: f"{v:.3g}")))
        columns.append({"key": "predicted_s", "title": "Predicted", "num": True, "tip": "predicted time (roofline)"})
        getters.append((lambda r: _num(roof.get(r.name, {}).get("predicted_s")), lambda r: _fmt_opt(roof.get(r.name, {}).get("predicted_s"), units.seconds)))
    if measured:
        columns.append({"key": "measured_s", "title": "Measured", "num": True, "tip": "measured time (benchmark)"})
        getters.append((lambda r: times.get(r.name, 0.0), lambda r: _fmt_opt(times.get(r.name), units.seconds)))

    parent = plots.parents(report)
    leaves = plots.leaf_indices(report)
    hot: dict[int, list[str]] = {}
    by_macs = sorted((i for i in leaves if report.layers[i].macs > 0), key=lambda i: -report.layers[i].macs)[:HOT_LAYERS]
    by_bytes = sorted((i for i in leaves if plots.traffic_bytes(report.layers[i]) > 0),
                      key=lambda i: -plots.traffic_bytes(report.layers[i]))[:HOT_LAYERS]
    for rank, i in enumerate(by_macs, 1):
        hot.setdefault(i, []).append(f"MACs #{rank}")
    for rank, i in enumerate(by_bytes, 1):
        hot.setdefault(i, []).append(f"bytes #{rank}")
    rows = []
    for i, row in enumerate(report.layers):
        entry: dict[str, Any] = {
            "n": row.name,
            "t": row.type,
            "d": int(row.depth),
            "p": parent[i],
            "v": [_jsonable(raw(row)) for raw, _ in getters],
            "h": [str(human(row)) for _, human in getters],
        }
        if i in hot:
            entry["hot"] = hot[i]
        rows.append(entry)
    collapse = depth if depth is not None else (DEFAULT_COLLAPSE_DEPTH if len(rows) > LARGE_TREE_ROWS else None)
    return {"container": container, "columns": columns, "rows": rows, "collapse_depth": collapse,
            "types": sorted({row.type for row in report.layers})}


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _fmt_opt(value: Any, fmt: Any) -> str:
    return fmt(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------
# Charts (plotly figure specs as plain dicts; plotly.js draws them in the page)


def _t(text: Any) -> str:
    """Text for plotly labels: plotly reads a subset of HTML there, so entity-escape it."""
    return html.escape(str(text), quote=True)


def _color(k: int) -> str:
    return _PALETTE[k % len(_PALETTE)]


def _figures(reports: list[Report], labels: list[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "order": ["layers", "op_types", "memory", "roofline"],
        "layers": _layers_figure(reports, labels),
        "op_types": _op_types_figure(reports, labels),
        "memory": _memory_figure(reports, labels),
        "roofline": _roofline_figure(reports, labels),
    }
    return figures


def _base_layout(title: str, height: int = 460) -> dict[str, Any]:
    return {
        "title": {"text": _t(title), "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.18},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
    }


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": _t(title)}, "gridcolor": "#e5e5e5", "zeroline": False, "exponentformat": "SI", **extra}


def _layers_figure(reports: list[Report], labels: list[str]) -> dict[str, Any]:
    single = len(reports) == 1
    data = []
    series_all = [plots.layer_series(r) for r in reports]
    for k, (series, label) in enumerate(zip(series_all, labels)):
        xs = list(range(len(series["names"])))
        custom = [[_t(n), _t(t)] for n, t in zip(series["names"], series["types"])]
        common = {"type": "bar", "x": xs, "customdata": custom, "legendgroup": _t(label),
                  "opacity": 1.0 if single else 0.65}
        data.append({**common, "y": series["macs"], "name": _t(f"{label} MACs" if not single else "MACs"),
                     "marker": {"color": _color(k) if not single else _color(0)}, "xaxis": "x", "yaxis": "y",
                     "hovertemplate": "%{customdata[0]} (%{customdata[1]})<br>%{y:.4s} MACs<extra>" + _t(label) + "</extra>"})
        data.append({**common, "y": series["bytes"], "name": _t(f"{label} bytes" if not single else "bytes"),
                     "marker": {"color": _color(k) if not single else _color(1)}, "xaxis": "x2", "yaxis": "y2",
                     "showlegend": not single,
                     "hovertemplate": "%{customdata[0]} (%{customdata[1]})<br>%{y:.4s}B<extra>" + _t(label) + "</extra>"})
    layout = _base_layout("Per-layer MACs and bytes (leaf modules, execution order)", 560)
    layout.update({
        "barmode": "overlay",
        "bargap": 0.05,
        "xaxis": _axis("", anchor="y", showticklabels=False),
        "xaxis2": _axis("leaf layer, execution order", anchor="y2", matches="x"),
        "yaxis": _axis("MACs", domain=[0.56, 1.0]),
        "yaxis2": _axis(series_all[0]["bytes_label"], domain=[0.0, 0.44]),
        "showlegend": not single,
    })
    layout["updatemenus"] = [{
        "type": "buttons", "direction": "left", "x": 1.0, "xanchor": "right", "y": 1.09, "yanchor": "bottom",
        "showactive": True, "pad": {"r": 0, "t": 0},
        "buttons": [{"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear", "yaxis2.type": "linear"}]},
                    {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log", "yaxis2.type": "log"}]}],
    }]
    if single and len(series_all[0]["names"]) <= 40:
        layout["xaxis2"].update({"tickmode": "array", "tickvals": list(range(len(series_all[0]["names"]))),
                                 "ticktext": [_t(n) for n in series_all[0]["names"]], "tickangle": -60})
        layout["margin"]["b"] = 160
    caption = (f"One bar per leaf module (no submodules) in execution order: MACs above, {plots.BYTES_LABEL} below. "
               "Hover a bar for the layer.")
    return {"data": data, "layout": layout, "caption": caption}


def _op_types_figure(reports: list[Report], labels: list[str]) -> dict[str, Any]:
    single = len(reports) == 1
    shares = [plots.op_type_shares(r) for r in reports]
    ops = _union([s["ops"] for s in shares])
    has_time = any("time" in s for s in shares)
    data = []
    for k, (s, label) in enumerate(zip(shares, labels)):
        macs = dict(zip(s["ops"], s["macs"]))
        nbytes = dict(zip(s["ops"], s["bytes"]))
        for metric, values, pattern, color in (("MACs", macs, "", _color(k) if not single else _color(0)),
                                               ("bytes", nbytes, "/", _color(k) if not single else _color(1))):
            data.append({"type": "bar", "x": [_t(o) for o in ops], "y": [100 * values.get(o, 0.0) for o in ops],
                         "name": _t(metric if single else f"{label} {metric}"), "legendgroup": _t(label),
                         "marker": {"color": color, "pattern": {"shape": pattern if not single else ""}},
                         "xaxis": "x", "yaxis": "y",
                         "hovertemplate": "%{x}<br>%{y:.1f}% of " + _t(metric) + "<extra>" + _t(label) + "</extra>"})
        if "time" in s:
            t = s["time"]
            what = t["label"].removesuffix(" by leaf module type")
            data.append({"type": "bar", "x": [_t(x) for x in t["types"]], "y": [100 * v for v in t["share"]],
                         "name": _t(f"{label} {what}" if not single else what), "legendgroup": _t(label),
                         "marker": {"color": _color(k) if not single else _color(2)}, "xaxis": "x2", "yaxis": "y2",
                         "hovertemplate": "%{x}<br>%{y:.1f}% of " + _t(t["label"]) + "<extra>" + _t(label) + "</extra>"})
    layout = _base_layout("Share by op type: MACs and bytes" + (", and time by module type" if has_time else ""),
                          620 if has_time else 460)
    layout.update({"barmode": "group", "xaxis": _axis("op type", anchor="y", type="category", tickangle=-30),
                   "yaxis": _axis("% of the model's total", domain=[0.6, 1.0] if has_time else [0.0, 1.0], rangemode="tozero")})
    if has_time:
        layout["xaxis2"] = _axis("leaf module type", anchor="y2", type="category")
        layout["yaxis2"] = _axis("% of time", domain=[0.0, 0.3], rangemode="tozero")
    layout["margin"]["b"] = 110
    layout["legend"]["y"] = -0.35 if not has_time else -0.2
    caption = (f"Each op type's share of the model's MACs and of its {plots.BYTES_LABEL}; "
               f"beyond the top {plots.TOP_OP_TYPES} op types the rest are summed as 'other'.")
    if has_time:
        caption += " Below: " + "; ".join((f"{label}: " if not single else "") + s["time"]["label"]
                                           for s, label in zip(shares, labels) if "time" in s) + "."
    return {"data": data, "layout": layout, "caption": caption}


def _memory_figure(reports: list[Report], labels: list[str]) -> dict[str, Any]:
    data = []
    kinds = set()
    for k, (report, label) in enumerate(zip(reports, labels)):
        s = plots.memory_series(report)
        kinds.add(s["kind"])
        color = _color(k)
        trace: dict[str, Any] = {"type": "scatter", "mode": "lines", "x": s["x"], "y": s["y"], "line": {"color": color, "width": 1.5},
                                 "name": _t(f"{label}: {s['label']}"), "legendgroup": _t(label),
                                 "customdata": [[_t(short(op)), w] for op, w in zip(s["ops"], s["step"])]}
        if s["kind"] == "cumulative":
            trace["hovertemplate"] = ("op %{x}: %{customdata[0]}<br>wrote %{customdata[1]:.4s}B<br>cumulative %{y:.4s}B<extra>"
                                      + _t(label) + "</extra>")
        else:
            trace["line"]["shape"] = "hv"
            trace["hovertemplate"] = ("after op %{x} (%{customdata[0]}): %{y:.4s}B live<br>its outputs: %{customdata[1]:.4s}B<extra>"
                                      + _t(label) + "</extra>")
        data.append(trace)
        if s["x"]:
            pos = s["peak_position"]
            op = short(s["ops"][pos]) if s["ops"][pos] else ""
            if s["kind"] == "live":
                text = f"largest after an op: {units.nbytes(s['peak_bytes'])}" + (f" ({op})" if op else "")
            else:
                text = f"largest op output: {units.nbytes(s['peak_bytes'])} ({op})"
            data.append({"type": "scatter", "mode": "markers+text", "x": [s["x"][pos]], "y": [s["y"][pos]], "text": [_t(text)],
                         "textposition": "middle right", "marker": {"color": color, "size": 11, "symbol": "diamond"},
                         "name": _t(f"{label}: {text}"), "legendgroup": _t(label), "hovertemplate": _t(text) + "<extra></extra>"})
            peak_live = s["peak_live_bytes"]
            data.append({"type": "scatter", "mode": "lines", "x": [s["x"][0], s["x"][-1]], "y": [peak_live, peak_live],
                         "line": {"color": color, "dash": "dash", "width": 1},
                         "name": _t(f"{label}: peak live activation memory (during an op) {units.nbytes(peak_live)}"),
                         "legendgroup": _t(label), "hovertemplate": _t(f"peak live activation memory {units.nbytes(peak_live)}") + "<extra></extra>"})
    title = ("Live activation memory over execution order" if kinds == {"live"}
             else "Activation memory over execution order")
    layout = _base_layout(title, 480)
    layout.update({"xaxis": _axis("op index (execution order)"), "yaxis": _axis("bytes", rangemode="tozero")})
    layout["legend"]["y"] = -0.25
    layout["margin"]["b"] = 110
    parts = []
    if "live" in kinds:
        parts.append("Solid (live): the bytes of activations alive after each op, from the liveness pass (a tensor is freed after "
                     "its last use; views share their base's memory); the diamond marks the largest.")
    if "cumulative" in kinds:
        parts.append("Solid (cumulative): this report has no liveness timeline, so the line is the running sum of bytes written by "
                     "each op's outputs (compulsory model), which only grows; the diamond marks the op with the largest output.")
    parts.append("Dashed: the peak live activation memory, reached during an op while its inputs and outputs are live together, "
                 "so it can be above every after-op value.")
    return {"data": data, "layout": layout, "caption": " ".join(parts)}


def _roofline_figure(reports: list[Report], labels: list[str]) -> dict[str, Any] | None:
    series = [plots.roofline_series(r) for r in reports]
    if all(s is None for s in series):
        return None
    single = len(reports) == 1
    data = []
    roofs: set[tuple[Any, Any]] = set()
    skipped = 0
    for k, (s, label) in enumerate(zip(series, labels)):
        if s is None:
            continue
        skipped += s["skipped"]
        if s["roof"] and (s["peak_flops"], s["bandwidth"]) not in roofs:
            roofs.add((s["peak_flops"], s["bandwidth"]))
            data.append({"type": "scatter", "mode": "lines", "x": s["roof"]["x"], "y": s["roof"]["y"],
                         "line": {"color": "#333" if single else _color(k), "width": 2},
                         "name": _t(f"roof: {s['device']}"),
                         "hovertemplate": "intensity %{x:.3g} FLOP/B<br>attainable %{y:.4s}FLOP/s<extra>" + _t(s["device"]) + "</extra>"})
        p = s["points"]
        if not p["intensity"]:
            continue
        groups = ([("memory", "memory-bound", "#d62728"), ("compute", "compute-bound", "#1f77b4"), (None, "other", "#7f7f7f")]
                  if single else [("*", label, _color(k))])
        for bound, name, color in groups:
            idx = [i for i in range(len(p["intensity"]))
                   if bound == "*" or p["bound"][i] == bound or (bound is None and p["bound"][i] not in ("memory", "compute"))]
            if not idx:
                continue
            data.append({
                "type": "scatter", "mode": "markers", "x": [p["intensity"][i] for i in idx], "y": [p["attainable"][i] for i in idx],
                "marker": {"color": color, "opacity": 0.7, "size": [7 + 40 * math.sqrt(max(p["share"][i], 0.0)) for i in idx],
                           "line": {"width": 0.5, "color": "#222"}},
                "name": _t(name if single else f"{label} layers"),
                "customdata": [[_t(p["names"][i]), _t(p["types"][i]), _t(p["bound"][i]),
                                units.seconds(p["predicted_s"][i]) if p["predicted_s"][i] is not None else "n/a"] for i in idx],
                "hovertemplate": ("%{customdata[0]} (%{customdata[1]})<br>intensity %{x:.3g} FLOP/B<br>attainable %{y:.4s}FLOP/s<br>"
                                  "%{customdata[2]}-bound, predicted %{customdata[3]}<extra>" + _t(label) + "</extra>"),
            })
    layout = _base_layout("Roofline: attainable FLOP/s against arithmetic intensity", 520)
    layout.update({"xaxis": _axis("arithmetic intensity (FLOP/byte)", type="log"),
                   "yaxis": _axis("attainable FLOP/s", type="log")})
    layout["legend"]["y"] = -0.2
    layout["margin"]["b"] = 100
    caption = "Each layer of the roofline pass at its arithmetic intensity; marker area grows with its share of predicted time."
    if skipped:
        caption += f" {skipped} layer(s) with no FLOPs or bytes are not drawn (a log axis cannot show zero)."
    return {"data": data, "layout": layout, "caption": caption}


def _union(lists: list[list[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for items in lists:
        for item in items:
            seen.setdefault(item, None)
    return list(seen)
