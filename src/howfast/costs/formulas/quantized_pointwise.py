"""Quantized activations, norms, pooling, products and fused layers beyond ``quantized.py``: the
``quantized::*`` kernels that ``torch.ao.nn.quantized`` modules call in eager mode (``nnq.ReLU6``,
``nnq.Hardswish``, ``nnq.LayerNorm``, ...) and the fused forms FX and the x86 backend produce.

Two rules, by what the kernel's schema says about the output (docs/formulas.md, "Quantized ops"):

* an op that **keeps its input's scale and zero point** (``relu6``, ``clamp``, ``threshold``, max
  pooling) works on the integers directly: the float op's FLOPs per element and nothing more (the
  bounds are quantized once per call);
* an op given an **output scale and zero point** (``leaky_relu``, ``hardswish``, ``elu``,
  ``sigmoid``, ``softmax``, the norms) dequantizes its input (2 per element), applies the float op,
  and requantizes (4 per output).

Per-element FLOPs of the float ops are ``conventions.ELEMENTWISE_FLOPS``; norms use ``norm_flops``.
"""

from __future__ import annotations

from howfast.conventions import ELEMENTWISE_FLOPS, Conventions
from howfast.costs.formulas._util import arg, bias_flops, dot_flops, out, out_numel, prod
from howfast.costs.formulas.activations import softmax_flops
from howfast.costs.formulas.conv import conv_macs
from howfast.costs.formulas.elementwise import elementwise_cost
from howfast.costs.formulas.norm import norm_flops
from howfast.costs.formulas.pooling import max_pool
from howfast.costs.formulas.quantized import (
    DEQUANTIZE_OPS,
    QUANTIZE_OPS,
    RANGE_OPS,
    REQUANTIZE_OPS,
    packed_operands,
    quantized_cat,
    quantized_scalar,
)
from howfast.costs.registry import Cost, Fusion, OpClass, cost
from howfast.graph.records import OpRecord, TensorMeta

# Ops on the integers, keeping the input's quantization: FLOPs per element of the float op.
_IN_PLACE_SCALE = {"quantized.relu6": "hardtanh", "quantized.clamp": "hardtanh", "quantized.threshold": "relu"}
# Ops requantized to an output scale: the float op between a dequantize and a requantize.
_REQUANTIZED = {"quantized.leaky_relu": "leaky_relu", "quantized.prelu": "leaky_relu", "quantized.hardswish": "hardswish",
                "quantized.elu": "elu", "quantized.celu": "elu", "quantized.sigmoid": "sigmoid"}
_CONVERT = DEQUANTIZE_OPS + REQUANTIZE_OPS


def _key(op: OpRecord, table: dict[str, str]) -> str:
    name = op.op if op.op in table else op.op.rsplit(".", 1)[0]
    return table[name]


@cost(*_IN_PLACE_SCALE, op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)
def integer_activation(op: OpRecord, conv: Conventions) -> Cost:
    """On the integers, the output keeping the input's scale: ReLU6 and clamp 2 (min, max),
    threshold 1 per element."""
    return elementwise_cost(op, ELEMENTWISE_FLOPS[_key(op, _IN_PLACE_SCALE)])


@cost("quantized.leaky_relu", "quantized.prelu", "quantized.hardswish", op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)
@cost("quantized.elu", "quantized.celu", "quantized.sigmoid", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)
def requantized_activation(op: OpRecord, conv: Conventions) -> Cost:
    """Dequantize (2), the float activation (leaky ReLU and PReLU 2, hardswish 5, ELU/CELU 4,
    sigmoid 4), requantize (4), per element; PReLU's slopes are a weight."""
    return elementwise_cost(op, _CONVERT + ELEMENTWISE_FLOPS[_key(op, _REQUANTIZED)])


@cost("quantized.softmax", op_class=OpClass.ACTIVATION)
def quantized_softmax(op: OpRecord, conv: Conventions) -> Cost:
    """(qx, dim, output scale, zero point): the float softmax's 3n - 1 per row of n between a
    dequantize and a requantize of every element."""
    x = op.inputs[0]
    dim = int(arg(op, 1, "dim", -1))
    n = x.shape[dim] if x.shape else 1
    rows = x.numel // n if n else 0
    return Cost(flops=softmax_flops(rows, n) + _CONVERT * x.numel, input_reads=x.numel)


@cost("quantized.dropout", op_class=OpClass.ELEMENTWISE)
def quantized_dropout(op: OpRecord, conv: Conventions) -> Cost:
    """(qx, output scale, zero point, p, training): in evaluation the input requantized to the
    output's scale (dequantize 2 + requantize 4 per element); training dropout has no quantized kernel."""
    return elementwise_cost(op, _CONVERT)


def _affine(op: OpRecord, weight_index: int) -> int:
    return sum(1 for i in (weight_index, weight_index + 1) if isinstance(arg(op, i, ""), TensorMeta))


@cost("quantized.layer_norm", "quantized.group_norm", "quantized.instance_norm", op_class=OpClass.NORM)
def quantized_norm(op: OpRecord, conv: Conventions) -> Cost:
    """layer_norm(qx, shape, weight, bias, eps, scale, zp), group_norm(qx, groups, weight, bias, ...),
    instance_norm(qx, weight, bias, ...): the float norm (statistics 3, normalise 2, + 1 per affine
    term, per element) between a dequantize and a requantize."""
    n = op.inputs[0].numel
    weight_index = 1 if "instance_norm" in op.op else 2
    return Cost(flops=norm_flops(n, _affine(op, weight_index)) + _CONVERT * n, outputs_used=1)


cost("quantized.max_pool1d", "quantized.max_pool2d", op_class=OpClass.POOL)(max_pool)
cost("quantized.add_scalar_out", "quantized.add_scalar_relu_out", "quantized.mul_scalar_out",
     "quantized.mul_scalar_relu_out", op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)(quantized_scalar)
cost("quantized.cat_relu_out", op_class=OpClass.DATA)(quantized_cat)


@cost("quantized.matmul", op_class=OpClass.INT8_GEMM, fusion=Fusion.ANCHOR)
def quantized_matmul(op: OpRecord, conv: Conventions) -> Cost:
    """(qa (..., M, K), qb (..., K, N), scale, zero point): M x N x K MACs per batch, each output
    requantized."""
    a = op.inputs[0]
    outputs = out_numel(op)
    macs = outputs * a.shape[-1]
    return Cost(macs=macs, flops=dot_flops(macs, outputs, conv) + REQUANTIZE_OPS * outputs, input_reads=macs)


@cost("quantized.linear_leaky_relu", "quantized.linear_tanh", op_class=OpClass.INT8_GEMM, fusion=Fusion.ANCHOR)
def quantized_linear_activation(op: OpRecord, conv: Conventions) -> Cost:
    """(qx, packed (weight, bias), scale, zero point[, slope]): the int8 product, bias, the
    activation on the real-valued result (leaky ReLU 2, tanh 5), requantize."""
    x = op.inputs[0]
    w, bias = packed_operands(op, 1)
    macs = prod(x.shape[:-1]) * w.shape[0] * w.shape[-1]
    outputs = out_numel(op)
    activation = ELEMENTWISE_FLOPS["leaky_relu" if "leaky" in op.op else "tanh"]
    flops = dot_flops(macs, outputs, conv) + bias_flops(outputs, bias is not None, conv) + outputs * (activation + REQUANTIZE_OPS)
    return Cost(macs=macs, flops=flops, input_reads=macs)


def _conv(op: OpRecord, x: TensorMeta, packed_index: int) -> tuple[int, int, bool]:
    """(MACs, outputs, has bias) of a quantized convolution whose packed weights are argument ``packed_index``."""
    w, bias = packed_operands(op, packed_index)
    y = out(op)
    x_shape = (1,) + x.shape if len(x.shape) == len(w.shape) - 1 else x.shape
    y_shape = (1,) + y.shape if len(y.shape) == len(w.shape) - 1 else y.shape
    return conv_macs(x_shape, w.shape, y_shape, "transpose" in op.op), y.numel, bias is not None


@cost("quantized.conv2d_add", "quantized.conv2d_add_relu", op_class=OpClass.INT8_CONV, fusion=Fusion.ANCHOR)
def quantized_conv_add(op: OpRecord, conv: Conventions) -> Cost:
    """(qx, qaccum, packed (weight, bias), scale, zero point): the convolution, then the residual
    ``qaccum`` dequantized (2) and added (1) per output, requantized (4, + 1 with ReLU)."""
    macs, outputs, has_bias = _conv(op, op.inputs[0], 2)
    epilogue = outputs * (DEQUANTIZE_OPS + 1 + REQUANTIZE_OPS + (1 if op.op.startswith("quantized.conv2d_add_relu") else 0))
    return Cost(macs=macs, flops=dot_flops(macs, outputs, conv) + bias_flops(outputs, has_bias, conv) + epilogue,
                input_reads=macs + outputs)


@cost("quantized.conv1d_dynamic", "quantized.conv2d_dynamic", "quantized.conv3d_dynamic",
      "quantized.conv_transpose1d_dynamic", "quantized.conv_transpose2d_dynamic", "quantized.conv_transpose3d_dynamic",
      op_class=OpClass.INT8_CONV, fusion=Fusion.ANCHOR)
def quantized_conv_dynamic(op: OpRecord, conv: Conventions) -> Cost:
    """(x float, packed (weight, bias), reduce_range): the input's range (2) and quantization (4) per
    element, the int8 convolution, each output rescaled to float (1) and the bias added."""
    x = op.inputs[0]
    macs, outputs, has_bias = _conv(op, x, 1)
    flops = x.numel * (RANGE_OPS + QUANTIZE_OPS) + dot_flops(macs, outputs, conv) + outputs + bias_flops(outputs, has_bias, conv)
    return Cost(macs=macs, flops=flops, input_reads=macs)
