"""The one timing loop: warm-up, then timed calls until a count or a time target, on one clock.

Every measurement of howfast runs here: ``howfast bench`` (a model's forward pass), sweeps and
interleaved comparisons, per-layer times (plain runs, with the hooked runs between them) and
calibration (GEMMs, copies, representative layers). One timed call:

* CPU: ``time.perf_counter_ns`` around the call (``clock="wall"``), or the calling thread's CPU time
  (``clock="cpu"``, ``time.thread_time_ns``: only meaningful with one thread; time the thread was
  descheduled for other processes is not counted, so it is steady on a busy machine);
* CUDA: a pair of CUDA events recorded around the call, then ``synchronize`` on the end event, so
  every call's kernels have finished before the next starts.

Python's garbage collector is collected before and disabled during the timed calls (as ``timeit``
does). ``before`` runs untimed before every timed call (calibration's cache eviction; the hooked
run between two plain per-layer runs). An exception from the call is a ``BenchmarkError`` saying
in which run it happened.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from howfast import units
from howfast.bench.checks import MAX_RUNS
from howfast.errors import BenchmarkError, HowfastError, describe

CLOCKS: dict[str, Callable[[], int]] = {"wall": time.perf_counter_ns, "cpu": time.thread_time_ns}


@dataclass(frozen=True, slots=True)
class Tick:
    """Where the timing loop is, reported after every run: ``done`` of ``total`` runs of ``phase``,
    and for a timing phase with a time budget ``spent_s`` of ``budget_s`` seconds.

    What is known in advance decides what a progress bar can show (``text``, ``fraction``):

    * warm-up: its run count, always (``done`` of ``total`` warm-up runs);
    * timing with a fixed count (``--runs N``, no budget): ``done`` of ``total`` runs; the last
      tick has ``done == total``;
    * timing with a budget (``--budget S``; with neither option 100 runs or 10 s): it stops at the
      budget or at ``total`` runs, whichever comes first, so the fraction is the larger of the two
      and the text shows both (the run count alone when only a budget caps it, ``MAX_RUNS``).

    ``done`` never exceeds ``total``; the last tick of a phase has ``final`` set (fraction 1).
    """

    phase: str  # "warm-up" or "timing"; a sweep or per-layer run prefixes it ("batch 4 timing")
    done: int
    total: int
    spent_s: float = 0.0
    budget_s: float | None = None
    final: bool = False

    @property
    def fraction(self) -> float:
        """How far the phase is, 0 to 1: the larger of the runs' and the budget's share (1 once final)."""
        if self.final:
            return 1.0
        runs = self.done / self.total if self.total else 1.0
        spent = self.spent_s / self.budget_s if self.budget_s else 0.0
        return min(max(runs, spent), 1.0)

    @property
    def text(self) -> str:
        """``"42/100 runs"``; with a budget ``"3.1/10 s, 42/100 runs"`` (``"3.1/10 s, 42 runs"`` with no run
        limit), the seconds spent to two significant figures."""
        runs = f"{self.done} runs" if self.budget_s is not None and self.total >= MAX_RUNS else f"{self.done}/{self.total} runs"
        if self.budget_s is None:
            return runs
        return f"{units.significant(min(self.spent_s, self.budget_s), 2)}/{self.budget_s:g} s, {runs}"


Progress = Callable[[Tick], None]  # called with a Tick after every warm-up and timed run, and once at the end


def prefixed(progress: Progress | None, prefix: str) -> Progress | None:
    """``progress`` with ``prefix`` put before every tick's phase ("batch 4" -> "batch 4 timing")."""
    if progress is None:
        return None
    report = progress

    def tell(tick: Tick) -> None:
        report(dataclasses.replace(tick, phase=f"{prefix} {tick.phase}"))

    return tell


@dataclass(frozen=True, slots=True)
class Plan:
    """How long to measure: ``warmup`` untimed calls, then timed calls until ``max_runs`` calls
    (stopped by "runs"), or until ``min_runs`` calls and ``target_s`` seconds of timed calls have
    passed (stopped by "budget"; None: no time target)."""

    warmup: int
    max_runs: int
    target_s: float | None = None
    min_runs: int = 1
    clock: str = "wall"


def time_calls(call: Callable[[], Any], plan: Plan, device: torch.device | str = "cpu", *,
               before: Callable[[], Any] | None = None, progress: Progress | None = None) -> tuple[list[float], str]:
    """Seconds per timed call of ``call`` under ``plan``, and what stopped it ("runs" or "budget").

    ``progress`` gets a ``Tick`` after every warm-up run, after every timed run but the last, and a
    final one when the timed runs stop."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    for i in range(plan.warmup):
        guarded(call, f"warm-up run {i + 1}")
        _sync(device)
        if progress:
            progress(Tick("warm-up", i + 1, plan.warmup, final=i + 1 == plan.warmup))
    times: list[float] = []
    stopped_by = "runs"
    spent = 0.0
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        timed = _cuda_timer(device) if cuda and plan.clock == "wall" else _host_timer(device, CLOCKS[plan.clock])
        began = time.perf_counter()
        while True:
            if before is not None:
                before()
                _sync(device)
            times.append(timed(call, f"timed run {len(times) + 1}"))
            spent = time.perf_counter() - began
            if len(times) >= plan.max_runs:
                break
            if plan.target_s is not None and len(times) >= plan.min_runs and spent >= plan.target_s:
                stopped_by = "budget"
                break
            if progress:
                progress(Tick("timing", len(times), plan.max_runs, spent, plan.target_s))
    finally:
        if gc_was_enabled:
            gc.enable()
    if progress:
        progress(Tick("timing", len(times), plan.max_runs, spent, plan.target_s, final=True))
    return times, stopped_by


def _host_timer(device: torch.device, tick: Callable[[], int]) -> Callable[[Callable[[], Any], str], float]:
    def timed(call: Callable[[], Any], where: str) -> float:
        t0 = tick()
        guarded(call, where)
        _sync(device)
        return (tick() - t0) / 1e9

    return timed


def _cuda_timer(device: torch.device) -> Callable[[Callable[[], Any], str], float]:
    _sync(device)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def timed(call: Callable[[], Any], where: str) -> float:
        start.record()
        guarded(call, where)
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end)) / 1e3

    return timed


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def guarded(call: Callable[[], Any], where: str) -> None:
    try:
        call()
    except HowfastError:
        raise
    except torch.cuda.OutOfMemoryError as exc:
        raise BenchmarkError(f"out of GPU memory during {where}: {describe(exc)}") from exc
    except Exception as exc:
        raise BenchmarkError(f"the model raised during {where}: {describe(exc)}") from exc
