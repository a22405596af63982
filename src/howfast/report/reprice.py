"""Re-price a phase's bytes without re-capturing it: the shared machinery of every what-if.

A what-if rewrites op rows (``OpRow``) and adds each row's change to the rows of the op's modules,
to its op type and to the phase's totals, so a re-priced phase stays the sum of its ops. ``copy_phase``
first copies every row, so the phase it was given is left as it was.

``price_weights`` and ``price_activations`` are the dtype what-ifs of ``analyze --weight-dtype`` and
``--act-dtype`` (and of ``howfast llm --weight-bits``): every weight element an op reads priced at
``bits`` / 8 bytes (rounded down per op), and every activation element it reads and writes likewise
(docs/quantized.md, "What-if"). MACs and FLOPs never change.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from howfast.graph.records import ancestors
from howfast.report.report import CostFields, LayerRow, OpRow, OpTypeRow, Phase

MODELS = ("compulsory", "writeup")
Figures = dict[str, int]
RowT = TypeVar("RowT", bound=CostFields)


def copy_phase(phase: Phase) -> Phase:
    """A copy of ``phase`` whose op, layer, op-type and total rows can be changed (no roofline)."""
    return dataclasses.replace(phase, ops=[row_copy(r) for r in phase.ops], layers=[row_copy(r) for r in phase.layers],
                               op_types=[row_copy(r) for r in phase.op_types], totals=row_copy(phase.totals), roofline=None)


def row_copy(row: RowT) -> RowT:
    return dataclasses.replace(row, memory={model: dict(parts) for model, parts in row.memory.items()})


def figures(row: CostFields) -> Figures:
    """A row's figures, flat: MACs, FLOPs, bytes and each memory model's parts (``compulsory.input_bytes``)."""
    flat = {"macs": row.macs, "flops": row.flops, "bytes_read": row.bytes_read, "bytes_written": row.bytes_written}
    for model, parts in row.memory.items():
        for key, value in parts.items():
            flat[f"{model}.{key}"] = value
    return flat


def apply(row: CostFields, delta: Figures) -> None:
    row.macs += delta.get("macs", 0)
    row.flops += delta.get("flops", 0)
    row.bytes_read += delta.get("bytes_read", 0)
    row.bytes_written += delta.get("bytes_written", 0)
    for key, value in delta.items():
        if "." in key and value:
            model, part = key.split(".", 1)
            parts = row.memory.setdefault(model, {})
            parts[part] = parts.get(part, 0) + value


def propagate(phase: Phase, row: OpRow, before: Figures, layers: dict[str, LayerRow], kinds: dict[str, OpTypeRow]) -> None:
    """Add what changed in ``row`` since ``before`` to its modules' rows, its op type and the totals."""
    after = figures(row)
    delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    if not delta:
        return
    for path in ancestors(row.module):
        if path in layers:
            apply(layers[path], delta)
    if row.op in kinds:
        apply(kinds[row.op], delta)
    apply(phase.totals, delta)


def set_parts(row: CostFields, model: str, input_bytes: int, weights_bytes: int, output_bytes: int) -> None:
    """Set one memory model's bytes of ``row`` (and, for the compulsory model, its read and written bytes)."""
    parts = row.memory.get(model)
    if not parts:
        return
    parts["input_bytes"], parts["weights_bytes"], parts["output_bytes"] = input_bytes, weights_bytes, output_bytes
    parts["bytes"] = input_bytes + weights_bytes + output_bytes
    if model == "compulsory":
        row.bytes_read, row.bytes_written = input_bytes + weights_bytes, output_bytes


def price_weights(row: OpRow, bits: int) -> None:
    """Every weight element ``row`` reads at ``bits`` / 8 bytes."""
    for model in MODELS:
        parts = row.memory.get(model)
        if parts:
            set_parts(row, model, parts["input_bytes"], parts["weights"] * bits // 8, parts["output_bytes"])


def price_activations(row: OpRow, bits: int) -> None:
    """Every activation element ``row`` reads and writes at ``bits`` / 8 bytes."""
    for model in MODELS:
        parts = row.memory.get(model)
        if parts:
            set_parts(row, model, parts["input"] * bits // 8, parts["weights_bytes"], parts["output"] * bits // 8)
