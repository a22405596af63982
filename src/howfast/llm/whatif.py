"""What-ifs that change bytes and splits, not code: weight-only and KV-cache quantisation widths, and
Megatron-style tensor parallelism, applied to captured phases (``docs/llm.md``, what-ifs).

Each what-if rewrites every op row of a phase and adds the change to the rows of the op's modules
(and the phase's totals and op types), so a re-priced phase stays the sum of its ops:

* ``--weight-bits b``: an op's weight reads are its weight elements x b / 8 bytes (rounded down);
* ``--kv-bits b``: the bytes of a decode step that grow with the context are the KV cache's (the
  exact line of ``derive.py``: an op's bytes are ``a + s C``, and ``s C`` is what it reads and writes
  of the cache); they are priced at b bits per element instead of the cache's own width;
* ``--tp n``: the matrix products and the attention (op classes ``gemm``, ``gemv``, ``attention``:
  heads and FFN columns split n ways, the vocabulary of the head too) do 1/n of their MACs, FLOPs
  and bytes on each device; norms, residual adds and the other element-wise ops are replicated.
  Each layer adds two all-reduces of the hidden state (``tp_allreduce``).

MACs are never changed except by the tensor-parallel split.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from howfast.graph.records import ancestors
from howfast.report.report import CostFields, LayerRow, OpRow, OpTypeRow, Phase

SPLIT_CLASSES = ("gemm", "gemv", "attention")
MODELS = ("compulsory", "writeup")


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The what-ifs asked for: bits of weights and of the KV cache (None: as stored), TP degree."""

    weight_bits: int | None = None
    kv_bits: int | None = None
    tp: int = 1

    @property
    def any(self) -> bool:
        return self.weight_bits is not None or self.kv_bits is not None or self.tp > 1

    def describe(self) -> str:
        parts = []
        if self.weight_bits is not None:
            parts.append(f"weights at {self.weight_bits} bits")
        if self.kv_bits is not None:
            parts.append(f"KV cache at {self.kv_bits} bits")
        if self.tp > 1:
            parts.append(f"tensor parallelism over {self.tp} devices (per-device figures)")
        return "what-if: " + ", ".join(parts)


def reprice(phase: Phase, whatif: WhatIf, kv_itemsize: int, context: int | None = None, slopes: Phase | None = None,
            span: int = 1) -> Phase:
    """A copy of ``phase`` under ``whatif``. For ``kv_bits`` on a decode step, ``slopes`` is the
    difference of the steps at two contexts ``span`` apart and ``context`` this step's."""
    if not whatif.any:
        return phase
    out = _copy(phase)
    layers = {layer.name: layer for layer in out.layers}
    kinds = {kind.op: kind for kind in out.op_types}
    growth: list[OpRow | None] = list(slopes.ops) if slopes is not None else [None] * len(out.ops)
    for row, slope in zip(out.ops, growth, strict=True):
        before = _figures(row)
        if whatif.weight_bits is not None:
            _weights(row, whatif.weight_bits)
        if whatif.kv_bits is not None and context is not None:
            _kv(row, slope, context, span, whatif.kv_bits, kv_itemsize)
        if whatif.tp > 1 and row.op_class in SPLIT_CLASSES:
            _scale(row, lambda v: v // whatif.tp)
        _propagate(out, row, before, layers, kinds)
    return out


def _copy(phase: Phase) -> Phase:
    return dataclasses.replace(phase, ops=[_row_copy(r) for r in phase.ops], layers=[_row_copy(r) for r in phase.layers],
                               op_types=[_row_copy(r) for r in phase.op_types], totals=_row_copy(phase.totals), roofline=None)


RowT = TypeVar("RowT", bound=CostFields)


def _row_copy(row: RowT) -> RowT:
    return dataclasses.replace(row, memory={model: dict(parts) for model, parts in row.memory.items()})


Figures = dict[str, int]


def _figures(row: CostFields) -> Figures:
    flat = {"macs": row.macs, "flops": row.flops, "bytes_read": row.bytes_read, "bytes_written": row.bytes_written}
    for model, parts in row.memory.items():
        for key, value in parts.items():
            flat[f"{model}.{key}"] = value
    return flat


def _apply(row: CostFields, delta: Figures) -> None:
    row.macs += delta.get("macs", 0)
    row.flops += delta.get("flops", 0)
    row.bytes_read += delta.get("bytes_read", 0)
    row.bytes_written += delta.get("bytes_written", 0)
    for key, value in delta.items():
        if "." in key and value:
            model, part = key.split(".", 1)
            parts = row.memory.setdefault(model, {})
            parts[part] = parts.get(part, 0) + value


def _propagate(phase: Phase, row: OpRow, before: Figures, layers: dict[str, LayerRow], kinds: dict[str, OpTypeRow]) -> None:
    after = _figures(row)
    delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    if not delta:
        return
    for path in ancestors(row.module):
        if path in layers:
            _apply(layers[path], delta)
    if row.op in kinds:
        _apply(kinds[row.op], delta)
    _apply(phase.totals, delta)


def _set_parts(row: CostFields, model: str, input_bytes: int, weights_bytes: int, output_bytes: int) -> None:
    parts = row.memory.get(model)
    if not parts:
        return
    parts["input_bytes"], parts["weights_bytes"], parts["output_bytes"] = input_bytes, weights_bytes, output_bytes
    parts["bytes"] = input_bytes + weights_bytes + output_bytes
    if model == "compulsory":
        row.bytes_read, row.bytes_written = input_bytes + weights_bytes, output_bytes


def _weights(row: OpRow, bits: int) -> None:
    for model in MODELS:
        parts = row.memory.get(model)
        if parts:
            _set_parts(row, model, parts["input_bytes"], parts["weights"] * bits // 8, parts["output_bytes"])


def _kv(row: OpRow, slope: OpRow | None, context: int, span: int, bits: int, kv_itemsize: int) -> None:
    if slope is None or slope.op != row.op:
        return
    for model in MODELS:
        parts, grow = row.memory.get(model), slope.memory.get(model)
        if not parts or not grow:
            continue
        kv_in = grow["input_bytes"] * context // span
        kv_out = grow["output_bytes"] * context // span
        _set_parts(row, model, parts["input_bytes"] - kv_in + _at_bits(kv_in, bits, kv_itemsize), parts["weights_bytes"],
                   parts["output_bytes"] - kv_out + _at_bits(kv_out, bits, kv_itemsize))


def _at_bits(nbytes: int, bits: int, itemsize: int) -> int:
    return nbytes * bits // (8 * itemsize)


def _scale(row: OpRow, f: Callable[[int], int]) -> None:
    row.macs, row.flops = f(row.macs), f(row.flops)
    for model in MODELS:
        parts = row.memory.get(model)
        if parts:
            for key in ("input", "weights", "output", "elements"):
                parts[key] = f(parts[key])
            _set_parts(row, model, f(parts["input_bytes"]), f(parts["weights_bytes"]), f(parts["output_bytes"]))


def difference(a: Phase, b: Phase) -> Phase:
    """``b - a`` for every op's figures (the same op list): the growth between two contexts."""
    out = _copy(b)
    for row_a, row_b in zip(a.ops, out.ops, strict=True):
        for model in MODELS:
            pa, pb = row_a.memory.get(model), row_b.memory.get(model)
            if pa and pb:
                for key in pb:
                    pb[key] -= pa.get(key, 0)
    return out
