"""Calibrate this machine: micro-benchmarks that become a hardware profile (``howfast calibrate``).

What is measured (``docs/roofline.md``, "Calibration"), each as the median (or, with
``statistic="min"``, the fastest) of timed runs after warm-up, with ``torch.set_num_threads(threads)``
in effect, on the wall clock or (``clock="cpu"``, one thread) the thread's CPU time:

* ``peak_flops.<dtype>``: ``torch.mm`` of two n x n matrices (n doubled from 256 until one call
  takes 50 ms, at most 4096; that n and n/2 timed, the faster kept), ``2 n^3`` FLOPs / time; fp32,
  and bf16/fp16 when they run.
* ``memory.bandwidth``: ``Tensor.copy_`` between two buffers of 4 x the last-level cache (64 MiB
  at least, 512 MiB at most): (bytes read + bytes written) / time.
* ``memory.cache_bandwidth``: the same copy with buffers of 1/8 of the last-level cache.
* ``overhead.per_op_s``: ``Tensor.add`` of two one-element tensors, time per call over loops of
  1000 calls: the fixed cost of dispatching one op.
* ``classes.<class>``: for each op class of the roofline pass, a few representative layers from
  the zoo's models (a 3x3 conv at 56x56, a depthwise conv at 112x112, batch norm, GELU...) are
  analysed by howfast (FLOPs and compulsory bytes, the same formulas as any report), their plain
  roofline time ``r`` computed on the figures above (``howfast.passes.roofline.op_figures``), and
  timed as modules in three passes over all of them (median of the passes; one with ``quick``),
  each call after an untimed copy of 8 x the L2 cache (``Evictor``: the traffic
  of the layers around it in a network, without which a layer in a tight loop keeps its weights
  and code hot and runs faster than inside a model). ``t = r / efficiency + overhead`` (plus
  ``weight bytes x weight_s_per_byte`` for convolutions, whose kernels re-lay out their weights
  on every call) is fitted to them by least squares on relative error. The efficiency can exceed
  1 where a kernel beats the GEMM used for the peak.
"""

from __future__ import annotations

import dataclasses
import datetime
import gc
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from howfast.api import analyze
from howfast.bench.allocator import retain_freed_memory
from howfast.bench.environment import device_name
from howfast.bench.timing import CLOCKS, Plan, time_calls
from howfast.errors import DeviceError
from howfast.hardware.profiles import ClassFigures, Figure, HardwareProfile
from howfast.hardware.roofline import op_figures

Progress = Callable[[str, int, int], None]  # (what is being measured, steps done, steps in all)


@dataclass
class Measurement:
    """One measured figure: its dotted profile key, value, unit and how it was measured."""

    key: str
    value: float
    unit: str
    method: str
    times_s: list[float] = field(default_factory=list)


@dataclass
class ClassFit:
    """Representative layers of one op class and the fitted efficiency/overhead."""

    op_class: str
    efficiency: float
    overhead_s: float
    samples: list[dict[str, Any]]
    weight_s_per_byte: float = 0.0


@dataclass
class CalibrationResult:
    profile: HardwareProfile
    measurements: list[Measurement]
    fits: dict[str, ClassFit]
    elapsed_s: float
    threads: int


# ---------------------------------------------------------------------------------- timing


def time_call(call: Callable[[], Any], device: torch.device | str = "cpu", *, warmup: int = 2, min_runs: int = 5,
              min_time_s: float = 0.15, max_runs: int = 200, clock: str = "wall",
              before: Callable[[], Any] | None = None) -> list[float]:
    """Seconds per call: ``warmup`` untimed calls, then timed calls until ``min_runs`` and ``min_time_s``
    (at most ``max_runs``), with the one timing loop (``bench/timing.py``) on ``clock``."""
    times, _ = time_calls(call, Plan(warmup=warmup, max_runs=max_runs, target_s=min_time_s, min_runs=min_runs, clock=clock),
                          device, before=before)
    return times


STATISTICS = {"median": statistics.median, "min": min}


def gemm_flops(dtype: torch.dtype, device: torch.device | str = "cpu", *, max_n: int = 4096, target_s: float = 0.05,
               min_time_s: float = 0.3, statistic: str = "median", clock: str = "wall") -> tuple[float, int, list[float]]:
    """Peak FLOP/s of ``torch.mm`` on n x n matrices; returns (FLOP/s, n, times).

    n doubles from 256 until one call takes ``target_s``; that n and n / 2 are timed (median or
    fastest run each) and the faster rate is the peak.
    """
    device = torch.device(device)
    n = 256
    while True:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        c = torch.empty(n, n, device=device, dtype=dtype)
        torch.mm(a, b, out=c)
        (one,) = time_call(lambda: torch.mm(a, b, out=c), device, warmup=0, min_runs=1, min_time_s=0.0, max_runs=1, clock=clock)
        if one >= target_s or n >= max_n:
            break
        n *= 2
    best: tuple[float, int, list[float]] | None = None
    for size in ([n // 2] if n >= 512 else []) + [n]:
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        c = torch.empty(size, size, device=device, dtype=dtype)
        times = time_call(lambda: torch.mm(a, b, out=c), device, warmup=1, min_runs=5,
                          min_time_s=min_time_s / 2, clock=clock)
        rate = 2.0 * size ** 3 / STATISTICS[statistic](times)
        if best is None or rate > best[0]:
            best = (rate, size, times)
    assert best is not None
    return best


def last_level_cache_bytes() -> int | None:
    """The largest CPU cache size in bytes, from sysfs (Linux), else None."""
    sizes = [size for _, size in cpu_caches().values()]
    return max(sizes) if sizes else None


def cpu_caches() -> dict[str, tuple[str, int]]:
    """{"l1": (text, bytes), ...} for data/unified caches of cpu0 from ``/sys/devices/system/cpu/cpu0/cache``."""
    root = "/sys/devices/system/cpu/cpu0/cache"
    out: dict[str, tuple[str, int]] = {}
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return out
    for entry in entries:
        if not entry.startswith("index"):
            continue
        try:
            with open(os.path.join(root, entry, "level"), encoding="ascii") as f:
                level = int(f.read().strip())
            with open(os.path.join(root, entry, "type"), encoding="ascii") as f:
                kind = f.read().strip()
            with open(os.path.join(root, entry, "size"), encoding="ascii") as f:
                text = f.read().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        mult = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:].upper(), 1)
        digits = text[:-1] if text[-1:].isalpha() else text
        try:
            size = int(digits) * mult
        except ValueError:
            continue
        out[f"l{level}"] = (text, size)
    return out


def copy_bandwidth(device: torch.device | str = "cpu", nbytes: int | None = None, min_time_s: float = 0.3,
                   statistic: str = "median", clock: str = "wall") -> tuple[float, int, list[float]]:
    """(bytes read + written) / s of ``Tensor.copy_`` (median or fastest run); returns (bytes/s, buffer bytes, times).

    By default the buffers are 4 x the last-level cache (64 MiB to 512 MiB): memory bandwidth.
    """
    device = torch.device(device)
    if nbytes is None:
        llc = last_level_cache_bytes() if device.type == "cpu" else None
        nbytes = min(max(64 << 20, 4 * (llc or 0)), 512 << 20)
    n = nbytes // 4
    src = torch.ones(n, device=device)
    dst = torch.empty(n, device=device)
    times = time_call(lambda: dst.copy_(src), device, warmup=2, min_runs=5, min_time_s=min_time_s, clock=clock)
    return 2.0 * n * 4 / STATISTICS[statistic](times), n * 4, times


def op_overhead(device: torch.device | str = "cpu", loops: int = 1000, statistic: str = "median",
                clock: str = "wall") -> tuple[float, list[float]]:
    """Seconds per call of a one-element ``Tensor.add`` (the fixed cost of one op)."""
    device = torch.device(device)
    x = torch.ones(1, device=device)

    def many() -> None:
        for _ in range(loops):
            x.add(x)

    times = time_call(many, device, warmup=1, min_runs=7, min_time_s=0.1, clock=clock)
    return STATISTICS[statistic](times) / loops, [t / loops for t in times]


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


class _Add(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y


class _Mean(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(-1, keepdim=True)


class _SDPA(nn.Module):
    def __init__(self, causal: bool) -> None:
        super().__init__()
        self.causal = causal

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return nn.functional.scaled_dot_product_attention(q, k, v, is_causal=self.causal)


def representatives(quick: bool = False) -> list[tuple[str, Callable[[], nn.Module], list[tuple[int, ...]]]]:
    """(label, module factory, input shapes) of the layers timed per op class; shapes from the zoo's models."""
    conv = nn.Conv2d
    reps: list[tuple[str, Callable[[], nn.Module], list[tuple[int, ...]]]] = [
        # dense convolutions (ResNet, VGG)
        ("conv 3x3 64->64 @56x56", lambda: conv(64, 64, 3, padding=1, bias=False), [(1, 64, 56, 56)]),
        ("conv 3x3 128->128 @112x112", lambda: conv(128, 128, 3, padding=1), [(1, 128, 112, 112)]),
        ("conv 3x3 256->256 @14x14", lambda: conv(256, 256, 3, padding=1, bias=False), [(1, 256, 14, 14)]),
        ("conv 7x7/2 3->64 @224x224", lambda: conv(3, 64, 7, stride=2, padding=3, bias=False), [(1, 3, 224, 224)]),
        ("conv 3x3 512->512 @7x7", lambda: conv(512, 512, 3, padding=1, bias=False), [(1, 512, 7, 7)]),
        ("conv 3x3 16->16 @8x8", lambda: conv(16, 16, 3, padding=1), [(1, 16, 8, 8)]),
        # pointwise convolutions (MobileNet, ResNet bottlenecks)
        ("pwconv 32->64 @112x112", lambda: conv(32, 64, 1, bias=False), [(1, 32, 112, 112)]),
        ("pwconv 256->256 @28x28", lambda: conv(256, 256, 1, bias=False), [(1, 256, 28, 28)]),
        ("pwconv 960->160 @7x7", lambda: conv(960, 160, 1, bias=False), [(1, 960, 7, 7)]),
        ("pwconv 2048->512 @7x7", lambda: conv(2048, 512, 1, bias=False), [(1, 2048, 7, 7)]),
        ("pwconv 16->16 @8x8", lambda: conv(16, 16, 1), [(1, 16, 8, 8)]),
        # depthwise convolutions (MobileNet)
        ("dwconv 3x3 32 @112x112", lambda: conv(32, 32, 3, padding=1, groups=32, bias=False), [(1, 32, 112, 112)]),
        ("dwconv 3x3/2 144 @56x56", lambda: conv(144, 144, 3, stride=2, padding=1, groups=144, bias=False), [(1, 144, 56, 56)]),
        ("dwconv 3x3 960 @7x7", lambda: conv(960, 960, 3, padding=1, groups=960, bias=False), [(1, 960, 7, 7)]),
        ("dwconv 3x3 16 @8x8", lambda: conv(16, 16, 3, padding=1, groups=16), [(1, 16, 8, 8)]),
        # matrix multiplications (transformers) and matrix-vector products (classifier heads)
        ("linear 128x768 -> 768", lambda: nn.Linear(768, 768), [(128, 768)]),
        ("linear 128x768 -> 3072", lambda: nn.Linear(768, 3072), [(128, 768)]),
        ("linear 197x192 -> 576", lambda: nn.Linear(192, 576), [(197, 192)]),
        ("linear 16x64 -> 64", lambda: nn.Linear(64, 64), [(16, 64)]),
        ("linear 1x1280 -> 1000", lambda: nn.Linear(1280, 1000), [(1, 1280)]),
        ("linear 1x4096 -> 4096", lambda: nn.Linear(4096, 4096), [(1, 4096)]),
        ("linear 1x256 -> 100", lambda: nn.Linear(256, 100), [(1, 256)]),
        # attention
        ("sdpa causal 12x128x64", lambda: _SDPA(True), [(1, 12, 128, 64)] * 3),
        ("sdpa 3x197x64", lambda: _SDPA(False), [(1, 3, 197, 64)] * 3),
        ("sdpa 1x16x16", lambda: _SDPA(False), [(1, 1, 16, 16)] * 3),
        # pooling
        ("maxpool 3x3/2 64 @112x112", lambda: nn.MaxPool2d(3, 2, 1), [(1, 64, 112, 112)]),
        ("maxpool 2x2/2 128 @112x112", lambda: nn.MaxPool2d(2, 2), [(1, 128, 112, 112)]),
        ("maxpool 2x2/2 16 @8x8", lambda: nn.MaxPool2d(2, 2), [(1, 16, 8, 8)]),
        # reductions (global average pooling is a mean)
        ("mean 512x7x7 -> 512", lambda: nn.AdaptiveAvgPool2d(1), [(1, 512, 7, 7)]),
        ("mean 1280x7x7 -> 1280", lambda: nn.AdaptiveAvgPool2d(1), [(1, 1280, 7, 7)]),
        ("mean 128x512 over 512", lambda: _Mean(), [(128, 512)]),
        ("mean 16x8x8 -> 16", lambda: nn.AdaptiveAvgPool2d(1), [(1, 16, 8, 8)]),
        # normalisation
        ("batchnorm 64 @56x56", lambda: nn.BatchNorm2d(64).eval(), [(1, 64, 56, 56)]),
        ("batchnorm 960 @7x7", lambda: nn.BatchNorm2d(960).eval(), [(1, 960, 7, 7)]),
        ("layernorm 128x768", lambda: nn.LayerNorm(768), [(128, 768)]),
        ("batchnorm 16 @8x8", lambda: nn.BatchNorm2d(16).eval(), [(1, 16, 8, 8)]),
        # element-wise
        ("relu 64 @112x112", lambda: nn.ReLU(inplace=True), [(1, 64, 112, 112)]),
        ("add 256 @56x56", lambda: _Add(), [(1, 256, 56, 56)] * 2),
        ("relu6 96 @28x28", lambda: nn.ReLU6(inplace=True), [(1, 96, 28, 28)]),
        ("relu 16 @8x8", lambda: nn.ReLU(), [(1, 16, 8, 8)]),
        # transcendental activations
        ("gelu 128x3072", lambda: nn.GELU(), [(128, 3072)]),
        ("silu 128x1376", lambda: nn.SiLU(), [(128, 1376)]),
        ("softmax 12x128x128", lambda: nn.Softmax(dim=-1), [(12, 128, 128)]),
        ("gelu 16x16", lambda: nn.GELU(), [(16, 16)]),
    ]
    if quick:  # keep one realistic and the tiny shape per class
        keep = []
        seen: dict[str, int] = {}
        for label, factory, shapes in reps:
            cls = label.split()[0]
            seen[cls] = seen.get(cls, 0) + 1
            if seen[cls] == 1 or label.endswith(("@8x8", "16x64 -> 64", "1x256 -> 100", "1x16x16", "16x16", "16x8x8 -> 16")):
                keep.append((label, factory, shapes))
        reps = keep
    return reps


WEIGHT_CLASSES = ("conv", "pwconv", "dwconv")  # classes whose kernels re-lay out their weights on every call


def fit_class(samples: list[tuple[float, float]] | list[tuple[float, float, float]], floor_s: float = 0.0,
              ) -> tuple[float, float] | tuple[float, float, float]:
    """Fit ``t = r * k + o`` (k = 1 / efficiency), or ``t = r * k + w * c + o`` for (r, w, t) samples.

    ``r`` is the plain roofline time, ``w`` the weight bytes, ``t`` the measured time. Least squares
    on relative error (each residual divided by t), with ``k > 0``, ``c >= 0`` and the overhead ``o``
    in ``[floor_s, min t]``: every way of pinning ``c`` to 0 and ``o`` to a bound is tried and the
    best feasible fit kept. Returns (efficiency, overhead) or (efficiency, overhead, c).
    """
    import numpy as np

    with_w = bool(samples) and len(samples[0]) == 3
    pts = [(s[0], s[1] if with_w else 0.0, s[-1]) for s in samples if s[-1] > 0 and s[0] >= 0]
    if not pts:
        raise ValueError("no samples to fit")
    t = np.array([p[2] for p in pts])
    r = np.array([p[0] for p in pts]) / t
    w = np.array([p[1] for p in pts]) / t
    one = 1.0 / t
    o_max = float(t.min())
    best: tuple[float, tuple[float, float, float]] | None = None
    for free_w in ((True, False) if with_w else (False,)):
        for o_fixed in (None, floor_s, o_max):
            cols = [r] + ([w] if free_w else []) + ([one] if o_fixed is None else [])
            target = np.ones_like(t) - (one * o_fixed if o_fixed is not None else 0.0)
            a = np.stack(cols, axis=1)
            if a.shape[1] > len(pts):
                continue
            sol, *_ = np.linalg.lstsq(a, target, rcond=None)
            k = float(sol[0])
            c = float(sol[1]) if free_w else 0.0
            o = float(sol[-1]) if o_fixed is None else float(o_fixed)
            if k <= 0 or c < 0 or o < floor_s - 1e-15 or o > o_max + 1e-15:
                continue
            err = float(np.sum((r * k + w * c + one * o - 1.0) ** 2))
            if best is None or err < best[0] - 1e-15:
                best = (err, (k, o, c))
    if best is None:  # nothing feasible: the overhead alone out of the largest sample
        i = int(np.argmax([p[0] for p in pts]))
        k = max((pts[i][2] - floor_s) / pts[i][0], 1e-6) if pts[i][0] > 0 else 1.0
        best = (0.0, (k, floor_s, 0.0))
    k, o, c = best[1]
    return (1.0 / k, o, c) if with_w else (1.0 / k, o)


def _class_samples(reps: list[tuple[str, Callable[[], nn.Module], list[tuple[int, ...]]]], profile: HardwareProfile,
                   device: torch.device, statistic: str = "median", progress: Callable[[str], None] | None = None,
                   clock: str = "wall", passes: int = 3) -> list[dict[str, Any]]:
    """Analyse and time each representative layer; its class and plain roofline time on ``profile``.

    The layers are timed in ``passes`` passes over all of them, and a layer's time is the median of
    its per-pass statistics: a slow spell of the machine then spoils one pass of a layer, not the
    figure, and the layers of one class are not all timed in the same few seconds.
    """
    from howfast.api import analyze
    from howfast.passes.roofline import op_figures

    peak = profile.peak("fp32")
    l2 = profile.caches.get("l2")
    llc = profile.last_level_cache_bytes
    evict = Evictor(device, int(l2.value) if l2 is not None else None, int(llc) if llc else None)
    samples = []
    timed: list[tuple[dict[str, Any], nn.Module, tuple[torch.Tensor, ...]]] = []
    for label, factory, shapes in reps:
        if progress:
            progress(label)
        with torch.device(device):
            module = factory()
        inputs = tuple(torch.randn(*s, device=device) for s in shapes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = analyze(module, list(inputs) if len(inputs) > 1 else inputs[0], name=label)
        classes: dict[str, float] = {}
        roof = 0.0
        flops = nbytes = weight_bytes = 0
        cached = profile.weights_cached(float(report.totals.param_bytes))
        for row in report.ops:
            entry = op_figures(row, profile, peak, "compulsory", cached)
            if entry is None:
                continue
            classes[entry.op_class] = classes.get(entry.op_class, 0.0) + entry.roof_s
            roof += entry.roof_s
            flops += entry.flops
            nbytes += entry.bytes
            weight_bytes += entry.weight_bytes
        if not classes:
            continue
        cls = max(classes.items(), key=lambda kv: kv[1])[0]
        sample = {"label": label, "class": cls, "flops": flops, "bytes": nbytes, "weight_bytes": weight_bytes,
                  "roof_s": roof, "pass_s": []}
        timed.append((sample, module, inputs))
        samples.append(sample)
    with torch.inference_mode():
        for _ in range(max(1, passes)):
            for sample, module, inputs in timed:
                times = time_call(lambda: module(*inputs), device, warmup=3, min_runs=7, min_time_s=0.08,
                                  clock=clock, before=evict)
                sample["pass_s"].append(STATISTICS[statistic](times))
    for sample in samples:
        sample["measured_s"] = statistics.median(sample["pass_s"])
    return samples


# ---------------------------------------------------------------------------------- calibrate


def calibrate(*, threads: int | None = None, device: str = "cpu", quick: bool = False, classes: bool = True,
              dtypes: tuple[str, ...] = ("fp32", "bf16", "fp16"), name: str = "this_machine", statistic: str = "median",
              clock: str = "wall", progress: Progress | None = None) -> CalibrationResult:
    """Measure this machine and return a profile whose every figure says how it was measured.

    ``statistic`` is ``median`` (default) or ``min`` (the fastest run). ``clock`` is ``wall``
    (default) or ``cpu``: the thread's CPU time, with one thread only, which other processes on a
    busy machine do not inflate (a prediction from such a profile is CPU time, the latency of an
    otherwise idle machine).
    """
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("calibrating cuda asked for, but torch.cuda.is_available() is False")
    if dev.type not in ("cpu", "cuda"):
        raise DeviceError(f"calibration runs on cpu or cuda, not {device!r}")
    if threads is not None and threads < 1:
        raise DeviceError(f"threads must be at least 1, got {threads}")
    if statistic not in STATISTICS:
        raise DeviceError(f"statistic must be median or min, got {statistic!r}")
    if clock not in CLOCKS:
        raise DeviceError(f"clock must be wall or cpu, got {clock!r}")
    if clock == "cpu" and (threads != 1 or dev.type != "cpu"):
        raise DeviceError("the cpu clock (thread CPU time) needs threads=1 on the cpu: other threads' work would not be counted")
    reps = representatives(quick) if classes else []
    steps = len(dtypes) + 3 + len(reps)
    done = 0

    def step(what: str) -> None:
        nonlocal done
        if progress:
            progress(what, done, steps)
        done += 1

    allocator = retain_freed_memory()  # time layers in the memory state howfast bench measures models in
    start = time.perf_counter()
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    used_threads = torch.get_num_threads()
    today = datetime.date.today().isoformat()
    stat = ("median" if statistic == "median" else "fastest") + (" CPU time" if clock == "cpu" else "")
    where = f"on {today}, {used_threads} thread(s), torch {torch.__version__}"
    measurements: list[Measurement] = []
    peaks: dict[str, Figure] = {}
    fits: dict[str, ClassFit] = {}
    min_time = 0.1 if quick else 0.3
    caches: dict[str, Figure] = {}
    if dev.type == "cpu":
        for level, (text, size) in cpu_caches().items():
            caches[level] = Figure(float(size), f"read from /sys/devices/system/cpu/cpu0/cache: {level.upper()} {text} (per instance)")
    try:
        gc.collect()
        torch_dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
        for key in dtypes:
            step(f"GEMM {key}")
            if key not in torch_dtypes:
                continue
            try:
                flops_s, n, times = gemm_flops(torch_dtypes[key], dev, max_n=2048 if quick else 4096, min_time_s=min_time,
                                               target_s=0.02 if quick else 0.05, statistic=statistic, clock=clock)
            except (RuntimeError, TypeError) as exc:  # dtype not supported here
                if key == "fp32":
                    raise DeviceError(f"fp32 GEMM failed on {device}: {exc}") from None
                continue
            method = (f"measured by howfast calibrate {where}: torch.mm {n}x{n} @ {n}x{n} {key}, 2n^3 FLOPs / {stat} of "
                      f"{len(times)} runs")
            peaks[key] = Figure(flops_s, method)
            measurements.append(Measurement(f"peak_flops.{key}", flops_s, "FLOP/s", method, times))
        if "fp32" not in peaks:
            raise DeviceError("calibration needs the fp32 GEMM: include fp32 in dtypes")
        step("memory bandwidth")
        bw, nbytes, times = copy_bandwidth(dev, min_time_s=min_time, statistic=statistic, clock=clock)
        bw_method = (f"measured by howfast calibrate {where}: Tensor.copy_ of {nbytes >> 20} MiB (4x the last-level cache), "
                     f"(bytes read + bytes written) / {stat} of {len(times)} runs")
        measurements.append(Measurement("memory.bandwidth", bw, "B/s", bw_method, times))
        cache_bw_fig = None
        llc = max((f.value for f in caches.values()), default=None)
        if llc:
            step("cache bandwidth")
            cbw, cbytes, times = copy_bandwidth(dev, nbytes=max(int(llc) // 8, 64 << 10), min_time_s=min_time / 2,
                                                statistic=statistic, clock=clock)
            cbw_method = (f"measured by howfast calibrate {where}: Tensor.copy_ of {cbytes >> 10} KiB (1/8 of the "
                          f"last-level cache), (bytes read + bytes written) / {stat} of {len(times)} runs")
            cache_bw_fig = Figure(cbw, cbw_method)
            measurements.append(Measurement("memory.cache_bandwidth", cbw, "B/s", cbw_method, times))
        else:
            step("cache bandwidth (no cache sizes known: skipped)")
        step("per-op overhead")
        over, times = op_overhead(dev, statistic=statistic, clock=clock)
        over_method = (f"measured by howfast calibrate {where}: Tensor.add of one-element tensors, {stat} time per call "
                       f"over {len(times)} loops of 1000 calls")
        measurements.append(Measurement("overhead.per_op_s", over, "s", over_method, times))
        title = f"{device_name(dev)} ({used_threads} thread{'s' if used_threads != 1 else ''}, calibrated {today})"
        profile = HardwareProfile(
            name=name, title=title, kind="gpu" if dev.type == "cuda" else "cpu",
            description=f"Measured by howfast calibrate on {platform.node() or 'this machine'}: PyTorch eager, "
                        f"{used_threads} thread(s). Per-class efficiencies make predictions for this machine and software.",
            peak_flops=peaks, bandwidth=Figure(bw, bw_method), cache_bandwidth=cache_bw_fig, caches=caches,
            per_op_overhead=Figure(over, over_method),
            calibration={"date": today, "device": device_name(dev), "threads": used_threads, "torch": torch.__version__,
                         "python": platform.python_version(), "statistic": statistic, "clock": clock, "quick": quick,
                         "allocator": allocator,
                         "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0},
        )
        class_figs: dict[str, ClassFigures] = {}
        l2_fig = caches.get("l2")
        evict_mib = Evictor.size(int(l2_fig.value) if l2_fig else None, int(llc) if llc else None) / (1 << 20)
        evict_mib = f"{evict_mib:g}"
        if reps:
            samples = _class_samples(reps, profile, dev, statistic, progress=step, clock=clock, passes=1 if quick else 3)
            by_class: dict[str, list[dict[str, Any]]] = {}
            for s in samples:
                by_class.setdefault(s["class"], []).append(s)
            for cls, items in by_class.items():
                labels = "; ".join(f"{s['label']} {s['measured_s'] * 1e6:.0f} us" for s in items)
                if cls in WEIGHT_CLASSES and len(items) >= 3:
                    eff, o, c = fit_class([(s["roof_s"], s["weight_bytes"], s["measured_s"]) for s in items], floor_s=over)
                    formula = "t = roof / efficiency + weight bytes x weight_s_per_byte + overhead"
                else:
                    (eff, o), c = fit_class([(s["roof_s"], s["measured_s"]) for s in items], floor_s=over), None
                    formula = "t = roof / efficiency + overhead"
                method = (f"fitted by howfast calibrate {where}: {formula} over {len(items)} representative layer(s), "
                          f"each timed after an untimed {evict_mib} MiB copy (cache state of a network), {stat} times: {labels}")
                class_figs[cls] = ClassFigures(efficiency=Figure(eff, method), overhead_s=Figure(o, method),
                                               weight_s_per_byte=Figure(c, method) if c is not None else None)
                fits[cls] = ClassFit(cls, eff, o, items, c or 0.0)
                measurements.append(Measurement(f"classes.{cls}.efficiency", eff, "", method))
                measurements.append(Measurement(f"classes.{cls}.overhead_s", o, "s", method))
                if c is not None:
                    measurements.append(Measurement(f"classes.{cls}.weight_s_per_byte", c, "s/B", method))
        profile = dataclasses.replace(profile, classes=class_figs)
    finally:
        if threads is not None:
            torch.set_num_threads(previous)
    return CalibrationResult(profile=profile, measurements=measurements, fits=fits, elapsed_s=time.perf_counter() - start,
                             threads=used_threads)
