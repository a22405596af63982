"""Records of measured time: statistics, per-layer times, benchmark and sweep results, environment.

``howfast.bench`` measures and fills these; a report carries them in its ``benchmark`` section
(``Benchmark``), and renderers read them. Method and definitions: ``docs/benchmarking.md``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

OTHER = "(other)"  # per-layer time outside the leaf modules
KNEE_THRESHOLD = 0.05
KNEE_RULE = ("knee: the first batch after which throughput grows by less than 5% "
             "(batch b[i] where throughput[i+1] < 1.05 x throughput[i])")


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of ``n`` timings, in the timings' unit (seconds throughout howfast)."""

    n: int
    min: float
    median: float
    mean: float
    std: float
    p90: float
    p99: float
    max: float
    total: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scaled(self, factor: float) -> dict[str, float]:
        """The figures times ``factor`` (e.g. 1e3 for milliseconds), ``n`` left out."""
        return {k: v * factor for k, v in asdict(self).items() if k != "n"}


@dataclass(slots=True)
class Environment:
    """The machine and software a measurement ran on (``bench/environment.py`` collects it).

    ``onnxruntime_version`` and ``runtime_threads`` belong to ONNX Runtime runs, ``cuda_version`` to
    CUDA runs, ``interleaved`` to models timed in interleaved rounds; other runs leave them out.
    """

    howfast_version: str
    torch_version: str
    python_version: str
    platform: str
    runtime: str
    device: str
    device_name: str
    cpu_model: str
    cpu_count: int | None
    threads: int
    interop_threads: int
    batch: int | list[int] | None
    dtype: str | None
    allocator: str | None
    load_average: float | None = None
    onnxruntime_version: str | None = None
    runtime_threads: int | None = None
    cuda_version: str | None = None
    interleaved: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "howfast_version": self.howfast_version, "torch_version": self.torch_version,
            "python_version": self.python_version, "platform": self.platform, "runtime": self.runtime,
            "device": self.device, "device_name": self.device_name, "cpu_model": self.cpu_model,
            "cpu_count": self.cpu_count, "threads": self.threads, "interop_threads": self.interop_threads,
            "batch": list(self.batch) if isinstance(self.batch, list) else self.batch, "dtype": self.dtype,
            "allocator": self.allocator,
        }
        if self.runtime == "onnxruntime":
            data["onnxruntime_version"] = self.onnxruntime_version
            data["runtime_threads"] = self.runtime_threads
        if self.cuda_version is not None:
            data["cuda_version"] = self.cuda_version
        data["load_average"] = self.load_average
        if self.interleaved is not None:
            data["interleaved"] = dict(self.interleaved)
        return data


@dataclass(slots=True)
class LayerTimes:
    """Per-module medians in seconds (module paths as in ``named_modules``; ``""`` is the model)."""

    by_module: dict[str, float]  # median per module, inclusive of its children
    self_by_module: dict[str, float]  # leaf modules' medians plus "(other)"; sums to total_s
    total_s: float  # median of hooked whole-model runs (timed outside the model)
    plain_total_s: float  # median of plain runs (no hooks)
    overhead_ratio: float  # total_s / plain_total_s
    runs: int = 0
    calls: dict[str, int] = field(default_factory=dict)  # calls per run
    types: dict[str, str] = field(default_factory=dict)  # module class names

    def __repr__(self) -> str:
        return f"LayerTimes({len(self.by_module)} modules, total {self.total_s * 1e3:.3f} ms hooked, {self.plain_total_s * 1e3:.3f} ms plain)"

    @property
    def leaf_sum_s(self) -> float:
        """Sum of the leaf modules' medians (without ``"(other)"``)."""
        return sum(v for k, v in self.self_by_module.items() if k != OTHER)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "forward pre/post hooks, perf_counter_ns (CUDA: synchronize in each hook); "
                      "median per module over runs; leaves' self time plus (other) = hooked total minus leaves",
            "runs": self.runs,
            "total_s": self.total_s,
            "plain_total_s": self.plain_total_s,
            "overhead_ratio": self.overhead_ratio,
            "leaf_sum_s": self.leaf_sum_s,
            "by_module": dict(self.by_module),
            "self_by_module": dict(self.self_by_module),
            "calls": dict(self.calls),
            "types": dict(self.types),
        }


@dataclass(slots=True)
class Efficiency:
    """What a timed run achieved: its counted FLOPs over its median time, and that as a share of a
    device's dense peak for the dtype (``docs/benchmarking.md``, "Achieved FLOP/s and MFU").

    ``flops`` are howfast's count of one timed run (a forward pass; a training step: forward with the
    loss, backward and the optimizer step); ``peak_flops_per_s`` the profile's ``peak_flops`` for
    ``dtype`` (None without a profile); ``source`` says where the profile came from.
    """

    flops: int
    seconds: float
    dtype: str
    peak_flops_per_s: float | None = None
    profile: str | None = None
    source: str = ""
    uncounted_ops: int = 0

    @property
    def achieved_flops_per_s(self) -> float:
        """``flops / seconds``: FLOP/s achieved over the median run."""
        return self.flops / self.seconds if self.seconds > 0 else 0.0

    @property
    def mfu(self) -> float | None:
        """``achieved / peak`` (model FLOPs utilisation), None without a peak."""
        return self.achieved_flops_per_s / self.peak_flops_per_s if self.peak_flops_per_s else None

    def to_dict(self) -> dict[str, Any]:
        return {"flops_per_run": self.flops, "achieved_flops_per_s": self.achieved_flops_per_s,
                "peak_flops_per_s": self.peak_flops_per_s, "peak_profile": self.profile, "peak_dtype": self.dtype,
                "peak_source": self.source or None, "mfu": self.mfu, "uncounted_ops": self.uncounted_ops}


EFFICIENCY_KEYS = ("flops_per_run", "achieved_flops_per_s", "peak_flops_per_s", "peak_profile", "peak_dtype", "peak_source",
                   "mfu", "uncounted_ops")


@dataclass
class BenchmarkResult:
    """Timings of one model on one input: statistics (seconds), throughput and environment.

    ``workload`` is what one timed run is: ``forward`` (a forward pass) or ``training step`` (forward,
    the ``loss``, backward and, with ``optimizer``, its step); ``efficiency`` the achieved FLOP/s and
    share of the peak (None when the run could not be counted).
    """

    stats: Stats
    times_s: list[float]
    batch: int
    warmup: int
    runs_requested: int | None
    budget_s: float | None
    stopped_by: str  # "runs" or "budget"
    runtime: str
    device: str
    dtype: str | None
    threads: int | None
    inputs: list[str]
    environment: Environment
    model: str | None = None
    layers: LayerTimes | None = None
    warnings: list[str] = field(default_factory=list)  # howfast.bench.stats.steadiness of the runs
    workload: str = "forward"
    loss: str | None = None
    optimizer: str | None = None
    efficiency: Efficiency | None = None

    @property
    def median_s(self) -> float:
        return self.stats.median

    def __repr__(self) -> str:
        s = self.stats
        return (f"BenchmarkResult({self.model}: median {s.median * 1e3:.3f} ms, p90 {s.p90 * 1e3:.3f} ms over {s.n} runs, "
                f"{self.throughput:,.1f} items/s at batch {self.batch}, {self.runtime} on {self.device})")

    @property
    def throughput(self) -> float:
        """Items per second: ``batch / median``."""
        return self.batch / self.stats.median if self.stats.median > 0 else math.inf

    def to_dict(self, include_times: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model,
            "runtime": self.runtime,
            "device": self.device,
            "dtype": self.dtype,
            "batch": self.batch,
            "inputs": self.inputs,
            "warmup": self.warmup,
            "runs": self.stats.n,
            "runs_requested": self.runs_requested,
            "budget_s": self.budget_s,
            "stopped_by": self.stopped_by,
            "latency_s": self.stats.to_dict(),
            "throughput_items_per_s": self.throughput,
            "per_layer": self.layers.to_dict() if self.layers is not None else None,
            "sweep": None,
            "environment": self.environment.to_dict(),
            "warnings": list(self.warnings),
            "workload": self.workload,
            "loss": self.loss,
            "optimizer": self.optimizer,
            **(self.efficiency.to_dict() if self.efficiency is not None else dict.fromkeys(EFFICIENCY_KEYS)),
        }
        if include_times:
            data["times_s"] = list(self.times_s)
        return data


@dataclass
class SweepPoint:
    """One (batch, size) point of a sweep."""

    batch: int
    size: int | None
    inputs: list[str]
    stats: Stats
    stopped_by: str
    warnings: list[str] = field(default_factory=list)  # howfast.bench.stats.steadiness of this point's runs

    @property
    def throughput(self) -> float:
        return self.batch / self.stats.median if self.stats.median > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "size": self.size,
            "inputs": self.inputs,
            "runs": self.stats.n,
            "stopped_by": self.stopped_by,
            "latency_s": self.stats.to_dict(),
            "throughput_items_per_s": self.throughput,
            "warnings": list(self.warnings),
        }


@dataclass
class SweepResult:
    """Rows in sweep order (sizes outer, batches inner) and the knee batch per size."""

    rows: list[SweepPoint]
    batches: list[int] | None
    sizes: list[int] | None
    knees: dict[int | None, int | None]  # size (None: no size sweep) -> knee batch
    warmup: int
    runs_requested: int | None
    budget_s: float | None
    runtime: str
    device: str
    dtype: str | None
    threads: int | None
    environment: Environment
    model: str | None = None

    def __repr__(self) -> str:
        return f"SweepResult({self.model}: {len(self.rows)} points, knees {self.knees})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "runtime": self.runtime,
            "device": self.device,
            "dtype": self.dtype,
            "warmup": self.warmup,
            "runs_requested": self.runs_requested,
            "budget_s": self.budget_s,
            "sweep": {
                "batches": self.batches,
                "sizes": self.sizes,
                "rows": [row.to_dict() for row in self.rows],
                "knee": [{"size": size, "batch": batch} for size, batch in self.knees.items()] if self.batches else None,
                "knee_threshold": KNEE_THRESHOLD,
                "knee_rule": KNEE_RULE,
            },
            "environment": self.environment.to_dict(),
        }


@dataclass(slots=True)
class Benchmark:
    """A report's measured section: a benchmark, a sweep and per-layer times, each optional.

    Its JSON (``benchmark``) merges the three results' documents; a key set by one result is kept
    unless a later one (result, then sweep, then per-layer times) has a value for it.
    """

    result: BenchmarkResult | None = None
    sweep: SweepResult | None = None
    per_layer: LayerTimes | None = None
    include_times: bool = False

    @property
    def layer_times(self) -> LayerTimes | None:
        """Measured per-layer times: the per-layer result, else those measured with the benchmark."""
        if self.per_layer is not None:
            return self.per_layer
        return self.result.layers if self.result is not None else None

    def to_dict(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        parts = []
        if self.result is not None:
            parts.append(self.result.to_dict(include_times=self.include_times))
        if self.sweep is not None:
            parts.append(self.sweep.to_dict())
        if self.per_layer is not None:
            parts.append({"per_layer": self.per_layer.to_dict()})
        for data in parts:
            merged.update({k: v for k, v in data.items() if v is not None or k not in merged})
        return merged
