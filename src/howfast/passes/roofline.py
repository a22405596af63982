"""Roofline pass: arithmetic intensity, bound and predicted time of every op and layer on a device.

For one op with ``F`` FLOPs moving ``B`` bytes on a device with peak ``P`` FLOP/s (for the
report's dtype) and memory bandwidth ``W`` bytes/s (``docs/roofline.md``)::

    intensity  I = F / B                       FLOP per byte
    ridge      R = P / W                       the intensity where the roof turns
    bound      compute if I >= R else memory
    attainable A = min(P, I * W)               FLOP/s the roof allows
    predicted  t = max(F / P, B / W) / e_c + o_c

``e_c`` and ``o_c`` are the efficiency (fraction of the roof attained) and fixed per-op overhead of
the op's class (``op_class``: gemm, gemv, conv, pwconv, dwconv, attention, pool, reduce, norm,
elementwise, activation) from the profile; a vendor profile has none, so ``e = 1`` and ``o`` is
its generic ``overhead.per_op_s``: the plain roofline. ``howfast calibrate`` measures them on
this machine. The model's predicted latency is the sum over ops (eager execution runs ops one
after another). A layer sums its ops (and its submodules' ops).

Bytes follow a memory model: ``compulsory`` by default (each distinct tensor an op touches read
or written once: what an ideal kernel moves to and from memory), ``writeup`` when asked (the
Chinese write-up's model, which counts a convolution's input once per MAC and so puts every
convolution far below any ridge point).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from howfast.errors import DeviceError, UsageError
from howfast.hardware.profiles import HardwareProfile, get_profile
from howfast.passes.tree import ancestors
from howfast import units

DEFAULT_MEMORY_MODEL = "compulsory"
MEMORY_MODELS = ("compulsory", "writeup")

_TORCH_TO_PROFILE_DTYPE = {
    "float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
    "int8": "int8", "qint8": "int8", "quint8": "int8", "uint8": "int8", "float8_e4m3fn": "fp8", "float8_e5m2": "fp8",
}

_GEMM = {"mm", "addmm", "bmm", "baddbmm", "addbmm", "matmul", "linear", "_addmm_activation", "mv", "addmv", "dot", "vdot",
         "inner", "einsum", "Einsum", "_trilinear", "gru", "lstm", "rnn_relu", "rnn_tanh"}
_NORM = {"batch_norm", "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
         "_native_batch_norm_legit_functional", "_batch_norm_impl_index", "_batch_norm_no_update", "_batch_norm_with_update",
         "_batch_norm_with_update_functional", "cudnn_batch_norm", "miopen_batch_norm", "layer_norm", "native_layer_norm",
         "group_norm", "native_group_norm", "instance_norm", "rms_norm", "_fused_rms_norm"}
_REDUCE = {"mean", "sum", "nansum", "nanmean", "amax", "amin", "max", "min", "var", "std", "var_mean", "std_mean", "prod",
           "argmax", "argmin", "linalg_vector_norm", "norm", "cumsum", "cumprod", "all", "any"}
_ACTIVATION = {"gelu", "silu", "sigmoid", "tanh", "elu", "selu", "celu", "mish", "softplus", "exp", "exp2", "expm1", "log",
               "log10", "log1p", "log2", "log_sigmoid_forward", "erf", "erfc", "erfinv", "sin", "cos", "tan", "asin", "acos",
               "atan", "atan2", "sinh", "cosh", "softmax", "_softmax", "log_softmax", "_log_softmax", "_safe_softmax",
               "logsumexp", "glu"}


def base_name(op: str) -> str:
    """``"aten.relu_.default"`` -> ``"relu"``; ``"scaled_dot_product_attention"`` stays."""
    parts = op.split(".")
    name = parts[1] if len(parts) >= 2 and parts[0] in ("aten", "onnx", "prims", "quantized") else parts[0]
    if name.endswith("_") and not name.endswith("__"):
        name = name[:-1]  # in-place variant
    return name


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def conv_class(macs: int, output_shape: Sequence[Sequence[int]], input_elements: int) -> str:
    """``dwconv``, ``pwconv`` or ``conv`` for a convolution, from what the report keeps of it.

    ``R = MACs / output elements`` is the reduction length ``Cin/groups x k x k``. An input of
    ``Cin x Hin x Win`` per sample gives ``Cin`` once the stride is guessed (1 or 2):
    depthwise when ``Cin`` matches ``Cout`` and ``R`` is a small square (``k x k``, one channel
    per group); pointwise (1x1) when ``R`` is at most ``Cin`` (``k x k = 1``); else a dense conv.
    """
    if not output_shape or len(output_shape[0]) < 3:
        return "conv"
    out = output_shape[0]
    n, cout = int(out[0]), int(out[1])
    spatial = _numel(out[2:])
    out_elems = _numel(out)
    if out_elems <= 0 or n <= 0 or spatial <= 0 or input_elements <= 0:
        return "conv"
    r = macs / out_elems
    cin_s1 = input_elements / (n * spatial)  # input channels if stride 1
    root = round(math.sqrt(r))
    if r <= 49 and root * root == round(r) and r < cout:
        for stride_area in (1, 4, 9):
            cin = cin_s1 / stride_area
            if abs(cin - cout) <= 0.25 * cout:
                return "dwconv"
    if r <= 1.2 * cin_s1:
        return "pwconv"
    return "conv"


def op_class(op: Any, ridge: float | None = None, memory_model: str = DEFAULT_MEMORY_MODEL) -> str:
    """The class of one ``OpRow`` (or a dict with op, macs, flops, memory, output_shape)."""
    get = (lambda k, d=None: op.get(k, d)) if isinstance(op, dict) else (lambda k, d=None: getattr(op, k, d))
    name = base_name(str(get("op", "")))
    memory = get("memory", {}) or {}
    if "conv" in name:
        return conv_class(int(get("macs", 0) or 0), get("output_shape", []) or [],
                          int(memory.get("compulsory", {}).get("input", 0)))
    if name in _GEMM:
        if ridge is not None:
            flops = get("flops", 0) or 0
            nbytes = memory.get(memory_model, {}).get("bytes", 0)
            if nbytes and flops / nbytes < ridge:
                return "gemv"
        return "gemm"
    if "attention" in name:
        return "attention"
    if "pool" in name:
        return "pool"
    if name in _REDUCE:
        return "reduce"
    if name in _NORM:
        return "norm"
    if name in _ACTIVATION:
        return "activation"
    return "elementwise"


def report_dtype(report: Any) -> str:
    """The profile dtype key (fp32, fp16, bf16, int8...) of the report's floating-point weights, else inputs."""
    counts: dict[str, int] = dict(report.model.get("param_dtypes") or {})
    floats = {k.removeprefix("torch."): v for k, v in counts.items()}
    if floats:
        best = max(floats.items(), key=lambda kv: kv[1])[0]
        if best in _TORCH_TO_PROFILE_DTYPE:
            return _TORCH_TO_PROFILE_DTYPE[best]
    for item in report.inputs:
        dtype = str(item.get("dtype", "")).removeprefix("torch.")
        if dtype.startswith(("float", "bfloat")) and dtype in _TORCH_TO_PROFILE_DTYPE:
            return _TORCH_TO_PROFILE_DTYPE[dtype]
    return "fp32"


def predict_op(flops: float, nbytes: float, peak: float, bandwidth: float, efficiency: float = 1.0,
               overhead_s: float = 0.0) -> dict[str, Any]:
    """Roofline figures of one op: intensity, bound, attainable FLOP/s and predicted seconds."""
    if peak <= 0 or bandwidth <= 0 or efficiency <= 0:
        raise DeviceError("peak FLOP/s, bandwidth and efficiency must be positive")
    ridge = peak / bandwidth
    intensity = flops / nbytes if nbytes > 0 else None
    if intensity is None:
        bound = "compute"
        attainable = peak
    else:
        bound = "compute" if intensity >= ridge else "memory"
        attainable = min(peak, intensity * bandwidth)
    roof_s = max(flops / peak, nbytes / bandwidth)
    busy = flops > 0 or nbytes > 0
    return {
        "intensity": intensity,
        "bound": bound,
        "attainable_flops": attainable,
        "roof_s": roof_s,
        "predicted_s": (roof_s / efficiency + overhead_s) if busy else 0.0,
    }


def op_figures(row: Any, profile: HardwareProfile, peak: float, memory_model: str = DEFAULT_MEMORY_MODEL,
               weights_cached: bool = False) -> dict[str, Any] | None:
    """The roofline entry of one ``OpRow`` on ``profile`` (None for ops that move nothing and compute nothing).

    Memory time: activation bytes at the cache bandwidth when the profile has one and they fit in
    its last-level cache (``level``), weight bytes at the cache bandwidth when ``weights_cached``
    (the whole model's weights fit), the rest at the memory bandwidth. The op's effective
    bandwidth is its bytes over that time; without a cache figure it is the memory bandwidth.
    The class's ``weight_s_per_byte`` (weights re-laid out on every call) adds to the time.
    """
    flops = float(row.flops)
    memory = row.memory.get(memory_model) or {}
    nbytes = float(memory.get("bytes", 0))
    if flops <= 0 and nbytes <= 0:
        return None
    weight_bytes = min(float(memory.get("weights_bytes", 0)), nbytes)
    mem_s, level, weights_level = profile.memory_seconds(nbytes - weight_bytes, weight_bytes, weights_cached)
    bandwidth = nbytes / mem_s if mem_s > 0 else profile.bandwidth_bytes_per_s
    cls = op_class(row, peak / bandwidth, memory_model)
    eff = profile.class_efficiency(cls)
    over = profile.class_overhead_s(cls)
    fig = predict_op(flops, nbytes, peak, bandwidth, eff, over)
    weight_s = weight_bytes * profile.class_weight_s_per_byte(cls)
    return {
        "index": row.index, "op": row.op, "module": row.module, "class": cls, "flops": int(row.flops), "bytes": int(nbytes),
        "intensity": fig["intensity"], "bound": fig["bound"], "attainable_flops": fig["attainable_flops"],
        "predicted_s": fig["predicted_s"] + weight_s, "roof_s": fig["roof_s"], "level": level, "weights_level": weights_level,
        "weight_bytes": int(weight_bytes), "efficiency": eff, "overhead_s": over,
    }


def roofline(report: Any, device: str | HardwareProfile, *, dtype: str | None = None, memory_model: str | None = None,
             fused: bool = False, energy: bool = True) -> Any:
    """Put the roofline of ``report`` on ``device`` (a profile, its name or a .toml path) into ``report.roofline``.

    ``dtype`` picks the profile's peak (default: the report's weight dtype; fp32 when the profile
    has no figure for it, with a note). ``memory_model`` is ``compulsory`` (default) or
    ``writeup``. ``fused`` is the fusion pass's hook: a report built from the fused program
    (``analyze(..., fused=True)`` sets ``report.fusion``) already carries the fused ops' costs, and
    the prediction follows them; without ``report.fusion`` it is a no-op with a note. Returns ``report``.
    """
    profile = get_profile(device)
    model = memory_model or DEFAULT_MEMORY_MODEL
    if model not in MEMORY_MODELS:
        raise UsageError(f"unknown memory model {model!r}; use compulsory or writeup")
    notes: list[str] = []
    wanted = dtype or report_dtype(report)
    used = wanted if profile.has_dtype(wanted) else "fp32"
    if used != wanted:
        notes.append(f"{profile.name} has no peak figure for {wanted}; fp32 peak used")
    peak = profile.peak(used)
    bandwidth = profile.bandwidth_bytes_per_s
    ridge = peak / bandwidth
    if fused:
        if getattr(report, "fusion", None) is None:
            notes.append("fused=True asked, but the report has no fusion pass results (report.fusion is None): prediction is unfused")
        else:
            notes.append("fused: the report's ops are the fused program's (report.fusion), and the prediction follows them")

    ops_out: list[dict[str, Any]] = []
    per_layer: dict[str, dict[str, float]] = defaultdict(lambda: {"flops": 0.0, "bytes": 0.0, "predicted_s": 0.0,
                                                                  "compute_s": 0.0, "memory_s": 0.0})
    classes: dict[str, dict[str, float]] = {}
    summary = {"compute_bound_ops": 0, "memory_bound_ops": 0, "compute_bound_time_s": 0.0, "memory_bound_time_s": 0.0}
    overhead_total = 0.0
    uncounted = 0
    weights_cached = profile.weights_cached(float(report.totals.param_bytes))
    for row in report.ops:
        entry = op_figures(row, profile, peak, model, weights_cached)
        if entry is None:
            continue
        if not row.counted:
            uncounted += 1
        ops_out.append(entry)
        overhead_total += entry["overhead_s"]
        key = "compute" if entry["bound"] == "compute" else "memory"
        summary[f"{key}_bound_ops"] += 1
        summary[f"{key}_bound_time_s"] += entry["predicted_s"]
        c = classes.setdefault(entry["class"], {"ops": 0, "flops": 0, "bytes": 0, "predicted_s": 0.0,
                                                "efficiency": entry["efficiency"]})
        c["ops"] += 1
        c["flops"] += entry["flops"]
        c["bytes"] += entry["bytes"]
        c["predicted_s"] += entry["predicted_s"]
        for path in ancestors(row.module):
            agg = per_layer[path]
            agg["flops"] += entry["flops"]
            agg["bytes"] += entry["bytes"]
            agg["predicted_s"] += entry["predicted_s"]
            agg[f"{key}_s"] += entry["predicted_s"]

    total = sum(e["predicted_s"] for e in ops_out)
    layers_out = []
    for layer in report.layers:
        agg = per_layer.get(layer.name)
        if agg is None:
            agg = {"flops": 0.0, "bytes": 0.0, "predicted_s": 0.0, "compute_s": 0.0, "memory_s": 0.0}
        fig = predict_op(agg["flops"], agg["bytes"], peak, bandwidth)
        layers_out.append({
            "name": layer.name, "type": layer.type, "depth": layer.depth, "flops": int(agg["flops"]), "bytes": int(agg["bytes"]),
            "intensity": fig["intensity"],
            "bound": ("memory" if agg["memory_s"] > agg["compute_s"] else "compute") if agg["predicted_s"] > 0 else fig["bound"],
            "attainable_flops": fig["attainable_flops"], "predicted_s": agg["predicted_s"],
            "share": agg["predicted_s"] / total if total > 0 else 0.0,
        })
    if uncounted:
        notes.append(f"{uncounted} op(s) have no cost formula: their FLOPs are unknown (0), only their bytes are timed")
    if not profile.calibrated:
        notes.append("plain roofline: the profile has no per-class efficiencies (calibrate a machine for those); "
                     "predicted times are lower bounds")
    report.roofline = {
        "device": {
            "name": profile.name, "title": profile.title, "dtype": used, "peak_flops": peak, "bandwidth_bytes_per_s": bandwidth,
            "ridge_point": ridge, "per_op_overhead_s": profile.overhead_s,
            "source": {"peak_flops": (profile.peak_flops.get(used) or profile.peak_flops["fp32"]).source,
                       "bandwidth_bytes_per_s": profile.bandwidth.source,
                       "per_op_overhead_s": profile.per_op_overhead.source if profile.per_op_overhead else "none given: 0",
                       "file": profile.path or ""},
            "cache_bandwidth_bytes_per_s": profile.cache_bandwidth.value if profile.cache_bandwidth else None,
            "last_level_cache_bytes": profile.last_level_cache_bytes if profile.cache_bandwidth else None,
            "calibrated": profile.calibrated,
            "weights_cached": weights_cached,
        },
        "memory_model": model,
        "predicted_latency_s": total,
        "overhead_s": overhead_total,
        "ops": ops_out,
        "layers": layers_out,
        "summary": summary,
        "classes": {k: {**v, "share": v["predicted_s"] / total if total > 0 else 0.0} for k, v in classes.items()},
        "fused": bool(fused and getattr(report, "fusion", None) is not None),
        "notes": notes,
    }
    if energy:
        from howfast.passes.energy import estimate_energy

        report.roofline["energy"] = estimate_energy(report, profile)
    return report


# ---------------------------------------------------------------------------------- measured


def join_measured(report: Any, layer_times: Any, plain_total_s: float | None = None) -> dict[str, Any]:
    """Predicted beside measured time per layer and in total (``LayerTimes`` from ``howfast.bench``).

    Per layer: ``measured_s`` is the module's median inclusive time (hooked runs); ``ratio`` is
    predicted / measured (1 = exact, < 1 = faster than measured). The total uses the plain
    (unhooked) median when known. Stored as ``report.roofline["measured"]`` and returned; each
    roofline layer also gets ``measured_s`` and ``ratio``.
    """
    if report.roofline is None:
        raise UsageError("no roofline in this report: run howfast.roofline(report, device) before joining measurements")
    by_module: dict[str, float] = dict(getattr(layer_times, "by_module", {}) or {})
    measured_total = plain_total_s if plain_total_s is not None else getattr(layer_times, "plain_total_s", None)
    if not measured_total:
        measured_total = getattr(layer_times, "total_s", None) or by_module.get("")
    rows = []
    for layer in report.roofline["layers"]:
        measured = by_module.get(layer["name"])
        if layer["name"] == "" and measured_total:
            measured = measured_total
        ratio = layer["predicted_s"] / measured if measured else None
        layer["measured_s"] = measured
        layer["ratio"] = ratio
        rows.append({"name": layer["name"], "type": layer["type"], "depth": layer["depth"], "predicted_s": layer["predicted_s"],
                     "measured_s": measured, "ratio": ratio})
    predicted = report.roofline["predicted_latency_s"]
    result = {
        "method": "measured: median per module over hooked runs (howfast.bench.per_layer_times), total from plain runs; "
                  "ratio = predicted / measured",
        "total": {"predicted_s": predicted, "measured_s": measured_total,
                  "ratio": predicted / measured_total if measured_total else None},
        "overhead_ratio": getattr(layer_times, "overhead_ratio", None),
        "layers": rows,
    }
    report.roofline["measured"] = result
    return result


# ---------------------------------------------------------------------------------- rendering


def _joules(value: float) -> str:
    if value >= 1:
        return f"{value:.3f} J"
    if value >= 1e-3:
        return f"{value * 1e3:.3f} mJ"
    return f"{value * 1e6:.2f} uJ"


def render_roofline_table(report: Any, depth: int | None = None, width: int | None = None) -> str:
    """The roofline columns per layer as a rich table (text), with the device and a short explanation."""
    import io

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    rl = report.roofline
    if not rl:
        return ""
    dev = rl["device"]
    measured = "measured" in rl
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 160, force_terminal=False, no_color=True, highlight=False)
    title = (f"roofline: {escape(report.model.get('name', ''))} on {escape(dev.get('title') or dev['name'])} "
             f"({dev['dtype']}, {rl['memory_model']} bytes)")
    table = Table(title=title, header_style="bold")
    for col in ("Layer", "Type", "FLOPs", "Bytes", "FLOP/B", "Bound", "Predicted", "Share"):
        table.add_column(col, justify="left" if col in ("Layer", "Type", "Bound") else "right", overflow="fold")
    if measured:
        table.add_column("Measured", justify="right")
        table.add_column("Pred/Meas", justify="right")
    for layer in rl["layers"]:
        if depth is not None and layer["depth"] > depth:
            continue
        cells = ["  " * layer["depth"] + escape(layer["name"] or "(model)"), escape(layer["type"]), units.count(layer["flops"]),
                 units.nbytes(layer["bytes"]), "-" if layer["intensity"] is None else f"{layer['intensity']:.2f}",
                 layer["bound"], units.seconds(layer["predicted_s"]), f"{100 * layer['share']:.1f}%"]
        if measured:
            cells += [units.seconds(layer.get("measured_s")), "-" if layer.get("ratio") is None else f"{layer['ratio']:.2f}"]
        table.add_row(*cells, style="bold" if layer["depth"] == 0 else None)
    console.print(table)
    for line in summary_lines(report):
        console.print(escape(line))
    return buffer.getvalue()


def render_roofline_markdown(report: Any, depth: int | None = None) -> str:
    """The roofline columns per layer as a Markdown table, with the summary lines."""
    rl = report.roofline
    if not rl:
        return ""
    from howfast import units

    measured = "measured" in rl
    head = ["Layer", "Type", "FLOPs", "Bytes", "FLOP/B", "Bound", "Predicted", "Share"] + (["Measured", "Pred/Meas"] if measured else [])
    lines = [f"## Roofline on {rl['device'].get('title') or rl['device']['name']}", "", "| " + " | ".join(head) + " |",
             "|" + "|".join("---" if h in ("Layer", "Type", "Bound") else "---:" for h in head) + "|"]
    for layer in rl["layers"]:
        if depth is not None and layer["depth"] > depth:
            continue
        cells = [f"`{layer['name'] or '(model)'}`", layer["type"], units.count(layer["flops"]), units.nbytes(layer["bytes"]),
                 "-" if layer["intensity"] is None else f"{layer['intensity']:.2f}", layer["bound"], units.seconds(layer["predicted_s"]),
                 f"{100 * layer['share']:.1f}%"]
        if measured:
            cells += [units.seconds(layer.get("measured_s")), "-" if layer.get("ratio") is None else f"{layer['ratio']:.2f}"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines.append("")
    lines.extend(f"- {line.strip()}" for line in summary_lines(report))
    return "\n".join(lines) + "\n"


def summary_lines(report: Any) -> list[str]:
    """The roofline's figures in a few lines: device, predicted latency, bound split, energy, notes."""
    rl = report.roofline
    dev = rl["device"]
    s = rl["summary"]
    total = rl["predicted_latency_s"]
    lines = [
        f"device: {dev.get('title') or dev['name']}: peak {dev['peak_flops'] / 1e9:.1f} GFLOP/s ({dev['dtype']}), "
        f"bandwidth {dev['bandwidth_bytes_per_s'] / 1e9:.1f} GB/s, ridge point {dev['ridge_point']:.2f} FLOP/B, "
        f"per-op overhead {units.seconds(dev['per_op_overhead_s'])}" + (" (calibrated per op class)" if dev.get("calibrated") else ""),
        f"predicted latency: {units.seconds(total)} ({rl['memory_model']} memory model; sum over {len(rl['ops'])} ops, "
        f"{units.seconds(rl.get('overhead_s', 0.0))} of it fixed per-op overhead)",
        f"bound: {s['compute_bound_ops']} compute-bound ops ({units.seconds(s['compute_bound_time_s'])}), "
        f"{s['memory_bound_ops']} memory-bound ops ({units.seconds(s['memory_bound_time_s'])})",
    ]
    if "measured" in rl:
        t = rl["measured"]["total"]
        if t["measured_s"]:
            lines.append(f"measured latency: {units.seconds(t['measured_s'])}; predicted / measured = {t['ratio']:.2f}")
    energy = rl.get("energy")
    if energy:
        line = (f"energy (estimate, {energy['table_name']}): {_joules(energy['total_j'])} per inference "
                f"(compute {_joules(energy['compute_j'])}, on-chip {_joules(energy['sram_j'])}, DRAM {_joules(energy['dram_j'])})")
        if energy.get("tdp_bound_j") is not None:
            line += f"; TDP x predicted latency: {_joules(energy['tdp_bound_j'])}"
        lines.append(line)
    measured_energy = (rl.get("measured") or {}).get("energy")
    if measured_energy:
        lines.append(f"measured energy (RAPL, whole package): {_joules(measured_energy['energy_j_per_run'])} per inference")
    from howfast.passes.explain import explain_report

    lines.extend(explain_report(report))
    lines.extend(f"note: {n}" for n in rl.get("notes", []))
    return lines


# ---------------------------------------------------------------------------------- plot


def plot_roofline(reports: Any, path: str, labels: Sequence[str] | None = None) -> str:
    """Write a roofline chart (PNG or SVG by the file's suffix): the device roof and every leaf layer.

    Each point is a layer at (intensity, attainable FLOP/s), coloured by its main op type and
    sized by its share of the predicted time. Needs matplotlib (imported here, Agg backend).
    """
    from pathlib import Path

    reports = list(reports) if isinstance(reports, (list, tuple)) else [reports]
    out = Path(path)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"--plot-roofline writes .png, .svg or .pdf files, not {out.suffix or 'a file without suffix'!r}")
    if any(r.roofline is None for r in reports):
        raise UsageError("a roofline plot needs a device profile (--hardware NAME)")
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("the roofline plot needs matplotlib: pip install 'howfast[plot]'") from None
    labels = list(labels) if labels else [r.model.get("name", f"model {i + 1}") for i, r in enumerate(reports)]
    fig, ax = plt.subplots(figsize=(9, 6))
    markers = "os^Dv<>p"
    type_colors: dict[str, Any] = {}
    xs_all: list[float] = []
    roofs = set()
    for k, (report, label) in enumerate(zip(reports, labels)):
        rl = report.roofline
        dev = rl["device"]
        dominant = _dominant_op_types(rl)
        points = [layer for layer in _leaf_layers(rl["layers"]) if layer["intensity"] and layer["predicted_s"] > 0]
        for layer in points:
            kind = dominant.get(layer["name"], layer["type"])
            if kind not in type_colors:
                type_colors[kind] = f"C{len(type_colors) % 10}"
        for kind in dict.fromkeys(dominant.get(layer["name"], layer["type"]) for layer in points):
            chosen = [layer for layer in points if dominant.get(layer["name"], layer["type"]) == kind]
            ax.scatter([p["intensity"] for p in chosen], [p["attainable_flops"] for p in chosen],
                       s=[15 + 600 * p["share"] for p in chosen], c=type_colors[kind], marker=markers[k % len(markers)],
                       alpha=0.6, edgecolors="black", linewidths=0.3,
                       label=f"{kind}" if len(reports) == 1 else f"{label}: {kind}")
        xs_all.extend(p["intensity"] for p in points)
        roof_key = (dev["peak_flops"], dev["bandwidth_bytes_per_s"])
        if roof_key not in roofs:
            roofs.add(roof_key)
            xs_all.append(dev["ridge_point"])
    lo = max(min(xs_all) / 4, 1e-3) if xs_all else 0.01
    hi = max(xs_all) * 4 if xs_all else 1000
    for k, report in enumerate(reports):
        dev = report.roofline["device"]
        peak, bw, ridge = dev["peak_flops"], dev["bandwidth_bytes_per_s"], dev["ridge_point"]
        xs = [lo, ridge, max(hi, ridge * 2)]
        ax.plot(xs, [min(peak, bw * x) for x in xs], color="black" if k == 0 else f"C{k}", linewidth=1.5,
                label=f"roof: {dev.get('title') or dev['name']} ({peak / 1e9:.0f} GFLOP/s, {bw / 1e9:.0f} GB/s)")
        ax.axvline(ridge, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"arithmetic intensity (FLOP/byte, {reports[0].roofline['memory_model']} bytes)")
    ax.set_ylabel("attainable FLOP/s")
    ax.set_title("roofline: " + ", ".join(labels) + " (point size: share of predicted time)")
    ax.legend(fontsize=7, loc="lower right", markerscale=0.6)
    fig.tight_layout()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return str(out)


def _leaf_layers(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = [layer["name"] for layer in layers]
    parents = {n.rsplit(".", 1)[0] if "." in n else "" for n in names if n}
    return [layer for layer in layers if layer["name"] not in parents or (layer["name"] == "" and len(layers) == 1)]


def _dominant_op_types(rl: dict[str, Any]) -> dict[str, str]:
    """For each module, the op class that takes most of its predicted time (for colouring)."""
    times: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for op in rl["ops"]:
        times[op["module"]][op["class"]] += op["predicted_s"]
    return {m: max(t.items(), key=lambda kv: kv[1])[0] for m, t in times.items()}
