"""The layer table's columns, shared by the terminal, CSV and Markdown renderers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from howfast import units
from howfast.report.report import LayerRow, Report


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    raw: Callable[[LayerRow], Any]
    human: Callable[[LayerRow], str]


def _memory(model: str, part: str) -> Callable[[LayerRow], int]:
    return lambda row: row.traffic(model).get(part, 0)


LAYER_COLUMNS: tuple[Column, ...] = (
    Column("name", "Layer", lambda r: r.name, lambda r: r.name or "(model)"),
    Column("type", "Type", lambda r: r.type, lambda r: r.type),
    Column("output_shape", "Output", lambda r: units.shape(r.output_shape), lambda r: units.shape(r.output_shape)),
    Column("params", "Params", lambda r: r.params, lambda r: units.count(r.params)),
    Column("macs", "MACs", lambda r: r.macs, lambda r: units.count(r.macs)),
    Column("flops", "FLOPs", lambda r: r.flops, lambda r: units.count(r.flops)),
    Column("mem_accesses", "Accesses", lambda r: r.mem_accesses, lambda r: units.count(r.mem_accesses)),
    Column("bytes_read", "Read", lambda r: r.bytes_read, lambda r: units.nbytes(r.bytes_read)),
    Column("bytes_written", "Written", lambda r: r.bytes_written, lambda r: units.nbytes(r.bytes_written)),
)

EXTRA_CSV_COLUMNS: tuple[Column, ...] = (
    Column("depth", "depth", lambda r: r.depth, str),
    Column("calls", "calls", lambda r: r.calls, str),
    Column("param_bytes", "param_bytes", lambda r: r.param_bytes, str),
    Column("activation_elements", "activation_elements", lambda r: r.activation_elements, str),
    Column("writeup_input", "writeup_input", _memory("writeup", "input"), str),
    Column("writeup_weights", "writeup_weights", _memory("writeup", "weights"), str),
    Column("writeup_output", "writeup_output", _memory("writeup", "output"), str),
    Column("compulsory_input_bytes", "compulsory_input_bytes", _memory("compulsory", "input_bytes"), str),
    Column("compulsory_weights_bytes", "compulsory_weights_bytes", _memory("compulsory", "weights_bytes"), str),
    Column("compulsory_output_bytes", "compulsory_output_bytes", _memory("compulsory", "output_bytes"), str),
)


def layer_columns(report: Report) -> tuple[Column, ...]:
    """The table's columns, with "Accesses" under the report's memory model (named in the title), and
    the measured time per layer when the report has one (``measured_times``)."""
    model = report.memory_model
    accesses = Column("mem_accesses", f"Accesses ({model})", _memory(model, "elements"),
                      lambda r: units.count(_memory(model, "elements")(r)))
    columns = tuple(accesses if c.key == "mem_accesses" else c for c in LAYER_COLUMNS)
    times = measured_times(report)
    if times:
        columns += (Column("measured_s", "Measured", lambda r: times.get(r.name),
                           lambda r: units.seconds(times.get(r.name))),)
    return columns


def measured_times(report: Report) -> dict[str, float]:
    """Measured seconds per layer (the median per module, children included): the benchmark's per-layer
    times, else those joined to the roofline; empty when nothing was measured."""
    times = report.benchmark.layer_times if report.benchmark is not None else None
    if times is not None:
        return dict(times.by_module)
    if report.roofline is not None:
        return {layer.name: layer.measured_s for layer in report.roofline.layers if layer.measured_s is not None}
    return {}


def visible_layers(report: Report, depth: int | None) -> list[LayerRow]:
    return [row for row in report.layers if depth is None or row.depth <= depth]
