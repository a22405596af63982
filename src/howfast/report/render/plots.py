"""The report's charts: the series they plot, and static images of them (matplotlib).

The series functions here read a ``Report`` and return plain numbers and names; they import no
plotting library. The HTML renderer (``render/html/``) turns them into interactive plotly
charts; ``write_plots`` draws the same charts with matplotlib (Agg backend, imported lazily) and
writes them as PNG and SVG files (``howfast analyze MODEL --plots DIR``).

Charts:

* ``layers``: per-layer MACs and bytes (read + written, compulsory model), one bar per leaf module (a module with no submodule in the report), in execution order.
* ``op_types``: each op type's share of MACs and of bytes, op types named as people know them
  (``opdisplay.friendly``: ``conv``, ``batch norm``, ``ReLU``; ATen ops of one name summed); of time too when the report has
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

from howfast import units
from howfast.errors import UsageError
from howfast.report.render.columns import measured_times
from howfast.report.render.opdisplay import aten_label, friendly
from howfast.report.render.tree import leaf_indices
from howfast.report.report import CostFields, Report

CHARTS = ("layers", "op_types", "memory", "roofline")
TOP_OP_TYPES = 10


# ---------------------------------------------------------------------------------------------
# The series (no plotting library)


BYTES_LABEL = "bytes read + written (compulsory model)"


def traffic_bytes(row: CostFields) -> int:
    """Bytes ``row`` moves (a layer, op or op-type row): read + written, compulsory model.

    The charts use the compulsory model (each distinct tensor read or written once per op) for bytes,
    as the table's Read and Written columns do; the write-up model's accesses are counted in elements
    and, for conv and matmul, grow with the MACs, so a bytes chart under it would repeat the MACs one.
    """
    return int(row.bytes_read) + int(row.bytes_written)


def layer_times(report: Report) -> tuple[dict[str, float], str]:
    """Per-layer seconds by module name and what they are: measured (``columns.measured_times``) or
    predicted (roofline)."""
    measured = measured_times(report)
    if measured:
        return measured, "measured time"
    if report.roofline is not None:
        return {layer.name: layer.predicted_s for layer in report.roofline.layers}, "predicted time (roofline)"
    return {}, ""


def layer_series(report: Report) -> dict[str, Any]:
    """Leaf layers in execution order: names, types, MACs and bytes (compulsory model)."""
    leaves = [report.layers[i] for i in leaf_indices(report)]
    return {
        "names": [row.name or "(model)" for row in leaves],
        "types": [row.type for row in leaves],
        "macs": [int(row.macs) for row in leaves],
        "bytes": [traffic_bytes(row) for row in leaves],
        "bytes_label": BYTES_LABEL,
    }


OTHER = "other"


def op_type_shares(report: Report, top: int = TOP_OP_TYPES) -> dict[str, Any]:
    """Each op type's share (0..1) of MACs and bytes; the smallest ones are summed as ``other``.

    Op types are named as people know them (``opdisplay.friendly``): the ATen ops of one friendly
    name (``aten.relu.default`` and ``aten.relu_.default``: ``ReLU``) are summed into one entry, and
    ``aten`` lists, per entry, the op names it sums (``opdisplay.aten_label``: ``aten.relu_``).
    Adds ``time`` (share by leaf module type) when the report has per-layer times.
    """
    groups: dict[str, tuple[int, int, list[str]]] = {}
    for r in report.op_types:
        key = friendly(r.op)
        macs_, bytes_, names_ = groups.get(key, (0, 0, []))
        groups[key] = (macs_ + int(r.macs), bytes_ + traffic_bytes(r), [*names_, r.op])
    rows = [(name, m, b, ops) for name, (m, b, ops) in groups.items()]
    total_macs = sum(row[1] for row in rows)
    total_bytes = sum(row[2] for row in rows)
    ranked = sorted(rows, key=lambda r: (-(r[1] / total_macs if total_macs else 0) - (r[2] / total_bytes if total_bytes else 0), r[0]))
    keep, rest = ranked[:top], ranked[top:]
    names = [name for name, _, _, _ in keep]
    macs = [m for _, m, _, _ in keep]
    nbytes = [b for _, _, b, _ in keep]
    full = [ops for _, _, _, ops in keep]
    if rest:
        names.append(OTHER)
        macs.append(sum(m for _, m, _, _ in rest))
        nbytes.append(sum(b for _, _, b, _ in rest))
        full.append([op for _, _, _, ops in rest for op in ops])
    out: dict[str, Any] = {
        "ops": names,
        "full_ops": full,
        "aten": [[aten_label(op) for op in ops] for ops in full],
        "other_types": len(rest),
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


def memory_series(report: Report) -> dict[str, Any]:
    """Activation memory over execution order, labelled with what it is.

    ``kind`` is ``live`` when the report carries its liveness timeline (live bytes after each op, a
    tensor freed after its last use), else ``cumulative``: the running sum of op output bytes
    (compulsory model). ``step`` is the bytes each op's outputs take. ``peak_position`` marks the
    largest live value after an op (``live``) or the op with the largest output (``cumulative``).
    ``peak_live_bytes`` is the liveness pass's peak from the totals: reached during an op, while its
    inputs and outputs are live together, so it can exceed every after-op value.
    """
    peak_live = int(report.totals.peak_activation_bytes)
    x, step, names, modules = [], [], [], []
    for op in report.ops:
        x.append(int(op.index))
        step.append(int(op.traffic("compulsory").get("output_bytes", op.bytes_written)))
        names.append(op.op)
        modules.append(op.module)
    timeline = list(report.timeline) or None
    if timeline is not None:
        if len(timeline) != len(x):  # not one value per op row: plot against the position
            x, names, step = list(range(len(timeline))), [""] * len(timeline), [0] * len(timeline)
            modules = [""] * len(timeline)
        pos = max(range(len(timeline)), key=lambda i: timeline[i])
        return {"kind": "live", "x": x, "y": timeline, "step": step, "ops": names, "modules": modules,
                "peak_index": x[pos], "peak_position": pos, "peak_bytes": timeline[pos], "peak_live_bytes": peak_live,
                "label": "live activation bytes after each op (liveness)"}
    y, running = [], 0
    for written in step:
        running += written
        y.append(running)
    pos = max(range(len(step)), key=lambda i: step[i]) if step else 0
    return {"kind": "cumulative", "x": x, "y": y, "step": step, "ops": names, "modules": modules,
            "peak_index": x[pos] if x else 0, "peak_position": pos,
            "peak_bytes": step[pos] if step else 0, "peak_live_bytes": peak_live,
            "label": "cumulative activation bytes written by ops (op outputs, compulsory model)"}


def roofline_series(report: Report) -> dict[str, Any] | None:
    """The roof and one point per leaf layer (intensity, attainable FLOP/s), or None without a roofline.

    Leaf modules only: a parent's point would sum its children's (all layers if none is a leaf).
    Layers that compute or move nothing cannot sit on a log axis and are counted as ``skipped``.
    """
    rl = report.roofline
    if rl is None:
        return None
    peak, bandwidth, ridge = rl.device.peak_flops, rl.device.bandwidth_bytes_per_s, rl.device.ridge_point
    points: dict[str, list[Any]] = {"names": [], "types": [], "intensity": [], "attainable": [], "bound": [], "share": [],
                                    "predicted_s": [], "flops": [], "bytes": [], "class": []}
    leaves = {report.layers[i].name for i in leaf_indices(report)}
    entries = [layer for layer in rl.layers if layer.name in leaves] or list(rl.layers)
    dominant = dominant_classes(report)
    skipped = 0
    for layer in entries:
        if not layer.intensity or layer.intensity <= 0 or layer.attainable_flops <= 0:
            skipped += 1
            continue
        points["names"].append(layer.name or "(model)")
        points["types"].append(layer.type)
        points["intensity"].append(layer.intensity)
        points["attainable"].append(layer.attainable_flops)
        points["bound"].append(layer.bound)
        points["share"].append(layer.share)
        points["predicted_s"].append(layer.predicted_s)
        points["flops"].append(layer.flops)
        points["bytes"].append(layer.bytes)
        points["class"].append(dominant.get(layer.name, layer.type))
    lo = min(points["intensity"] + [ridge]) / 4
    hi = max(points["intensity"] + [ridge]) * 4
    xs = [lo, ridge, hi]
    roof = {"x": xs, "y": [min(peak, bandwidth * v) for v in xs]}
    return {"device": rl.device.label, "peak_flops": peak, "bandwidth": bandwidth, "ridge": ridge, "roof": roof,
            "points": points, "skipped": skipped, "memory_model": rl.memory_model}


def dominant_classes(report: Report) -> dict[str, str]:
    """For each module, the op class that takes most of its predicted time on the roofline."""
    times: dict[str, dict[str, float]] = {}
    for op in report.roofline.ops if report.roofline is not None else []:
        by_class = times.setdefault(op.module, {})
        by_class[op.op_class] = by_class.get(op.op_class, 0.0) + op.predicted_s
    return {module: max(t.items(), key=lambda kv: kv[1])[0] for module, t in times.items()}


# ---------------------------------------------------------------------------------------------
# Static images (matplotlib)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - the plot extra is a test dependency
        raise UsageError("plots need matplotlib: pip install 'howfast[plot]'") from exc
    return plt


def _as_list(reports: Report | Sequence[Report]) -> list[Report]:
    return [reports] if isinstance(reports, Report) else list(reports)


def _labels(reports: list[Report], labels: Sequence[str] | None) -> list[str]:
    return list(labels) if labels else [r.model.name or f"model {i + 1}" for i, r in enumerate(reports)]


def write_plots(reports: Report | Sequence[Report], directory: str | Path, labels: Sequence[str] | None = None,
                formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Draw the charts of one report (or several, overlaid) into ``directory``; return the files.

    Writes ``layers``, ``op_types``, ``memory`` and (with a roofline) ``roofline``, each in every
    format of ``formats``. Needs matplotlib (``pip install 'howfast[plot]'``).
    """
    items = _as_list(reports)
    names = _labels(items, labels)
    plt = _pyplot()
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out}: {exc.strerror or exc}") from exc
    written: list[Path] = []
    drawers = (("layers", _draw_layers), ("op_types", _draw_op_types), ("memory", _draw_memory), ("roofline", _draw_roofline))
    for name, draw in drawers:
        fig = draw(plt, items, names)
        if fig is None:
            continue
        try:
            written.extend(_save(fig, [out / f"{name}.{fmt}" for fmt in formats]))
        finally:
            plt.close(fig)
    return written


def plot_roofline(reports: Report | Sequence[Report], path: str | Path, labels: Sequence[str] | None = None) -> str:
    """Write the roofline chart of one report or several (PNG, SVG or PDF by the file's suffix)."""
    out = Path(path)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"--plot-roofline writes .png, .svg or .pdf files, not {out.suffix or 'a file without suffix'!r}")
    items = _as_list(reports)
    if any(r.roofline is None for r in items):
        raise UsageError("a roofline plot needs a device profile (--hardware NAME)")
    plt = _pyplot()
    fig = _draw_roofline(plt, items, _labels(items, labels))
    try:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
        _save(fig, [out])
    finally:
        plt.close(fig)
    return str(out)


def _save(fig: Any, paths: list[Path]) -> list[Path]:
    for path in paths:
        try:
            fig.savefig(path, format=path.suffix.lstrip(".").lower(), dpi=110, bbox_inches="tight")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return paths


def _title(reports: list[Report], labels: list[str], what: str) -> str:
    return f"{what}: {labels[0]}" if len(reports) == 1 else f"{what}: {' vs '.join(labels)}"


MAX_NAMED_TICKS = 40  # a static image names at most this many layers on its axis (evenly spread)


def si_tick(value: float, _position: object = None) -> str:
    """An axis tick in SI units with no offset: ``1.5e8`` -> ``150M``, ``2e9`` -> ``2G`` (a matplotlib formatter)."""
    text = units.count(value, 2)
    number = text.rstrip("kMGT")
    suffix = text[len(number):]
    if "." in number:
        number = number.rstrip("0").rstrip(".")
    return number + suffix


def named_ticks(names: list[str], most: int = MAX_NAMED_TICKS) -> tuple[list[int], list[str]]:
    """Positions and module names for a layer axis: every layer, or every k-th past ``most`` layers;
    a long name keeps its end (``…layers.31.self_attn.q_proj``), the part that tells layers apart."""
    stride = max(1, -(-len(names) // most))
    positions = list(range(0, len(names), stride))
    return positions, [tail(names[i]) for i in positions]


def tail(text: str, width: int = 40) -> str:
    """``text``, or its last ``width - 1`` characters after an ellipsis when longer."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _draw_layers(plt: Any, reports: list[Report], labels: list[str]) -> Any:
    from matplotlib.ticker import FuncFormatter

    fig, (ax_macs, ax_bytes) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    single = len(reports) == 1
    for k, (report, label) in enumerate(zip(reports, labels)):
        series = layer_series(report)
        xs = list(range(len(series["names"])))
        alpha = 1.0 if single else 0.6
        ax_macs.bar(xs, series["macs"], width=1.0 if len(xs) > 60 else 0.8, alpha=alpha, label=label, color=None if not single else "C0")
        ax_bytes.bar(xs, series["bytes"], width=1.0 if len(xs) > 60 else 0.8, alpha=alpha, label=label, color=None if not single else "C1")
        if single and xs:
            positions, names = named_ticks(series["names"])
            ax_bytes.set_xticks(positions, names, rotation=90, fontsize=7 if len(positions) <= 30 else 6)
    for ax in (ax_macs, ax_bytes):
        ax.yaxis.set_major_formatter(FuncFormatter(si_tick))
    ax_macs.set_ylabel("MACs")
    ax_bytes.set_ylabel(layer_series(reports[0])["bytes_label"])
    ax_bytes.set_xlabel("leaf module, execution order" if single else "leaf layer position, execution order")
    ax_macs.set_title(_title(reports, labels, "per-layer MACs and bytes"))
    if not single:
        ax_macs.legend()
    fig.tight_layout()
    return fig


def _draw_op_types(plt: Any, reports: list[Report], labels: list[str]) -> Any:
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


def _draw_memory(plt: Any, reports: list[Report], labels: list[str]) -> Any:
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


def _draw_roofline(plt: Any, reports: list[Report], labels: list[str]) -> Any:
    """The roof of each device and every leaf layer at (intensity, attainable FLOP/s): one colour per
    op class, one marker per report, marker area growing with the layer's share of predicted time."""
    series = [(roofline_series(r), label) for r, label in zip(reports, labels)]
    if all(s is None for s, _ in series):
        return None
    fig, ax = plt.subplots(figsize=(9, 6))
    markers = "os^Dv<>p"
    colours: dict[str, str] = {}
    roofs_drawn: set[tuple[float, float]] = set()
    memory_model = ""
    for k, (s, label) in enumerate(series):
        if s is None:
            continue
        memory_model = s["memory_model"]
        if (s["peak_flops"], s["bandwidth"]) not in roofs_drawn:
            roofs_drawn.add((s["peak_flops"], s["bandwidth"]))
            ax.plot(s["roof"]["x"], s["roof"]["y"], color="black" if k == 0 else f"C{k}", linewidth=1.5,
                    label=f"roof: {s['device']} ({units.flop_rate(s['peak_flops'])}, {units.byte_rate(s['bandwidth'])})")
            ax.axvline(s["ridge"], color="grey", linestyle=":", linewidth=0.8)
        p = s["points"]
        for kind in dict.fromkeys(p["class"]):
            colour = colours.setdefault(kind, f"C{len(colours) % 10}")
            idx = [i for i, c in enumerate(p["class"]) if c == kind]
            ax.scatter([p["intensity"][i] for i in idx], [p["attainable"][i] for i in idx],
                       s=[15 + 600 * max(p["share"][i], 0.0) for i in idx], c=colour, marker=markers[k % len(markers)],
                       alpha=0.6, edgecolors="black", linewidths=0.3, label=kind if len(series) == 1 else f"{label}: {kind}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"arithmetic intensity (FLOP/byte, {memory_model} bytes)")
    ax.set_ylabel("attainable FLOP/s")
    ax.set_title(_title(reports, labels, "roofline") + " (point size: share of predicted time)")
    ax.legend(fontsize=7, loc="lower right", markerscale=0.6)
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
    return units.nbytes(value)
