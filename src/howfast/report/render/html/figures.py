"""The charts as plotly figure specs (plain dicts: data, layout, caption); plotly.js draws them in the page.

The series come from ``report/render/plots.py``; every name plotly shows is entity-escaped
(``plot_text``). With several reports, each one's traces are overlaid in its own colour.
"""

from __future__ import annotations

import math
from typing import Any

from howfast import units
from howfast.graph.opnames import short
from howfast.report.render import plots
from howfast.report.render.html.escape import plot_text
from howfast.report.report import Report

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
ORDER = ["layers", "op_types", "memory", "roofline"]

Figure = dict[str, Any]
Trace = dict[str, Any]


def build_figures(reports: list[Report], labels: list[str]) -> dict[str, Any]:
    """Every chart of ``reports`` by name, and their ``order``; ``roofline`` is None when no report has one."""
    return {
        "order": list(ORDER),
        "layers": layers_figure(reports, labels),
        "op_types": op_types_figure(reports, labels),
        "memory": memory_figure(reports, labels),
        "roofline": roofline_figure(reports, labels),
    }


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
    """An axis titled ``title``, with ``extra`` plotly axis settings."""
    return {"title": {"text": plot_text(title)}, "gridcolor": "#e5e5e5", "zeroline": False, "exponentformat": "SI", **extra}


def _extra(label: str) -> str:
    # The hover's side box: the report's label.
    return "<extra>" + plot_text(label) + "</extra>"


# ---------------------------------------------------------------------------------------------- layers


def layers_figure(reports: list[Report], labels: list[str]) -> Figure:
    """Per leaf layer in execution order: MACs above, bytes below."""
    single = len(reports) == 1
    series_all = [plots.layer_series(r) for r in reports]
    data: list[Trace] = []
    for k, (series, label) in enumerate(zip(series_all, labels)):
        data.extend(_layer_traces(k, series, label, single))
    caption = (f"One bar per leaf module (no submodules) in execution order: MACs above, {plots.BYTES_LABEL} below. "
               "Hover a bar for the layer.")
    return {"data": data, "layout": _layers_layout(series_all[0], single), "caption": caption}


def _layer_traces(k: int, series: dict[str, Any], label: str, single: bool) -> list[Trace]:
    xs = list(range(len(series["names"])))
    custom = [[plot_text(n), plot_text(t)] for n, t in zip(series["names"], series["types"])]
    common = {"type": "bar", "x": xs, "customdata": custom, "legendgroup": plot_text(label),
              "opacity": 1.0 if single else 0.65}
    macs = {**common, "y": series["macs"], "name": plot_text(f"{label} MACs" if not single else "MACs"),
            "marker": {"color": color(k) if not single else color(0)}, "xaxis": "x", "yaxis": "y",
            "hovertemplate": "%{customdata[0]} (%{customdata[1]})<br>%{y:.4s} MACs" + _extra(label)}
    nbytes = {**common, "y": series["bytes"], "name": plot_text(f"{label} bytes" if not single else "bytes"),
              "marker": {"color": color(k) if not single else color(1)}, "xaxis": "x2", "yaxis": "y2",
              "showlegend": not single,
              "hovertemplate": "%{customdata[0]} (%{customdata[1]})<br>%{y:.4s}B" + _extra(label)}
    return [macs, nbytes]


def _layers_layout(first: dict[str, Any], single: bool) -> dict[str, Any]:
    layout = base_layout("Per-layer MACs and bytes (leaf modules, execution order)", 560)
    layout.update({
        "barmode": "overlay",
        "bargap": 0.05,
        "xaxis": axis("", anchor="y", showticklabels=False),
        "xaxis2": axis("leaf layer, execution order", anchor="y2", matches="x"),
        "yaxis": axis("MACs", domain=[0.56, 1.0]),
        "yaxis2": axis(first["bytes_label"], domain=[0.0, 0.44]),
        "showlegend": not single,
    })
    layout["updatemenus"] = [{
        "type": "buttons", "direction": "left", "x": 1.0, "xanchor": "right", "y": 1.09, "yanchor": "bottom",
        "showactive": True, "pad": {"r": 0, "t": 0},
        "buttons": [{"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear", "yaxis2.type": "linear"}]},
                    {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log", "yaxis2.type": "log"}]}],
    }]
    if single and len(first["names"]) <= 40:  # few layers: name each bar
        layout["xaxis2"].update({"tickmode": "array", "tickvals": list(range(len(first["names"]))),
                                 "ticktext": [plot_text(n) for n in first["names"]], "tickangle": -60})
        layout["margin"]["b"] = 160
    return layout


# ---------------------------------------------------------------------------------------------- op types


def op_types_figure(reports: list[Report], labels: list[str]) -> Figure:
    """Each op type's share of MACs and bytes; below, the share of measured time by module type when known."""
    single = len(reports) == 1
    shares = [plots.op_type_shares(r) for r in reports]
    ops = union([s["ops"] for s in shares])
    has_time = any("time" in s for s in shares)
    data: list[Trace] = []
    for k, (s, label) in enumerate(zip(shares, labels)):
        data.extend(_op_type_traces(k, s, label, ops, single))
        if "time" in s:
            data.append(_time_share_trace(k, s["time"], label, single))
    caption = (f"Each op type's share of the model's MACs and of its {plots.BYTES_LABEL}; "
               f"beyond the top {plots.TOP_OP_TYPES} op types the rest are summed as 'other'.")
    if has_time:
        caption += " Below: " + "; ".join((f"{label}: " if not single else "") + s["time"]["label"]
                                           for s, label in zip(shares, labels) if "time" in s) + "."
    return {"data": data, "layout": _op_types_layout(has_time), "caption": caption}


def _op_type_traces(k: int, s: dict[str, Any], label: str, ops: list[str], single: bool) -> list[Trace]:
    macs = dict(zip(s["ops"], s["macs"]))
    nbytes = dict(zip(s["ops"], s["bytes"]))
    traces = []
    for metric, values, pattern, colour in (("MACs", macs, "", color(k) if not single else color(0)),
                                            ("bytes", nbytes, "/", color(k) if not single else color(1))):
        traces.append({"type": "bar", "x": [plot_text(o) for o in ops], "y": [100 * values.get(o, 0.0) for o in ops],
                       "name": plot_text(metric if single else f"{label} {metric}"), "legendgroup": plot_text(label),
                       "marker": {"color": colour, "pattern": {"shape": pattern if not single else ""}},
                       "xaxis": "x", "yaxis": "y",
                       "hovertemplate": "%{x}<br>%{y:.1f}% of " + plot_text(metric) + _extra(label)})
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
                   "yaxis": axis("% of the model's total", domain=[0.6, 1.0] if has_time else [0.0, 1.0], rangemode="tozero")})
    if has_time:
        layout["xaxis2"] = axis("leaf module type", anchor="y2", type="category")
        layout["yaxis2"] = axis("% of time", domain=[0.0, 0.3], rangemode="tozero")
    layout["margin"]["b"] = 110
    layout["legend"]["y"] = -0.35 if not has_time else -0.2
    return layout


# ---------------------------------------------------------------------------------------------- memory


def memory_figure(reports: list[Report], labels: list[str]) -> Figure:
    """Activation memory over execution order (live, or cumulative without a liveness timeline), and its peaks."""
    data: list[Trace] = []
    kinds: set[str] = set()
    for k, (report, label) in enumerate(zip(reports, labels)):
        s = plots.memory_series(report)
        kinds.add(s["kind"])
        data.append(_memory_line(color(k), s, label))
        if s["x"]:
            data.append(_memory_peak_marker(color(k), s, label))
            data.append(_peak_live_line(color(k), s, label))
    title = ("Live activation memory over execution order" if kinds == {"live"}
             else "Activation memory over execution order")
    layout = base_layout(title, 480)
    layout.update({"xaxis": axis("op index (execution order)"), "yaxis": axis("bytes", rangemode="tozero")})
    layout["legend"]["y"] = -0.25
    layout["margin"]["b"] = 110
    return {"data": data, "layout": layout, "caption": _memory_caption(kinds)}


def _memory_line(colour: str, s: dict[str, Any], label: str) -> Trace:
    trace: Trace = {"type": "scatter", "mode": "lines", "x": s["x"], "y": s["y"], "line": {"color": colour, "width": 1.5},
                    "name": plot_text(f"{label}: {s['label']}"), "legendgroup": plot_text(label),
                    "customdata": [[plot_text(short(op)), w] for op, w in zip(s["ops"], s["step"])]}
    if s["kind"] == "cumulative":
        trace["hovertemplate"] = ("op %{x}: %{customdata[0]}<br>wrote %{customdata[1]:.4s}B<br>cumulative %{y:.4s}B"
                                  + _extra(label))
    else:
        trace["line"]["shape"] = "hv"
        trace["hovertemplate"] = ("after op %{x} (%{customdata[0]}): %{y:.4s}B live<br>its outputs: %{customdata[1]:.4s}B"
                                  + _extra(label))
    return trace


def _memory_peak_marker(colour: str, s: dict[str, Any], label: str) -> Trace:
    pos = s["peak_position"]
    op = short(s["ops"][pos]) if s["ops"][pos] else ""
    if s["kind"] == "live":
        text = f"largest after an op: {units.nbytes(s['peak_bytes'])}" + (f" ({op})" if op else "")
    else:
        text = f"largest op output: {units.nbytes(s['peak_bytes'])} ({op})"
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
