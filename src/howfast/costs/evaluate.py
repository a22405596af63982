"""Cost every op of a captured graph: formula results plus the shared memory rules.

Two memory models are always computed, in elements and in bytes, split into input (activation)
reads, weight reads and output writes:

* ``writeup`` — the Chinese write-up's accounting: what the formula says for activation reads (a
  conv input read once per MAC, an element-wise operand once per output...), weights read once,
  outputs written once.
* ``compulsory`` — each distinct tensor the op touches read or written once (views free): the
  traffic of an ideal kernel with no re-reads, and the lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from howfast.capture.records import OpRecord, TensorMeta
from howfast.conventions import Conventions
from howfast.costs.registry import Cost, is_free, lookup


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

    def add(self, other: "Traffic") -> None:
        self.input += other.input
        self.weights += other.weights
        self.output += other.output
        self.input_bytes += other.input_bytes
        self.weights_bytes += other.weights_bytes
        self.output_bytes += other.output_bytes

    def as_dict(self) -> dict[str, int]:
        return {
            "input": self.input,
            "weights": self.weights,
            "output": self.output,
            "elements": self.elements,
            "input_bytes": self.input_bytes,
            "weights_bytes": self.weights_bytes,
            "output_bytes": self.output_bytes,
            "bytes": self.bytes,
        }


@dataclass(slots=True)
class OpCost:
    """One op's costs. ``counted`` is False when no formula exists (then FLOPs/MACs are unknown)."""

    record: OpRecord
    counted: bool
    free: bool
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


def evaluate_op(op: OpRecord, conventions: Conventions) -> OpCost:
    if is_free(op.op):
        return OpCost(record=op, counted=True, free=True)
    formula = lookup(op.op)
    result = formula(op, conventions) if formula is not None else Cost()
    written = _written(op, result.outputs_used)
    return OpCost(
        record=op,
        counted=formula is not None,
        free=False,
        macs=result.macs,
        flops=result.flops,
        writeup=_writeup_traffic(op, result, written),
        compulsory=_compulsory_traffic(op, result, written),
        activation_elements=sum(t.numel for t in written if t in op.new_outputs),
        ignored_outputs=frozenset(t.storage for t in op.outputs[result.outputs_used:]) if result.outputs_used is not None else frozenset(),
    )


def _written(op: OpRecord, outputs_used: int | None) -> list[TensorMeta]:
    """Outputs the op writes: new tensors, and in-place targets; pure views write nothing."""
    outputs = list(op.outputs[:outputs_used])
    if op.inplace:
        return _distinct(outputs)
    fresh = op.new_outputs
    return _distinct([t for t in outputs if t in fresh])


def _distinct(tensors: list[TensorMeta]) -> list[TensorMeta]:
    seen: dict[int, TensorMeta] = {}
    for t in tensors:
        seen.setdefault(t.tid, t)
    return list(seen.values())


def _itemsize(tensors: list[TensorMeta], default: int = 4) -> int:
    return tensors[0].itemsize if tensors else default


def _writeup_traffic(op: OpRecord, cost: Cost, written: list[TensorMeta]) -> Traffic:
    inputs = op.inputs
    activations = [t for t in inputs if not t.is_weight]
    weights = [t for t in inputs if t.is_weight]
    input_elems = cost.input_reads if cost.input_reads is not None else sum(t.numel for t in activations)
    weight_elems = cost.weight_reads if cost.weight_reads is not None else sum(t.numel for t in weights)
    output_elems = cost.output_writes if cost.output_writes is not None else sum(t.numel for t in written)
    input_bytes = cost.input_bytes if cost.input_bytes is not None else input_elems * _itemsize(activations, _itemsize(written))
    return Traffic(
        input=input_elems,
        weights=weight_elems,
        output=output_elems,
        input_bytes=input_bytes,
        weights_bytes=weight_elems * _itemsize(weights),
        output_bytes=output_elems * _itemsize(written),
    )


def _compulsory_traffic(op: OpRecord, cost: Cost, written: list[TensorMeta]) -> Traffic:
    activations = [t for t in op.inputs if not t.is_weight]
    weights = [t for t in op.inputs if t.is_weight]
    return Traffic(
        input=_elements(cost.compulsory_input, activations),
        weights=_elements(cost.compulsory_weights, weights),
        output=_elements(cost.compulsory_output, written),
        input_bytes=_bytes(cost.compulsory_input, activations),
        weights_bytes=_bytes(cost.compulsory_weights, weights),
        output_bytes=_bytes(cost.compulsory_output, written),
    )


def _elements(override: int | None, tensors: list[TensorMeta]) -> int:
    return override if override is not None else sum(t.numel for t in tensors)


def _bytes(override: int | None, tensors: list[TensorMeta]) -> int:
    return override * _itemsize(tensors) if override is not None else sum(t.nbytes for t in tensors)
