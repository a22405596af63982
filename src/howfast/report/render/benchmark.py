"""Benchmark results as text: rich tables (``table``) and the versioned JSON document (``json``)."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from howfast import units
from howfast.report.measurements import KNEE_RULE, OTHER, BenchmarkResult, Efficiency, Environment, LayerTimes, SweepResult
from howfast.report.report import SCHEMA_VERSION

FORMATS = ("table", "json")


ms = units.milliseconds
rate = units.items_rate


def to_json(result: BenchmarkResult | SweepResult, include_times: bool = True) -> str:
    """``{"schema_version": ..., "benchmark": {...}}``, the ``benchmark`` key as in ``Report``."""
    data = result.to_dict(include_times=include_times) if isinstance(result, BenchmarkResult) else result.to_dict()
    return json.dumps({"schema_version": SCHEMA_VERSION, "benchmark": data}, indent=2)


def render(result: BenchmarkResult | SweepResult, fmt: str = "table", width: int | None = None) -> str:
    if fmt == "json":
        return to_json(result)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 120, force_terminal=False, no_color=True, highlight=False)
    if isinstance(result, SweepResult):
        _sweep_table(console, result)
    else:
        _single_table(console, result)
        for warning in result.warnings:
            _line(console, f"warning: {warning}")
        if result.layers is not None:
            _layer_table(console, result.layers)
    _environment(console, result.environment)
    return buffer.getvalue()


def _header(result: BenchmarkResult | SweepResult) -> str:
    threads = result.environment.runtime_threads if result.runtime == "onnxruntime" else result.threads
    threads_text = "default" if threads is None else str(threads)
    step = ""
    if isinstance(result, BenchmarkResult) and result.workload != "forward":
        step = f" {result.workload} (loss {result.loss}, optimizer {result.optimizer or 'none'})"
    return (f"howfast bench: {result.model}{step}  ({result.runtime}, {result.device}, {result.dtype}, "
            f"{threads_text} thread{'s' if threads != 1 else ''})")


def efficiency_lines(result: BenchmarkResult) -> list[str]:
    """The achieved FLOP/s of the median run and their share of the peak (MFU for a training step)."""
    e = result.efficiency
    if e is None:
        return []
    what = "step" if result.workload != "forward" else "run"
    share = "MFU" if result.workload != "forward" else "of peak"
    line = (f"achieved {units.flop_rate(e.achieved_flops_per_s)} = {units.count(e.flops)} FLOPs per {what} / "
            f"median {ms(e.seconds)} ms")
    if e.uncounted_ops:
        line += f" ({e.uncounted_ops} uncounted ops: a lower bound)"
    if e.mfu is None:
        return [line, "no peak to compare with: give --device PROFILE (or --hardware), or save a calibration of this "
                      "machine (howfast calibrate --save NAME)"]
    return [line, f"{share} {_percent(e)} = achieved / {_peak(e)}"]


def _percent(e: Efficiency) -> str:
    mfu = e.mfu or 0.0
    return f"{100 * mfu:.2f}%" if mfu < 0.1 else f"{100 * mfu:.1f}%"


def _peak(e: Efficiency) -> str:
    where = " (calibrated local profile)" if e.source == "calibrated local profile" else ""
    return f"{e.profile}'s {e.dtype} peak {units.flop_rate(e.peak_flops_per_s or 0.0)}{where}"


def _single_table(console: Console, result: BenchmarkResult) -> None:
    _line(console, _header(result))
    _line(console, f"inputs {' '.join(result.inputs)}  batch {result.batch}  warm-up {result.warmup}  "
                   f"{result.stats.n} timed runs (stopped by {result.stopped_by})")
    table = Table(show_lines=False, header_style="bold")
    for title in ("min ms", "median ms", "mean ms", "std ms", "p90 ms", "p99 ms", "throughput items/s"):
        table.add_column(title, justify="right")
    s = result.stats
    table.add_row(ms(s.min), ms(s.median), ms(s.mean), ms(s.std), ms(s.p90), ms(s.p99), rate(result.throughput))
    console.print(table)
    for line in efficiency_lines(result):
        _line(console, line)


def _layer_table(console: Console, layers: LayerTimes) -> None:
    table = Table(title="measured time per layer (leaf modules' medians; (other) = outside leaves)", header_style="bold")
    for title, justify in (("module", "left"), ("type", "left"), ("calls", "right"), ("median ms", "right"), ("share", "right")):
        table.add_column(title, justify=justify, overflow="fold")  # type: ignore[arg-type]
    total = layers.total_s or 1.0
    for name, seconds in layers.self_by_module.items():
        label = OTHER if name == OTHER else (name or "(model)")
        table.add_row(escape(label), escape(layers.types.get(name, "")), str(layers.calls.get(name, "")) if name != OTHER else "",
                      ms(seconds), f"{100 * seconds / total:.1f}%")
    table.add_row("total (hooked)", "", "", ms(layers.total_s), "100.0%", style="bold")
    console.print(table)
    _line(console, f"per-layer: {layers.runs} hooked runs; leaves sum to {ms(layers.leaf_sum_s)} ms, with (other) to "
                   f"{ms(sum(layers.self_by_module.values()))} ms; plain whole-model median {ms(layers.plain_total_s)} ms")
    _line(console, f"hook overhead {100 * (layers.overhead_ratio - 1):+.1f}% (hooked median / plain median = {layers.overhead_ratio:.3f})")


def _sweep_table(console: Console, result: SweepResult) -> None:
    _line(console, _header(result))
    table = Table(show_lines=False, header_style="bold")
    columns = ["batch"] + (["size"] if result.sizes else []) + ["inputs", "runs", "median ms", "p90 ms", "min ms",
                                                                "throughput items/s", "vs previous"]
    for title in columns:
        table.add_column(title, justify="left" if title == "inputs" else "right")
    previous: dict[Any, float] = {}
    for row in result.rows:
        before = previous.get(row.size)
        change = f"{100 * (row.throughput / before - 1):+.1f}%" if before and result.batches else ""
        previous[row.size] = row.throughput
        cells = [str(row.batch)] + ([str(row.size)] if result.sizes else [])
        cells += [escape(" ".join(row.inputs)), str(row.stats.n), ms(row.stats.median), ms(row.stats.p90), ms(row.stats.min),
                  rate(row.throughput), change]
        table.add_row(*cells)
    console.print(table)
    for row in result.rows:
        for warning in row.warnings:
            _line(console, f"warning at {_point(row.batch, row.size)}: {warning}")
    if result.batches:
        for size, batch in result.knees.items():
            where = f"size {size}: " if size is not None else ""
            if batch is None:
                _line(console, f"{where}no knee: throughput still grows by 5% or more at every step up to batch {result.batches[-1]}")
            else:
                _line(console, f"{where}knee at batch {batch}: throughput stops improving there")
        _line(console, KNEE_RULE)


def _point(batch: int, size: int | None) -> str:
    return f"batch {batch}" + (f", size {size}" if size is not None else "")


def _environment(console: Console, env: Environment) -> None:
    keys = ("cpu_model", "device_name", "torch_version", "onnxruntime_version", "threads", "interop_threads", "load_average")
    parts = [f"{k}={getattr(env, k)}" for k in keys if getattr(env, k) is not None]
    _line(console, "environment: " + ", ".join(parts))
    if env.allocator:
        _line(console, f"allocator: {env.allocator}")


def _line(console: Console, text: str) -> None:
    """One line of plain text, never wrapped (tables wrap; sentences stay greppable)."""
    console.print(escape(text), soft_wrap=True)
