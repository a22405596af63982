"""Small helpers shared by the formulas: argument access and the dot-product FLOP rule."""

from __future__ import annotations

import math
from typing import Any

from howfast.conventions import Conventions
from howfast.graph.records import OpRecord, TensorMeta


def arg(op: OpRecord, index: int, name: str, default: Any = None) -> Any:
    """Argument ``index`` (positional) or ``name`` (keyword) of ``op``, else ``default``."""
    if index < len(op.args):
        return op.args[index]
    return op.kwargs.get(name, default)


def tensor(op: OpRecord, index: int, name: str = "") -> TensorMeta | None:
    value = arg(op, index, name)
    return value if isinstance(value, TensorMeta) else None


def need(op: OpRecord, index: int, *names: str) -> TensorMeta:
    """Tensor argument ``index`` of ``op`` (or the first of the keywords ``names`` given), which the
    formula cannot do without: a ``ValueError`` naming the op when it is missing."""
    for name in names or ("",):
        value = tensor(op, index, name)
        if value is not None:
            return value
    raise ValueError(f"{op.op} has no tensor argument {index}{f' ({names[0]})' if names else ''}")


def out(op: OpRecord) -> TensorMeta:
    return op.outputs[0]


def out_numel(op: OpRecord) -> int:
    return op.outputs[0].numel if op.outputs else 0


def prod(values: Any) -> int:
    return math.prod(int(v) for v in values)


def dot_flops(macs: int, outputs: int, conv: Conventions) -> int:
    """FLOPs of ``outputs`` dot products totalling ``macs`` multiply-accumulates.

    ``2mac``: 2 per MAC. ``exact``: each dot product of length n has n multiplies and n-1 adds,
    so the total is 2 x MACs - outputs.
    """
    if macs == 0:
        return 0
    return 2 * macs if conv.flops == "2mac" else 2 * macs - outputs


def bias_flops(outputs: int, has_bias: bool, conv: Conventions) -> int:
    """1 FLOP per output element for a bias addition, when the convention counts bias."""
    return outputs if (has_bias and conv.count_bias) else 0


def activation_inputs(op: OpRecord) -> list[TensorMeta]:
    return [t for t in op.inputs if not t.is_weight]
