"""Checks of what a measurement is asked for, and the settings it runs under (threads, device).

Counts that cannot make a measurement are a ``BenchmarkError`` (exit 7): among them more threads
than the machine has cores (``max_threads``; OpenMP aborts the process when it cannot start
thousands); a device that cannot time
is a ``UsageError`` or ``DeviceError``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from howfast.bench.allocator import ALLOCATORS
from howfast.errors import BenchmarkError, DeviceError, UsageError

DEFAULT_WARMUP = 5
DEFAULT_RUNS = 100  # when neither runs nor a budget is given ...
DEFAULT_BUDGET_S = 10.0  # ... stop after 100 runs or 10 s of timed runs, whichever comes first
MAX_RUNS = 1_000_000  # the cap when only a budget is given


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
    if threads is not None and threads > max_threads():
        raise BenchmarkError(f"threads must be at most {max_threads()}, this machine's {max_threads()} cores, got {threads} "
                             "(more threads than cores only wait for each other; OpenMP aborts when it cannot start them)")
    if layer_runs is not None and (isinstance(layer_runs, bool) or not isinstance(layer_runs, int) or layer_runs < 1):
        raise BenchmarkError(f"per-layer runs must be a whole number of at least 1, got {layer_runs!r}")
    if rounds is not None and (isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1):
        raise BenchmarkError(f"rounds must be a whole number of at least 1, got {rounds!r}")
    for what, values in (("batch", batches), ("size", sizes)):
        for value in values or ():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BenchmarkError(f"{what} must be a whole number of at least 1, got {value!r}")


def max_threads() -> int:
    """The most threads a measurement may ask for: the machine's logical cores (``os.cpu_count``)."""
    return os.cpu_count() or 1


def run_limits(runs: int | None, budget_s: float | None) -> tuple[int, float | None]:
    """(max runs, budget) after defaults: neither given -> 100 runs or 10 s, whichever first."""
    if runs is None and budget_s is None:
        return DEFAULT_RUNS, DEFAULT_BUDGET_S
    return (runs if runs is not None else MAX_RUNS), budget_s


def check_allocator(allocator: str) -> None:
    if allocator not in ALLOCATORS:
        raise UsageError(f"unknown allocator policy {allocator!r}; use one of: {', '.join(ALLOCATORS)}")


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
