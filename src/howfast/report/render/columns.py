"""The layer table's columns, shared by the terminal, CSV and Markdown renderers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from howfast import units


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    raw: Callable[[Any], Any]
    human: Callable[[Any], str]


def _memory(model: str, part: str) -> Callable[[Any], int]:
    return lambda row: row.memory.get(model, {}).get(part, 0)


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


def layer_columns(report: Any) -> tuple[Column, ...]:
    """The table's columns, with "Accesses" under the report's memory model (named in the title)."""
    model = report.conventions.get("memory_model", "writeup")
    accesses = Column("mem_accesses", f"Accesses ({model})", _memory(model, "elements"),
                      lambda r: units.count(_memory(model, "elements")(r)))
    return tuple(accesses if c.key == "mem_accesses" else c for c in LAYER_COLUMNS)


def visible_layers(report: Any, depth: int | None) -> list[Any]:
    return [row for row in report.layers if depth is None or row.depth <= depth]
