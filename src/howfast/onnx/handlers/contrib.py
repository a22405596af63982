"""ONNX Runtime's quantized ops (domain ``com.microsoft``), as ``onnxruntime.quantization`` writes them:
QGemm, QLinearAdd/Mul, QLinearConcat, QLinearGlobalAveragePool, QLinearAveragePool, QLinearSigmoid,
QLinearLeakyRelu, QLinearSoftmax, DynamicQuantizeMatMul, MatMulIntegerToFloat.

ONNX's shape inference does not know these ops, so each handler gives its outputs their shapes and
types (``NodeContext.new_out``): an output quantized with a zero point has the zero point's type,
else the first input's. Records, as PyTorch makes them for the same computation:

* ``QGemm`` -> ``quantized.linear`` (qa, (weight (out, in), int32 bias), y_scale, y_zero_point),
  ``aten.t`` views for ``transA`` and for a (in, out) weight; a float output (no ``y_scale``) ->
  ``aten.addmm``/``aten.mm`` on the 8-bit operands;
* ``QLinearAdd``/``QLinearMul`` -> ``quantized.add``/``quantized.mul`` (qa, qb, scale, zero point);
  ``QLinearConcat`` -> ``quantized.cat`` (qxs, axis, scale, zero point);
* pooling and activations on 8-bit tensors are the float aten op on them, as PyTorch runs
  ``F.adaptive_avg_pool2d``/``torch.sigmoid`` on a quantized tensor: ``aten._adaptive_avg_pool2d``
  (``aten.mean.dim`` for ``channels_last``), ``aten.avg_pool2d``, ``aten.sigmoid``,
  ``aten.leaky_relu``, ``aten._softmax``;
* ``DynamicQuantizeMatMul`` -> ``quantized.linear_dynamic`` (x float, (weight, bias), False);
  ``MatMulIntegerToFloat`` -> ``aten.addmm``/``aten.matmul`` on the 8-bit operands.
"""

from __future__ import annotations

import math

import numpy as np

from howfast.graph.records import TensorMeta
from howfast.onnx import dtypes
from howfast.onnx.context import NodeContext, handles, spatial_list
from howfast.onnx.handlers.quantized import qparams, weight_rows

MS = "com.microsoft"
AVG_POOL = {1: "aten.avg_pool1d.default", 2: "aten.avg_pool2d.default", 3: "aten.avg_pool3d.default"}
ADAPTIVE_AVG_POOL = {1: "aten.adaptive_avg_pool1d.default", 2: "aten._adaptive_avg_pool2d.default", 3: "aten._adaptive_avg_pool3d.default"}
QBINARY = {"QLinearAdd": "quantized.add.default", "QLinearMul": "quantized.mul.default"}


def elem_of_input(n: NodeContext, i: int, default: int) -> int:
    """The ONNX element type of input ``i`` (the zero point that types an output), ``default`` when absent."""
    meta = n.x(i)
    return dtypes.elem_type_of(meta.dtype) if meta is not None else default


def zero_or(value: object) -> object:
    return 0 if value is None else value


def transposed(n: NodeContext, meta: TensorMeta) -> TensorMeta:
    """``aten.t`` of a 2-D operand: a free view, recorded as PyTorch records it."""
    view = n.w.view_meta(meta, tuple(reversed(meta.shape)))
    n.w.record("aten.t.default", n.path, (meta,), {}, [view], {0})
    return view


def fresh(n: NodeContext, like: TensorMeta) -> TensorMeta:
    """A new tensor shaped and typed as ``like`` (an intermediate result)."""
    tid = next(n.w.ids)
    return TensorMeta(tid=tid, storage=tid, shape=like.shape, dtype=like.dtype, itemsize=like.itemsize, kind=like.kind)


@handles("QGemm", domain=MS)
def qgemm(n: NodeContext) -> None:
    # A, a_scale, a_zero_point, B, b_scale, b_zero_point, C (int32), y_scale, y_zero_point
    a, b, bias = n.req(0), n.req(3), n.x(6)
    if len(a.shape) != 2 or len(b.shape) != 2:
        n.unknown()
        return
    if int(n.attr("transA", 0)):
        a = transposed(n, a)
    trans_b = bool(int(n.attr("transB", 0)))
    quantized_output = n.has(7)
    out = n.new_out(0, (a.shape[0], b.shape[0] if trans_b else b.shape[1]), elem_of_input(n, 8, 2) if quantized_output else 1)
    kwargs = qparams(n, {"a_scale": 1, "a_zero_point": 2, "b_scale": 4, "b_zero_point": 5})
    if float(n.attr("alpha", 1.0)) != 1.0:
        kwargs["alpha"] = float(n.attr("alpha", 1.0))
    if quantized_output:
        weight = weight_rows(n, b, transposed=trans_b)
        n.emit("quantized.linear.default", (a, (weight, bias), n.qparam(7), zero_or(n.qparam(8))), kwargs, outputs=[out])
        return
    # a float output: the int32 product rescaled (and biased) to float, as a product of the 8-bit operands
    columns = transposed(n, b) if trans_b else b
    if bias is None:
        n.emit("aten.mm.default", (a, columns), kwargs, outputs=[out])
    else:
        n.emit("aten.addmm.default", (bias, a, columns), kwargs, outputs=[out])


@handles("QLinearAdd", "QLinearMul", domain=MS)
def qlinear_binary(n: NodeContext) -> None:
    # A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point
    a, b = n.req(0), n.req(3)
    shape = tuple(int(d) for d in np.broadcast_shapes(a.shape, b.shape))
    out = n.new_out(0, shape, elem_of_input(n, 7, dtypes.elem_type_of(a.dtype)))
    kwargs = qparams(n, {"A_scale": 1, "A_zero_point": 2, "B_scale": 4, "B_zero_point": 5})
    n.emit(QBINARY[n.op_type], (a, b, n.qparam(6), zero_or(n.qparam(7))), kwargs, outputs=[out])


@handles("QLinearConcat", domain=MS)
def qlinear_concat(n: NodeContext) -> None:
    # Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) for each input
    tensors = [n.req(i) for i in range(2, len(n.node.input), 3)]
    if not tensors:
        n.unknown()
        return
    first = tensors[0].shape
    axis = int(n.attr("axis", 0)) % max(len(first), 1)
    shape = first[:axis] + (sum(t.shape[axis] for t in tensors),) + first[axis + 1:]
    out = n.new_out(0, shape, elem_of_input(n, 1, dtypes.elem_type_of(tensors[0].dtype)))
    n.emit("quantized.cat.default", (tensors, axis, n.qparam(0), zero_or(n.qparam(1))), outputs=[out])


def same_type_out(n: NodeContext, shape: tuple[int, ...]) -> TensorMeta:
    """Output 0 of a unary quantized op: ``shape``, typed as its y_zero_point (input 4), else as x."""
    return n.new_out(0, shape, elem_of_input(n, 4, dtypes.elem_type_of(n.req(0).dtype)))


@handles("QLinearGlobalAveragePool", domain=MS)
def qlinear_global_average_pool(n: NodeContext) -> None:
    # X, x_scale, x_zero_point, y_scale, y_zero_point
    x = n.req(0)
    spatial = len(x.shape) - 2
    if spatial < 1:
        n.unknown()
        return
    kwargs = qparams(n, {"x_scale": 1, "x_zero_point": 2, "y_scale": 3, "y_zero_point": 4})
    if int(n.attr("channels_last", 0)):  # N, spatial..., C
        out = same_type_out(n, (x.shape[0],) + (1,) * spatial + (x.shape[-1],))
        n.emit("aten.mean.dim", (x, list(range(1, spatial + 1)), True), kwargs, outputs=[out])
        return
    out = same_type_out(n, x.shape[:2] + (1,) * spatial)
    if spatial in ADAPTIVE_AVG_POOL:
        n.emit(ADAPTIVE_AVG_POOL[spatial], (x, [1] * spatial), kwargs, outputs=[out])
    else:
        n.emit("aten.mean.dim", (x, list(range(2, len(x.shape))), True), kwargs, outputs=[out])


def pooled_size(size: int, kernel: int, stride: int, begin: int, end: int, ceil_mode: bool, auto_pad: str) -> int:
    """Output length of a pooling window along one axis, as ONNX AveragePool defines it."""
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return -(-size // stride)
    if auto_pad == "VALID":
        return (size - kernel) // stride + 1
    span = size + begin + end - kernel
    return (math.ceil(span / stride) if ceil_mode else span // stride) + 1


@handles("QLinearAveragePool", domain=MS)
def qlinear_average_pool(n: NodeContext) -> None:
    # X, x_scale, x_zero_point, y_scale, y_zero_point; AveragePool's attributes
    x = n.req(0)
    spatial = len(x.shape) - 2
    kernel = [int(k) for k in n.attr("kernel_shape", [])]
    if spatial not in AVG_POOL or len(kernel) != spatial or int(n.attr("channels_last", 0)):
        n.unknown()
        return
    strides = spatial_list(n.attr("strides"), spatial, 1)
    pads = spatial_list(n.attr("pads"), 2 * spatial, 0)
    ceil_mode = bool(int(n.attr("ceil_mode", 0)))
    auto_pad = str(n.attr("auto_pad", "NOTSET") or "NOTSET")
    sizes = [pooled_size(x.shape[2 + i], kernel[i], strides[i], pads[i], pads[spatial + i], ceil_mode, auto_pad) for i in range(spatial)]
    out = same_type_out(n, x.shape[:2] + tuple(sizes))
    kwargs = qparams(n, {"x_scale": 1, "x_zero_point": 2, "y_scale": 3, "y_zero_point": 4})
    include_pad = bool(int(n.attr("count_include_pad", 0)))
    n.emit(AVG_POOL[spatial], (x, kernel, strides, pads[:spatial], ceil_mode, include_pad), kwargs, outputs=[out])


@handles("QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax", domain=MS)
def qlinear_unary(n: NodeContext) -> None:
    # X, X_scale, X_zero_point, Y_scale, Y_zero_point
    x = n.req(0)
    out = same_type_out(n, x.shape)
    kwargs = qparams(n, {"X_scale": 1, "X_zero_point": 2, "Y_scale": 3, "Y_zero_point": 4})
    if n.op_type == "QLinearSigmoid":
        n.emit("aten.sigmoid.default", (x,), kwargs, outputs=[out])
    elif n.op_type == "QLinearLeakyRelu":
        n.emit("aten.leaky_relu.default", (x, float(n.attr("alpha", 0.01))), kwargs, outputs=[out])
    else:
        n.emit("aten._softmax.default", (x, int(n.attr("axis", -1)) % max(len(x.shape), 1), False), kwargs, outputs=[out])


def product_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of ``a @ b`` (numpy's matmul rules; 2-D or larger operands)."""
    batch = tuple(int(d) for d in np.broadcast_shapes(a[:-2], b[:-2]))
    return batch + (a[-2], b[-1])


@handles("DynamicQuantizeMatMul", "MatMulIntegerToFloat", domain=MS)
def matmul_to_float(n: NodeContext) -> None:
    # DynamicQuantizeMatMul: A (float), B, b_scale, b_zero_point, bias
    # MatMulIntegerToFloat: A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias
    a, b = n.req(0), n.req(1)
    bias_slot = 4 if n.op_type == "DynamicQuantizeMatMul" else 6
    bias = n.x(bias_slot)
    if len(a.shape) < 2 or len(b.shape) < 2:
        n.unknown()
        return
    out = n.new_out(0, product_shape(a.shape, b.shape), 1)
    if n.op_type == "DynamicQuantizeMatMul" and b.is_weight and len(b.shape) == 2:
        kwargs = qparams(n, {"b_scale": 2, "b_zero_point": 3})
        n.emit("quantized.linear_dynamic.default", (a, (weight_rows(n, b, transposed=False), bias), False), kwargs, outputs=[out])
        return
    names = {"b_scale": 2, "b_zero_point": 3} if n.op_type == "DynamicQuantizeMatMul" else \
        {"a_scale": 2, "b_scale": 3, "a_zero_point": 4, "b_zero_point": 5}
    kwargs = qparams(n, names)
    if bias is not None and len(b.shape) == 2:  # an nn.Linear: x @ W + b
        n.emit("aten.addmm.default", (bias, a, b), kwargs, outputs=[out])
    elif bias is not None:  # a batched product, then the bias added
        product = fresh(n, out)
        n.w.record("aten.matmul.default", n.path, (a, b), kwargs, [product], set())
        n.emit("aten.add.Tensor", (product, bias), outputs=[out])
    else:
        n.emit("aten.matmul.default", (a, b), kwargs, outputs=[out])
