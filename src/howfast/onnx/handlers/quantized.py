"""Quantized ops of the default domain: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger.

Each becomes the record PyTorch makes for the same quantized computation, so the one cost registry
counts both front ends with the same formulas (``costs/formulas/quantized.py``):

* ``QuantizeLinear`` -> ``aten.quantize_per_tensor`` (``aten.quantize_per_channel`` for a 1-D
  scale; ``.tensor_qparams`` when the scale is computed), ``DequantizeLinear`` ->
  ``aten.dequantize.self``, ``DynamicQuantizeLinear`` -> ``aten.quantize_per_tensor_dynamic``;
* ``QLinearConv`` -> ``quantized.conv{1,2,3}d`` (qx, (weight, bias), output scale, output zero
  point), ``QLinearMatMul`` by a 2-D weight -> ``quantized.linear`` (qx, (weightᵀ, None), ...), the
  weight as PyTorch lays it out (out, in) through a free ``aten.t`` view;
* ``ConvInteger`` / ``MatMulInteger`` (int32 accumulators, no requantization) and a
  ``QLinearMatMul`` of two activations -> ``aten.convolution`` / ``aten.matmul`` on the 8-bit
  operands: the float op's MACs and FLOPs.

Operands keep their stored types (uint8/int8 1 byte, int32 bias 4 bytes). Scales and zero points
known here are Python numbers (PyTorch passes ``output_scale: float``; a quantized tensor carries
its own): kwargs ``x_scale``, ``x_zero_point``... keep them; a computed or per-channel one is its
tensor, read once.
"""

from __future__ import annotations

from typing import Any

from howfast.graph.records import TensorMeta
from howfast.onnx import dtypes
from howfast.onnx.context import NodeContext, handles, spatial_list

QCONV = {1: "quantized.conv1d.default", 2: "quantized.conv2d.new", 3: "quantized.conv3d.new"}


def qparams(n: NodeContext, names: dict[str, int]) -> dict[str, Any]:
    """The scales and zero points at the given input positions, by their ONNX names (absent ones left out)."""
    found = {name: n.qparam(i) for name, i in names.items()}
    return {name: value for name, value in found.items() if value is not None}


def dtype_of(n: NodeContext, i: int, default: int = 2) -> str:
    """The dtype name of input ``i`` (a zero point fixes its op's integer type), ``default`` when absent."""
    meta = n.x(i)
    return meta.dtype if meta is not None else dtypes.dtype_name(default)


def conv_arguments(n: NodeContext, w: TensorMeta) -> dict[str, Any]:
    """A Conv-like node's stride, padding, dilation and groups, as ``aten.convolution`` names them."""
    spatial = max(len(w.shape) - 2, 0)
    pads = spatial_list(n.attr("pads"), 2 * spatial, 0)
    begin, end = pads[:spatial], pads[spatial:]
    found: dict[str, Any] = {"stride": spatial_list(n.attr("strides"), spatial, 1), "padding": begin if begin == end else pads,
                             "dilation": spatial_list(n.attr("dilations"), spatial, 1), "groups": int(n.attr("group", 1))}
    if n.attr("auto_pad", "NOTSET") not in ("NOTSET", None):
        found["auto_pad"] = n.attr("auto_pad")
    return found


def weight_rows(n: NodeContext, w: TensorMeta, transposed: bool) -> TensorMeta:
    """A 2-D weight as PyTorch's ``nn.Linear`` holds it, (out, in): ONNX stores (in, out) unless
    ``transposed`` (``transB``), so it is a free ``aten.t`` view, recorded as PyTorch records it."""
    if transposed:
        return w
    view = n.w.view_meta(w, tuple(reversed(w.shape)))
    n.w.record("aten.t.default", n.path, (w,), {}, [view], {0})
    return view


@handles("QuantizeLinear")
def quantize_linear(n: NodeContext) -> None:
    x, scale, zero_point = n.req(0), n.qparam(1), n.qparam(2)
    dtype = n.out(0).dtype
    if isinstance(scale, TensorMeta) and scale.numel > 1:  # per axis (or blocked): a tensor of scales
        axis = int(n.attr("axis", 1)) % max(len(x.shape), 1)
        n.emit("aten.quantize_per_channel.default", (x, scale, zero_point, axis, dtype))
    elif isinstance(scale, TensorMeta) or isinstance(zero_point, TensorMeta):
        n.emit("aten.quantize_per_tensor.tensor_qparams", (x, scale, zero_point, dtype))
    else:
        n.emit("aten.quantize_per_tensor.default", (x, scale, 0 if zero_point is None else zero_point, dtype))


@handles("DequantizeLinear")
def dequantize_linear(n: NodeContext) -> None:
    kwargs = qparams(n, {"scale": 1, "zero_point": 2})
    if isinstance(kwargs.get("scale"), TensorMeta) and kwargs["scale"].numel > 1:
        kwargs["axis"] = int(n.attr("axis", 1)) % max(len(n.shape(0)), 1)
    n.emit("aten.dequantize.self", (n.req(0),), kwargs)


@handles("DynamicQuantizeLinear")
def dynamic_quantize_linear(n: NodeContext) -> None:
    # y (uint8), y_scale, y_zero_point: the range of x, then x quantized with it
    n.emit("aten.quantize_per_tensor_dynamic.default", (n.req(0), "uint8", False))


@handles("QLinearConv")
def qlinear_conv(n: NodeContext) -> None:
    # x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B (int32)
    x, w, bias = n.req(0), n.req(3), n.x(8)
    spatial = len(w.shape) - 2
    if spatial not in QCONV or len(x.shape) != len(w.shape):
        n.unknown()
        return
    kwargs = {**qparams(n, {"x_scale": 1, "x_zero_point": 2, "w_scale": 4, "w_zero_point": 5}), **conv_arguments(n, w)}
    y_scale, y_zero_point = n.qparam(6), n.qparam(7)
    n.emit(QCONV[spatial], (x, (w, bias), y_scale, 0 if y_zero_point is None else y_zero_point), kwargs)


@handles("QLinearMatMul")
def qlinear_matmul(n: NodeContext) -> None:
    # a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point
    a, b = n.req(0), n.req(3)
    kwargs = qparams(n, {"a_scale": 1, "a_zero_point": 2, "b_scale": 4, "b_zero_point": 5})
    y_scale, y_zero_point = n.qparam(6), n.qparam(7)
    if b.is_weight and len(b.shape) == 2 and len(a.shape) >= 1:
        weight = weight_rows(n, b, transposed=False)
        n.emit("quantized.linear.default", (a, (weight, None), y_scale, 0 if y_zero_point is None else y_zero_point), kwargs)
        return
    kwargs.update(qparams(n, {"y_scale": 6, "y_zero_point": 7}))
    n.emit("aten.matmul.default", (a, b), kwargs)


@handles("ConvInteger")
def conv_integer(n: NodeContext) -> None:
    # x, w, x_zero_point, w_zero_point -> int32
    x, w = n.req(0), n.req(1)
    if len(w.shape) < 3 or len(x.shape) != len(w.shape):
        n.unknown()
        return
    spatial = len(w.shape) - 2
    arguments = conv_arguments(n, w)
    kwargs = qparams(n, {"x_zero_point": 2, "w_zero_point": 3})
    if "auto_pad" in arguments:
        kwargs["auto_pad"] = arguments["auto_pad"]
    n.emit("aten.convolution.default", (x, w, None, arguments["stride"], arguments["padding"], arguments["dilation"], False,
                                        [0] * spatial, arguments["groups"]), kwargs)


@handles("MatMulInteger")
def matmul_integer(n: NodeContext) -> None:
    # a, b, a_zero_point, b_zero_point -> int32
    n.emit("aten.matmul.default", (n.req(0), n.req(1)), qparams(n, {"a_zero_point": 2, "b_zero_point": 3}))
