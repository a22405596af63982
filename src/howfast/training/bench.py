"""``benchmark_training``: the measured time of one training step on this machine, and its MFU.

One timed run is a whole step, as a training loop runs it: the gradients set to None, the forward
pass, the loss (``training.step``), ``backward()`` and, with an optimizer, its ``step()``. The runs
go through the one timing loop of ``howfast.bench`` (warm-up, then timed runs until a count or a
budget); the statistics, throughput (``batch / median`` samples per second) and environment are
those of ``howfast bench``. The step is counted once by ``analyze_training`` (the same loss and
optimizer), and its FLOPs over the median step time are the achieved FLOP/s; over the profile's
dense peak for the dtype, the MFU (``bench/efficiency.py``, ``docs/training.md``).

The user's model is never touched: the step runs on a deep copy (``copy.deepcopy``: parameter
values, ``.grad``, buffers, flags and modes of the model stay as they were, and an optimizer of
the user's keeps its state), made on the model's device and moved with ``device``; the copy and the
optimizer made for it are dropped after.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from howfast.bench.allocator import apply as apply_allocator
from howfast.bench.checks import DEFAULT_WARMUP, check_allocator, check_counts, num_threads
from howfast.bench.efficiency import efficiency_of, peak_for
from howfast.bench.inputs import prepare
from howfast.bench.runner import assemble, plan_for, time_runs
from howfast.bench.timing import Progress
from howfast.capture.tree import unique_tensors
from howfast.errors import BenchmarkError, InputSpecError, UsageError, describe
from howfast.hardware.profiles import HardwareProfile
from howfast.report.measurements import BenchmarkResult
from howfast.training.api import analyze_training
from howfast.training.step import check_names, loss_function, make_optimizer

WORKLOAD = "training step"


def benchmark_training(
    model: nn.Module,
    inputs: Any = None,
    *,
    kwargs: dict[str, Any] | None = None,
    loss: str = "sum",
    optimizer: str | None = None,
    runs: int | None = None,
    warmup: int = DEFAULT_WARMUP,
    budget_s: float | None = None,
    threads: int | None = None,
    device: str | torch.device | None = None,
    batch: int | None = None,
    dtype: torch.dtype | str | None = None,
    progress: Progress | None = None,
    name: str | None = None,
    allocator: str = "retain",
    profile: HardwareProfile | str | None = None,
    clock: str = "wall",
) -> BenchmarkResult:
    """Time training steps of ``model`` on ``inputs`` (``loss``, ``optimizer`` as for ``analyze_training``).

    Counts, budget, threads, device, batch, dtype, progress and allocator as for ``howfast.benchmark``.
    ``result.workload`` is ``"training step"``; ``result.efficiency`` the step's counted FLOPs, the
    achieved FLOP/s and the MFU against ``profile``'s peak (None: the calibrated local profile of this
    device if one is saved). ``clock``: ``wall``, or ``cpu`` (the thread's CPU time, one thread only;
    ``timing.time_calls``). The model is left as it was (the steps run on a deep copy).
    """
    if not isinstance(model, nn.Module):
        raise UsageError(f"benchmark_training takes a torch.nn.Module, not a {type(model).__name__}")
    check_names(loss, optimizer)
    check_counts(runs=runs, warmup=warmup, budget_s=budget_s, threads=threads,
                 batches=[batch] if batch is not None else None)
    check_allocator(allocator)
    if not any(p.requires_grad for _, p in unique_tensors(model, "parameters")):
        raise InputSpecError("no parameter of the model requires grad: there is nothing to train "
                             "(set requires_grad=True on the parameters to train)")
    plan = plan_for(runs, budget_s, warmup, clock)
    work = _copy(model)
    args, kw, dev = prepare(work, inputs, kwargs, device=device, dtype=dtype, batch=batch)
    label = name or type(model).__name__
    allocator_text = apply_allocator(allocator)
    with num_threads(threads):
        counted = analyze_training(work, args, kwargs=kw, loss=loss, optimizer=optimizer, name=label)
        step = training_step(work, args, kw, loss, optimizer)
        times, stopped_by = time_runs(step, plan, dev, progress)
        used_threads = torch.get_num_threads()
    result = assemble(work, args, kw, dev, times, stopped_by, plan, runs=runs, runtime="torch", threads=used_threads,
                      allocator=allocator_text, name=label, workload=WORKLOAD)
    result.loss, result.optimizer = loss, optimizer
    found, source = peak_for(profile, dev, used_threads)
    result.efficiency = efficiency_of(counted, result.stats.median, found, source)
    return result


def training_step(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], loss: str,
                  optimizer: str | None) -> Callable[[], None]:
    """One training step of ``model`` (put in training mode) as a call: gradients set to None, forward,
    ``loss``, ``backward()`` and the ``optimizer``'s step (made here, over the parameters that
    require grad; its state is allocated by the first step)."""
    model.train()
    params = [p for _, p in unique_tensors(model, "parameters") if p.requires_grad]
    loss_fn = loss_function(loss)
    opt = make_optimizer(optimizer)(params) if optimizer is not None else None

    def step() -> None:
        for p in params:
            p.grad = None
        loss_fn(model(*args, **kwargs)).backward()
        if opt is not None:
            opt.step()

    return step


def _copy(model: nn.Module) -> nn.Module:
    try:
        return copy.deepcopy(model)
    except Exception as exc:
        raise BenchmarkError(f"cannot copy the model to time its training step without changing it "
                             f"(copy.deepcopy failed: {describe(exc)})") from exc
