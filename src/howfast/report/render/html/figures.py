"""The charts as plotly figure specs (plain dicts: data, layout, caption); plotly.js draws them in the page.

The series come from ``report/render/plots.py``; every name plotly shows is entity-escaped
(``plot_text``). A report's page has the per-layer chart (``layers``: one bar per leaf module, named
on the axis and in the hover); a comparison page has the totals chart instead (``totals``: each
model's totals side by side, ``html/totals.py``), since layers of different models do not pair up by
position. The op-type chart names op types as people know them (``opdisplay``) with the ATen names in
the hover; with several reports, each one's traces are grouped (or overlaid) in its own colour.
"""

from __future__ import annotations

import math
from typing import Any

from howfast import units
from howfast.report.render import plots
from howfast.report.render.html.escape import plot_text
from howfast.report.render.html.ticks import byte_axis
from howfast.report.render.html.totals import totals_figure
from howfast.report.render.opdisplay import aten_label, friendly
from howfast.report.report import Report

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
ORDER = ["layers", "op_types", "memory", "roofline"]
COMPARE_ORDER = ["totals", "op_types", "memory", "roofline"]
TICK_CHARS = 36  # a module name on the per-layer axis keeps its last this many characters
HOVER_OPS = 8  # the ATen names listed in an op-type bar's hover

Figure = dict[str, Any]
Trace = dict[str, Any]


def build_figures(reports: list[Report], labels: list[str], compare: bool | None = None) -> dict[str, Any]:
    """Every chart of ``reports`` by name, and their ``order``; ``roofline`` is None when no report has one.

    One report (``compare`` false) gets the per-layer chart, a comparison (``compare`` true, the
    default for several reports) the totals chart in its place.
    """
    compare = len(reports) > 1 if compare is None else compare
    figures: dict[str, Any] = {"order": list(COMPARE_ORDER if compare else ORDER)}
    if compare:
        figures["totals"] = totals_figure(reports, labels, [color(k) for k in range(len(reports))])
    else:
        figures["layers"] = layers_figure(reports[0], labels[0])
    figures["op_types"] = op_types_figure(reports, labels)
    figures["memory"] = memory_figure(reports, labels)
    figures["roofline"] = roofline_figure(reports, labels)
    return figures


def color(k: int) -> str:
    """The ``k``-th colour of ``PALETTE``, cycling."""
    return PALETTE[k % len(PALETTE)]


def base_layout(title: str, height: int = 460) -> dict[str, Any]:
    """The layout every chart starts from: title, height, margins, hover and legend."""
    return {
        "title": {"text": plot_text(title), "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.18},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
    }


def axis(title: str, **extra: Any) -> dict[str, Any]:
    """An axis titled ``title``, with ``extra`` plotly axis settings; numbers in SI units (``150M``), no offsets."""
    return {"title": {"text": plot_text(title)}, "gridcolor": "#e5e5e5", "zeroline": False, "exponentformat": "SI",
            "showexponent": "all", "automargin": True, **extra}


def _extra(label: str) -> str:
    # The hover's side box: the report's label.
    return "<extra>" + plot_text(label) + "</extra>"


# ---------------------------------------------------------------------------------------------- layers


def layers_figure(report: Report, label: str) -> Figure:
    """Per leaf layer in execution order: MACs above, bytes below; the axis names the modules."""
    series = plots.layer_series(report)
    ticks = tick_names(series["names"])
    data = _layer_traces(series, ticks, label)
    caption = (f"One bar per leaf module (no submodules) in execution order, named on the axis (zoom in for every name): "
               f"MACs above, {plots.BYTES_LABEL} below. Hover a bar for the module's full name and type.")
    return {"data": data, "layout": _layers_layout(series), "caption": caption}


def tick_names(names: list[str], width: int = TICK_CHARS) -> list[str]:
    """The per-layer axis's categories: each module name (its last ``width`` characters), made unique."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        tick = plots.tail(name, width)
        seen[tick] = seen.get(tick, 0) + 1
        out.append(tick if seen[tick] == 1 else f"{tick} #{seen[tick]}")
    return out


def _layer_traces(series: dict[str, Any], ticks: list[str], label: str) -> list[Trace]:
    xs = [plot_text(t) for t in ticks]
    custom = [[plot_text(n), plot_text(t), units.nbytes(b)] for n, t, b in zip(series["names"], series["types"], series["bytes"])]
    common = {"type": "bar", "x": xs, "customdata": custom}
    macs = {**common, "y": series["macs"], "name": "MACs", "marker": {"color": color(0)}, "xaxis": "x", "yaxis": "y",
            "hovertemplate": "%{customdata[0]}<br>type %{customdata[1]}<br>%{y:.4s} MACs" + _extra(label)}
    nbytes = {**common, "y": series["bytes"], "name": "bytes", "marker": {"color": color(1)}, "xaxis": "x2", "yaxis": "y2",
              "showlegend": False,
              "hovertemplate": "%{customdata[0]}<br>type %{customdata[1]}<br>%{customdata[2]} moved" + _extra(label)}
    return [macs, nbytes]


def _layers_layout(series: dict[str, Any]) -> dict[str, Any]:
    layout = base_layout("Per-layer MACs and bytes (leaf modules, execution order)", 680)
    layout.update({
        "barmode": "overlay",
        "bargap": 0.05,
        "xaxis": axis("", anchor="y", type="category", showticklabels=False),
        "xaxis2": axis("leaf module, execution order", anchor="y2", matches="x", type="category", tickangle=-60,
                       tickfont={"size": 10}),
        "yaxis": axis("MACs", domain=[0.58, 1.0]),
        "yaxis2": axis(series["bytes_label"], domain=[0.0, 0.46], **byte_axis(series["bytes"])),
        "showlegend": False,
    })
    layout["margin"]["b"] = 40
    layout["updatemenus"] = [{
        "type": "buttons", "direction": "left", "x": 1.0, "xanchor": "right", "y": 1.09, "yanchor": "bottom",
        "showactive": True, "pad": {"r": 0, "t": 0},
        "buttons": [{"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear", "yaxis2.type": "linear", "yaxis2.tickmode": "array"}]},
                    {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log", "yaxis2.type": "log", "yaxis2.tickmode": "auto"}]}],
    }]
    return layout


# ---------------------------------------------------------------------------------------------- op types


def op_types_figure(reports: list[Report], labels: list[str]) -> Figure:
    """Each op type's share of MACs and bytes (by friendly name, per model); below, the share of time by module type when known."""
    single = len(reports) == 1
    shares = [plots.op_type_shares(r) for r in reports]
    ops = union([s["ops"] for s in shares])
    has_time = any("time" in s for s in shares)
    data: list[Trace] = []
    for k, (s, label) in enumerate(zip(shares, labels)):
        data.extend(_op_type_traces(k, s, label, ops, single))
        if "time" in s:
            data.append(_time_share_trace(k, s["time"], label, single))
    caption = (f"Each op type's share of the model's MACs and of its {plots.BYTES_LABEL}, op types named as people know "
               "them (the ATen ops each one sums are in the hover); "
               f"beyond the top {plots.TOP_OP_TYPES} op types the rest are summed as '{plots.OTHER}'.")
    if not single:
        caption += " One colour per model: MACs plain, bytes hatched."
    if has_time:
        caption += " Below: " + "; ".join((f"{label}: " if not single else "") + s["time"]["label"]
                                           for s, label in zip(shares, labels) if "time" in s) + "."
    return {"data": data, "layout": _op_types_layout(has_time), "caption": caption}


def op_hover(aten: list[str], other_types: int = 0) -> str:
    """The ATen names an op-type bar sums, for its hover (plotly markup, names escaped)."""
    shown = [plot_text(name) for name in aten[:HOVER_OPS]]
    more = f"<br>and {len(aten) - HOVER_OPS} more" if len(aten) > HOVER_OPS else ""
    head = f"{other_types} op types: " if other_types else ""
    return head + "<br>".join(shown) + more


def _op_type_traces(k: int, s: dict[str, Any], label: str, ops: list[str], single: bool) -> list[Trace]:
    macs = dict(zip(s["ops"], s["macs"]))
    nbytes = dict(zip(s["ops"], s["bytes"]))
    hovers = {op: op_hover(aten, s["other_types"] if op == plots.OTHER else 0) for op, aten in zip(s["ops"], s["aten"])}
    traces = []
    for metric, values, pattern, colour in (("MACs", macs, "", color(k) if not single else color(0)),
                                            ("bytes", nbytes, "/", color(k) if not single else color(1))):
        traces.append({"type": "bar", "x": [plot_text(o) for o in ops], "y": [100 * values.get(o, 0.0) for o in ops],
                       "customdata": [hovers.get(o, "not run by this model") for o in ops],
                       "name": plot_text(metric if single else f"{label} {metric}"), "legendgroup": plot_text(label),
                       "marker": {"color": colour, "pattern": {"shape": pattern if not single else ""}},
                       "xaxis": "x", "yaxis": "y",
                       "hovertemplate": "<b>%{x}</b><br>%{customdata}<br>%{y:.1f}% of " + plot_text(metric) + _extra(label)})
    return traces


def _time_share_trace(k: int, t: dict[str, Any], label: str, single: bool) -> Trace:
    what = t["label"].removesuffix(" by leaf module type")
    return {"type": "bar", "x": [plot_text(x) for x in t["types"]], "y": [100 * v for v in t["share"]],
            "name": plot_text(f"{label} {what}" if not single else what), "legendgroup": plot_text(label),
            "marker": {"color": color(k) if not single else color(2)}, "xaxis": "x2", "yaxis": "y2",
            "hovertemplate": "%{x}<br>%{y:.1f}% of " + plot_text(t["label"]) + _extra(label)}


def _op_types_layout(has_time: bool) -> dict[str, Any]:
    layout = base_layout("Share by op type: MACs and bytes" + (", and time by module type" if has_time else ""),
                         620 if has_time else 460)
    layout.update({"barmode": "group", "xaxis": axis("op type", anchor="y", type="category", tickangle=-30),
                   "yaxis": axis("% of the model's total", domain=[0.6, 1.0] if has_time else [0.0, 1.0], rangemode="tozero",
                                 ticksuffix="%")})
    if has_time:
        layout["xaxis2"] = axis("leaf module type", anchor="y2", type="category")
        layout["yaxis2"] = axis("% of time", domain=[0.0, 0.3], rangemode="tozero", ticksuffix="%")
    layout["margin"]["b"] = 110
    layout["legend"]["y"] = -0.35 if not has_time else -0.2
    return layout


# ---------------------------------------------------------------------------------------------- memory


def memory_figure(reports: list[Report], labels: list[str]) -> Figure:
    """Activation memory over execution order (live, or cumulative without a liveness timeline), and its peaks."""
    data: list[Trace] = []
    kinds: set[str] = set()
    tops: list[float] = []
    for k, (report, label) in enumerate(zip(reports, labels)):
        s = plots.memory_series(report)
        kinds.add(s["kind"])
        tops.extend([max(s["y"], default=0), s["peak_live_bytes"]])
        data.append(_memory_line(color(k), s, label))
        if s["x"]:
            data.append(_memory_peak_marker(color(k), s, label))
            data.append(_peak_live_line(color(k), s, label))
    title = ("Live activation memory over execution order" if kinds == {"live"}
             else "Activation memory over execution order")
    layout = base_layout(title, 480)
    layout.update({"xaxis": axis("op index (execution order)"), "yaxis": axis("bytes", **byte_axis(tops))})
    layout["legend"]["y"] = -0.25
    layout["margin"]["b"] = 110
    return {"data": data, "layout": layout, "caption": _memory_caption(kinds)}


def _memory_line(colour: str, s: dict[str, Any], label: str) -> Trace:
    trace: Trace = {"type": "scatter", "mode": "lines", "x": s["x"], "y": s["y"], "line": {"color": colour, "width": 1.5},
                    "name": plot_text(f"{label}: {s['label']}"), "legendgroup": plot_text(label),
                    "customdata": [[plot_text(op_text(op)), units.nbytes(w), plot_text(module or "(model)"), units.nbytes(y)]
                                   for op, w, module, y in zip(s["ops"], s["step"], s["modules"], s["y"])]}
    if s["kind"] == "cumulative":
        trace["hovertemplate"] = ("op %{x}: %{customdata[0]}<br>in %{customdata[2]}<br>wrote %{customdata[1]}<br>"
                                  "cumulative %{customdata[3]}" + _extra(label))
    else:
        trace["line"]["shape"] = "hv"
        trace["hovertemplate"] = ("after op %{x}: %{customdata[0]}<br>in %{customdata[2]}<br>%{customdata[3]} live<br>"
                                  "its outputs: %{customdata[1]}" + _extra(label))
    return trace


def op_text(op: str) -> str:
    """An op as the memory chart names it: friendly name and ATen name, ``ReLU (aten.relu_)``; empty for none."""
    return f"{friendly(op)} ({aten_label(op)})" if op else ""


def _memory_peak_marker(colour: str, s: dict[str, Any], label: str) -> Trace:
    pos = s["peak_position"]
    op = friendly(s["ops"][pos]) if s["ops"][pos] else ""
    where = f"{op} in {s['modules'][pos] or '(model)'}" if op else ""
    if s["kind"] == "live":
        text = f"largest after an op: {units.nbytes(s['peak_bytes'])}" + (f" ({where})" if where else "")
    else:
        text = f"largest op output: {units.nbytes(s['peak_bytes'])} ({where})"
    return {"type": "scatter", "mode": "markers+text", "x": [s["x"][pos]], "y": [s["y"][pos]], "text": [plot_text(text)],
            "textposition": "middle right", "marker": {"color": colour, "size": 11, "symbol": "diamond"},
            "name": plot_text(f"{label}: {text}"), "legendgroup": plot_text(label), "hovertemplate": plot_text(text) + "<extra></extra>"}


def _peak_live_line(colour: str, s: dict[str, Any], label: str) -> Trace:
    peak_live = s["peak_live_bytes"]
    return {"type": "scatter", "mode": "lines", "x": [s["x"][0], s["x"][-1]], "y": [peak_live, peak_live],
            "line": {"color": colour, "dash": "dash", "width": 1},
            "name": plot_text(f"{label}: peak live activation memory (during an op) {units.nbytes(peak_live)}"),
            "legendgroup": plot_text(label),
            "hovertemplate": plot_text(f"peak live activation memory {units.nbytes(peak_live)}") + "<extra></extra>"}


def _memory_caption(kinds: set[str]) -> str:
    parts = []
    if "live" in kinds:
        parts.append("Solid (live): the bytes of activations alive after each op, from the liveness pass (a tensor is freed after "
                     "its last use; views share their base's memory); the diamond marks the largest.")
    if "cumulative" in kinds:
        parts.append("Solid (cumulative): this report has no liveness timeline, so the line is the running sum of bytes written by "
                     "each op's outputs (compulsory model), which only grows; the diamond marks the op with the largest output.")
    parts.append("Dashed: the peak live activation memory, reached during an op while its inputs and outputs are live together, "
                 "so it can be above every after-op value.")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------- roofline


def roofline_figure(reports: list[Report], labels: list[str]) -> Figure | None:
    """Each leaf layer at its arithmetic intensity under the device's roof; None when no report has a roofline."""
    series = [plots.roofline_series(r) for r in reports]
    if all(s is None for s in series):
        return None
    single = len(reports) == 1
    data: list[Trace] = []
    roofs: set[tuple[Any, Any]] = set()
    skipped = 0
    for k, (s, label) in enumerate(zip(series, labels)):
        if s is None:
            continue
        skipped += s["skipped"]
        if s["roof"] and (s["peak_flops"], s["bandwidth"]) not in roofs:
            roofs.add((s["peak_flops"], s["bandwidth"]))
            data.append(_roof_trace(k, s, single))
        if s["points"]["intensity"]:
            data.extend(_point_traces(k, s["points"], label, single))
    caption = "Each layer of the roofline pass at its arithmetic intensity; marker area grows with its share of predicted time."
    if skipped:
        caption += f" {skipped} layer(s) with no FLOPs or bytes are not drawn (a log axis cannot show zero)."
    return {"data": data, "layout": _roofline_layout(), "caption": caption}


def _roof_trace(k: int, s: dict[str, Any], single: bool) -> Trace:
    return {"type": "scatter", "mode": "lines", "x": s["roof"]["x"], "y": s["roof"]["y"],
            "line": {"color": "#333" if single else color(k), "width": 2},
            "name": plot_text(f"roof: {s['device']}"),
            "hovertemplate": "intensity %{x:.3g} FLOP/B<br>attainable %{y:.4s}FLOP/s" + _extra(s["device"])}


def _point_traces(k: int, p: dict[str, Any], label: str, single: bool) -> list[Trace]:
    # One report: a group per bound (memory, compute, other). Several: one group per report.
    groups = ([("memory", "memory-bound", "#d62728"), ("compute", "compute-bound", "#1f77b4"), (None, "other", "#7f7f7f")]
              if single else [("*", label, color(k))])
    traces = []
    for bound, name, colour in groups:
        idx = [i for i in range(len(p["intensity"]))
               if bound == "*" or p["bound"][i] == bound or (bound is None and p["bound"][i] not in ("memory", "compute"))]
        if idx:
            traces.append(_point_trace(p, idx, name if single else f"{label} layers", colour, label))
    return traces


def _point_trace(p: dict[str, Any], idx: list[int], name: str, colour: str, label: str) -> Trace:
    return {
        "type": "scatter", "mode": "markers", "x": [p["intensity"][i] for i in idx], "y": [p["attainable"][i] for i in idx],
        "marker": {"color": colour, "opacity": 0.7, "size": [7 + 40 * math.sqrt(max(p["share"][i], 0.0)) for i in idx],
                   "line": {"width": 0.5, "color": "#222"}},
        "name": plot_text(name),
        "customdata": [[plot_text(p["names"][i]), plot_text(p["types"][i]), plot_text(p["bound"][i]),
                        units.seconds(p["predicted_s"][i]) if p["predicted_s"][i] is not None else "n/a"] for i in idx],
        "hovertemplate": ("%{customdata[0]} (%{customdata[1]})<br>intensity %{x:.3g} FLOP/B<br>attainable %{y:.4s}FLOP/s<br>"
                          "%{customdata[2]}-bound, predicted %{customdata[3]}" + _extra(label)),
    }


def _roofline_layout() -> dict[str, Any]:
    layout = base_layout("Roofline: attainable FLOP/s against arithmetic intensity", 520)
    layout.update({"xaxis": axis("arithmetic intensity (FLOP/byte)", type="log"),
                   "yaxis": axis("attainable FLOP/s", type="log")})
    layout["legend"]["y"] = -0.2
    layout["margin"]["b"] = 100
    return layout


def union(lists: list[list[str]]) -> list[str]:
    """The items of ``lists`` in first-seen order, each once."""
    seen: dict[str, None] = {}
    for items in lists:
        for item in items:
            seen.setdefault(item, None)
    return list(seen)
