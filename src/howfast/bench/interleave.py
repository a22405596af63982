"""Time several models in interleaved rounds, so a change in the machine's speed lands on all alike.

Timed one after the other, model A's runs fall in one minute and model B's in the next; on a
machine whose speed drifts (a shared VM, a laptop warming up) the difference between the minutes
becomes a difference between the models. Here every model is warmed up first, then ``rounds``
rounds each give every model one untimed run (its caches back after the other models ran) and
``ceil(runs / rounds)`` timed runs, the order rotating from round to round. A model's statistics
are over all its timed runs; the median of each round says which pairs of models the measurement
can order at all: a pair is *resolved* when every round finds the same one faster, a *tie*
otherwise (``docs/benchmarking.md``, "Comparing models").
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from howfast.bench.allocator import apply as apply_allocator
from howfast.bench.backends import TorchBackend
from howfast.bench.checks import DEFAULT_WARMUP, check_allocator, check_counts, num_threads
from howfast.bench.environment import collect
from howfast.bench.inputs import batch_of, dtype_text, prepare, shapes_of
from howfast.bench.state import models_kept
from howfast.bench.stats import percentile, steadiness, summarize
from howfast.bench.timing import Plan, guarded, time_calls
from howfast.errors import BenchmarkError
from howfast.report.measurements import BenchmarkResult

DEFAULT_ROUNDS = 5


@dataclass
class Interleaved:
    """One ``BenchmarkResult`` per model and each model's median per round (seconds)."""

    results: list[BenchmarkResult]
    round_medians_s: list[list[float]]

    def faster_rounds(self, i: int, j: int) -> int:
        """In how many rounds model ``i`` had a lower median than model ``j``."""
        return sum(a < b for a, b in zip(self.round_medians_s[i], self.round_medians_s[j]))

    def ties(self) -> list[tuple[int, int, int]]:
        """(i, j, rounds where i was faster) for every pair whose order the rounds do not agree on."""
        rounds = len(self.round_medians_s[0]) if self.round_medians_s else 0
        out = []
        for i in range(len(self.results)):
            for j in range(i + 1, len(self.results)):
                k = self.faster_rounds(i, j)
                if 0 < k < rounds:
                    out.append((i, j, k))
        return out


def benchmark_interleaved(
    cases: Sequence[tuple[nn.Module, Any, dict[str, Any] | None]],
    *,
    names: list[str] | None = None,
    runs: int = 30,
    rounds: int = DEFAULT_ROUNDS,
    warmup: int = DEFAULT_WARMUP,
    threads: int | None = None,
    device: str | torch.device | None = None,
    allocator: str = "retain",
) -> Interleaved:
    """Time every ``(model, inputs, kwargs)`` of ``cases`` in ``rounds`` interleaved rounds.

    ``runs`` timed runs per model in all (at least one per round); ``warmup`` untimed runs per
    model before the first round, plus one at the start of each model's turn in every round.
    ``inputs``, ``threads``, ``device`` and ``allocator`` as for ``howfast.benchmark``.
    """
    check_counts(runs=runs, warmup=warmup, threads=threads, rounds=rounds)
    check_allocator(allocator)
    prepared = [prepare(model, inputs, kwargs, device=device, dtype=None, batch=None) for model, inputs, kwargs in cases]
    allocator_text = apply_allocator(allocator)
    per_round = max(1, math.ceil(runs / rounds))
    times: list[list[float]] = [[] for _ in cases]
    medians: list[list[float]] = [[] for _ in cases]
    backends = [TorchBackend(model, args, kw, dev) for (model, _, _), (args, kw, dev) in zip(cases, prepared)]
    label = names or [type(model).__name__ for model, _, _ in cases]
    with num_threads(threads), models_kept([model for model, _, _ in cases]), torch.inference_mode():
        for index, backend in enumerate(backends):
            with _named(label[index]):
                for i in range(warmup):
                    guarded(backend, f"warm-up run {i + 1}")
        for r in range(rounds):
            for k in range(len(backends)):
                index = (r + k) % len(backends)
                backend = backends[index]
                with _named(label[index]):
                    got, _ = time_calls(backend, Plan(warmup=1, max_runs=per_round), backend.device)
                times[index].extend(got)
                medians[index].append(percentile(got, 50))
        used_threads = torch.get_num_threads()
    results = []
    for index, ((model, _, _), (args, kw, dev)) in enumerate(zip(cases, prepared)):
        n = batch_of(args, kw)
        dtype = dtype_text(model, args, kw)
        env = collect(device=dev, threads=used_threads, batch=n, dtype=dtype, runtime="torch", allocator=allocator_text)
        env.interleaved = {"models": len(cases), "rounds": rounds, "runs_per_round": per_round}
        results.append(BenchmarkResult(
            stats=summarize(times[index]), times_s=times[index], batch=n, warmup=warmup, runs_requested=runs,
            budget_s=None, stopped_by="runs", runtime="torch", device=str(dev), dtype=dtype, threads=used_threads,
            inputs=shapes_of(args, kw), environment=env,
            model=label[index], warnings=steadiness(times[index]),
        ))
    return Interleaved(results=results, round_medians_s=medians)


@contextmanager
def _named(name: str) -> Iterator[None]:
    """Prefix a benchmark error with the model it happened in."""
    try:
        yield
    except BenchmarkError as exc:
        raise BenchmarkError(f"{name}: {exc}") from exc
