"""ONNX sequences — what PyTorch keeps as Python lists and tuples of tensors — with static shapes.

The dynamo exporter writes ``torch.split`` as ``SplitToSequence`` and each ``pieces[i]`` as
``SequenceAt`` (GPT-2's q, k, v). A sequence value is a list of ``TensorMeta``s in
``Walker.sequences``: ``SplitToSequence`` records the split as PyTorch does (``aten.split.Tensor``,
``aten.split_with_sizes`` or ``aten.unbind``: views of its input) and the list of pieces;
``SequenceAt``, ``SequenceConstruct``, ``SequenceInsert``/``SequenceErase``/``SequenceEmpty`` are
list indexing and building (no op, as in Python); ``SequenceLength`` is folded (``len``);
``ConcatFromSequence`` is ``aten.cat`` (``aten.stack`` with ``new_axis``). Positions and split
sizes must be constants: a sequence whose length or shapes are computed at run time is refused
with the node named.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from howfast.errors import BadFileError
from howfast.graph.records import TensorKind, TensorMeta
from howfast.onnx import dtypes
from howfast.onnx.context import NodeContext, handles

# List building and indexing, as in Python: no op is recorded (SequenceLength is folded, ``len``).
RECORDS_NOTHING = {"SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceErase", "SequenceLength"}


def _refuse(n: NodeContext, why: str) -> BadFileError:
    return BadFileError(f"{n.w.path}: node {n.node.name or n.op_type!r} ({n.op_type}): {why}; howfast needs static shapes")


def _sequence(n: NodeContext, i: int) -> list[TensorMeta]:
    name = n.node.input[i] if n.has(i) else ""
    if name not in n.w.sequences:
        raise _refuse(n, f"input {name!r} is not a sequence howfast could follow")
    return n.w.sequences[name]


def _position(n: NodeContext, i: int, length: int, default: int) -> int:
    if not n.has(i):
        return default
    value = n.ints(i)
    if value is None or len(value) != 1:
        raise _refuse(n, "the position is computed at run time")
    position = value[0] + length if value[0] < 0 else value[0]
    if not 0 <= position <= length:
        raise _refuse(n, f"position {value[0]} is outside a sequence of {length}")
    return position


@handles("SplitToSequence")
def split_to_sequence(n: NodeContext) -> None:
    x = n.req(0)
    rank = max(len(x.shape), 1)
    axis = int(n.attr("axis", 0)) % rank
    size = x.shape[axis] if x.shape else 1
    keep = bool(int(n.attr("keepdims", 1)))
    split = n.value(1) if n.has(1) else None
    if n.has(1) and split is None:
        raise _refuse(n, "the split sizes are computed at run time")
    args: tuple[Any, ...]
    if split is None:  # pieces of one along axis: split(x, 1), or unbind with keepdims=0
        sizes = [1] * size
        op = "aten.split.Tensor" if keep else "aten.unbind.int"
        args = (x, 1, axis) if keep else (x, axis)
    elif np.asarray(split).ndim == 0:
        step = int(np.asarray(split))
        if step <= 0:
            raise _refuse(n, f"split size {step} is not positive")
        sizes = [step] * (size // step) + ([size % step] if size % step else [])
        op = "aten.split.Tensor"
        args = (x, step, axis)
    else:
        sizes = [int(s) for s in np.asarray(split).reshape(-1)]
        if sum(sizes) != size or any(s < 0 for s in sizes):
            raise _refuse(n, f"split sizes {sizes} do not add up to the axis' {size}")
        op = "aten.split_with_sizes.default"
        args = (x, sizes, axis)
    squeeze = split is None and not keep
    shapes = [x.shape[:axis] + (() if squeeze else (s,)) + x.shape[axis + 1:] for s in sizes]
    pieces = [n.w.view_meta(x, shape) for shape in shapes]
    n.emit(op, args, outputs=pieces, aliases=set(range(len(pieces))))
    n.w.sequences[n.node.output[0]] = pieces


@handles("SequenceAt")
def sequence_at(n: NodeContext) -> None:
    pieces = _sequence(n, 0)
    position = _position(n, 1, len(pieces), 0)
    if position >= len(pieces):
        raise _refuse(n, f"position {position} is outside a sequence of {len(pieces)}")
    piece = pieces[position]
    n.w.derive(n.node.output[0], piece, piece.shape)  # pieces[i]: the piece itself, no op


@handles("SequenceConstruct")
def sequence_construct(n: NodeContext) -> None:
    n.w.sequences[n.node.output[0]] = [n.req(i) for i in range(len(n.node.input)) if n.has(i)]


@handles("SequenceEmpty")
def sequence_empty(n: NodeContext) -> None:
    n.w.sequences[n.node.output[0]] = []


@handles("SequenceInsert")
def sequence_insert(n: NodeContext) -> None:
    pieces = list(_sequence(n, 0))
    pieces.insert(_position(n, 2, len(pieces), len(pieces)), n.req(1))
    n.w.sequences[n.node.output[0]] = pieces


@handles("SequenceErase")
def sequence_erase(n: NodeContext) -> None:
    pieces = list(_sequence(n, 0))
    position = _position(n, 1, len(pieces), len(pieces) - 1)
    if not 0 <= position < len(pieces):
        raise _refuse(n, "erases from an empty sequence")
    del pieces[position]
    n.w.sequences[n.node.output[0]] = pieces


@handles("SequenceLength")
def sequence_length(n: NodeContext) -> None:
    name = n.node.output[0]
    n.w.values[name] = np.array(len(_sequence(n, 0)), dtype=np.int64)
    n.w.new_meta(name, TensorKind.CONSTANT, (), dtypes.INT64, name)
    n.w.folded += 1


@handles("ConcatFromSequence")
def concat_from_sequence(n: NodeContext) -> None:
    pieces = _sequence(n, 0)
    if not pieces:
        raise _refuse(n, "concatenates an empty sequence")
    stack = bool(int(n.attr("new_axis", 0)))
    rank = len(pieces[0].shape) + (1 if stack else 0)
    axis = int(n.attr("axis", 0)) % max(rank, 1)
    first = pieces[0].shape
    if stack:
        shape = first[:axis] + (len(pieces),) + first[axis:]
    else:
        shape = first[:axis] + (sum(p.shape[axis] for p in pieces),) + first[axis + 1:]
    elem = dtypes.elem_type_of(pieces[0].dtype)
    out = n.w.new_meta(n.node.output[0], TensorKind.ACTIVATION, shape, elem)
    n.emit("aten.stack.default" if stack else "aten.cat.default", (list(pieces), axis), outputs=[out])
