"""A report's layers and ops as pandas DataFrames (``pip install 'howfast[frames]'``), one row each,
with the cost keys of the JSON (``docs/json-schema.md``) and both memory models flattened into
columns (``writeup_input``, ``compulsory_bytes``...)."""

from __future__ import annotations

from typing import Any

from howfast import units
from howfast.errors import UsageError
from howfast.report.report import CostFields, LayerRow, OpRow, Report

_PARTS = ("input", "weights", "output", "elements", "input_bytes", "weights_bytes", "output_bytes", "bytes")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise UsageError("DataFrames need pandas: pip install 'howfast[frames]'") from exc
    return pandas


def _costs(row: CostFields) -> dict[str, Any]:
    data: dict[str, Any] = {"macs": row.macs, "flops": row.flops, "mem_accesses": row.mem_accesses, "bytes_read": row.bytes_read,
                            "bytes_written": row.bytes_written, "activation_elements": row.activation_elements}
    for model in ("writeup", "compulsory"):
        parts = row.traffic(model)
        data.update({f"{model}_{part}": parts.get(part, 0) for part in _PARTS})
    return data


def _layer(row: LayerRow) -> dict[str, Any]:
    return {"name": row.name, "type": row.type, "depth": row.depth, "calls": row.calls, "ops": row.ops,
            "output_shape": units.shape(row.output_shape), "params": row.params, "param_bytes": row.param_bytes, **_costs(row)}


def _op(row: OpRow) -> dict[str, Any]:
    return {"index": row.index, "op": row.op, "module": row.module, "op_class": row.op_class, "counted": row.counted,
            "output_shape": units.shape(row.output_shape), **_costs(row)}


def layers_frame(report: Report) -> Any:
    """One row per layer (the model is the row named ``""``), in the report's order."""
    return _pandas().DataFrame([_layer(row) for row in report.layers])


def ops_frame(report: Report) -> Any:
    """One row per executed op, in execution order."""
    return _pandas().DataFrame([_op(row) for row in report.ops])
