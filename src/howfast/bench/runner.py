"""The benchmark runner: a model timed on its inputs, with statistics, throughput and environment.

``benchmark(model, inputs)`` resolves the inputs (as ``howfast.analyze`` takes them), picks a
backend (``bench/backends.py``), times it with the one timing loop (``bench/timing.py``) and
summarises the runs (``bench/stats.py``); throughput is ``batch / median`` items per second, and
the achieved FLOP/s and share of a peak come from howfast's count of one run (``bench/efficiency.py``).
``assemble`` builds the result of any timed workload (``howfast.training`` times a training step).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from howfast.bench.allocator import apply as apply_allocator
from howfast.bench.backends import RUNTIMES, OnnxFileBackend, make_backend
from howfast.bench.checks import DEFAULT_WARMUP, check_allocator, check_counts, num_threads, run_limits
from howfast.bench.efficiency import efficiency_of, forward_report, peak_for
from howfast.bench.environment import collect
from howfast.bench.inputs import batch_of, dtype_text, prepare, shapes_of
from howfast.bench.layers import per_layer_times
from howfast.bench.state import model_kept
from howfast.bench.stats import steadiness, summarize
from howfast.bench.timing import CLOCKS, Plan, Progress, time_calls
from howfast.errors import BenchmarkError, UsageError
from howfast.hardware.profiles import HardwareProfile
from howfast.report.measurements import BenchmarkResult, Efficiency, LayerTimes


def plan_for(runs: int | None, budget_s: float | None, warmup: int, clock: str = "wall") -> Plan:
    """The timing plan of a benchmark: ``runs`` timed runs or ``budget_s`` seconds, whichever comes
    first (neither given: 100 runs or 10 s), on ``clock`` (``timing.CLOCKS``)."""
    max_runs, budget = run_limits(runs, budget_s)
    if clock not in CLOCKS:
        raise UsageError(f"unknown clock {clock!r}; use one of: {', '.join(CLOCKS)}")
    return Plan(warmup=warmup, max_runs=max_runs, target_s=budget, clock=clock)


def time_runs(call: Any, plan: Plan, device: torch.device, progress: Progress | None = None) -> tuple[list[float], str]:
    """``call`` timed under ``plan``; a budget shorter than one run is refused."""
    times, stopped_by = time_calls(call, plan, device, progress=progress)
    if plan.target_s is not None and times and times[0] > plan.target_s:
        raise BenchmarkError(f"budget {plan.target_s:g} s is shorter than one run ({times[0]:.3g} s): "
                             "give a larger --budget or a run count")
    return times, stopped_by


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
    efficiency: bool = True,
    profile: HardwareProfile | str | None = None,
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
    The model is timed in the mode it is in (call ``model.eval()`` first for inference); buffers a
    training-mode forward updates (batch-norm running statistics) are restored after, also on error.
    ``allocator="retain"`` (the default) makes glibc keep freed memory for the next run, process-wide
    and for good (``howfast.bench.allocator``: otherwise whether a run pays page faults depends on what
    the process allocated before); ``"system"`` leaves malloc as it is. ``progress`` gets a
    ``timing.Tick`` after every run (warm-up, timing, then the per-layer runs). With ``efficiency``
    (the default) one forward pass is counted (``howfast.analyze``) for ``result.efficiency``: the
    achieved FLOP/s and their share of ``profile``'s peak (a profile or its name; None: the calibrated
    local profile of this device, if one is saved; ``bench/efficiency.py``).
    """
    check_counts(runs=runs, warmup=warmup, budget_s=budget_s, threads=threads,
                 batches=[batch] if batch is not None else None, layer_runs=layer_runs)
    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {runtime!r}; use one of: {', '.join(RUNTIMES)}")
    check_allocator(allocator)
    if per_layer and runtime != "torch":
        raise UsageError("per-layer times need the torch runtime (module hooks); drop --per-layer or use --runtime torch")
    plan = plan_for(runs, budget_s, warmup)
    args, kw, dev = prepare(model, inputs, kwargs, device=device, dtype=dtype, batch=batch)
    allocator_text = apply_allocator(allocator)
    with num_threads(threads), model_kept(model):
        backend = make_backend(runtime, model, args, kw, dev, threads)
        try:
            with backend.context():
                times, stopped_by = time_runs(backend, plan, dev, progress)
        finally:
            backend.close()
        layers = per_layer_times(model, args, kw, runs=layer_runs, warmup=min(warmup, 3), progress=progress) if per_layer else None
        used_threads = torch.get_num_threads()
        counted = forward_report(model, args, kw) if efficiency else None
    result = assemble(model, args, kw, dev, times, stopped_by, plan, runs=runs, runtime=runtime, threads=used_threads,
                      runtime_threads=backend.runtime_threads, allocator=allocator_text, name=name, layers=layers)
    if counted is not None:
        found, source = peak_for(profile, dev, used_threads)
        result.efficiency = efficiency_of(counted, result.stats.median, found, source)
    return result


def assemble(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], device: torch.device, times: list[float],
             stopped_by: str, plan: Plan, *, runs: int | None, runtime: str, threads: int, runtime_threads: int | None = None,
             allocator: str | None = None, name: str | None = None, layers: LayerTimes | None = None,
             workload: str = "forward", efficiency: Efficiency | None = None) -> BenchmarkResult:
    """The ``BenchmarkResult`` of ``times`` (seconds per timed run of ``workload`` on ``model`` and its
    inputs): statistics, batch, dtype, input shapes, environment and the steadiness warnings."""
    n = batch_of(args, kwargs)
    dtype = dtype_text(model, args, kwargs)
    env = collect(device=device, threads=threads, batch=n, dtype=dtype, runtime=runtime, runtime_threads=runtime_threads,
                  allocator=allocator)
    return BenchmarkResult(
        stats=summarize(times), times_s=times, batch=n, warmup=plan.warmup, runs_requested=runs, budget_s=plan.target_s,
        stopped_by=stopped_by, runtime=runtime, device=str(device), dtype=dtype, threads=threads,
        inputs=shapes_of(args, kwargs), environment=env, model=name or type(model).__name__, layers=layers,
        warnings=steadiness(times), workload=workload, efficiency=efficiency,
    )


def benchmark_onnx_file(path: str, input_specs: Any, *, runs: int | None = None, warmup: int = DEFAULT_WARMUP,
                        budget_s: float | None = None, threads: int | None = None, device: str = "cpu",
                        progress: Progress | None = None) -> BenchmarkResult:
    """Time ``InferenceSession.run`` on an ``.onnx`` file, with the runner and statistics of PyTorch models.

    Symbolic dimensions are sized by ``input_specs`` (as for ``howfast analyze model.onnx``).
    """
    check_counts(runs=runs, warmup=warmup, budget_s=budget_s, threads=threads)
    backend = OnnxFileBackend(path, input_specs, device=device, threads=threads)
    plan = plan_for(runs, budget_s, warmup)
    times, stopped_by = time_runs(backend, plan, torch.device("cpu"), progress)
    batch = backend.batch()
    env = collect(device=torch.device("cpu"), threads=torch.get_num_threads(), batch=batch, dtype=None,
                  runtime="onnxruntime", runtime_threads=threads, allocator="onnxruntime's own arena")
    return BenchmarkResult(
        stats=summarize(times), times_s=times, batch=batch, warmup=warmup, runs_requested=runs, budget_s=plan.target_s,
        stopped_by=stopped_by, runtime="onnxruntime", device=device, dtype=None, threads=threads, inputs=backend.shapes(),
        environment=env, model=str(path), warnings=steadiness(times),
    )
