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

from collections.abc import Callable
from dataclasses import dataclass

from howfast.report.report import OpRow, Phase
from howfast.report.reprice import MODELS, copy_phase, figures, price_weights, propagate, set_parts

SPLIT_CLASSES = ("gemm", "gemv", "attention")


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
    out = copy_phase(phase)
    layers = {layer.name: layer for layer in out.layers}
    kinds = {kind.op: kind for kind in out.op_types}
    growth: list[OpRow | None] = list(slopes.ops) if slopes is not None else [None] * len(out.ops)
    for row, slope in zip(out.ops, growth, strict=True):
        before = figures(row)
        if whatif.weight_bits is not None:
            price_weights(row, whatif.weight_bits)
        if whatif.kv_bits is not None and context is not None:
            _kv(row, slope, context, span, whatif.kv_bits, kv_itemsize)
        if whatif.tp > 1 and row.op_class in SPLIT_CLASSES:
            _scale(row, lambda v: v // whatif.tp)
        propagate(out, row, before, layers, kinds)
    return out


def _kv(row: OpRow, slope: OpRow | None, context: int, span: int, bits: int, kv_itemsize: int) -> None:
    if slope is None or slope.op != row.op:
        return
    for model in MODELS:
        parts, grow = row.memory.get(model), slope.memory.get(model)
        if not parts or not grow:
            continue
        kv_in = grow["input_bytes"] * context // span
        kv_out = grow["output_bytes"] * context // span
        set_parts(row, model, parts["input_bytes"] - kv_in + _at_bits(kv_in, bits, kv_itemsize), parts["weights_bytes"],
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
            set_parts(row, model, f(parts["input_bytes"]), f(parts["weights_bytes"]), f(parts["output_bytes"]))


def difference(a: Phase, b: Phase) -> Phase:
    """``b - a`` for every op's figures (the same op list): the growth between two contexts."""
    out = copy_phase(b)
    for row_a, row_b in zip(a.ops, out.ops, strict=True):
        for model in MODELS:
            pa, pb = row_a.memory.get(model), row_b.memory.get(model)
            if pa and pb:
                for key in pb:
                    pb[key] -= pa.get(key, 0)
    return out
