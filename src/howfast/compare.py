"""Compare models: analyse each on the same input, side by side, and (``--bench``) time them interleaved.

``compare(models, inputs)`` -> ``Comparison`` (``report/comparison.py``: rows, ratios to the first,
the generated explanation); ``measured_all`` times the models in interleaved rounds for its
``benchmarks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from howfast import units
from howfast.api import analyze
from howfast.bench.interleave import benchmark_interleaved
from howfast.report.comparison import COLUMNS, Comparison, ModelTiming, explain

__all__ = ["COLUMNS", "Comparison", "ModelTiming", "compare", "explain", "measured_all"]


def compare(models: list[Any], inputs: Any, *, labels: list[str] | None = None, until: list[str | None] | None = None,
            **analyze_options: Any) -> Comparison:
    """Analyse every model of ``models`` (modules) on ``inputs`` and compare them (``measured`` adds times).

    ``until`` gives a truncation point per model (None = whole model); other keywords go to
    ``howfast.analyze`` (conventions, fused, dtype...).
    """
    labels = labels or [type(m).__name__ for m in models]
    cuts = until or [None] * len(models)
    reports = [analyze(m, inputs, until=cut, name=label, **analyze_options) for m, label, cut in zip(models, labels, cuts)]
    return Comparison(labels=labels, reports=reports, explanation=explain(labels, reports))


def measured_all(cases: Sequence[tuple[Any, Any, dict[str, Any] | None]], labels: list[str], **bench_options: Any,
                 ) -> tuple[list[ModelTiming], list[str]]:
    """Latency and FPS of every ``(model, inputs, kwargs)``, timed in interleaved rounds, for
    ``Comparison.benchmarks``; and sentences for ``Comparison.measurement_notes``: every pair whose
    order the rounds disagree on (a tie on this machine) and every steadiness warning.
    ``bench_options`` go to ``howfast.bench.interleave.benchmark_interleaved`` (runs, rounds, threads...).
    """
    timed = benchmark_interleaved(cases, names=labels, **bench_options)
    benches = [ModelTiming(median_s=r.median_s, fps=r.throughput, round_medians_s=rounds, result=r)
               for r, rounds in zip(timed.results, timed.round_medians_s)]
    notes = []
    for i, j, faster in timed.ties():
        a, b = timed.results[i], timed.results[j]
        notes.append(f"{labels[i]} and {labels[j]} measure {units.seconds(a.median_s)} and {units.seconds(b.median_s)}, "
                     f"but {labels[i]} was faster in {faster} of {len(timed.round_medians_s[i])} rounds: "
                     "equally fast within this machine's noise.")
    for label, result in zip(labels, timed.results):
        notes.extend(f"{label}: {warning}" for warning in result.warnings)
    return benches, notes
