"""Measured time: the benchmark runner, per-layer times, batch/size sweeps, ONNX Runtime backend.

``benchmark(model, inputs)`` -> ``BenchmarkResult``; ``per_layer_times(model, args, kwargs)`` ->
``LayerTimes``; ``sweep(model, inputs, batches=..., sizes=...)`` -> ``SweepResult``;
``attach(report, result)`` puts a result into ``Report.benchmark``. Every measurement runs the one
timing loop (``bench/timing.py``). Method and definitions: ``docs/benchmarking.md``.
"""

from __future__ import annotations

from howfast.bench.layers import per_layer_times
from howfast.bench.runner import benchmark
from howfast.bench.stats import knee, percentile, summarize
from howfast.bench.sweep import sweep
from howfast.hardware.roofline import join_measured
from howfast.report.measurements import Benchmark, BenchmarkResult, LayerTimes, Stats, SweepResult
from howfast.report.report import Report

__all__ = ["BenchmarkResult", "LayerTimes", "Stats", "SweepResult", "attach", "benchmark", "knee", "per_layer_times",
           "percentile", "summarize", "sweep"]


def attach(report: Report, result: BenchmarkResult | SweepResult | LayerTimes, include_times: bool = False) -> Report:
    """Put ``result`` into ``report.benchmark`` (JSON key ``benchmark``) and return ``report``.

    A ``BenchmarkResult`` gives the statistics (and per-layer times when measured), a
    ``SweepResult`` the sweep rows, a ``LayerTimes`` the per-layer times alone; attaching several
    keeps each. Raw per-run times are in the JSON only with ``include_times`` (given at any attach). Per-layer times are
    joined to the report's roofline when it has one (``howfast.hardware.roofline.join_measured``).
    """
    section = report.benchmark or Benchmark()
    if isinstance(result, BenchmarkResult):
        section.result = result
    elif isinstance(result, LayerTimes):
        section.per_layer = result
    elif isinstance(result, SweepResult):
        section.sweep = result
    else:
        raise TypeError(f"attach takes a BenchmarkResult, SweepResult or LayerTimes, not {type(result).__name__}")
    section.include_times = section.include_times or include_times
    report.benchmark = section
    times = section.layer_times
    if report.roofline is not None and times is not None:  # beside the prediction
        join_measured(report, times)
    return report
