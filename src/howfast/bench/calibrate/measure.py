"""The micro-benchmarks of calibration: GEMM FLOP/s, copy bandwidth, per-op overhead, cache sizes, layer times.

Every timing goes through the one timing loop (``howfast.bench.timing.time_calls``) by ``time_call``.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import nn

from howfast.api import analyze
from howfast.bench.calibrate.representatives import Representative, chain_length, make_input
from howfast.bench.timing import Plan, time_calls
from howfast.hardware.profiles import HardwareProfile
from howfast.hardware.roofline import CLASS_DTYPES, priced_ops, weights_working_set

Statistic = Callable[[Sequence[float]], float]  # the figure of a list of timed runs

STATISTICS: dict[str, Statistic] = {"median": statistics.median, "min": min}

CACHE_ROOT = "/sys/devices/system/cpu/cpu0/cache"
SIZE_SUFFIXES = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}


# ---------------------------------------------------------------------------------- timing


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Collect garbage, then freeze every object alive (``gc.freeze``) until the block ends.

    The timing loop runs ``gc.collect()`` before its timed calls; with torch imported and the
    layers analysed that is ~170,000 objects and 0.1 s per call of ``time_call``, most of a small
    layer's timing. Frozen objects are not traversed. Nested blocks leave the outer one's freeze to it.
    """
    outer = gc.get_freeze_count() > 0
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        if not outer:
            gc.unfreeze()


def time_call(call: Callable[[], Any], device: torch.device | str = "cpu", *, warmup: int = 2, min_runs: int = 5,
              min_time_s: float = 0.15, max_runs: int = 200, clock: str = "wall",
              before: Callable[[], Any] | None = None) -> list[float]:
    """Seconds per call: ``warmup`` untimed calls, then timed calls until ``min_runs`` and ``min_time_s``
    (at most ``max_runs``), with the one timing loop (``bench/timing.py``) on ``clock``."""
    times, _ = time_calls(call, Plan(warmup=warmup, max_runs=max_runs, target_s=min_time_s, min_runs=min_runs, clock=clock),
                          device, before=before)
    return times


# ---------------------------------------------------------------------------------- GEMM


GemmCall = Callable[[int], Callable[[], Any]]  # n -> one n x n x n matrix product, its operands made


def _square_operands(n: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two random n x n matrices of ``dtype`` and an n x n output buffer."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    c = torch.empty(n, n, device=device, dtype=dtype)
    return a, b, c


def mm_call(dtype: torch.dtype, device: torch.device, n: int) -> Callable[[], Any]:
    """``torch.mm`` of two random n x n matrices of ``dtype`` into an n x n buffer."""
    a, b, c = _square_operands(n, dtype, device)
    return partial(torch.mm, a, b, out=c)


def _gemm_size(make: GemmCall, device: torch.device, min_n: int, max_n: int, target_s: float, clock: str,
               ) -> tuple[int, dict[int, Callable[[], Any]]]:
    """n doubled from ``min_n`` until one product of ``make(n)`` takes ``target_s`` (at most ``max_n``);
    the products made on the way, by size (timed again, not made again)."""
    n = min_n
    calls: dict[int, Callable[[], Any]] = {}
    while True:
        call = calls[n] = make(n)
        call()
        (one,) = time_call(call, device, warmup=0, min_runs=1, min_time_s=0.0, max_runs=1, clock=clock)
        if one >= target_s or n >= max_n:
            return n, calls
        n *= 2


def gemm_rate(make: GemmCall, device: torch.device | str = "cpu", *, min_n: int = 256, max_n: int = 4096, target_s: float = 0.05,
              min_time_s: float = 0.3, statistic: str = "median", clock: str = "wall") -> tuple[float, int, list[float]]:
    """Peak rate (``2 n^3`` operations / s) of the n x n x n products ``make(n)``; returns (rate, n, times).

    n doubles from ``min_n`` until one call takes ``target_s``; that n and n / 2 (when at least
    256) are timed (median or fastest run each) and the faster rate is the peak.
    """
    dev = torch.device(device)
    n, calls = _gemm_size(make, dev, min_n, max_n, target_s, clock)
    best: tuple[float, int, list[float]] | None = None
    for size in ([n // 2] if n >= 512 else []) + [n]:
        call = calls.get(size) or make(size)
        times = time_call(call, dev, warmup=1, min_runs=5, min_time_s=min_time_s / 2, clock=clock)
        rate = 2.0 * size ** 3 / STATISTICS[statistic](times)
        if best is None or rate > best[0]:
            best = (rate, size, times)
    assert best is not None
    return best


def gemm_flops(dtype: torch.dtype, device: torch.device | str = "cpu", *, max_n: int = 4096, target_s: float = 0.05,
               min_time_s: float = 0.3, statistic: str = "median", clock: str = "wall") -> tuple[float, int, list[float]]:
    """Peak FLOP/s of ``torch.mm`` on n x n matrices of ``dtype``; returns (FLOP/s, n, times) (``gemm_rate``)."""
    dev = torch.device(device)
    return gemm_rate(partial(mm_call, dtype, dev), dev, max_n=max_n, target_s=target_s, min_time_s=min_time_s,
                     statistic=statistic, clock=clock)


# ---------------------------------------------------------------------------------- caches


def _read_text(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read().strip()


def _parse_size(text: str) -> int | None:
    """Bytes of a sysfs cache size such as ``48K`` or ``2M``; None when it is not a number."""
    mult = SIZE_SUFFIXES.get(text[-1:].upper(), 1)
    digits = text[:-1] if text[-1:].isalpha() else text
    try:
        return int(digits) * mult
    except ValueError:
        return None


def _cache_entry(directory: str) -> tuple[int, str, str] | None:
    """(level, type, size text) of one ``indexN`` directory; None when unreadable."""
    try:
        level = int(_read_text(os.path.join(directory, "level")))
        kind = _read_text(os.path.join(directory, "type"))
        text = _read_text(os.path.join(directory, "size"))
    except (OSError, ValueError):
        return None
    return level, kind, text


def cpu_caches() -> dict[str, tuple[str, int]]:
    """{"l1": (text, bytes), ...} for data/unified caches of cpu0 from ``/sys/devices/system/cpu/cpu0/cache``."""
    out: dict[str, tuple[str, int]] = {}
    try:
        entries = sorted(os.listdir(CACHE_ROOT))
    except OSError:
        return out
    for entry in entries:
        if not entry.startswith("index"):
            continue
        found = _cache_entry(os.path.join(CACHE_ROOT, entry))
        if found is None or found[1] == "Instruction":
            continue
        level, _, text = found
        size = _parse_size(text)
        if size is not None:
            out[f"l{level}"] = (text, size)
    return out


def last_level_cache_bytes() -> int | None:
    """The largest CPU cache size in bytes, from sysfs (Linux), else None."""
    sizes = [size for _, size in cpu_caches().values()]
    return max(sizes) if sizes else None


# ---------------------------------------------------------------------------------- bandwidth and overhead


def copy_bandwidth(device: torch.device | str = "cpu", nbytes: int | None = None, min_time_s: float = 0.3,
                   statistic: str = "median", clock: str = "wall") -> tuple[float, int, list[float]]:
    """(bytes read + written) / s of ``Tensor.copy_`` (median or fastest run); returns (bytes/s, buffer bytes, times).

    By default the buffers are 4 x the last-level cache (64 MiB to 512 MiB): memory bandwidth.
    """
    dev = torch.device(device)
    if nbytes is None:
        llc = last_level_cache_bytes() if dev.type == "cpu" else None
        nbytes = min(max(64 << 20, 4 * (llc or 0)), 512 << 20)
    n = nbytes // 4
    src = torch.ones(n, device=dev)
    dst = torch.empty(n, device=dev)
    times = time_call(lambda: dst.copy_(src), dev, warmup=2, min_runs=5, min_time_s=min_time_s, clock=clock)
    return 2.0 * n * 4 / STATISTICS[statistic](times), n * 4, times


CAPACITY_STEP = 2 ** 0.5  # the buffer sizes of the capacity sweep are this far apart


def capacity_sweep(device: torch.device | str, llc_bytes: int, min_time_s: float = 0.05, statistic: str = "median",
                   clock: str = "wall") -> list[tuple[float, float]]:
    """(working set bytes, bandwidth) of ``Tensor.copy_`` with buffers from 1/32 of the last-level
    cache up to its size, ``CAPACITY_STEP`` apart; a copy's working set is its two buffers."""
    points: list[tuple[float, float]] = []
    size = max(llc_bytes / 32, 64 << 10)
    while size <= llc_bytes * 1.0001:
        bw, nbytes, _ = copy_bandwidth(device, nbytes=int(size) // 4 * 4, min_time_s=min_time_s, statistic=statistic,
                                       clock=clock)
        points.append((2.0 * nbytes, bw))
        size *= CAPACITY_STEP
    return points


CACHE_HIT_SHARE = 0.9  # the share of a copy's bytes the cache serves at the working set called its capacity


def hit_share_bandwidth(cache_bw: float, dram_bw: float, share: float = CACHE_HIT_SHARE) -> float:
    """The bandwidth of a copy whose bytes come ``share`` from the cache and the rest from memory."""
    return 1.0 / (share / cache_bw + (1.0 - share) / dram_bw)


def cache_capacity(points: Sequence[tuple[float, float]], cache_bw: float, dram_bw: float, llc_bytes: float) -> float:
    """The working set the cache serves: where the swept copy bandwidth falls below that of nine tenths
    of its bytes from the cache (``hit_share_bandwidth``), interpolated (log-log) between the last
    point at or above it and the first below; ``llc_bytes`` when no point falls below, the first
    point's working set / ``CAPACITY_STEP`` when that one already does. At most ``llc_bytes``."""
    if not points:
        raise ValueError("no capacity points")
    threshold = hit_share_bandwidth(cache_bw, dram_bw)
    (ws0, bw0) = points[0]
    if bw0 < threshold:
        return min(ws0 / CAPACITY_STEP, llc_bytes)
    for (ws_a, bw_a), (ws_b, bw_b) in zip(points, points[1:]):
        if bw_b < threshold:
            frac = math.log(bw_a / threshold) / math.log(bw_a / bw_b)
            return min(math.exp(math.log(ws_a) + frac * math.log(ws_b / ws_a)), llc_bytes)
    return llc_bytes


def measure_capacity(device: torch.device | str, llc_bytes: int, cache_bw: float, dram_bw: float, min_time_s: float,
                     statistic: str = "median", clock: str = "wall") -> tuple[float, str]:
    """``memory.cache_capacity`` in whole bytes (``capacity_sweep``, ``cache_capacity``) and how it was
    measured: the sweep, its threshold and its points."""
    points = capacity_sweep(device, llc_bytes, min_time_s=min_time_s, statistic=statistic, clock=clock)
    value = float(round(cache_capacity(points, cache_bw, dram_bw, llc_bytes)))
    sweep = ", ".join(f"{ws / 2**20:.1f} MiB {bw / 1e9:.0f}" for ws, bw in points)
    text = (f"Tensor.copy_ swept over working sets (two buffers) of 1/16 to 2 x the last-level cache "
            f"({llc_bytes / 2**20:.0f} MiB), where the bandwidth falls below that of {CACHE_HIT_SHARE:.0%} of the bytes "
            f"from the cache, {hit_share_bandwidth(cache_bw, dram_bw) / 1e9:.0f} GB/s; GB/s per working set: {sweep}")
    return value, text


def op_overhead(device: torch.device | str = "cpu", loops: int = 1000, statistic: str = "median",
                clock: str = "wall") -> tuple[float, list[float]]:
    """Seconds per call of a one-element ``Tensor.add`` (the fixed cost of one op)."""
    dev = torch.device(device)
    x = torch.ones(1, device=dev)

    def many() -> None:
        for _ in range(loops):
            x.add(x)

    times = time_call(many, dev, warmup=1, min_runs=7, min_time_s=0.1, clock=clock)
    return STATISTICS[statistic](times) / loops, [t / loops for t in times]


def product_row_times(device: torch.device | str = "cpu", rows: int = 8, width: int = 2048, statistic: str = "median",
                      clock: str = "wall") -> list[float]:
    """Seconds of ``nn.functional.linear`` of ``m`` rows through a ``width`` x ``width`` fp32 weight, for
    ``m`` = 1 .. ``rows``: where a matrix product stops streaming its weights (``classes.gemv.max_rows``)."""
    dev = torch.device(device)
    weight = torch.randn(width, width, device=dev)
    out = []
    with torch.inference_mode():
        for m in range(1, rows + 1):
            x = torch.randn(m, width, device=dev)
            times = time_call(partial(torch.nn.functional.linear, x, weight), dev, warmup=3, min_runs=9, min_time_s=0.03,
                              clock=clock)
            out.append(STATISTICS[statistic](times))
    return out


# ---------------------------------------------------------------------------------- op classes


class Evictor:
    """Copies a buffer of 8 x the per-core L2 cache (at most a quarter of the last-level cache, at
    least 1 MiB; 8 MiB when the sizes are unknown): run before each timed layer.

    In a network, the layers before an op have streamed their own activations and weights
    through the caches, so its weights (and part of its input) are no longer in L1/L2 and its
    kernel's code and data structures are cold. A layer timed in a tight loop keeps everything
    hot and runs faster than it does inside a model; this copy puts it back in a network's state.
    The size is a tuned constant (``docs/roofline.md``, Calibration): on the reference machine
    4 x L2 left convolutions ~15% faster than in context, 16 x L2 made MobileNets' layers ~1.5x
    slower than in context.
    """

    def __init__(self, device: torch.device, l2_bytes: int | None = None, llc_bytes: int | None = None) -> None:
        size = self.size(l2_bytes, llc_bytes)
        self.src = torch.ones(size // 4, device=device)
        self.dst = torch.empty_like(self.src)
        self.bytes = size

    def __call__(self) -> None:
        self.dst.copy_(self.src)

    @staticmethod
    def size(l2_bytes: int | None, llc_bytes: int | None) -> int:
        size = 8 * l2_bytes if l2_bytes else 8 << 20
        if llc_bytes:
            size = min(size, llc_bytes // 4)
        return max(size, 1 << 20)


@dataclass
class TimedSample:
    """One representative layer: its dominant op class, howfast's figures, and its times per pass."""

    label: str
    op_class: str
    flops: int
    bytes: int
    weight_bytes: int
    roof_s: float  # plain roofline time on the profile being calibrated
    pass_s: list[float] = field(default_factory=list)  # the statistic of each timing pass
    measured_s: float = 0.0  # median of pass_s
    window_reads: int = 0  # write-up model input reads (elements) of its ops of op_class: pooling windows
    chain: int = 0  # tiny layers chained (an overhead chain, ``representatives.overhead_chains``), else 0
    working_set_bytes: float = 0.0  # touched between two timed runs: weights, bytes written, the evictor's copy

    def per_op(self, window: bool = False) -> tuple[float, float, float]:
        """(roofline time, cost-term quantity (``term``), measured time) per chained layer: the pin of ``fit_pinned``."""
        n = max(self.chain, 1)
        return self.roof_s / n, self.term(window) / n, self.measured_s / n

    def term(self, window: bool) -> float:
        """The quantity of the class's cost term: window reads for pooling (``window``), else weight bytes."""
        return float(self.window_reads if window else self.weight_bytes)


@dataclass
class TimedLayer:
    """A representative layer ready to time: its sample, module and inputs."""

    sample: TimedSample
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]


def class_peak(op_class: str, profile: HardwareProfile) -> float:
    """The peak an op of ``op_class`` is priced at, as the roofline pass does (``roofline.class_peaks``):
    the profile's int8 or fp8 figure for those classes when it has one, else its fp32 peak."""
    dtype = CLASS_DTYPES.get(op_class, "fp32")
    return profile.peak(dtype if profile.has_dtype(dtype) else "fp32")


def analysed_sample(label: str, module: nn.Module, inputs: tuple[torch.Tensor, ...], profile: HardwareProfile,
                    fused: bool = False) -> TimedSample | None:
    """The layer's howfast figures summed over its ops (each at its class's peak, ``class_peak``), the
    class with the most roofline time; None if no op counts. With ``fused``, the layer's fused program
    (as ONNX Runtime runs it), an op of a fused group counting for its anchor's class (a conv's output
    is written by the ReLU fused into it, yet the kernel is the conv's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = analyze(module, list(inputs) if len(inputs) > 1 else inputs[0], name=label, fused=fused)
    classes: dict[str, float] = {}
    reads: dict[str, int] = {}
    roof = 0.0
    flops = nbytes = weight_bytes = 0
    # timed after the evictor's copy: between two runs the cache sees the copy and the layer's own bytes
    working_set = weights_working_set(report.totals) + evictor_working_set(profile)
    cached = profile.weights_cached(working_set)
    for row, entry in priced_ops(report, profile, lambda op_class: class_peak(op_class, profile), "compulsory", cached):
        cls = entry.op_class  # a fused op's is its anchor's
        classes[cls] = classes.get(cls, 0.0) + entry.roof_s
        reads[cls] = reads.get(cls, 0) + int(row.traffic("writeup").get("input", 0))
        roof += entry.roof_s
        flops += entry.flops
        nbytes += entry.bytes
        weight_bytes += entry.weight_bytes
    if not classes:
        return None
    cls = max(classes.items(), key=lambda kv: kv[1])[0]
    return TimedSample(label=label, op_class=cls, flops=flops, bytes=nbytes, weight_bytes=weight_bytes, roof_s=roof,
                       window_reads=reads.get(cls, 0), working_set_bytes=working_set)


def prepare_layers(reps: list[Representative], profile: HardwareProfile, device: torch.device,
                   progress: Callable[[str], None] | None = None) -> list[TimedLayer]:
    """Build and analyse each representative layer (``progress("analysing LABEL")`` before each); a
    layer with no counted op is left out."""
    layers: list[TimedLayer] = []
    for label, factory, shapes in reps:
        if progress:
            progress(f"analysing {label}")
        with torch.device(device):
            module = factory()
        inputs = tuple(make_input(s, device) for s in shapes)
        sample = analysed_sample(label, module, inputs, profile)
        if sample is not None:
            sample.chain = chain_length(label)
            layers.append(TimedLayer(sample, module, inputs))
    return layers


def _cache_sizes(profile: HardwareProfile) -> tuple[int | None, int | None]:
    l2 = profile.caches.get("l2")
    llc = profile.last_level_cache_bytes
    return (int(l2.value) if l2 is not None else None), (int(llc) if llc else None)


def _evictor(profile: HardwareProfile, device: torch.device) -> Evictor:
    return Evictor(device, *_cache_sizes(profile))


def evictor_working_set(profile: HardwareProfile) -> int:
    """Bytes the evictor's copy touches before each timed run (its two buffers)."""
    return 2 * Evictor.size(*_cache_sizes(profile))


def _time_layer(layer: TimedLayer, device: torch.device, clock: str, evict: Evictor) -> list[float]:
    module, inputs = layer.module, layer.inputs
    return time_call(lambda: module(*inputs), device, warmup=3, min_runs=7, min_time_s=0.08, clock=clock, before=evict)


def time_layers(layers: list[TimedLayer], profile: HardwareProfile, device: torch.device, statistic: str = "median",
                progress: Callable[[str], None] | None = None, clock: str = "wall", passes: int = 3) -> list[TimedSample]:
    """Time ``layers`` in ``passes`` passes over all of them (``progress("timing LABEL, pass P/N")``
    before each layer of each pass); a layer's time is the median of its per-pass statistics."""
    evict = _evictor(profile, device)
    passes = max(1, passes)
    with frozen_heap(), torch.inference_mode():
        for number in range(1, passes + 1):
            for layer in layers:
                if progress:
                    progress(f"timing {layer.sample.label}, pass {number}/{passes}")
                layer.sample.pass_s.append(STATISTICS[statistic](_time_layer(layer, device, clock, evict)))
    samples = [layer.sample for layer in layers]
    for sample in samples:
        sample.measured_s = statistics.median(sample.pass_s)
    return samples


def class_samples(reps: list[Representative], profile: HardwareProfile, device: torch.device, statistic: str = "median",
                  progress: Callable[[str], None] | None = None, clock: str = "wall", passes: int = 3) -> list[TimedSample]:
    """Analyse and time each representative layer; its class and plain roofline time on ``profile``.

    The layers are timed in ``passes`` passes over all of them, and a layer's time is the median of
    its per-pass statistics: a slow spell of the machine then spoils one pass of a layer, not the
    figure, and the layers of one class are not all timed in the same few seconds. Each call runs
    after an untimed ``Evictor`` copy. ``progress`` is told each step before it starts: one
    analysis per layer (``prepare_layers``), then one timing per layer and pass (``time_layers``).
    """
    layers = prepare_layers(reps, profile, device, progress)
    return time_layers(layers, profile, device, statistic, progress, clock, passes)
