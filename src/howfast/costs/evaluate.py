"""Cost every op of a captured graph: formula results plus the shared memory rules.

Two memory models are always computed, in elements and in bytes, split into input (activation)
reads, weight reads and output writes:

* ``writeup`` — the Chinese write-up's accounting: what the formula says for activation reads (a
  conv input read once per MAC, an element-wise operand once per output...), weights read once,
  outputs written once.
* ``compulsory`` — each distinct tensor the op touches read or written once (views free): the
  traffic of an ideal kernel with no re-reads, and the lower bound.

Bytes price every access at the item size of the tensor it touches, in both models: a tensor the
shared rules read or write at its own size, a formula's per-operand ``Access`` entries at theirs
(see ``Count`` in ``costs/registry.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from howfast.conventions import Conventions
from howfast.costs.registry import Cost, Count, Fusion, OpClass, bytes_of, elements_of, registration
from howfast.graph.records import OpRecord, TensorKind, TensorMeta


@dataclass(slots=True)
class Traffic:
    """Memory traffic of one op (or a sum of ops) under one memory model."""

    input: int = 0
    weights: int = 0
    output: int = 0
    input_bytes: int = 0
    weights_bytes: int = 0
    output_bytes: int = 0

    @property
    def elements(self) -> int:
        return self.input + self.weights + self.output

    @property
    def bytes(self) -> int:
        return self.input_bytes + self.weights_bytes + self.output_bytes

    @property
    def read_bytes(self) -> int:
        return self.input_bytes + self.weights_bytes

    def add(self, other: Traffic) -> None:
        self.input += other.input
        self.weights += other.weights
        self.output += other.output
        self.input_bytes += other.input_bytes
        self.weights_bytes += other.weights_bytes
        self.output_bytes += other.output_bytes

    def as_dict(self) -> dict[str, int]:
        """The figures and their sums (``elements``, ``bytes``): made for every op and layer of a report."""
        inputs, weights, output = self.input, self.weights, self.output
        input_bytes, weights_bytes, output_bytes = self.input_bytes, self.weights_bytes, self.output_bytes
        return {
            "input": inputs,
            "weights": weights,
            "output": output,
            "elements": inputs + weights + output,
            "input_bytes": input_bytes,
            "weights_bytes": weights_bytes,
            "output_bytes": output_bytes,
            "bytes": input_bytes + weights_bytes + output_bytes,
        }


@dataclass(slots=True)
class OpCost:
    """One op's costs, class and fusion role. ``counted`` is False when no formula exists (then
    FLOPs/MACs are unknown and the class is ``unknown``)."""

    record: OpRecord
    counted: bool
    free: bool
    op_class: OpClass = OpClass.UNKNOWN
    fusion: Fusion = Fusion.NONE
    macs: int = 0
    flops: int = 0
    writeup: Traffic = field(default_factory=Traffic)
    compulsory: Traffic = field(default_factory=Traffic)
    activation_elements: int = 0
    ignored_outputs: frozenset[int] = frozenset()  # storages of outputs that are not part of the result

    @property
    def op(self) -> str:
        return self.record.op

    @property
    def module(self) -> str:
        return self.record.module


def evaluate(ops: list[OpRecord], conventions: Conventions) -> list[OpCost]:
    """Cost every op with its formula and the shared memory rules."""
    return [evaluate_op(op, conventions) for op in ops]


_NONE: frozenset[int] = frozenset()  # no ignored outputs
_NO_FORMULA = Cost()  # what an op without a formula is costed by (the shared rules alone); never changed


def evaluate_op(op: OpRecord, conventions: Conventions) -> OpCost:
    found = registration(op.op)
    if found is None:
        result = _NO_FORMULA
    elif found.formula is None:
        return OpCost(record=op, counted=True, free=True, op_class=found.op_class)
    else:
        result = found.formula(op, conventions)
    fresh = op.new_outputs
    written = _written(op, result.outputs_used, fresh)
    activations, weights = _split(op.shared_inputs())
    tensors = (activations, weights, written)
    sums = (_sum(activations), _sum(weights), _sum(written))  # each part once at its own sizes: shared by both models
    # Without aliases every output is fresh, so every written one is: its elements are the written sum.
    fresh_elements = sums[2][0] if not op.aliases else sum(t.numel for t in written if t in fresh)
    return OpCost(
        record=op,
        counted=found is not None,
        free=False,
        op_class=result.op_class or (found.op_class if found is not None else OpClass.UNKNOWN),
        fusion=result.fusion or (found.fusion if found is not None else Fusion.NONE),
        macs=result.macs,
        flops=result.flops,
        writeup=_traffic(tensors, sums, (result.input_reads, result.weight_reads, result.output_writes), _itemsize(written)),
        compulsory=_traffic(tensors, sums, (result.compulsory_input, result.compulsory_weights, result.compulsory_output)),
        activation_elements=fresh_elements,
        ignored_outputs=frozenset(t.storage for t in op.outputs[result.outputs_used:]) if result.outputs_used is not None else _NONE,
    )


def _written(op: OpRecord, outputs_used: int | None, fresh: list[TensorMeta]) -> list[TensorMeta]:
    """Outputs the op writes: new tensors (``fresh``), and in-place targets; pure views write nothing."""
    outputs = list(op.outputs[:outputs_used])
    if op.inplace or not op.aliases:  # without aliases every output is fresh
        return _distinct(outputs)
    return _distinct([t for t in outputs if t in fresh])


def _distinct(tensors: list[TensorMeta]) -> list[TensorMeta]:
    if len(tensors) < 2:
        return tensors
    seen: dict[int, TensorMeta] = {}
    for t in tensors:
        seen.setdefault(t.tid, t)
    return list(seen.values())


def _split(inputs: list[TensorMeta]) -> tuple[list[TensorMeta], list[TensorMeta]]:
    """(activation inputs, weight inputs), each in argument order."""
    activations: list[TensorMeta] = []
    weights: list[TensorMeta] = []
    for t in inputs:
        (weights if t.kind in _WEIGHT_KINDS else activations).append(t)  # TensorMeta.is_weight, inlined
    return activations, weights


_WEIGHT_KINDS = (TensorKind.PARAM, TensorKind.BUFFER)


def _itemsize(tensors: list[TensorMeta], default: int = 4) -> int:
    return tensors[0].itemsize if tensors else default


def _sum(tensors: list[TensorMeta]) -> tuple[int, int]:
    """(elements, bytes) of ``tensors``, each once at its own item size."""
    elements = 0
    size = 0
    for t in tensors:
        n = math.prod(t.shape)  # TensorMeta.numel, inlined
        elements += n
        size += n * t.itemsize
    return elements, size


def _priced(override: Count | None, tensors: list[TensorMeta], default_itemsize: int = 4) -> tuple[int, int]:
    """(elements, bytes) of one part of an op's traffic.

    No override: every tensor once at its own size. Per-operand ``Access`` entries: each at its own
    item size. A plain count: at the item size of the first tensor of that kind.
    """
    if override is None:
        return _sum(tensors)
    if isinstance(override, int):
        return override, override * _itemsize(tensors, default_itemsize)
    return elements_of(override), bytes_of(override)


def _traffic(tensors: tuple[list[TensorMeta], list[TensorMeta], list[TensorMeta]], sums: tuple[tuple[int, int], ...],
             overrides: tuple[Count | None, Count | None, Count | None], input_itemsize: int = 4) -> Traffic:
    """One memory model's traffic: (activation reads, weight reads, writes) of ``tensors`` (``sums``: theirs
    without overrides), each part overridden by the formula's count where it gives one (``_priced``)."""
    inputs = sums[0] if overrides[0] is None else _priced(overrides[0], tensors[0], input_itemsize)
    weights = sums[1] if overrides[1] is None else _priced(overrides[1], tensors[1])
    outputs = sums[2] if overrides[2] is None else _priced(overrides[2], tensors[2])
    return Traffic(inputs[0], weights[0], outputs[0], inputs[1], weights[1], outputs[1])
