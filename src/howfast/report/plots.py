"""The report's charts: the series they plot, and static images of them (matplotlib).

The series functions here read a ``Report`` and return plain numbers and names; they import no
plotting library. The HTML renderer (``render/html.py``) turns them into interactive plotly
charts; ``write_plots`` draws the same charts with matplotlib (Agg backend, imported lazily) and
writes them as PNG and SVG files (``howfast analyze MODEL --plots DIR``).

Charts:

* ``layers``: per-layer MACs and bytes (read + written, compulsory model), one bar per leaf module (a module with no submodule in the report), in execution order.
* ``op_types``: each op type's share of MACs and of bytes; of time too when the report has
  per-layer times (measured ones from ``report.benchmark``, else the roofline's predicted ones),
  grouped by leaf module type.
* ``memory``: live activation bytes after each op (``report.timeline``, from the liveness pass) with
  the largest marked, beside the peak live activation memory (``totals.peak_activation_bytes``,
  reached during an op) as a line. A report without a timeline shows the cumulative bytes written
  by ops (op outputs, compulsory model) instead, with the largest op output marked.
* ``roofline``: attainable FLOP/s against arithmetic intensity for each leaf layer the roofline pass
  placed, with the device's roof, when ``report.roofline`` exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from howfast.errors import UsageError

CHARTS = ("layers", "op_types", "memory", "roofline")
TOP_OP_TYPES = 10
_TIME_KEYS = ("measured_s", "median_s", "time_s", "mean_s", "seconds", "latency_s")


# ---------------------------------------------------------------------------------------------
# The series (no plotting library)


BYTES_LABEL = "bytes read + written (compulsory model)"


def traffic_bytes(report: Any, row: Any) -> int:
    """Bytes ``row`` moves (a layer or op row, or an op-type dict): read + written, compulsory model.

    The charts use the compulsory model (each distinct tensor read or written once per op) for bytes,
    as the table's Read and Written columns do; the write-up model's accesses are counted in elements
    and, for conv and matmul, grow with the MACs, so a bytes chart under it would repeat the MACs one.
    """
    if isinstance(row, dict):
        return int(row.get("bytes_read", 0)) + int(row.get("bytes_written", 0))
    return int(row.bytes_read) + int(row.bytes_written)


def parents(report: Any) -> list[int]:
    """For each layer, the index of its nearest ancestor in ``report.layers`` (-1 for the root)."""
    index = {row.name: i for i, row in enumerate(report.layers)}
    out = []
    for row in report.layers:
        parent = -1
        if row.name != "":
            parts = row.name.split(".")
            for cut in range(len(parts) - 1, -1, -1):
                candidate = ".".join(parts[:cut])
                if candidate in index and candidate != row.name:
                    parent = index[candidate]
                    break
        out.append(parent)
    return out


def leaf_indices(report: Any) -> list[int]:
    """Indices of the layers with no submodule in the report (the root alone if it has none)."""
    has_child = set(p for p in parents(report) if p >= 0)
    return [i for i in range(len(report.layers)) if i not in has_child]


def layer_times(report: Any) -> tuple[dict[str, float], str]:
    """Per-layer seconds by module name and what they are: measured (benchmark) or predicted (roofline)."""
    measured = _measured_layer_times(report.benchmark)
    roofline = report.roofline if isinstance(report.roofline, dict) else {}
    if not measured:  # measurements joined to the roofline (``measured_s`` on its layers)
        for entry in roofline.get("layers") or []:
            if isinstance(entry, dict) and _number(entry.get("measured_s")) is not None:
                measured[str(entry.get("name", ""))] = float(entry["measured_s"])
    if measured:
        return measured, "measured time"
    predicted = {}
    for entry in roofline.get("layers") or []:
        if isinstance(entry, dict) and isinstance(entry.get("predicted_s"), (int, float)):
            predicted[str(entry.get("name", ""))] = float(entry["predicted_s"])
    return predicted, ("predicted time (roofline)" if predicted else "")


def _measured_layer_times(benchmark: Any) -> dict[str, float]:
    if not isinstance(benchmark, dict):
        return {}
    for key in ("layers", "modules", "per_module", "per_layer", "layer_times"):
        value = benchmark.get(key)
        times: dict[str, float] = {}
        if isinstance(value, dict):
            for name, item in value.items():
                seconds = _seconds(item)
                if seconds is not None:
                    times[str(name)] = seconds
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and "name" in item:
                    seconds = _seconds(item)
                    if seconds is not None:
                        times[str(item["name"])] = seconds
        if times:
            return times
    return {}


def _seconds(item: Any) -> float | None:
    if isinstance(item, bool):
        return None
    if isinstance(item, (int, float)):
        return float(item)
    if isinstance(item, dict):
        for key in _TIME_KEYS:
            if isinstance(item.get(key), (int, float)) and not isinstance(item.get(key), bool):
                return float(item[key])
    return None


def layer_series(report: Any) -> dict[str, Any]:
    """Leaf layers in execution order: names, types, MACs and bytes (report's memory model)."""
    leaves = [report.layers[i] for i in leaf_indices(report)]
    return {
        "names": [row.name or "(model)" for row in leaves],
        "types": [row.type for row in leaves],
        "macs": [int(row.macs) for row in leaves],
        "bytes": [traffic_bytes(report, row) for row in leaves],
        "bytes_label": BYTES_LABEL,
    }


def op_type_shares(report: Any, top: int = TOP_OP_TYPES) -> dict[str, Any]:
    """Each op type's share (0..1) of MACs and bytes; the smallest ones are summed as ``other``.

    Adds ``time`` (share by leaf module type) when the report has per-layer times.
    """
    rows = [(str(r["op"]), int(r.get("macs", 0)), traffic_bytes(report, r)) for r in report.op_types]
    total_macs = sum(m for _, m, _ in rows)
    total_bytes = sum(b for _, _, b in rows)
    ranked = sorted(rows, key=lambda r: (-(r[1] / total_macs if total_macs else 0) - (r[2] / total_bytes if total_bytes else 0), r[0]))
    keep, rest = ranked[:top], ranked[top:]
    names = [_short_op(name) for name, _, _ in keep]
    macs = [m for _, m, _ in keep]
    nbytes = [b for _, _, b in keep]
    if rest:
        names.append(f"other ({len(rest)} types)")
        macs.append(sum(m for _, m, _ in rest))
        nbytes.append(sum(b for _, _, b in rest))
    out: dict[str, Any] = {
        "ops": names,
        "full_ops": [name for name, _, _ in keep] + ([f"{len(rest)} other op types"] if rest else []),
        "macs": [m / total_macs if total_macs else 0.0 for m in macs],
        "bytes": [b / total_bytes if total_bytes else 0.0 for b in nbytes],
        "total_macs": total_macs,
        "total_bytes": total_bytes,
        "bytes_label": BYTES_LABEL,
    }
    times, what = layer_times(report)
    if times:
        by_type: dict[str, float] = {}
        for i in leaf_indices(report):
            row = report.layers[i]
            if row.name in times:
                by_type[row.type] = by_type.get(row.type, 0.0) + times[row.name]
        total = sum(by_type.values())
        if total > 0:
            ordered = sorted(by_type.items(), key=lambda kv: (-kv[1], kv[0]))
            out["time"] = {"types": [k for k, _ in ordered], "share": [v / total for _, v in ordered],
                           "total_s": total, "label": f"{what} by leaf module type"}
    return out


def _short_op(name: str) -> str:
    """``aten.convolution.default`` -> ``convolution``; other names are kept."""
    parts = name.split(".")
    if len(parts) == 3 and parts[0] in ("aten", "prims", "quantized"):
        return parts[1] if parts[2] == "default" else f"{parts[1]}.{parts[2]}"
    return name


def report_timeline(report: Any) -> list[int] | None:
    """The report's live activation bytes after each op (``report.timeline``), or None without one."""
    value = getattr(report, "timeline", None)
    if value is None:
        value = getattr(report, "activation_timeline", None)
    if isinstance(value, dict):
        value = value.get("live_bytes") or value.get("timeline")
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
        return [int(v) for v in value]
    return None


def memory_series(report: Any) -> dict[str, Any]:
    """Activation memory over execution order, labelled with what it is.

    ``kind`` is ``live`` when the report carries its liveness timeline (live bytes after each op, a
    tensor freed after its last use), else ``cumulative``: the running sum of op output bytes
    (compulsory model). ``step`` is the bytes each op's outputs take. ``peak_position`` marks the
    largest live value after an op (``live``) or the op with the largest output (``cumulative``).
    ``peak_live_bytes`` is the liveness pass's peak from the totals: reached during an op, while its
    inputs and outputs are live together, so it can exceed every after-op value.
    """
    peak_live = int(report.totals.peak_activation_bytes)
    x, step, names = [], [], []
    for op in report.ops:
        x.append(int(op.index))
        step.append(int(op.memory.get("compulsory", {}).get("output_bytes", op.bytes_written)))
        names.append(op.op)
    timeline = report_timeline(report)
    if timeline is not None:
        if len(timeline) != len(x):  # not one value per op row: plot against the position
            x, names, step = list(range(len(timeline))), [""] * len(timeline), [0] * len(timeline)
        pos = max(range(len(timeline)), key=lambda i: timeline[i])
        return {"kind": "live", "x": x, "y": timeline, "step": step, "ops": names,
                "peak_index": x[pos], "peak_position": pos, "peak_bytes": timeline[pos], "peak_live_bytes": peak_live,
                "label": "live activation bytes after each op (liveness)"}
    y, running = [], 0
    for written in step:
        running += written
        y.append(running)
    pos = max(range(len(step)), key=lambda i: step[i]) if step else 0
    return {"kind": "cumulative", "x": x, "y": y, "step": step, "ops": names,
            "peak_index": x[pos] if x else 0, "peak_position": pos,
            "peak_bytes": step[pos] if step else 0, "peak_live_bytes": peak_live,
            "label": "cumulative activation bytes written by ops (op outputs, compulsory model)"}


def roofline_series(report: Any) -> dict[str, Any] | None:
    """The roof and one point per layer (intensity, attainable FLOP/s), or None without a roofline."""
    roofline = report.roofline
    if not isinstance(roofline, dict):
        return None
    device = roofline.get("device") or {}
    peak = _number(device.get("peak_flops"))
    bandwidth = _number(device.get("bandwidth_bytes_per_s"))
    points: dict[str, list[Any]] = {"names": [], "types": [], "intensity": [], "attainable": [], "bound": [], "share": [],
                                    "predicted_s": [], "flops": [], "bytes": []}
    skipped = 0
    entries = [e for e in roofline.get("layers") or [] if isinstance(e, dict)]
    # Leaf modules only: a parent's point would sum its children's. (All entries if none is a leaf.)
    leaves = {report.layers[i].name for i in leaf_indices(report)}
    if any(str(e.get("name", "")) in leaves for e in entries):
        entries = [e for e in entries if str(e.get("name", "")) in leaves]
    for entry in entries:
        intensity = _number(entry.get("intensity"))
        attainable = _number(entry.get("attainable_flops"))
        if attainable is None and intensity is not None and peak and bandwidth:
            attainable = min(peak, bandwidth * intensity)
        if not intensity or intensity <= 0 or not attainable or attainable <= 0:
            skipped += 1
            continue
        points["names"].append(str(entry.get("name", "")) or "(model)")
        points["types"].append(str(entry.get("type", "")))
        points["intensity"].append(intensity)
        points["attainable"].append(attainable)
        points["bound"].append(str(entry.get("bound", "")))
        points["share"].append(_number(entry.get("share")) or 0.0)
        points["predicted_s"].append(_number(entry.get("predicted_s")))
        points["flops"].append(_number(entry.get("flops")) or 0)
        points["bytes"].append(_number(entry.get("bytes")) or 0)
    ridge = _number(device.get("ridge_point")) or ((peak / bandwidth) if peak and bandwidth else None)
    roof = None
    if peak and bandwidth:
        lows = [v for v in points["intensity"] if v > 0] + [ridge or 1.0]
        lo = min(lows) / 4
        hi = max(points["intensity"] + [ridge or 1.0]) * 4
        xs = [lo, ridge or peak / bandwidth, hi]
        roof = {"x": xs, "y": [min(peak, bandwidth * v) for v in xs]}
    return {"device": str(device.get("name", "device")), "peak_flops": peak, "bandwidth": bandwidth, "ridge": ridge,
            "roof": roof, "points": points, "skipped": skipped}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


# ---------------------------------------------------------------------------------------------
# Static images (matplotlib)


def write_plots(reports: Any, directory: str | Path, labels: Sequence[str] | None = None,
                formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Draw the charts of one report (or several, overlaid) into ``directory``; return the files.

    Writes ``layers``, ``op_types``, ``memory`` and (with a roofline) ``roofline``, each in every
    format of ``formats``. Needs matplotlib (``pip install 'howfast[plot]'``).
    """
    reports = list(reports) if isinstance(reports, (list, tuple)) else [reports]
    labels = list(labels) if labels else [r.model.get("name", f"model {i + 1}") for i, r in enumerate(reports)]
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - the plot extra is a test dependency
        raise UsageError("plots need matplotlib: pip install 'howfast[plot]'") from exc
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out}: {exc.strerror or exc}") from exc
    written: list[Path] = []
    drawers = (("layers", _draw_layers), ("op_types", _draw_op_types), ("memory", _draw_memory), ("roofline", _draw_roofline))
    for name, draw in drawers:
        fig = draw(plt, reports, labels)
        if fig is None:
            continue
        try:
            for fmt in formats:
                path = out / f"{name}.{fmt}"
                try:
                    fig.savefig(path, format=fmt, dpi=110, bbox_inches="tight")
                except OSError as exc:
                    raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
                written.append(path)
        finally:
            plt.close(fig)
    return written


def _title(reports: list[Any], labels: list[str], what: str) -> str:
    return f"{what}: {labels[0]}" if len(reports) == 1 else f"{what}: {' vs '.join(labels)}"


def _draw_layers(plt: Any, reports: list[Any], labels: list[str]) -> Any:
    fig, (ax_macs, ax_bytes) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    single = len(reports) == 1
    for k, (report, label) in enumerate(zip(reports, labels)):
        series = layer_series(report)
        xs = list(range(len(series["names"])))
        alpha = 1.0 if single else 0.6
        ax_macs.bar(xs, series["macs"], width=1.0 if len(xs) > 60 else 0.8, alpha=alpha, label=label, color=None if not single else "C0")
        ax_bytes.bar(xs, series["bytes"], width=1.0 if len(xs) > 60 else 0.8, alpha=alpha, label=label, color=None if not single else "C1")
        if single and len(xs) <= 40:
            ax_bytes.set_xticks(xs, [_clip(n) for n in series["names"]], rotation=90, fontsize=7)
    ax_macs.set_ylabel("MACs")
    ax_bytes.set_ylabel(layer_series(reports[0])["bytes_label"])
    ax_bytes.set_xlabel("leaf layer, execution order")
    ax_macs.set_title(_title(reports, labels, "per-layer MACs and bytes"))
    if not single:
        ax_macs.legend()
    fig.tight_layout()
    return fig


def _draw_op_types(plt: Any, reports: list[Any], labels: list[str]) -> Any:
    shares = [op_type_shares(r) for r in reports]
    metrics = [("macs", "share of MACs"), ("bytes", f"share of {shares[0]['bytes_label']}")]
    has_time = any("time" in s for s in shares)
    fig, axes = plt.subplots(1, 3 if has_time else 2, figsize=(15 if has_time else 11, 5.5))
    for ax, (key, title) in zip(axes, metrics):
        ops = _union([s["ops"] for s in shares])
        _grouped_barh(ax, ops, [[dict(zip(s["ops"], s[key])).get(o, 0.0) * 100 for o in ops] for s in shares], labels)
        ax.set_xlabel("%")
        ax.set_title(title)
    if has_time:
        ax = axes[2]
        types = _union([s["time"]["types"] for s in shares if "time" in s])
        values = [[dict(zip(s["time"]["types"], s["time"]["share"])).get(t, 0.0) * 100 if "time" in s else 0.0 for t in types] for s in shares]
        _grouped_barh(ax, types, values, labels)
        ax.set_xlabel("%")
        ax.set_title(next(s["time"]["label"] for s in shares if "time" in s))
    fig.suptitle(_title(reports, labels, "share by op type"))
    fig.tight_layout()
    return fig


def _grouped_barh(ax: Any, names: list[str], values: list[list[float]], labels: list[str]) -> None:
    n = len(values)
    height = 0.8 / max(n, 1)
    for k, (vals, label) in enumerate(zip(values, labels)):
        ys = [i + (k - (n - 1) / 2) * height for i in range(len(names))]
        ax.barh(ys, vals, height=height, label=label)
    ax.set_yticks(range(len(names)), [_clip(x, 28) for x in names], fontsize=8)
    ax.invert_yaxis()
    if n > 1:
        ax.legend(fontsize=8)


def _draw_memory(plt: Any, reports: list[Any], labels: list[str]) -> Any:
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for k, (report, label) in enumerate(zip(reports, labels)):
        series = memory_series(report)
        color = f"C{k}"
        ax.plot(series["x"], [v / 2**20 for v in series["y"]], color=color, label=f"{label}: {series['label']}")
        if series["x"]:
            pos = series["peak_position"]
            what = "largest live after an op" if series["kind"] == "live" else "largest op output"
            ax.plot([series["x"][pos]], [series["y"][pos] / 2**20], "o", color=color)
            ax.annotate(f"{what} {_mib(series['peak_bytes'])}", (series["x"][pos], series["y"][pos] / 2**20), fontsize=8)
        ax.axhline(series["peak_live_bytes"] / 2**20, color=color, linestyle="--", linewidth=1,
                   label=f"{label}: peak live activation memory (liveness) {_mib(series['peak_live_bytes'])}")
    ax.set_xlabel("op index (execution order)")
    ax.set_ylabel("MiB")
    ax.set_title(_title(reports, labels, "activation memory over execution order"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _draw_roofline(plt: Any, reports: list[Any], labels: list[str]) -> Any:
    series = [(roofline_series(r), label) for r, label in zip(reports, labels)]
    if all(s is None for s, _ in series):
        return None
    fig, ax = plt.subplots(figsize=(9, 6))
    roofs_drawn: set[tuple[Any, Any]] = set()
    for k, (s, label) in enumerate(series):
        if s is None:
            continue
        if s["roof"] and (s["peak_flops"], s["bandwidth"]) not in roofs_drawn:
            roofs_drawn.add((s["peak_flops"], s["bandwidth"]))
            ax.plot(s["roof"]["x"], s["roof"]["y"], color="black" if len(series) == 1 else f"C{k}", linewidth=1.5,
                    label=f"roof: {s['device']}")
        p = s["points"]
        if p["intensity"]:
            sizes = [20 + 400 * max(v, 0.0) for v in p["share"]]
            if len(series) == 1:
                for bound, color in (("memory", "C3"), ("compute", "C0")):
                    idx = [i for i, b in enumerate(p["bound"]) if (b == "memory") == (bound == "memory")]
                    if idx:
                        ax.scatter([p["intensity"][i] for i in idx], [p["attainable"][i] for i in idx],
                                   s=[sizes[i] for i in idx], color=color, alpha=0.6, label=f"{bound}-bound layers")
            else:
                ax.scatter(p["intensity"], p["attainable"], s=sizes, color=f"C{k}", alpha=0.6, label=f"{label} layers")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("attainable FLOP/s")
    ax.set_title(_title(reports, labels, "roofline"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _union(lists: list[list[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for items in lists:
        for item in items:
            seen.setdefault(item, None)
    return list(seen)


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _mib(value: float) -> str:
    from howfast import units

    return units.nbytes(value)
