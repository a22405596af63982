"""Element-wise ops: unary and binary arithmetic, comparisons, activations, Softmax, Cast, Dropout."""

from __future__ import annotations

import math

import numpy as np

from howfast.graph.records import TensorKind, TensorMeta
from howfast.onnx import dtypes
from howfast.onnx.context import NodeContext, handles

UNARY = {
    "Relu": "aten.relu.default", "Sigmoid": "aten.sigmoid.default", "Tanh": "aten.tanh.default",
    "Exp": "aten.exp.default", "Log": "aten.log.default", "Sqrt": "aten.sqrt.default", "Neg": "aten.neg.default",
    "Abs": "aten.abs.default", "Reciprocal": "aten.reciprocal.default", "Sin": "aten.sin.default",
    "Cos": "aten.cos.default", "Tan": "aten.tan.default", "Asin": "aten.asin.default", "Acos": "aten.acos.default",
    "Atan": "aten.atan.default", "Sinh": "aten.sinh.default", "Cosh": "aten.cosh.default", "Erf": "aten.erf.default",
    "Floor": "aten.floor.default", "Ceil": "aten.ceil.default", "Round": "aten.round.default", "Sign": "aten.sign.default",
    "Not": "aten.logical_not.default", "IsNaN": "aten.isnan.default", "IsInf": "aten.isinf.default",
    "BitwiseNot": "aten.bitwise_not.default", "HardSwish": "aten.hardswish.default", "Softplus": "aten.softplus.default",
    "Mish": "aten.mish.default", "Selu": "aten.selu.default", "Elu": "aten.elu.default", "Celu": "aten.celu.default",
    "HardSigmoid": "aten.hardsigmoid.default", "ThresholdedRelu": "aten.threshold.default",
}
BINARY = {
    "Add": "aten.add.Tensor", "Sub": "aten.sub.Tensor", "Mul": "aten.mul.Tensor", "Div": "aten.div.Tensor",
    "Pow": "aten.pow.Tensor_Tensor", "Equal": "aten.eq.Tensor", "Less": "aten.lt.Tensor", "LessOrEqual": "aten.le.Tensor",
    "Greater": "aten.gt.Tensor", "GreaterOrEqual": "aten.ge.Tensor", "And": "aten.logical_and.default",
    "Or": "aten.logical_or.default", "Xor": "aten.logical_xor.default", "BitwiseAnd": "aten.bitwise_and.Tensor",
    "BitwiseOr": "aten.bitwise_or.Tensor", "BitwiseXor": "aten.bitwise_xor.Tensor",
}


@handles(*UNARY)
def unary(n: NodeContext) -> None:
    n.emit(UNARY[n.op_type], (n.req(0),))


@handles(*BINARY)
def binary(n: NodeContext) -> None:
    a, b = n.operand(0), n.operand(1)
    op = BINARY[n.op_type]
    if op == "aten.pow.Tensor_Tensor" and not isinstance(b, TensorMeta):
        op = "aten.pow.Tensor_Scalar"
    n.emit(op, (a, b))


@handles("Mod")
def mod(n: NodeContext) -> None:
    n.emit("aten.fmod.Tensor" if int(n.attr("fmod", 0)) else "aten.remainder.Tensor", (n.operand(0), n.operand(1)))


@handles("Sum", "Max", "Min", "Mean")
def variadic(n: NodeContext) -> None:
    op = {"Sum": "aten.add.Tensor", "Mean": "aten.add.Tensor", "Max": "aten.maximum.default", "Min": "aten.minimum.default"}[n.op_type]
    operands = [n.operand(i) for i in range(len(n.node.input)) if n.has(i)]
    if len(operands) == 1:
        n.emit("aten.clone.default", (operands[0],))
        return
    out = n.out(0)
    acc = operands[0]
    for i, other in enumerate(operands[1:]):
        last = i == len(operands) - 2 and n.op_type != "Mean"
        target = out if last else _fresh(n, out)
        n.w.record(op, n.path, (acc, other), {}, [target], set())
        acc = target
    if n.op_type == "Mean":
        n.w.record("aten.div.Tensor", n.path, (acc, len(operands)), {}, [out], set())
    n.emitted = True


def _fresh(n: NodeContext, like: TensorMeta) -> TensorMeta:
    tid = next(n.w.ids)
    return TensorMeta(tid=tid, storage=tid, shape=like.shape, dtype=like.dtype, itemsize=like.itemsize, kind=TensorKind.ACTIVATION)


@handles("Where")
def where(n: NodeContext) -> None:
    n.emit("aten.where.self", (n.operand(0), n.operand(1), n.operand(2)))


@handles("LeakyRelu")
def leaky_relu(n: NodeContext) -> None:
    n.emit("aten.leaky_relu.default", (n.req(0), float(n.attr("alpha", 0.01))))


@handles("PRelu")
def prelu(n: NodeContext) -> None:
    n.emit("aten._prelu_kernel.default", (n.req(0), n.req(1)))


@handles("Gelu")
def gelu(n: NodeContext) -> None:
    n.emit("aten.gelu.default", (n.req(0),), {"approximate": n.attr("approximate", "none")})


@handles("Clip")
def clip(n: NodeContext) -> None:
    x = n.req(0)
    if n.opset < 11:
        low, high = n.attr("min"), n.attr("max")
    else:
        low = n.operand(1) if n.has(1) else None
        high = n.operand(2) if n.has(2) else None
    if isinstance(low, TensorMeta) or isinstance(high, TensorMeta):
        n.emit("aten.clamp.Tensor", (x, low, high))
    elif low is not None and high is not None:
        n.emit("aten.hardtanh.default", (x, low, high))
    elif low is not None:
        n.emit("aten.clamp_min.default", (x, low))
    elif high is not None:
        n.emit("aten.clamp_max.default", (x, high))
    else:
        n.emit("aten.clone.default", (x,))


@handles("Softmax", "LogSoftmax")
def softmax(n: NodeContext) -> None:
    x = n.req(0)
    rank = max(len(x.shape), 1)
    op = "aten._softmax.default" if n.op_type == "Softmax" else "aten._log_softmax.default"
    if n.opset < 13:  # the input is coerced to 2-D at axis: rows x prod(shape[axis:])
        axis = int(n.attr("axis", 1)) % rank
        if axis != rank - 1:
            flat = n.w.view_meta(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))
            n.emit(op, (flat, 1, False))
            return
        n.emit(op, (x, axis, False))
        return
    n.emit(op, (x, int(n.attr("axis", -1)) % rank, False))


@handles("Cast", "CastLike")
def cast(n: NodeContext) -> None:
    elem = n.w.types.get(n.node.output[0], (None, 1))[1]
    n.emit("aten._to_copy.default", (n.req(0),), {"dtype": dtypes.dtype_name(elem)})


@handles("Dropout")
def dropout(n: NodeContext) -> None:
    x = n.req(0)
    mask = n.node.output[1] if len(n.node.output) > 1 else ""
    if mask and n.w.types.get(mask, (None, 0))[0] is None and not n.dropped(1):  # a read mask: the input's shape
        n.w.types[mask] = (x.shape, dtypes.BOOL)
    ratio = n.value(1)
    p = float(np.asarray(ratio).reshape(-1)[0]) if ratio is not None else float(n.attr("ratio", 0.5))
    mode = n.value(2)
    training = bool(np.asarray(mode).reshape(-1)[0]) if mode is not None else (n.opset < 7 and not int(n.attr("is_test", 0)))
    if training:
        n.emit("dropout", (x,), {"p": p, "training": True})
        return
    outputs = [n.view_out(x, 0)] + [n.out(i) for i in n.used_outputs() if i > 0]
    n.emit("dropout", (x,), {"p": p, "training": False}, outputs, {0})


@handles("Shrink")
def shrink(n: NodeContext) -> None:
    lambd, bias = float(n.attr("lambd", 0.5)), float(n.attr("bias", 0.0))
    if bias == 0.0:
        n.emit("aten.hardshrink.default", (n.req(0), lambd))
    elif bias == lambd:
        n.emit("aten.softshrink.default", (n.req(0), lambd))
    else:
        n.unknown()
