"""``calibrate(...)``: run the measurements, fit the op classes and assemble a ``HardwareProfile`` whose every
figure says how it was measured."""

from __future__ import annotations

import dataclasses
import datetime
import gc
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from howfast.bench.allocator import retain_freed_memory
from howfast.bench.calibrate.checks import figure_checks
from howfast.bench.calibrate.fit import fit_efficiency, fit_pinned, fit_with_weights
from howfast.bench.calibrate.integer import LOW_PRECISION, low_precision_peak
from howfast.bench.calibrate.measure import (
    STATISTICS,
    Evictor,
    TimedSample,
    copy_bandwidth,
    cpu_caches,
    frozen_heap,
    gemm_flops,
    measure_capacity,
    op_overhead,
    prepare_layers,
    product_row_times,
    time_layers,
)
from howfast.bench.calibrate.quantized_layers import int8_representatives
from howfast.bench.calibrate.representatives import Representative, is_quantized, representatives
from howfast.bench.environment import device_name
from howfast.bench.timing import CLOCKS
from howfast.errors import DeviceError
from howfast.hardware.profiles import ClassFigures, Figure, HardwareProfile

# (what is measured next, steps done, steps in all): told before every step, then once with done == total
Progress = Callable[[str, int, int], None]

# classes whose kernels re-lay out (pack) their weights on every call
WEIGHT_CLASSES = ("conv", "conv_im2col", "pwconv", "dwconv", "gemm")
# classes whose kernels loop over a window per output: a cost per window element read
WINDOW_CLASSES = ("pool",)
GEMV_STEP = 1.5  # a product of m rows streams its weights while it takes at most this x the time of one row
# PyTorch's CPU dispatch (use_mkldnn, aten/src/ATen/native/Convolution.cpp): a batch-1 convolution of at
# most this many input elements (with groups 1 and a kernel of at most 3x3) runs the native im2col + GEMM path
CONV_NATIVE_MAX = 20480
CONV_NATIVE_RULE = (f"PyTorch's CPU convolution dispatch (use_mkldnn in aten/src/ATen/native/Convolution.cpp): a "
                    f"batch-1 convolution with at most {CONV_NATIVE_MAX} input elements runs the native im2col + GEMM "
                    f"path, not oneDNN; a 1x1 one of stride 1 on one thread always does")

TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DTYPES = ("fp32", "bf16", "fp16", "int8", "fp8")  # the peaks calibrate measures by default (fp32 required)

PLAIN_FORMULA = "t = roof / efficiency + overhead"
WEIGHT_FORMULA = "t = roof / efficiency + weight bytes x weight_s_per_byte + overhead"
WINDOW_FORMULA = "t = roof / efficiency + window reads x window_s_per_read + overhead"
FORMULAS = {"plain": PLAIN_FORMULA, "weights": WEIGHT_FORMULA, "window": WINDOW_FORMULA}  # the fitted models by short name


@dataclass
class Measurement:
    """One measured figure: its dotted profile key, value, unit and how it was measured."""

    key: str
    value: float
    unit: str
    method: str
    times_s: list[float] = field(default_factory=list)

    def figure(self) -> Figure:
        """The profile figure: the value, sourced by the method."""
        return Figure(self.value, self.method)


@dataclass
class ClassFit:
    """Representative layers of one op class and the fitted efficiency/overhead."""

    op_class: str
    efficiency: float
    overhead_s: float
    samples: list[TimedSample]
    weight_s_per_byte: float = 0.0
    formula: str = PLAIN_FORMULA  # the model fitted (PLAIN_FORMULA, WEIGHT_FORMULA or WINDOW_FORMULA)
    timing: str = ""  # how its layers were timed: "each timed after an untimed 4 MiB copy (...), median times"
    window_s_per_read: float = 0.0


@dataclass
class CalibrationResult:
    profile: HardwareProfile
    measurements: list[Measurement]
    fits: dict[str, ClassFit]
    elapsed_s: float
    threads: int
    notes: list[str] = field(default_factory=list)  # what was not measured here, and why ("no int8 kernel ...")

    @property
    def checks(self) -> list[str]:
        """What to know before trusting the figures (``checks.figure_checks``)."""
        return figure_checks(self.profile, {cls: fit.efficiency for cls, fit in self.fits.items()})


def timing_passes(quick: bool) -> int:
    """Timing passes over the representative layers: five, one with ``quick``."""
    return 1 if quick else 5


@dataclass(frozen=True)
class Conditions:
    """How this calibration measures: where, with what statistic and clock, on which date."""

    device: torch.device
    device_text: str  # the device as asked for, for messages
    quick: bool
    statistic: str
    clock: str
    threads: int  # torch's thread count in effect
    today: str

    @property
    def min_time_s(self) -> float:
        return 0.1 if self.quick else 0.3

    @property
    def passes(self) -> int:
        return timing_passes(self.quick)

    @property
    def stat(self) -> str:
        """The statistic in words: "median" or "fastest", with " CPU time" on the cpu clock."""
        return ("median" if self.statistic == "median" else "fastest") + (" CPU time" if self.clock == "cpu" else "")

    @property
    def where(self) -> str:
        return f"on {self.today}, {self.threads} thread(s), torch {torch.__version__}"


class Steps:
    """Counts the steps of a calibration and reports each to ``progress`` (what, steps done, steps in all)
    before it starts, so the bar says what is being measured; ``finish`` reports ``done == total``."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def __call__(self, what: str) -> None:
        self._tell(what, self.done)
        self.done += 1

    def _tell(self, what: str, done: int) -> None:
        if self.progress:
            self.progress(what, done, self.total)

    def expect(self, remaining: int) -> None:
        """``remaining`` more steps come (the total, once known exactly: layers with no counted op are not timed)."""
        self.total = self.done + remaining

    def finish(self) -> None:
        """Every step done: report ``total`` of ``total``."""
        self.done = self.total
        self._tell("done", self.total)


def step_count(dtypes: tuple[str, ...], reps: list[Representative], passes: int) -> int:
    """The steps of a calibration: one GEMM per dtype, the two copies, the cache capacity sweep, the
    overhead and the product rows, then per representative layer one analysis and one timing per pass."""
    return len(dtypes) + 5 + len(reps) * (1 + passes)


# ---------------------------------------------------------------------------------- checks


def check_options(dev: torch.device, device: str, threads: int | None, statistic: str, clock: str) -> None:
    """Raise ``DeviceError`` for a device, thread count, statistic or clock calibration cannot use."""
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


# ---------------------------------------------------------------------------------- measured figures


def read_caches(dev: torch.device) -> dict[str, Figure]:
    """The CPU's cache sizes from sysfs as sourced figures (none on a GPU)."""
    if dev.type != "cpu":
        return {}
    return {level: Figure(float(size), f"read from /sys/devices/system/cpu/cpu0/cache: {level.upper()} {text} (per instance)")
            for level, (text, size) in cpu_caches().items()}


def measure_low_precision(c: Conditions, key: str) -> Measurement | str:
    """``peak_flops.int8`` or ``.fp8`` (``integer.low_precision_peak``), or why it is not measured."""
    found = low_precision_peak(key, c.device, quick=c.quick, min_time_s=c.min_time_s, statistic=c.statistic, clock=c.clock)
    if isinstance(found, str):
        return found
    method = f"measured by howfast calibrate {c.where}: {found.kernel} / {c.stat} of {len(found.times)} runs"
    return Measurement(f"peak_flops.{key}", found.rate, "op/s" if key == "int8" else "FLOP/s", method, found.times)


def measure_peak(c: Conditions, key: str) -> Measurement | None:
    """``peak_flops.<key>`` from ``gemm_flops``; None when the dtype does not run here (fp32 must)."""
    try:
        flops_s, n, times = gemm_flops(TORCH_DTYPES[key], c.device, max_n=2048 if c.quick else 4096, min_time_s=c.min_time_s,
                                       target_s=0.02 if c.quick else 0.05, statistic=c.statistic, clock=c.clock)
    except (RuntimeError, TypeError) as exc:  # dtype not supported here
        if key == "fp32":
            raise DeviceError(f"fp32 GEMM failed on {c.device_text}: {exc}") from None
        return None
    method = (f"measured by howfast calibrate {c.where}: torch.mm {n}x{n} @ {n}x{n} {key}, 2n^3 FLOPs / {c.stat} of "
              f"{len(times)} runs")
    return Measurement(f"peak_flops.{key}", flops_s, "FLOP/s", method, times)


def measure_peaks(c: Conditions, dtypes: tuple[str, ...], step: Steps, notes: list[str]) -> dict[str, Measurement]:
    """{dtype: peak FLOP/s measurement} for each of ``dtypes`` that runs; fp32 is required. An int8
    or fp8 peak that cannot be measured here adds a note saying why."""
    peaks: dict[str, Measurement] = {}
    for key in dtypes:
        step(f"GEMM {key}")
        if key in LOW_PRECISION:
            low = measure_low_precision(c, key)
            if isinstance(low, str):
                notes.append(low)
            else:
                peaks[key] = low
            continue
        if key not in TORCH_DTYPES:
            continue
        found = measure_peak(c, key)
        if found is not None:
            peaks[key] = found
    if "fp32" not in peaks:
        raise DeviceError("calibration needs the fp32 GEMM: include fp32 in dtypes")
    return peaks


def measure_bandwidth(c: Conditions) -> Measurement:
    """``memory.bandwidth``: a copy of 4 x the last-level cache."""
    bw, nbytes, times = copy_bandwidth(c.device, min_time_s=c.min_time_s, statistic=c.statistic, clock=c.clock)
    method = (f"measured by howfast calibrate {c.where}: Tensor.copy_ of {nbytes >> 20} MiB (4x the last-level cache), "
              f"(bytes read + bytes written) / {c.stat} of {len(times)} runs")
    return Measurement("memory.bandwidth", bw, "B/s", method, times)


def measure_cache_bandwidth(c: Conditions, llc: float) -> Measurement:
    """``memory.cache_bandwidth``: a copy of 1/8 of the last-level cache (``llc`` bytes)."""
    cbw, cbytes, times = copy_bandwidth(c.device, nbytes=max(int(llc) // 8, 64 << 10), min_time_s=c.min_time_s / 2,
                                        statistic=c.statistic, clock=c.clock)
    method = (f"measured by howfast calibrate {c.where}: Tensor.copy_ of {cbytes >> 10} KiB (1/8 of the "
              f"last-level cache), (bytes read + bytes written) / {c.stat} of {len(times)} runs")
    return Measurement("memory.cache_bandwidth", cbw, "B/s", method, times)


def measure_cache_capacity(c: Conditions, llc: float, cache_bw: float, dram_bw: float) -> Measurement:
    """``memory.cache_capacity``: the working set at which copies fall from cache to memory speed
    (``measure.measure_capacity``)."""
    value, text = measure_capacity(c.device, int(llc), cache_bw, dram_bw, c.min_time_s / 4, c.statistic, c.clock)
    return Measurement("memory.cache_capacity", value, "B", f"measured by howfast calibrate {c.where}: {text} ({c.stat})", [])


def measure_gemv_rows(c: Conditions) -> Measurement:
    """``classes.gemv.max_rows``: the most rows a matrix product runs with in about the time of one row
    (weight streaming, a matrix-vector kernel); beyond it the kernel packs the weights and computes."""
    times = product_row_times(c.device, statistic=c.statistic, clock=c.clock)
    rows = 1
    while rows < len(times) and times[rows] <= GEMV_STEP * times[0]:
        rows += 1
    shown = ", ".join(f"{m} {t * 1e6:.0f} us" for m, t in enumerate(times, start=1))
    method = (f"measured by howfast calibrate {c.where}: linear of m rows through a 2048x2048 fp32 weight, {c.stat} times "
              f"for m = {shown}: the most rows taking at most {GEMV_STEP} x the time of one")
    return Measurement("classes.gemv.max_rows", float(rows), "rows", method, times)


def measure_overhead(c: Conditions) -> Measurement:
    """``overhead.per_op_s``: a one-element add, time per call."""
    over, times = op_overhead(c.device, statistic=c.statistic, clock=c.clock)
    method = (f"measured by howfast calibrate {c.where}: Tensor.add of one-element tensors, {c.stat} time per call "
              f"over {len(times)} loops of 1000 calls")
    return Measurement("overhead.per_op_s", over, "s", method, times)


# ---------------------------------------------------------------------------------- the profile


def load_average() -> float:
    """The 1-minute load average (rounded to 0.01), -1 where the platform has none."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0


def base_profile(c: Conditions, name: str, peaks: dict[str, Measurement], bandwidth: Measurement,
                 cache_bandwidth: Measurement | None, overhead: Measurement, caches: dict[str, Figure],
                 allocator: str, capacity: Measurement | None = None) -> HardwareProfile:
    """The profile of the measured figures, before the per-class fits."""
    threads = c.threads
    title = f"{device_name(c.device)} ({threads} thread{'s' if threads != 1 else ''}, calibrated {c.today})"
    return HardwareProfile(
        name=name, title=title, kind="gpu" if c.device.type == "cuda" else "cpu",
        description=f"Measured by howfast calibrate on {platform.node() or 'this machine'}: PyTorch eager, "
                    f"{threads} thread(s). Per-class efficiencies make predictions for this machine and software.",
        peak_flops={key: m.figure() for key, m in peaks.items()}, bandwidth=bandwidth.figure(),
        cache_bandwidth=cache_bandwidth.figure() if cache_bandwidth is not None else None, caches=caches,
        cache_capacity=capacity.figure() if capacity is not None else None, per_op_overhead=overhead.figure(),
        calibration={"date": c.today, "device": device_name(c.device), "threads": threads, "torch": torch.__version__,
                     "python": platform.python_version(), "statistic": c.statistic, "clock": c.clock, "quick": c.quick,
                     "allocator": allocator, "load_average_1min": load_average(),
                     **({"quantized_engine": torch.backends.quantized.engine} if "int8" in peaks else {})},
    )


# ---------------------------------------------------------------------------------- op classes


@dataclass
class ClassStage:
    """What the per-class fits add: the profile's class figures, the fits and their measurements."""

    figures: dict[str, ClassFigures] = field(default_factory=dict)
    fits: dict[str, ClassFit] = field(default_factory=dict)
    measurements: list[Measurement] = field(default_factory=list)


def by_class(samples: list[TimedSample]) -> dict[str, list[TimedSample]]:
    """The samples grouped by op class, classes in the order they first appear."""
    groups: dict[str, list[TimedSample]] = {}
    for s in samples:
        groups.setdefault(s.op_class, []).append(s)
    return groups


def evictor_mib_text(caches: dict[str, Figure], llc: float | None) -> str:
    """The size of the copy run before each timed layer, in MiB (``%g``)."""
    l2 = caches.get("l2")
    mib = Evictor.size(int(l2.value) if l2 else None, int(llc) if llc else None) / (1 << 20)
    return f"{mib:g}"


def fit_one_class(c: Conditions, cls: str, items: list[TimedSample], floor_s: float, evict_mib: str, stage: ClassStage) -> None:
    """Fit one class and add it to ``stage``: through the class's overhead chain when it has one
    (``fit_pinned``: the overhead is what one tiny op of the class costs), else free (``fit_class``);
    with a cost term for enough layers (3 free, 2 besides a chain): weight bytes for the weight
    classes, window reads for pooling."""
    labels = "; ".join(f"{s.label} {s.measured_s * 1e6:.0f} us" for s in items)
    chains = [s for s in items if s.chain]
    others = [s for s in items if not s.chain]
    window = cls in WINDOW_CLASSES
    with_term = (cls in WEIGHT_CLASSES or window) and len(others) >= (2 if chains else 3)
    samples = [(s.roof_s, s.term(window), s.measured_s) for s in others]
    if chains:
        eff, o, cost = fit_pinned(samples, chains[0].per_op(window), with_w=with_term, floor_s=floor_s)
    elif with_term:
        eff, o, cost = fit_with_weights(samples, floor_s=floor_s)
    else:
        eff, o = fit_efficiency([(r, t) for r, _, t in samples], floor_s=floor_s)
        cost = 0.0
    formula = (WINDOW_FORMULA if window else WEIGHT_FORMULA) if with_term else PLAIN_FORMULA
    timing = f"each timed after an untimed {evict_mib} MiB copy (cache state of a network), {c.stat} times"
    pinned = (f", through the per-op time of {chains[0].label} ({chains[0].per_op()[2] * 1e6:.1f} us an op)"
              if chains else "")
    method = (f"fitted by howfast calibrate {c.where}: {formula} over {len(items)} representative layer(s){pinned}, "
              f"{timing}: {labels}")
    term = Figure(cost, method) if with_term else None
    stage.figures[cls] = ClassFigures(efficiency=Figure(eff, method), overhead_s=Figure(o, method),
                                      weight_s_per_byte=term if not window else None,
                                      window_s_per_read=term if window else None)
    stage.fits[cls] = ClassFit(cls, eff, o, items, cost if with_term and not window else 0.0, formula, timing,
                               cost if with_term and window else 0.0)
    stage.measurements.append(Measurement(f"classes.{cls}.efficiency", eff, "", method))
    stage.measurements.append(Measurement(f"classes.{cls}.overhead_s", o, "s", method))
    if with_term:
        key, unit = ("window_s_per_read", "s/read") if window else ("weight_s_per_byte", "s/B")
        stage.measurements.append(Measurement(f"classes.{cls}.{key}", cost, unit, method))


def fit_classes(c: Conditions, reps: list[Representative], profile: HardwareProfile, floor_s: float, evict_mib: str,
                step: Steps) -> ClassStage:
    """Time the representative layers on ``profile`` and fit each op class's efficiency and overhead."""
    stage = ClassStage()
    if not reps:
        return stage
    layers = prepare_layers(reps, profile, c.device, progress=step)
    step.expect(c.passes * len(layers))
    samples = time_layers(layers, profile, c.device, c.statistic, progress=step, clock=c.clock, passes=c.passes)
    for cls, items in by_class(samples).items():
        fit_one_class(c, cls, items, floor_s, evict_mib, stage)
    return stage


# ---------------------------------------------------------------------------------- calibrate


def run_stages(c: Conditions, dtypes: tuple[str, ...], reps: list[Representative], name: str, allocator: str,
               step: Steps, notes: list[str]) -> tuple[HardwareProfile, list[Measurement], dict[str, ClassFit]]:
    """Measure the figures, then time and fit the op classes; the profile, every measurement and the fits.
    The quantized layers are timed only when the int8 peak was measured (their kernels run here)."""
    caches = read_caches(c.device)
    gc.collect()
    peaks = measure_peaks(c, dtypes, step, notes)
    if "int8" not in peaks:
        reps = [rep for rep in reps if not is_quantized(rep)]
    step("memory bandwidth")
    bandwidth = measure_bandwidth(c)
    llc = max((f.value for f in caches.values()), default=None)
    skipped = "" if llc else " (no cache sizes known: skipped)"
    step("cache bandwidth" + skipped)
    cache_bandwidth = measure_cache_bandwidth(c, llc) if llc else None
    step("cache capacity" + skipped)
    capacity = measure_cache_capacity(c, llc, cache_bandwidth.value, bandwidth.value) if llc and cache_bandwidth else None
    step("per-op overhead")
    overhead = measure_overhead(c)
    step("matrix products: rows streamed as a matrix-vector product")
    gemv_rows = measure_gemv_rows(c)
    measurements = [*peaks.values(), bandwidth, *(m for m in (cache_bandwidth, capacity) if m is not None), overhead, gemv_rows]
    profile = base_profile(c, name, peaks, bandwidth, cache_bandwidth, overhead, caches, allocator, capacity)
    fixed = {"gemv": ClassFigures(max_rows=gemv_rows.figure())}
    if c.device.type == "cpu":
        fixed["conv_im2col"] = ClassFigures(max_input_elements=Figure(
            float(CONV_NATIVE_MAX), f"set by howfast calibrate {c.where} (not measured): {CONV_NATIVE_RULE}"))
    profile = dataclasses.replace(profile, classes=dict(fixed))
    stage = fit_classes(c, reps, profile, overhead.value, evictor_mib_text(caches, llc), step)
    for cls, figures in fixed.items():
        stage.figures[cls] = dataclasses.replace(stage.figures.get(cls, ClassFigures()), max_rows=figures.max_rows,
                                                 max_input_elements=figures.max_input_elements)
    profile = dataclasses.replace(profile, classes=stage.figures)
    return profile, measurements + stage.measurements, stage.fits


def calibration_layers(quick: bool, dtypes: tuple[str, ...], kinds: tuple[str, ...] | None) -> list[Representative]:
    """The representative layers to time: the float ones, and the quantized ones when ``int8`` is among
    ``dtypes``; only those whose kind (the label's first word) is in ``kinds`` when given."""
    reps = representatives(quick) + (int8_representatives(quick) if "int8" in dtypes else [])
    return reps if kinds is None else [rep for rep in reps if rep[0].split()[0] in kinds]


def calibrate(*, threads: int | None = None, device: str = "cpu", quick: bool = False, classes: bool = True,
              dtypes: tuple[str, ...] = DTYPES, name: str = "this_machine", statistic: str = "median",
              clock: str = "wall", progress: Progress | None = None, kinds: tuple[str, ...] | None = None) -> CalibrationResult:
    """Measure this machine and return a profile whose every figure says how it was measured.

    ``statistic`` is ``median`` (default) or ``min`` (the fastest run). ``clock`` is ``wall``
    (default) or ``cpu``: the thread's CPU time, with one thread only, which other processes on a
    busy machine do not inflate (a prediction from such a profile is CPU time, the latency of an
    otherwise idle machine). ``progress(what, done, total)`` is told before every step what it
    measures (``done`` steps finished so far) and at the end ``total`` of ``total``.

    ``dtypes`` names the peaks measured: fp32 (required), bf16 and fp16 (``torch.mm``), int8
    (PyTorch's quantized linear, which also adds the quantized layers of the int8 classes) and fp8
    (``torch._scaled_mm``); one that does not run here is left out, int8 and fp8 with a note in
    ``CalibrationResult.notes``. ``kinds`` keeps only the representative layers of those kinds
    (``conv``, ``linear``, ``qconv``, ``qlinear``, ...: the label's first word).
    """
    dev = torch.device(device)
    check_options(dev, device, threads, statistic, clock)
    reps = calibration_layers(quick, dtypes, kinds) if classes else []
    notes: list[str] = []
    step = Steps(progress, step_count(dtypes, reps, timing_passes(quick)))
    allocator = retain_freed_memory()  # time layers in the memory state howfast bench measures models in
    start = time.perf_counter()
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        c = Conditions(dev, device, quick, statistic, clock, torch.get_num_threads(), datetime.date.today().isoformat())
        with frozen_heap():  # the timing loops' garbage collections skip what is alive now
            profile, measurements, fits = run_stages(c, dtypes, reps, name, allocator, step, notes)
        step.finish()
    finally:
        if threads is not None:
            torch.set_num_threads(previous)
    return CalibrationResult(profile=profile, measurements=measurements, fits=fits, elapsed_s=time.perf_counter() - start,
                             threads=c.threads, notes=notes)
