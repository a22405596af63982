"""Batch and input-size sweeps: one timed benchmark per point, and the batch where throughput
stops improving.

A batch sweep sets the first dimension of every input; a size sweep replaces the last two dims
of float inputs with 4+ dims (H and W), the last dim of 3-dim float inputs, or the last dim
(sequence length) of integer inputs (``runner.resize_dims``). Values are tiled from the base
input, so a point's inputs are the base input repeated or cut. With both lists, every size is
swept over every batch.

Knee rule (``stats.knee``): for each size, the knee is the first batch after which throughput
grows by less than 5%: batch ``b[i]`` with ``throughput[i + 1] < 1.05 * throughput[i]``. None
means throughput still grew by 5% or more at every step of the sweep.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from howfast.bench.allocator import apply as apply_allocator
from howfast.bench.backends import RUNTIMES, make_backend
from howfast.bench.checks import DEFAULT_WARMUP, check_allocator, check_counts, num_threads
from howfast.bench.environment import collect
from howfast.bench.inputs import batch_of, dtype_text, prepare, rebatch, resize, shapes_of
from howfast.bench.runner import plan_for, time_runs
from howfast.bench.state import model_kept
from howfast.bench.stats import knee, steadiness, summarize
from howfast.bench.timing import Progress, prefixed
from howfast.errors import BenchmarkError, UsageError
from howfast.report.measurements import KNEE_RULE, SweepPoint, SweepResult

__all__ = ["KNEE_RULE", "SweepPoint", "SweepResult", "parse_list", "sweep"]


def parse_list(text: str | int | None, what: str) -> list[int] | None:
    """``"1,2,4"`` -> [1, 2, 4]; a bad item is a BenchmarkError naming it."""
    if text is None:
        return None
    if isinstance(text, int):
        values = [text]
    else:
        values = []
        for part in str(text).replace(" ", "").split(","):
            if not part:
                continue
            try:
                values.append(int(part))
            except ValueError:
                raise BenchmarkError(f"{what} must be whole numbers separated by commas (e.g. 1,2,4), got {text!r}") from None
        if not values:
            raise BenchmarkError(f"{what} is empty: give whole numbers such as 1,2,4")
    check_counts(batches=values if what == "batch" else None, sizes=values if what != "batch" else None)
    return values


def sweep(
    model: nn.Module,
    inputs: Any = None,
    *,
    kwargs: dict[str, Any] | None = None,
    batches: list[int] | None = None,
    sizes: list[int] | None = None,
    runs: int | None = None,
    warmup: int = DEFAULT_WARMUP,
    budget_s: float | None = None,
    threads: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | str | None = None,
    runtime: str = "torch",
    batch: int | None = None,
    progress: Progress | None = None,
    name: str | None = None,
    allocator: str = "retain",
) -> SweepResult:
    """Benchmark every (size, batch) point; ``runs``/``budget_s``/``warmup`` apply per point.

    ``progress`` gets each point's ticks (``timing.Tick``), the phase prefixed with the point and its
    place in the sweep (``"batch 4 (3/5) timing"``).

    ``batch`` sets the batch of a size-only sweep. Arguments otherwise as for ``benchmark``.
    """
    if not batches and not sizes:
        raise UsageError("a sweep needs batches (e.g. 1,2,4,8) or sizes (e.g. 160,192,224)")
    check_counts(runs=runs, warmup=warmup, budget_s=budget_s, threads=threads,
                 batches=[*(batches or []), *([batch] if batch is not None else [])], sizes=sizes)
    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {runtime!r}; use one of: {', '.join(RUNTIMES)}")
    check_allocator(allocator)
    plan = plan_for(runs, budget_s, warmup)
    base_args, base_kw, dev = prepare(model, inputs, kwargs, device=device, dtype=dtype, batch=None if batches else batch)
    size_list: list[int | None] = list(sizes) if sizes else [None]
    allocator_text = apply_allocator(allocator)
    batch_list: list[int | None] = list(batches) if batches else [None]
    points = [(s, b) for s in size_list for b in batch_list]
    rows: list[SweepPoint] = []
    backend = None
    with num_threads(threads), model_kept(model):
        for index, (size, point_batch) in enumerate(points):
            args, kw = base_args, base_kw
            if size is not None:
                args, kw = resize(args, kw, size)
            if point_batch is not None:
                args, kw = rebatch(args, kw, point_batch)
            where = _where(point_batch, size)
            try:
                backend = make_backend(runtime, model, args, kw, dev, threads)
                try:
                    with backend.context():
                        times, stopped_by = time_runs(backend, plan, dev, prefixed(progress, f"{where} ({index + 1}/{len(points)})"))
                finally:
                    backend.close()
            except BenchmarkError as exc:
                raise BenchmarkError(f"at {where}: {exc}") from exc
            rows.append(SweepPoint(batch=batch_of(args, kw), size=size, inputs=shapes_of(args, kw),
                                   stats=summarize(times), stopped_by=stopped_by, warnings=steadiness(times)))
        used_threads = torch.get_num_threads()
    knees: dict[int | None, int | None] = {}
    if batches:
        for size in size_list:
            mine = [r for r in rows if r.size == size]
            knees[size] = knee([r.batch for r in mine], [r.throughput for r in mine])  # type: ignore[assignment]
    dtype = dtype_text(model, base_args, base_kw)
    env = collect(device=dev, threads=used_threads, batch=sorted({r.batch for r in rows}), dtype=dtype, runtime=runtime,
                  runtime_threads=backend.runtime_threads if backend is not None else None, allocator=allocator_text)
    return SweepResult(rows=rows, batches=list(batches) if batches else None, sizes=list(sizes) if sizes else None,
                       knees=knees, warmup=warmup, runs_requested=runs, budget_s=plan.target_s, runtime=runtime, device=str(dev),
                       dtype=dtype, threads=used_threads, environment=env, model=name or type(model).__name__)


def _where(batch: int | None, size: int | None) -> str:
    parts = []
    if batch is not None:
        parts.append(f"batch {batch}")
    if size is not None:
        parts.append(f"size {size}")
    return ", ".join(parts)
