"""Quantized and low-precision kernels: ``quantized::*`` (eager, FX and dynamic quantization),
quantize / dequantize, weight-only int8 and int4 products, and fp8 ``_scaled_mm``.

A quantized layer has the MACs of its float layer (the same shapes): the formulas reuse the
convolution and product rules. Its operands are priced at their real widths by the shared rules
(a ``quint8`` activation and a ``qint8`` weight 1 byte per element, a float bias 4), because the
capture records a layer's packed weights as its weight and bias operands
(``capture/quantized.py``). What a quantized kernel adds is conversion between 8-bit integers and
reals, counted per element (docs/formulas.md, "Quantized ops"):

* quantize ``q = clamp(round(x / scale) + zero_point)``: 4 ops per element;
* dequantize ``x = (q - zero_point) x scale``: 2 ops per element;
* requantize, the int32 accumulator (or an integer add's result) back to 8 bits: 4 ops per output,
  plus 1 for a fused ReLU;
* dynamic quantization (``linear_dynamic``) first finds its input's range: 2 ops (min, max) and a
  quantize (4) per input element, then rescales each int32 output to float: 1 op per output.

The integer products run in the ``int8 gemm`` and ``int8 conv`` classes, priced at a profile's
int8 peak; weight-only products (int8 or int4 weights, float activations) dequantize inside the
kernel and compute in float, so they are ``gemm``.
"""

from __future__ import annotations

from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, bias_flops, dot_flops, out, out_numel, prod
from howfast.costs.formulas.conv import conv_macs
from howfast.costs.formulas.matmul import product_cost
from howfast.costs.formulas.norm import batchnorm_flops
from howfast.costs.formulas.pooling import max_pool
from howfast.costs.registry import Cost, Fusion, OpClass, access, cost
from howfast.graph.records import OpRecord, TensorMeta

QUANTIZE_OPS = 4
DEQUANTIZE_OPS = 2
REQUANTIZE_OPS = 4
RANGE_OPS = 2


def packed_operands(op: OpRecord, index: int) -> tuple[TensorMeta, TensorMeta | None]:
    """The (weight, bias) a packed-parameter argument was recorded as; a ``ValueError`` naming the
    op when the capture could not unpack it."""
    value = op.args[index] if index < len(op.args) else None
    if isinstance(value, tuple) and value and isinstance(value[0], TensorMeta):
        bias = value[1] if len(value) > 1 and isinstance(value[1], TensorMeta) else None
        return value[0], bias
    raise ValueError(f"{op.op}: its packed weights (argument {index}) were not unpacked by the capture")


def _requantize(outputs: int, relu: bool) -> int:
    return outputs * (REQUANTIZE_OPS + (1 if relu else 0))


def _relu(op: OpRecord) -> bool:
    return "_relu" in op.op


@cost("quantized.conv1d", "quantized.conv2d", "quantized.conv3d", "quantized.conv1d_relu",
      "quantized.conv2d_relu", "quantized.conv3d_relu", "quantized.conv_transpose1d",
      "quantized.conv_transpose2d", "quantized.conv_transpose3d", op_class=OpClass.INT8_CONV, fusion=Fusion.ANCHOR)
def quantized_conv(op: OpRecord, conv: Conventions) -> Cost:
    """(qx, packed (weight, bias), output scale, output zero point): the float convolution's MACs,
    the dot products and bias in int32, then each output requantized."""
    x = op.inputs[0]
    w, bias = packed_operands(op, 1)
    y = out(op)
    transposed = "transpose" in op.op
    x_shape = (1,) + x.shape if len(x.shape) == len(w.shape) - 1 else x.shape
    y_shape = (1,) + y.shape if len(y.shape) == len(w.shape) - 1 else y.shape
    macs = conv_macs(x_shape, w.shape, y_shape, transposed)
    outputs = y.numel
    flops = dot_flops(macs, outputs, conv) + bias_flops(outputs, bias is not None, conv) + _requantize(outputs, _relu(op))
    return Cost(macs=macs, flops=flops, input_reads=macs)


@cost("quantized.linear", "quantized.linear_relu", op_class=OpClass.INT8_GEMM, fusion=Fusion.ANCHOR)
def quantized_linear(op: OpRecord, conv: Conventions) -> Cost:
    """(qx, packed (weight, bias), output scale, output zero point)."""
    x = op.inputs[0]
    w, bias = packed_operands(op, 1)
    macs = prod(x.shape[:-1]) * w.shape[0] * w.shape[-1]
    outputs = out_numel(op)
    flops = dot_flops(macs, outputs, conv) + bias_flops(outputs, bias is not None, conv) + _requantize(outputs, _relu(op))
    return Cost(macs=macs, flops=flops, input_reads=macs)


@cost("quantized.linear_dynamic", "quantized.linear_relu_dynamic", op_class=OpClass.INT8_GEMM, fusion=Fusion.ANCHOR)
def quantized_linear_dynamic(op: OpRecord, conv: Conventions) -> Cost:
    """(x float, packed (weight, bias), reduce_range): the input's range and quantization, the int8
    product, each output rescaled to float (+ bias, + ReLU)."""
    x = op.inputs[0]
    w, bias = packed_operands(op, 1)
    macs = prod(x.shape[:-1]) * w.shape[0] * w.shape[-1]
    outputs = out_numel(op)
    flops = (x.numel * (RANGE_OPS + QUANTIZE_OPS) + dot_flops(macs, outputs, conv) + outputs
             + bias_flops(outputs, bias is not None, conv) + (outputs if _relu(op) else 0))
    return Cost(macs=macs, flops=flops, input_reads=macs)


@cost("quantized.linear_dynamic_fp16", "quantized.linear_relu_dynamic_fp16", op_class=OpClass.GEMM, fusion=Fusion.ANCHOR)
def linear_dynamic_fp16(op: OpRecord, conv: Conventions) -> Cost:
    """(x float, packed fp16 (weight, bias)): a float product reading fp16 weights."""
    x = op.inputs[0]
    w, bias = packed_operands(op, 1)
    macs = prod(x.shape[:-1]) * w.shape[0] * w.shape[-1]
    outputs = out_numel(op)
    flops = dot_flops(macs, outputs, conv) + bias_flops(outputs, bias is not None, conv) + (outputs if _relu(op) else 0)
    return Cost(macs=macs, flops=flops, input_reads=macs)


@cost("quantized.add", "quantized.add_relu", "quantized.mul", "quantized.mul_relu", "quantized.add_out",
      "quantized.add_relu_out", "quantized.mul_out", "quantized.mul_relu_out", op_class=OpClass.ELEMENTWISE,
      fusion=Fusion.EPILOGUE)
def quantized_binary(op: OpRecord, conv: Conventions) -> Cost:
    """(qa, qb, output scale, output zero point): the float op (1 per element) on the dequantized
    operands, requantized; each operand read once per output."""
    n = out_numel(op)
    reads = [access(n if t.numel > 1 else 1, t) for t in op.inputs if not t.is_weight]  # a 1-element scale once
    return Cost(flops=n + 2 * n * DEQUANTIZE_OPS + _requantize(n, _relu(op)), input_reads=reads)


@cost("quantized.add_scalar", "quantized.add_scalar_relu", "quantized.mul_scalar", "quantized.mul_scalar_relu",
      op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)
def quantized_scalar(op: OpRecord, conv: Conventions) -> Cost:
    """(qa, scalar): the op folds into the output's scale and zero point; 1 op per element."""
    n = out_numel(op)
    return Cost(flops=n + (n if _relu(op) else 0))


@cost("quantized.cat", "quantized.cat_relu", "quantized.cat_out", op_class=OpClass.DATA)
def quantized_cat(op: OpRecord, conv: Conventions) -> Cost:
    """(qxs, dim, scale, zero point): each input requantized to the output's scale as it is copied."""
    n = out_numel(op)
    return Cost(flops=_requantize(n, _relu(op)))


@cost("aten.quantize_per_tensor", "aten.quantize_per_channel", "aten.quantize_per_tensor_dynamic",
      op_class=OpClass.ELEMENTWISE)
def quantize(op: OpRecord, conv: Conventions) -> Cost:
    """``clamp(round(x / scale) + zero_point)``: 4 ops per element (the dynamic form first finds
    the range, 2 more); reads the floats, writes 1-byte integers."""
    n = out_numel(op)
    per_element = QUANTIZE_OPS + (RANGE_OPS if "dynamic" in op.op else 0)
    return Cost(flops=per_element * n)


@cost("aten.dequantize", op_class=OpClass.ELEMENTWISE)
def dequantize(op: OpRecord, conv: Conventions) -> Cost:
    """``(q - zero_point) x scale``: 2 ops per element of every output."""
    return Cost(flops=DEQUANTIZE_OPS * sum(t.numel for t in op.outputs))


@cost("aten.quantized_max_pool1d", "aten.quantized_max_pool2d", "aten.quantized_max_pool3d", op_class=OpClass.POOL)
def quantized_max_pool(op: OpRecord, conv: Conventions) -> Cost:
    """A max pool on the integers: the float max pool's compares (the scale is unchanged)."""
    return max_pool(op, conv)


@cost("quantized.batch_norm", "quantized.batch_norm1d", "quantized.batch_norm2d", "quantized.batch_norm3d",
      "quantized.batch_norm_relu", "quantized.batch_norm1d_relu", "quantized.batch_norm2d_relu",
      "quantized.batch_norm3d_relu", op_class=OpClass.NORM)
def quantized_batch_norm(op: OpRecord, conv: Conventions) -> Cost:
    """(qx, weight, bias, mean, var, eps, output scale, zero point): an eval batch norm on the
    dequantized input, requantized."""
    n = out_numel(op)
    affine = sum(1 for i in (1, 2) if isinstance(arg(op, i, ""), TensorMeta))
    return Cost(flops=n * DEQUANTIZE_OPS + batchnorm_flops(n, False, affine) + _requantize(n, _relu(op)))


@cost("quantized.embedding_byte", "quantized.embedding_4bit", "quantized.embedding_bag_byte",
      "quantized.embedding_bag_4bit", "quantized.embedding_bag_byte_rowwise_offsets",
      "quantized.embedding_bag_4bit_rowwise_offsets", op_class=OpClass.DATA)
def quantized_embedding(op: OpRecord, conv: Conventions) -> Cost:
    """(packed table, indices, offsets, ...): each index gathers one row of D integers and
    dequantizes it (2 ops per element); a bag sums its rows (n - 1 adds per element of a bag of n).
    Reads the indices and the gathered rows, not the whole table."""
    table, _ = packed_operands(op, 0)
    indices = op.inputs[1] if len(op.inputs) > 1 else None
    if indices is None:
        raise ValueError(f"{op.op} has no indices")
    gathered = indices.numel * table.shape[-1]
    flops = gathered * DEQUANTIZE_OPS
    if "bag" in op.op:
        flops += max(gathered - out_numel(op), 0)
    index_reads, weights = [access(indices.numel, indices)], [access(gathered, table)]
    return Cost(flops=flops, input_reads=index_reads, compulsory_input=index_reads, weight_reads=weights,
                compulsory_weights=weights, outputs_used=1)


@cost("aten._int_mm", op_class=OpClass.INT8_GEMM, fusion=Fusion.ANCHOR)
def int_mm(op: OpRecord, conv: Conventions) -> Cost:
    """(a int8 (M, K), b int8 (K, N)) -> int32 (M, N): an integer product, M x N x K MACs, no
    rescaling (the ops after it rescale)."""
    a, b = op.inputs[0], op.inputs[1]
    return product_cost(op, [a, b], prod(a.shape[:-1]) * a.shape[-1] * b.shape[-1], conv)


@cost("aten._weight_int8pack_mm", op_class=OpClass.GEMM, fusion=Fusion.ANCHOR)
def weight_int8pack_mm(op: OpRecord, conv: Conventions) -> Cost:
    """(x float (M, K), weight int8 (N, K), scales (N,)): a float product with int8 weights scaled
    per output channel: M x N x K MACs, 1 op per output for the scale."""
    x = op.inputs[0]
    outputs = out_numel(op)
    macs = outputs * x.shape[-1]
    return Cost(macs=macs, flops=dot_flops(macs, outputs, conv) + outputs, input_reads=macs)


@cost("aten._weight_int4pack_mm", "aten._weight_int4pack_mm_for_cpu", "aten._weight_int4pack_mm_with_scales_and_zeros",
      op_class=OpClass.GEMM, fusion=Fusion.ANCHOR)
def weight_int4pack_mm(op: OpRecord, conv: Conventions) -> Cost:
    """(x float (M, K), packed int4 weight (N x K / 2 bytes), group size, scales and zeros): each
    weight dequantized once per use (2 ops: minus zero, times scale) inside a float product:
    M x N x K MACs."""
    x = op.inputs[0]
    outputs = out_numel(op)
    macs = outputs * x.shape[-1]
    return Cost(macs=macs, flops=dot_flops(macs, outputs, conv) + DEQUANTIZE_OPS * macs, input_reads=macs)


@cost("aten._scaled_mm", op_class=OpClass.FP8_GEMM, fusion=Fusion.ANCHOR)
def scaled_mm(op: OpRecord, conv: Conventions) -> Cost:
    """(a fp8 (M, K), b fp8 (K, N), scale_a, scale_b, bias, scale_result, out_dtype, ...): an fp8
    product accumulated in float, each output scaled once (scale_a x scale_b) and biased."""
    a, b = op.inputs[0], op.inputs[1]
    bias = arg(op, 4, "bias")
    macs = prod(a.shape[:-1]) * a.shape[-1] * b.shape[-1]
    result = product_cost(op, [a, b], macs, conv, bias=bias if isinstance(bias, TensorMeta) else None)
    result.flops += out_numel(op)  # scale_a x scale_b on every output
    return result
