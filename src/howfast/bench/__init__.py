"""Measured time: the benchmark runner, per-layer times, batch/size sweeps, ONNX Runtime backend.

``benchmark(model, inputs)`` -> ``BenchmarkResult``; ``per_layer_times(model, args, kwargs)`` ->
``LayerTimes``; ``sweep(model, inputs, batches=..., sizes=...)`` -> ``SweepResult``;
``attach(report, result)`` puts a result into ``Report.benchmark``. Method and definitions:
``docs/benchmarking.md``.
"""

from __future__ import annotations

from typing import Any

from howfast.bench.layers import LayerTimes, per_layer_times
from howfast.bench.runner import BenchmarkResult, benchmark
from howfast.bench.stats import Stats, knee, percentile, summarize
from howfast.bench.sweep import SweepResult, sweep

__all__ = ["BenchmarkResult", "LayerTimes", "Stats", "SweepResult", "attach", "benchmark", "knee", "per_layer_times",
           "percentile", "summarize", "sweep"]


def attach(report: Any, result: BenchmarkResult | SweepResult | LayerTimes, include_times: bool = False) -> Any:
    """Fill ``report.benchmark`` (JSON key ``benchmark``) from ``result`` and return ``report``.

    A ``BenchmarkResult`` gives the statistics (and per-layer times when measured), a
    ``SweepResult`` the sweep rows, a ``LayerTimes`` the ``per_layer`` entry alone. Attaching
    several merges them: keys already there are kept unless the new result has a value for them.
    Raw per-run times are left out unless ``include_times``.
    """
    if isinstance(result, BenchmarkResult):
        data = result.to_dict(include_times=include_times)
    elif isinstance(result, LayerTimes):
        data = {"per_layer": result.to_dict()}
    elif isinstance(result, SweepResult):
        data = result.to_dict()
    else:
        raise TypeError(f"attach takes a BenchmarkResult, SweepResult or LayerTimes, not {type(result).__name__}")
    merged = dict(report.benchmark or {})
    merged.update({k: v for k, v in data.items() if v is not None or k not in merged})
    report.benchmark = merged
    return report
