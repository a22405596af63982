"""Roofline pass: arithmetic intensity, bound and predicted time of every op and layer on a device.

For one op with ``F`` FLOPs moving ``B`` bytes on a device with peak ``P`` FLOP/s (for the
report's dtype) and memory bandwidth ``W`` bytes/s (``docs/roofline.md``)::

    intensity  I = F / B                       FLOP per byte
    ridge      R = P / W                       the intensity where the roof turns
    bound      compute if I >= R else memory
    attainable A = min(P, I * W)               FLOP/s the roof allows
    predicted  t = max(F / P, B / W) / e_c + o_c

``e_c`` and ``o_c`` are the efficiency (fraction of the roof attained) and fixed per-op overhead of
the op's class from the profile. The class is declared with the op's cost formula
(``costs.registry.OpClass``: gemm, conv, pwconv, dwconv, attention, pool, reduce, norm,
elementwise, activation, data); a matrix product whose intensity is below the ridge point is
priced as a matrix-vector product (``gemv``: weight streaming). A vendor profile has no class
figures, so ``e = 1`` and ``o`` is its generic ``overhead.per_op_s``: the plain roofline.
``howfast calibrate`` measures them on this machine. The model's predicted latency is the sum over
ops (eager execution runs ops one after another). A layer sums its ops (and its submodules').

Bytes follow the report's memory model (``conventions.memory_model``, ``compulsory`` by default:
each distinct tensor an op touches read or written once, what an ideal kernel moves to and from
memory); ``memory_model=`` overrides it (``writeup`` counts a convolution's input once per MAC and
so puts every convolution far below any ridge point). A fused report (``analyze(..., fused=True)``)
carries the fused program's ops, and the prediction follows them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from howfast.costs.registry import OpClass
from howfast.errors import DeviceError, UsageError
from howfast.graph.records import ancestors
from howfast.hardware.energy import estimate_energy
from howfast.hardware.explain import roofline_sentences
from howfast.hardware.profiles import HardwareProfile, get_profile
from howfast.report.measurements import LayerTimes
from howfast.report.report import OpRow, PhaseCosts, Report, Totals
from howfast.report.sections import (
    BoundSummary,
    ClassTime,
    DeviceSources,
    Measured,
    MeasuredLayer,
    MeasuredTotal,
    Roofline,
    RooflineDevice,
    RooflineLayer,
    RooflineOp,
)

MEMORY_MODELS = ("compulsory", "writeup")
GEMV = "gemv"

_TORCH_TO_PROFILE_DTYPE = {
    "float32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
    "int8": "int8", "qint8": "int8", "quint8": "int8", "uint8": "int8", "float8_e4m3fn": "fp8", "float8_e5m2": "fp8",
}


@dataclass(frozen=True, slots=True)
class RoofPoint:
    """The roofline figures of one op (or a sum of ops) on one roof."""

    intensity: float | None  # FLOP per byte; None when nothing is moved
    bound: str  # "compute" or "memory"
    attainable_flops: float
    roof_s: float  # max(F / P, B / W)
    predicted_s: float  # roof_s / efficiency + overhead (0 for an op that does nothing)


def predict_op(flops: float, nbytes: float, peak: float, bandwidth: float, efficiency: float = 1.0,
               overhead_s: float = 0.0) -> RoofPoint:
    """Roofline figures of one op: intensity, bound, attainable FLOP/s and predicted seconds."""
    if peak <= 0 or bandwidth <= 0 or efficiency <= 0:
        raise DeviceError("peak FLOP/s, bandwidth and efficiency must be positive")
    ridge = peak / bandwidth
    intensity = flops / nbytes if nbytes > 0 else None
    if intensity is None:
        bound, attainable = "compute", peak
    else:
        bound = "compute" if intensity >= ridge else "memory"
        attainable = min(peak, intensity * bandwidth)
    roof_s = max(flops / peak, nbytes / bandwidth)
    busy = flops > 0 or nbytes > 0
    return RoofPoint(intensity, bound, attainable, roof_s, (roof_s / efficiency + overhead_s) if busy else 0.0)


def conv_path(row: OpRow, native_max: int, threads: int = 1) -> str:
    """The class of a 2-d ``conv`` or ``pwconv`` op under PyTorch's CPU convolution dispatch
    (``use_mkldnn`` in ``aten/src/ATen/native/Convolution.cpp``): oneDNN (``conv``) or the native
    im2col + GEMM path (``conv_im2col``, and ``pwconv`` for 1x1 kernels, whose native path is the GEMM).

    With ``n`` the batch, ``x`` the input's elements (compulsory model) and ``native_max`` the
    profile's ``classes.conv_im2col.max_input_elements`` (20480): a 1x1 convolution runs natively
    unless it is strided (``x * Cout > MACs``: its input has more pixels than its output), ``n >= 16``
    or ``threads > 1``, *and* ``n > 1`` or ``x > native_max``; a k x k one runs natively when
    ``n == 1`` and ``x <= native_max``. (PyTorch's rule also sends grouped convolutions and kernels
    over 3x3 to oneDNN; the row does not carry groups or kernel size, so a grouped or large-kernel
    convolution of a tiny input is priced as native.) Other ops keep their class."""
    shape = row.output_shape[0] if row.output_shape else []
    if row.op_class not in ("conv", "pwconv") or len(shape) != 4:
        return row.op_class
    n, cout = shape[0], shape[1]
    x = row.traffic("compulsory").get("input", 0)
    if row.op_class == "pwconv":
        strided = x * cout > row.macs
        onednn = (strided or n >= 16 or threads > 1) and (n > 1 or x > native_max)
        return "conv" if onednn else "pwconv"
    return "conv_im2col" if n == 1 and x <= native_max else "conv"


def op_class(row: OpRow, ridge: float | None = None, memory_model: str = "compulsory", gemv_rows: int | None = None,
             conv_native_max: int | None = None, threads: int = 1) -> str:
    """The class an op is priced at: its declared class, or ``gemv`` for a matrix product that streams
    its weights — with ``gemv_rows`` (a calibrated profile's ``classes.gemv.max_rows``), one of at most
    that many rows (the output's elements over its last dimension); otherwise one whose intensity
    (FLOPs per byte under ``memory_model``) is below ``ridge``. With ``conv_native_max`` (a calibrated
    CPU profile's ``classes.conv_im2col.max_input_elements``) convolutions follow PyTorch's CPU
    dispatch (``conv_path``)."""
    if conv_native_max is not None and row.op_class in ("conv", "pwconv"):
        return conv_path(row, conv_native_max, threads)
    if row.op_class == OpClass.GEMM.value and gemv_rows is not None and row.output_shape and row.output_shape[0]:
        shape = row.output_shape[0]
        return GEMV if math.prod(shape[:-1]) <= gemv_rows else row.op_class
    if row.op_class == OpClass.GEMM.value and ridge is not None:
        nbytes = row.traffic(memory_model).get("bytes", 0)
        if nbytes and row.flops / nbytes < ridge:
            return GEMV
    return row.op_class


def report_dtype(report: Report) -> str:
    """The profile dtype key (fp32, fp16, bf16, int8...) of the report's floating-point weights, else inputs."""
    # Integer weights compute in their own classes (CLASS_DTYPES) at the int8 peak; the rest of the
    # model computes in its float type.
    floats = {k.removeprefix("torch."): v for k, v in report.model.param_dtypes.items()
              if k.removeprefix("torch.").startswith(("float", "bfloat", "half"))}
    if floats:
        best = max(floats.items(), key=lambda kv: kv[1])[0]
        if best in _TORCH_TO_PROFILE_DTYPE:
            return _TORCH_TO_PROFILE_DTYPE[best]
    for item in report.inputs:
        dtype = item.dtype.removeprefix("torch.")
        if dtype.startswith(("float", "bfloat")) and dtype in _TORCH_TO_PROFILE_DTYPE:
            return _TORCH_TO_PROFILE_DTYPE[dtype]
    return "fp32"


def op_figures(row: OpRow, profile: HardwareProfile, peak: float, memory_model: str = "compulsory",
               weights_cached: bool = False, kernel: RooflineOp | None = None) -> RooflineOp | None:
    """The roofline entry of one ``OpRow`` on ``profile`` (None for ops that move nothing and compute nothing).

    Memory time: activation bytes at the cache bandwidth when the profile has one and they fit in
    the cache (``profile.cache_bytes``; ``level``), weight bytes at the cache bandwidth when
    ``weights_cached`` (``weights_working_set`` fits), the rest at the memory bandwidth. The op's effective
    bandwidth is its bytes over that time; without a cache figure it is the memory bandwidth.
    The class's ``weight_s_per_byte`` (weights re-laid out on every call) adds to the time, and its
    ``window_s_per_read`` (pooling: per window element read) times the op's window reads, the
    write-up model's input reads (``k x k`` per output of a ``k x k`` window).

    ``kernel``: the entry of the op whose kernel this one runs in (the anchor of its fused group, in a
    fused program): the op is priced at that op's class and efficiency, with no overhead of its own
    (one kernel, one launch), as the calibration fits a fused layer (docs/roofline.md, "Fused groups").
    """
    flops = float(row.flops)
    memory = row.traffic(memory_model)
    nbytes = float(memory.get("bytes", 0))
    if flops <= 0 and nbytes <= 0:
        return None
    weight_bytes = min(float(memory.get("weights_bytes", 0)), nbytes)
    mem_s, level, weights_level = profile.memory_seconds(nbytes - weight_bytes, weight_bytes, weights_cached)
    bandwidth = nbytes / mem_s if mem_s > 0 else profile.bandwidth_bytes_per_s
    if kernel is not None:
        cls = kernel.op_class
    else:
        cls = op_class(row, peak / bandwidth, memory_model, profile.gemv_max_rows, profile.conv_native_max,
                       int(profile.calibration.get("threads", 1)))
    eff = profile.class_efficiency(cls)
    over = profile.class_overhead_s(cls) if kernel is None else 0.0
    point = predict_op(flops, nbytes, peak, bandwidth, eff, over)
    weight_s = weight_bytes * profile.class_weight_s_per_byte(cls)
    per_read = profile.class_window_s_per_read(cls)
    if per_read:
        weight_s += per_read * float(row.traffic("writeup").get("input", 0))
    return RooflineOp(index=row.index, op=row.op, module=row.module, op_class=cls, flops=int(row.flops), bytes=int(nbytes),
                      intensity=point.intensity, bound=point.bound, attainable_flops=point.attainable_flops,
                      predicted_s=point.predicted_s + weight_s, roof_s=point.roof_s, level=level,
                      weights_level=weights_level, weight_bytes=int(weight_bytes), efficiency=eff, overhead_s=over)


def group_anchors(costs: PhaseCosts) -> dict[int, int]:
    """In a fused program, each fused op's index -> its group's anchor (the group's first op, whose
    kernel runs the group); empty for an unfused report."""
    if costs.fusion is None:
        return {}
    return {i: group.ops[0] for group in costs.fusion.groups for i in group.ops[1:]}


def weights_working_set(totals: Totals) -> float:
    """What a run touches between two uses of a weight, at most: every weight and every byte the run
    writes (``HardwareProfile.weights_cached``; docs/roofline.md, "Two bandwidths")."""
    return float(totals.param_bytes + totals.bytes_written)


def priced_ops(costs: PhaseCosts, profile: HardwareProfile, peak_of: Callable[[str], float], memory_model: str,
               weights_cached: bool) -> list[tuple[OpRow, RooflineOp]]:
    """Each op's row and roofline entry (``op_figures``; ops that neither move nor compute anything
    left out), in op order, at the peak ``peak_of(op class)``; an op fused into a group is priced in
    its anchor's kernel (``group_anchors``)."""
    anchors = group_anchors(costs)
    priced: dict[int, tuple[OpRow, RooflineOp]] = {}
    for row in costs.ops:
        head = priced.get(anchors[row.index]) if row.index in anchors else None  # the kernel a fused op runs in
        entry = op_figures(row, profile, peak_of((head[0] if head else row).op_class), memory_model, weights_cached,
                           kernel=head[1] if head else None)
        if entry is not None:
            priced[row.index] = (row, entry)
    return list(priced.values())


@dataclass(slots=True)
class _LayerSum:
    flops: float = 0.0
    bytes: float = 0.0
    predicted_s: float = 0.0
    compute_s: float = 0.0
    memory_s: float = 0.0


def roofline(report: Report, device: str | HardwareProfile, *, dtype: str | None = None, memory_model: str | None = None,
             energy: bool = True) -> Report:
    """Put the roofline of ``report`` on ``device`` (a profile, its name or a .toml path) into ``report.roofline``.

    ``dtype`` picks the profile's peak (default: the report's weight dtype; fp32 when the profile
    has no figure for it, with a note). ``memory_model`` defaults to the report's
    (``conventions.memory_model``). A report with several phases gets a roofline per phase, and
    ``report.roofline`` is the workload's (``workload_roofline``).
    Returns ``report``.
    """
    profile = get_profile(device)
    model = memory_model or report.memory_model
    if model not in MEMORY_MODELS:
        raise UsageError(f"unknown memory model {model!r}; use compulsory or writeup")
    if len(report.phases) <= 1:
        report.roofline = phase_roofline(report, report, profile, dtype, model, energy)
        for phase in report.phases:
            phase.roofline = report.roofline
    else:
        for phase in report.phases:
            phase.roofline = phase_roofline(report, phase, profile, dtype, model, energy)
        report.roofline = workload_roofline(report)
    times = report.benchmark.layer_times if report.benchmark is not None else None
    if times is not None:  # per-layer times measured before: beside the prediction
        join_measured(report, times)
    return report


def phase_roofline(report: Report, costs: PhaseCosts, profile: HardwareProfile, dtype: str | None, model: str,
                   energy: bool) -> Roofline:
    """The roofline of one phase (or the whole workload) of ``report``."""
    notes: list[str] = []
    wanted = dtype or report_dtype(report)
    used = wanted if profile.has_dtype(wanted) else "fp32"
    if used != wanted:
        notes.append(f"{profile.name} has no peak figure for {wanted}; fp32 peak used")
    peak = profile.peak(used)
    bandwidth = profile.bandwidth_bytes_per_s
    if costs.fusion is not None:
        notes.append("fused: the report's ops are the fused program's (report.fusion), and the prediction follows them")
    weights_cached = profile.weights_cached(weights_working_set(costs.totals))
    peaks = class_peaks(costs, profile, used, notes)
    priced = priced_ops(costs, profile, lambda cls: peaks.get(cls, peak), model, weights_cached)
    ops = [entry for _, entry in priced]
    uncounted = sum(not row.counted for row, _ in priced)
    total = sum(e.predicted_s for e in ops)
    summary, classes = _summaries(ops, total)
    layers = _layers(costs, ops, peak, bandwidth, total)
    if uncounted:
        notes.append(f"{uncounted} op(s) have no cost formula: their FLOPs are unknown (0), only their bytes are timed")
    if not profile.calibrated:
        notes.append("plain roofline: the profile has no per-class efficiencies (calibrate a machine for those); "
                     "predicted times are lower bounds")
    section = Roofline(device=_device(profile, used, peak, weights_cached), memory_model=model, predicted_latency_s=total,
                       overhead_s=sum(e.overhead_s for e in ops), ops=ops, layers=layers, summary=summary, classes=classes,
                       fused=costs.fusion is not None, notes=notes)
    if energy:
        section.energy = estimate_energy(costs, profile, total)
    section.explanation = roofline_sentences(report.model.name, costs.totals.macs, section)
    return section


# Classes whose MACs run at a peak of their own: integer and fp8 kernels.
CLASS_DTYPES = {"int8_gemm": "int8", "int8_conv": "int8", "fp8_gemm": "fp8"}


def class_peaks(costs: PhaseCosts, profile: HardwareProfile, used: str, notes: list[str]) -> dict[str, float]:
    """The peak of each integer or fp8 class the phase runs: the profile's figure for that dtype,
    else the phase's own peak, with a note."""
    present = {row.op_class for row in costs.ops if row.op_class in CLASS_DTYPES}
    peaks: dict[str, float] = {}
    for op_class in sorted(present):
        dtype = CLASS_DTYPES[op_class]
        if profile.has_dtype(dtype):
            peaks[op_class] = profile.peak(dtype)
        else:
            notes.append(f"{profile.name} has no peak figure for {dtype}; its {op_class} ops use the {used} peak")
    return peaks


def _summaries(ops: list[RooflineOp], total: float) -> tuple[BoundSummary, dict[str, ClassTime]]:
    summary = BoundSummary()
    classes: dict[str, ClassTime] = {}
    for entry in ops:
        if entry.bound == "compute":
            summary.compute_bound_ops += 1
            summary.compute_bound_time_s += entry.predicted_s
        else:
            summary.memory_bound_ops += 1
            summary.memory_bound_time_s += entry.predicted_s
        c = classes.setdefault(entry.op_class, ClassTime(efficiency=entry.efficiency))
        c.ops += 1
        c.flops += entry.flops
        c.bytes += entry.bytes
        c.predicted_s += entry.predicted_s
    for c in classes.values():
        c.share = c.predicted_s / total if total > 0 else 0.0
    return summary, classes


def _layers(costs: PhaseCosts, ops: list[RooflineOp], peak: float, bandwidth: float, total: float) -> list[RooflineLayer]:
    sums: dict[str, _LayerSum] = defaultdict(_LayerSum)
    for entry in ops:
        for path in ancestors(entry.module):
            agg = sums[path]
            agg.flops += entry.flops
            agg.bytes += entry.bytes
            agg.predicted_s += entry.predicted_s
            if entry.bound == "compute":
                agg.compute_s += entry.predicted_s
            else:
                agg.memory_s += entry.predicted_s
    layers = []
    for layer in costs.layers:
        agg = sums.get(layer.name) or _LayerSum()
        point = predict_op(agg.flops, agg.bytes, peak, bandwidth)
        bound = ("memory" if agg.memory_s > agg.compute_s else "compute") if agg.predicted_s > 0 else point.bound
        layers.append(RooflineLayer(name=layer.name, type=layer.type, depth=layer.depth, flops=int(agg.flops),
                                    bytes=int(agg.bytes), intensity=point.intensity, bound=bound,
                                    attainable_flops=point.attainable_flops, predicted_s=agg.predicted_s,
                                    share=agg.predicted_s / total if total > 0 else 0.0))
    return layers


def _device(profile: HardwareProfile, dtype: str, peak: float, weights_cached: bool) -> RooflineDevice:
    peak_figure = profile.peak_flops.get(dtype) or profile.peak_flops["fp32"]
    return RooflineDevice(
        name=profile.name, title=profile.title, dtype=dtype, peak_flops=peak, bandwidth_bytes_per_s=profile.bandwidth_bytes_per_s,
        ridge_point=peak / profile.bandwidth_bytes_per_s, per_op_overhead_s=profile.overhead_s,
        source=DeviceSources(peak_flops=peak_figure.source, bandwidth_bytes_per_s=profile.bandwidth.source,
                             per_op_overhead_s=profile.per_op_overhead.source if profile.per_op_overhead else "none given: 0",
                             file=profile.path or ""),
        cache_bandwidth_bytes_per_s=profile.cache_bandwidth.value if profile.cache_bandwidth else None,
        last_level_cache_bytes=profile.last_level_cache_bytes if profile.cache_bandwidth else None,
        calibrated=profile.calibrated, weights_cached=weights_cached,
        cache_capacity_bytes=profile.cache_bytes if profile.cache_bandwidth else None,
    )


def workload_roofline(report: Report) -> Roofline:
    """The roofline of a workload of several phases, from the phases' rooflines: predicted seconds,
    FLOPs, bytes and op counts summed with each phase weighted by how many times it runs (as the
    report's totals are); layers matched by name; ``ops`` the phases' ops once each, in order."""
    phases = [(p, p.roofline) for p in report.phases if p.roofline is not None]
    first = phases[0][1]
    total = sum(p.count * rl.predicted_latency_s for p, rl in phases)
    summary = BoundSummary()
    classes: dict[str, ClassTime] = {}
    sums: dict[str, RooflineLayer] = {}
    for phase, rl in phases:
        n = phase.count
        summary.compute_bound_ops += n * rl.summary.compute_bound_ops
        summary.memory_bound_ops += n * rl.summary.memory_bound_ops
        summary.compute_bound_time_s += n * rl.summary.compute_bound_time_s
        summary.memory_bound_time_s += n * rl.summary.memory_bound_time_s
        for name, c in rl.classes.items():
            into = classes.setdefault(name, ClassTime(efficiency=c.efficiency))
            into.ops, into.flops, into.bytes = into.ops + n * c.ops, into.flops + n * c.flops, into.bytes + n * c.bytes
            into.predicted_s += n * c.predicted_s
        for layer in rl.layers:
            into_layer = sums.setdefault(layer.name, RooflineLayer(layer.name, layer.type, layer.depth, 0, 0, None, layer.bound, 0.0, 0.0, 0.0))
            into_layer.flops += n * layer.flops
            into_layer.bytes += n * layer.bytes
            into_layer.predicted_s += n * layer.predicted_s
    for c in classes.values():
        c.share = c.predicted_s / total if total > 0 else 0.0
    peak, bandwidth = first.device.peak_flops, first.device.bandwidth_bytes_per_s
    for layer in sums.values():
        point = predict_op(layer.flops, layer.bytes, peak, bandwidth)
        layer.intensity, layer.attainable_flops = point.intensity, point.attainable_flops
        layer.share = layer.predicted_s / total if total > 0 else 0.0
    notes = list(dict.fromkeys(note for _, rl in phases for note in rl.notes))
    notes.append("workload: " + " + ".join(f"{p.count} x {p.name} ({rl.predicted_latency_s:.4g} s)" for p, rl in phases))
    return Roofline(device=first.device, memory_model=first.memory_model, predicted_latency_s=total,
                    overhead_s=sum(p.count * rl.overhead_s for p, rl in phases), ops=[op for _, rl in phases for op in rl.ops],
                    layers=list(sums.values()), summary=summary, classes=classes, fused=any(rl.fused for _, rl in phases),
                    notes=notes, explanation=[f"{p.name}: {line.strip()}" for p, rl in phases for line in rl.explanation[:1]])


# ---------------------------------------------------------------------------------- measured


def join_measured(report: Report, layer_times: LayerTimes, plain_total_s: float | None = None) -> Measured:
    """Predicted beside measured time per layer and in total (``LayerTimes`` from ``howfast.bench``).

    Per layer: ``measured_s`` is the module's median inclusive time (hooked runs); ``ratio`` is
    predicted / measured (1 = exact, < 1 = faster than measured). The total uses the plain
    (unhooked) median when known. Stored as ``report.roofline.measured`` and returned; each
    roofline layer also gets ``measured_s`` and ``ratio``.
    """
    rl = report.roofline
    if rl is None:
        raise UsageError("no roofline in this report: run howfast.roofline(report, device) before joining measurements")
    by_module = dict(layer_times.by_module)
    measured_total: float | None = plain_total_s if plain_total_s is not None else layer_times.plain_total_s
    if not measured_total:
        measured_total = layer_times.total_s or by_module.get("")
    rows = []
    for layer in rl.layers:
        measured = measured_total if (layer.name == "" and measured_total) else by_module.get(layer.name)
        layer.measured_s = measured
        layer.ratio = layer.predicted_s / measured if measured else None
        rows.append(MeasuredLayer(name=layer.name, type=layer.type, depth=layer.depth, predicted_s=layer.predicted_s,
                                  measured_s=measured, ratio=layer.ratio))
    predicted = rl.predicted_latency_s
    rl.measured = Measured(
        method="measured: median per module over hooked runs (howfast.bench.per_layer_times), total from plain runs; "
               "ratio = predicted / measured",
        total=MeasuredTotal(predicted_s=predicted, measured_s=measured_total,
                            ratio=predicted / measured_total if measured_total else None),
        overhead_ratio=layer_times.overhead_ratio,
        layers=rows,
    )
    return rl.measured
