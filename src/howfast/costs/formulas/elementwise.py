"""Element-wise arithmetic: 1 FLOP per output element (add, sub, mul, div, pow, where, compare...).

Write-up reads: each tensor operand is read once per output element, so a broadcast operand (a
per-channel scale) is re-read for every output it meets; a 0-d or 1-element operand is read once.
Weights (a learned scale or bias) follow the shared rule: read once.
"""

from __future__ import annotations

from howfast.conventions import ELEMENTWISE_FLOPS, Conventions
from howfast.costs.formulas._util import activation_inputs, out_numel
from howfast.costs.registry import Cost, Fusion, OpClass, access, cost
from howfast.graph.records import OpRecord

# Binary ops fusible into the op that produces an operand (an epilogue), the other binary ops, and
# the one transcendental binary op.
BINARY_EPILOGUES = ("aten.add", "aten.sub", "aten.mul", "aten.div", "aten.pow", "aten.maximum", "aten.minimum", "aten.where")
BINARY = (
    "aten.rsub", "aten.true_divide", "aten.fmax", "aten.fmin", "aten.fmod", "aten.remainder",
    "aten.floor_divide", "aten.copysign", "aten.hypot", "aten.xlogy",
    "aten.eq", "aten.ne", "aten.lt", "aten.le", "aten.gt", "aten.ge",
    "aten.logical_and", "aten.logical_or", "aten.logical_xor",
    "aten.bitwise_and", "aten.bitwise_or", "aten.bitwise_xor", "aten.__and__", "aten.__or__",
    "aten.masked_fill", "aten.heaviside",
)
BINARY_TRANSCENDENTAL = ("aten.atan2",)

# Unary ops: transcendental (priced as activations), fusible epilogues, and the rest.
UNARY_TRANSCENDENTAL = (
    "aten.exp2", "aten.expm1", "aten.log", "aten.log2", "aten.log10", "aten.log1p",
    "aten.sin", "aten.cos", "aten.tan", "aten.asin", "aten.acos", "aten.atan", "aten.sinh", "aten.cosh",
    "aten.erf", "aten.erfc", "aten.erfinv",
)
UNARY_EPILOGUES = ("aten.neg", "aten.sqrt", "aten.rsqrt", "aten.reciprocal", "aten.abs", "aten.clamp_min", "aten.clamp_max")
UNARY = (
    "aten.sign", "aten.sgn", "aten.floor", "aten.ceil", "aten.round", "aten.trunc", "aten.frac",
    "aten.logical_not", "aten.bitwise_not", "aten.square", "aten.nan_to_num", "aten.isnan", "aten.isinf",
    "aten.isfinite", "aten.signbit", "aten.fill", "aten.positive",
)


def elementwise_cost(op: OpRecord, flops_per_element: int) -> Cost:
    n = out_numel(op)
    # each operand at its own item size: a bool mask and a float operand differ
    reads = [access(n if t.numel > 1 else 1, t) for t in activation_inputs(op)]
    return Cost(flops=flops_per_element * n, input_reads=reads)


@cost(*BINARY_EPILOGUES, op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)
@cost(*BINARY, op_class=OpClass.ELEMENTWISE)
@cost(*BINARY_TRANSCENDENTAL, op_class=OpClass.ACTIVATION)
def binary(op: OpRecord, conv: Conventions) -> Cost:
    return elementwise_cost(op, ELEMENTWISE_FLOPS["binary"])


@cost("aten.exp", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)
@cost(*UNARY_TRANSCENDENTAL, op_class=OpClass.ACTIVATION)
@cost(*UNARY_EPILOGUES, op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)
@cost(*UNARY, op_class=OpClass.ELEMENTWISE)
def unary(op: OpRecord, conv: Conventions) -> Cost:
    return elementwise_cost(op, ELEMENTWISE_FLOPS["unary"])


@cost("aten.addcmul", "aten.addcdiv", "aten.lerp", op_class=OpClass.ELEMENTWISE)
def three_operand(op: OpRecord, conv: Conventions) -> Cost:
    # self + value * t1 * t2 (or / t2): multiply, scale, add; lerp: a + w * (b - a): sub, mul, add.
    return elementwise_cost(op, 3)


@cost("aten.clamp", op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)
def clamp(op: OpRecord, conv: Conventions) -> Cost:
    bounds = [v for v in op.args[1:3] if v is not None] + [v for k, v in op.kwargs.items() if k in ("min", "max") and v is not None]
    return elementwise_cost(op, max(1, len(bounds)))
