"""The benchmark runner: warm-up, timed runs until a count or a time budget, statistics.

One timed run is one forward pass. On the CPU it is timed with ``time.perf_counter_ns`` around
the call; on CUDA with a pair of CUDA events recorded around it, then ``synchronize`` on the end
event, so every run's kernels have finished before the next starts. Python's garbage collector
is collected before and disabled during the timed runs (as ``timeit`` does). Statistics are in
``howfast.bench.stats``; throughput is ``batch / median`` items per second.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from howfast.bench.stats import Stats, steadiness, summarize
from howfast.errors import BenchmarkError, DeviceError, HowfastError, UsageError, describe

if TYPE_CHECKING:
    from howfast.bench.layers import LayerTimes

DEFAULT_WARMUP = 5
DEFAULT_RUNS = 100  # when neither runs nor a budget is given ...
DEFAULT_BUDGET_S = 10.0  # ... stop after 100 runs or 10 s of timed runs, whichever comes first
MAX_RUNS = 1_000_000  # the cap when only a budget is given
RUNTIMES = ("torch", "onnxruntime")

# progress(phase, fraction done 0..1, timed runs done); phase is "warm-up" or "timing"
Progress = Callable[[str, float, int], None]


@dataclass
class BenchmarkResult:
    """Timings of one model on one input: statistics (seconds), throughput and environment."""

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
    environment: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    layers: LayerTimes | None = None
    warnings: list[str] = field(default_factory=list)  # howfast.bench.stats.steadiness of the runs

    @property
    def median_s(self) -> float:
        return self.stats.median

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
            "environment": self.environment,
            "warnings": list(self.warnings),
        }
        if include_times:
            data["times_s"] = list(self.times_s)
        return data


# ----------------------------------------------------------------------------- checks


def check_counts(
    *,
    runs: int | None = None,
    warmup: int | None = None,
    budget_s: float | None = None,
    threads: int | None = None,
    batches: list[int] | tuple[int, ...] | None = None,
    sizes: list[int] | tuple[int, ...] | None = None,
    layer_runs: int | None = None,
    rounds: int | None = None,
) -> None:
    """Refuse counts that cannot make a measurement (BenchmarkError, exit 7)."""
    if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int) or runs < 1):
        raise BenchmarkError(f"runs must be a whole number of at least 1, got {runs!r}")
    if warmup is not None and (isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0):
        raise BenchmarkError(f"warm-up must be a whole number of runs, 0 or more, got {warmup!r}")
    if budget_s is not None and (not isinstance(budget_s, (int, float)) or not math.isfinite(budget_s) or budget_s <= 0):
        raise BenchmarkError(f"budget must be a positive number of seconds, got {budget_s!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise BenchmarkError(f"threads must be a whole number of at least 1, got {threads!r}")
    if layer_runs is not None and (isinstance(layer_runs, bool) or not isinstance(layer_runs, int) or layer_runs < 1):
        raise BenchmarkError(f"per-layer runs must be a whole number of at least 1, got {layer_runs!r}")
    if rounds is not None and (isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1):
        raise BenchmarkError(f"rounds must be a whole number of at least 1, got {rounds!r}")
    for what, values in (("batch", batches), ("size", sizes)):
        for value in values or ():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BenchmarkError(f"{what} must be a whole number of at least 1, got {value!r}")


def run_limits(runs: int | None, budget_s: float | None) -> tuple[int, float | None]:
    """(max runs, budget) after defaults: neither given -> 100 runs or 10 s, whichever first."""
    if runs is None and budget_s is None:
        return DEFAULT_RUNS, DEFAULT_BUDGET_S
    return (runs if runs is not None else MAX_RUNS), budget_s


# ----------------------------------------------------------------------------- inputs


def tensors_in(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    return [v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor)]


def batch_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The batch: the first dimension of the first tensor input (1 when there is none)."""
    for t in tensors_in(args, kwargs):
        if t.dim() > 0:
            return int(t.shape[0])
    return 1


def _tile(t: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """``t`` with dimension ``dim`` made ``size`` long by repeating (or cutting) its slices."""
    if t.shape[dim] == size:
        return t
    index = torch.arange(size, device=t.device) % t.shape[dim]
    return t.index_select(dim, index).contiguous()


def rebatch(args: tuple[Any, ...], kwargs: dict[str, Any], batch: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Every tensor input with its first dimension set to ``batch`` (its items repeated or cut)."""

    def one(v: Any) -> Any:
        if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] > 0:
            return _tile(v, 0, batch)
        return v

    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


def resize_dims(t: torch.Tensor) -> tuple[int, ...]:
    """The dimensions a size sweep replaces: the last two of a float input with 4+ dims (H, W),
    the last of a 3-dim float input (length), the last of an integer/bool input with 2+ dims
    (sequence length); none otherwise."""
    if t.dtype.is_floating_point or t.dtype.is_complex:
        if t.dim() >= 4:
            return (t.dim() - 2, t.dim() - 1)
        if t.dim() == 3:
            return (2,)
        return ()
    return (t.dim() - 1,) if t.dim() >= 2 else ()


def resize(args: tuple[Any, ...], kwargs: dict[str, Any], size: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Inputs with their spatial dims / sequence length set to ``size`` (values tiled or cut)."""
    changed = False

    def one(v: Any) -> Any:
        nonlocal changed
        if not isinstance(v, torch.Tensor):
            return v
        for dim in resize_dims(v):
            v = _tile(v, dim, size)
            changed = True
        return v

    out = tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}
    if not changed:
        raise UsageError("size sweep: no input has spatial dims (a float input with 3+ dims) or a sequence length "
                         "(an integer input with 2+ dims) to resize")
    return out


def shapes_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    def text(t: torch.Tensor) -> str:
        return "x".join(str(d) for d in t.shape) + ("" if t.dtype.is_floating_point else f":{str(t.dtype).removeprefix('torch.')}")

    named = [text(a) for a in args if isinstance(a, torch.Tensor)]
    named += [f"{k}={text(v)}" for k, v in kwargs.items() if isinstance(v, torch.Tensor)]
    return named


def model_device(model: nn.Module, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    for t in tensors_in(args, kwargs or {}):
        return t.device
    return torch.device("cpu")


def check_bench_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"unknown device {device!r}; use cpu or cuda") from None
    if dev.type == "meta":
        raise BenchmarkError("cannot time a model on the meta device (it holds no data): use --device cpu or cuda")
    if dev.type not in ("cpu", "cuda"):
        raise UsageError(f"benchmarks run on cpu or cuda, not {dev.type!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda asked for, but this machine has no CUDA device (torch.cuda.is_available() is False)")
    return dev


def to_device(args: tuple[Any, ...], kwargs: dict[str, Any], device: torch.device) -> tuple[tuple[Any, ...], dict[str, Any]]:
    def one(v: Any) -> Any:
        return v.to(device) if isinstance(v, torch.Tensor) and v.device != device else v

    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


@contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` inside the block; the previous count restored after."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)



# ----------------------------------------------------------------------------- timing


class TorchBackend:
    """One eager forward pass of ``model(*args, **kwargs)`` under ``torch.inference_mode``."""

    name = "torch"

    def __init__(self, model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], device: torch.device) -> None:
        self.model, self.args, self.kwargs, self.device = model, args, kwargs, device
        self.runtime_threads: int | None = None

    def __call__(self) -> None:
        self.model(*self.args, **self.kwargs)

    @contextmanager
    def context(self) -> Iterator[None]:
        with torch.inference_mode():
            yield

    def close(self) -> None:
        pass


def time_runs(
    call: Callable[[], Any],
    *,
    warmup: int,
    runs: int,
    budget_s: float | None,
    device: torch.device,
    progress: Progress | None = None,
) -> tuple[list[float], str]:
    """Run ``call`` ``warmup`` times untimed, then time it until ``runs`` runs or ``budget_s``
    seconds of timed runs have passed. Returns (seconds per run, "runs" or "budget")."""
    cuda = device.type == "cuda"
    for i in range(warmup):
        _guarded(call, f"warm-up run {i + 1}")
        if cuda:
            torch.cuda.synchronize(device)
        if progress:
            progress("warm-up", (i + 1) / warmup, 0)
    times: list[float] = []
    stopped_by = "runs"
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if cuda:
            torch.cuda.synchronize(device)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        began = time.perf_counter()
        while True:
            if cuda:
                start.record()
                _guarded(call, f"timed run {len(times) + 1}")
                end.record()
                end.synchronize()
                elapsed = start.elapsed_time(end) / 1e3
            else:
                t0 = time.perf_counter_ns()
                _guarded(call, f"timed run {len(times) + 1}")
                elapsed = (time.perf_counter_ns() - t0) / 1e9
            times.append(elapsed)
            if budget_s is not None and len(times) == 1 and elapsed > budget_s:
                raise BenchmarkError(f"budget {budget_s:g} s is shorter than one run ({elapsed:.3g} s): "
                                     "give a larger --budget or a run count")
            spent = time.perf_counter() - began
            if len(times) >= runs:
                break
            if budget_s is not None and spent >= budget_s:
                stopped_by = "budget"
                break
            if progress:
                progress("timing", max(len(times) / runs, spent / budget_s if budget_s else 0.0), len(times))
    finally:
        if gc_was_enabled:
            gc.enable()
    if progress:
        progress("timing", 1.0, len(times))
    return times, stopped_by


def _guarded(call: Callable[[], Any], where: str) -> None:
    try:
        call()
    except HowfastError:
        raise
    except torch.cuda.OutOfMemoryError as exc:
        raise BenchmarkError(f"out of GPU memory during {where}: {describe(exc)}") from exc
    except Exception as exc:
        raise BenchmarkError(f"the model raised during {where}: {describe(exc)}") from exc


# ----------------------------------------------------------------------------- front door


def prepare(
    model: nn.Module,
    inputs: Any,
    kwargs: dict[str, Any] | None,
    *,
    device: str | torch.device | None,
    dtype: torch.dtype | str | None,
    batch: int | None,
) -> tuple[tuple[Any, ...], dict[str, Any], torch.device]:
    """Resolve ``inputs`` (tensors or shapes, as ``howfast.analyze`` takes them) on the device."""
    from howfast.api import _resolve_inputs
    from howfast.graph.inputs import parse_dtype

    if isinstance(dtype, str):
        dtype = parse_dtype(dtype)
    dev = check_bench_device(device if device is not None else model_device(model))
    if model_device(model).type == "meta":
        raise BenchmarkError("the model is on the meta device (no weights): build it on cpu or cuda to time it")
    if device is not None:
        model.to(dev)
    if inputs is None and kwargs:
        inputs = ()  # keyword inputs only
    args, kw = _resolve_inputs(model, inputs, dtype)  # type: ignore[arg-type]
    kw.update(kwargs or {})
    args, kw = to_device(args, kw, dev)
    if batch is not None:
        args, kw = rebatch(args, kw, batch)
    return args, kw, dev


def benchmark(
    model: nn.Module,
    inputs: Any = None,
    *,
    kwargs: dict[str, Any] | None = None,
    runs: int | None = None,
    warmup: int = DEFAULT_WARMUP,
    budget_s: float | None = None,
    threads: int | None = None,
    device: str | torch.device | None = None,
    batch: int | None = None,
    dtype: torch.dtype | str | None = None,
    runtime: str = "torch",
    per_layer: bool = False,
    layer_runs: int = 20,
    progress: Progress | None = None,
    name: str | None = None,
    allocator: str = "retain",
) -> BenchmarkResult:
    """Time forward passes of ``model`` on ``inputs``: warm-up, then timed runs, then statistics.

    ``inputs`` are as for ``howfast.analyze`` (tensors, a dict of keyword tensors, or shapes such
    as ``"1x3x224x224"``; ``dtype`` applies to inputs made from shapes). Timed runs stop after
    ``runs`` runs or when ``budget_s`` seconds of timed runs have passed, whichever comes first
    (neither given: 100 runs or 10 s). ``batch`` sets the first dimension of every input;
    ``threads`` sets ``torch.set_num_threads`` for the measurement and restores it after.
    ``device`` moves the model (in place) and inputs there; by default the model's own device.
    ``runtime="onnxruntime"`` exports the model to a temporary ONNX file and times
    ``InferenceSession.run``. ``per_layer`` adds ``per_layer_times`` (``layer_runs`` runs).
    The model is timed in the mode it is in (call ``model.eval()`` first for inference).
    ``allocator="retain"`` (the default) makes glibc keep freed memory for the next run, process-wide
    and for good (``howfast.bench.allocator``: otherwise whether a run pays page faults depends on what
    the process allocated before); ``"system"`` leaves malloc as it is.
    """
    from howfast.bench.allocator import apply
    from howfast.bench.environment import collect

    check_counts(runs=runs, warmup=warmup, budget_s=budget_s, threads=threads,
                 batches=[batch] if batch is not None else None, layer_runs=layer_runs)
    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {runtime!r}; use one of: {', '.join(RUNTIMES)}")
    check_allocator(allocator)
    if per_layer and runtime != "torch":
        raise UsageError("per-layer times need the torch runtime (module hooks); drop --per-layer or use --runtime torch")
    max_runs, budget = run_limits(runs, budget_s)
    args, kw, dev = prepare(model, inputs, kwargs, device=device, dtype=dtype, batch=batch)
    allocator_text = apply(allocator)
    with num_threads(threads):
        backend = make_backend(runtime, model, args, kw, dev, threads)
        try:
            with backend.context():
                times, stopped_by = time_runs(backend, warmup=warmup, runs=max_runs, budget_s=budget, device=dev, progress=progress)
        finally:
            backend.close()
        layers = None
        if per_layer:
            from howfast.bench.layers import per_layer_times

            layers = per_layer_times(model, args, kw, runs=layer_runs, warmup=min(warmup, 3))
        used_threads = torch.get_num_threads()
    n = batch_of(args, kw)
    dtype_text = _dtype_text(model, args, kw)
    env = collect(device=dev, threads=used_threads, batch=n, dtype=dtype_text, runtime=runtime,
                  runtime_threads=backend.runtime_threads, allocator=allocator_text)
    return BenchmarkResult(
        stats=summarize(times), times_s=times, batch=n, warmup=warmup, runs_requested=runs, budget_s=budget,
        stopped_by=stopped_by, runtime=runtime, device=str(dev), dtype=dtype_text, threads=used_threads,
        inputs=shapes_of(args, kw), environment=env, model=name or type(model).__name__, layers=layers,
        warnings=steadiness(times),
    )


def check_allocator(allocator: str) -> None:
    from howfast.bench.allocator import ALLOCATORS

    if allocator not in ALLOCATORS:
        raise UsageError(f"unknown allocator policy {allocator!r}; use one of: {', '.join(ALLOCATORS)}")


def make_backend(runtime: str, model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], device: torch.device,
                 threads: int | None) -> Any:
    if runtime == "onnxruntime":
        from howfast.bench.onnxrt import OrtBackend

        return OrtBackend(model, args, kwargs, device, threads)
    return TorchBackend(model, args, kwargs, device)


def _dtype_text(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    for p in model.parameters():
        if p.dtype.is_floating_point:
            return str(p.dtype).removeprefix("torch.")
    for t in tensors_in(args, kwargs):
        if t.dtype.is_floating_point:
            return str(t.dtype).removeprefix("torch.")
    return "float32"
