"""Quantized ONNX ops from tiny hand-built graphs, against hand-derived counts (docs/onnx.md, "Quantized graphs").

Conventions (docs/formulas.md, "Quantized ONNX ops"): a quantized product or convolution has its
float op's MACs, 2 FLOPs per MAC (``2mac``) and 1 per output for an int32 bias; writing an 8-bit
output requantizes each output (4 FLOPs); quantize ``clamp(round(x / scale) + zero_point)`` is 4
FLOPs per element, dequantize ``(q - zero_point) x scale`` 2, a dynamic quantize finds the range
first (2 more). Every operand is priced at its stored width: uint8/int8 1 byte, int32 4.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

import onnx
from howfast.api import analyze as analyze_onnx
from onnx import TensorProto, helper, numpy_helper
from tests.onnx.builders import model, save, value

U8, I8, I32, F = TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32, TensorProto.FLOAT
MS = {"com.microsoft": 1}


def scalar(name: str, data: float | int, dtype) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(data, dtype=dtype), name)


def ints(name: str, shape: tuple[int, ...], dtype=np.int8, seed: int = 0) -> onnx.TensorProto:
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.integers(-100, 100, shape).astype(dtype), name)


def qparams(prefix: str, dtype=np.uint8) -> list[onnx.TensorProto]:
    """A per-tensor scale (fp32, 4 bytes) and zero point (1 byte) named ``<prefix>_scale`` and ``<prefix>_zero_point``."""
    return [scalar(f"{prefix}_scale", 0.05, np.float32), scalar(f"{prefix}_zero_point", 3 if dtype == np.uint8 else 0, dtype)]


def q(prefix: str) -> list[str]:
    return [f"{prefix}_scale", f"{prefix}_zero_point"]


def analyze(tmp_path: Path, nodes, inputs, outputs, inits, opset: int = 17, extra: dict | None = None):
    path = save(model(nodes, inputs, outputs, inits, opset=opset, extra_opsets=extra), tmp_path / "q.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every op is counted
        report = analyze_onnx(path)
    assert not report.uncounted_ops
    return report


def compulsory(report) -> dict:
    return report.totals.memory["compulsory"]


def test_qlinear_conv_with_int32_bias(tmp_path):
    node = helper.make_node("QLinearConv", ["x", *q("x"), "w", *q("w"), *q("y"), "b"], ["y"], name="conv", pads=[1, 1, 1, 1])
    inits = qparams("x") + [ints("w", (4, 3, 3, 3))] + qparams("w", np.int8) + qparams("y") + [ints("b", (4,), np.int32)]
    report = analyze(tmp_path, [node], [value("x", [1, 3, 8, 8], U8)], [value("y", None, U8)], inits)
    (op,) = report.ops
    assert op.op == "quantized.conv2d.new" and op.op_class == "int8_conv"
    macs = 4 * 8 * 8 * 3 * 3 * 3  # Cout x Hout x Wout x Cin x k x k = 6912: the float Conv's
    outputs = 4 * 8 * 8
    assert report.totals.macs == macs
    assert report.totals.flops == 2 * macs + outputs + 4 * outputs == 15_104  # products, int32 bias, requantize
    assert report.totals.params == 4 * 27 + 4
    assert report.totals.param_bytes == 4 * 27 + 4 * 4  # int8 weight 1 byte, int32 bias 4
    assert report.model.param_dtype_bytes == {"int8": 108, "int32": 16}
    assert report.model.quantization_bytes == 3 * (4 + 1)  # x, w, y: a float32 scale and an 8-bit zero point each
    mem = compulsory(report)
    assert (mem["input_bytes"], mem["weights_bytes"], mem["output_bytes"]) == (3 * 64, 124, outputs)


def test_qlinear_conv_per_channel_scales_are_read_once(tmp_path):
    node = helper.make_node("QLinearConv", ["x", *q("x"), "w", "w_scale", "w_zero_point", *q("y")], ["y"], name="conv")
    inits = (qparams("x") + [ints("w", (4, 3, 3, 3)), numpy_helper.from_array(np.full(4, 0.1, np.float32), "w_scale"),
                             numpy_helper.from_array(np.zeros(4, np.int8), "w_zero_point")] + qparams("y"))
    report = analyze(tmp_path, [node], [value("x", [1, 3, 8, 8], U8)], [value("y", None, U8)], inits)
    macs = 4 * 6 * 6 * 27
    assert report.totals.macs == macs
    assert report.totals.flops == 2 * macs + 4 * 4 * 36  # no bias
    assert report.totals.params == 108
    assert report.model.quantization_bytes == 5 + 4 * (4 + 1) + 5
    mem = compulsory(report)
    assert mem["input_bytes"] == 3 * 64 + 4 * 4 + 4  # x, and the per-channel scales and zero points once


def test_qlinear_matmul_by_a_weight_and_of_two_activations(tmp_path):
    weight = helper.make_node("QLinearMatMul", ["a", *q("a"), "w", *q("w"), *q("y")], ["y"], name="fc")
    inits = qparams("a") + [ints("w", (16, 8))] + qparams("w", np.int8) + qparams("y")
    report = analyze(tmp_path, [weight], [value("a", [2, 16], U8)], [value("y", None, U8)], inits)
    assert [o.op for o in report.ops] == ["aten.t.default", "quantized.linear.default"]
    assert report.totals.macs == 2 * 16 * 8
    assert report.totals.flops == 2 * 256 + 4 * 16  # no bias; 16 outputs requantized
    assert report.totals.param_bytes == 128
    both = helper.make_node("QLinearMatMul", ["a", *q("a"), "b", *q("a"), *q("y")], ["y"], name="mm")
    report = analyze(tmp_path, [both], [value("a", [2, 4, 16], U8), value("b", [2, 16, 8], U8)], [value("y", None, U8)],
                     qparams("a") + qparams("y"))
    assert [o.op for o in report.ops] == ["aten.matmul.default"]
    assert (report.totals.macs, report.totals.flops) == (2 * 4 * 8 * 16, 2 * 1024)


def test_conv_integer_and_matmul_integer_write_int32(tmp_path):
    conv = helper.make_node("ConvInteger", ["x", "w", "x_zero_point", "w_zero_point"], ["y"], name="conv", kernel_shape=[3, 3])
    inits = [ints("w", (4, 3, 3, 3)), scalar("x_zero_point", 3, np.uint8), scalar("w_zero_point", 0, np.int8)]
    report = analyze(tmp_path, [conv], [value("x", [1, 3, 8, 8], U8)], [value("y", None, I32)], inits)
    (op,) = report.ops
    assert op.op == "aten.convolution.default"
    macs = 4 * 36 * 27
    assert (report.totals.macs, report.totals.flops) == (macs, 2 * macs)  # no requantization: int32 out
    assert compulsory(report)["output_bytes"] == 4 * 4 * 36
    assert report.model.quantization_bytes == 2
    mm = helper.make_node("MatMulInteger", ["a", "w", "a_zero_point"], ["y"], name="fc")
    report = analyze(tmp_path, [mm], [value("a", [3, 16], U8)], [value("y", None, I32)],
                     [ints("w", (16, 8)), scalar("a_zero_point", 3, np.uint8)])
    assert (report.totals.macs, report.totals.flops) == (3 * 16 * 8, 2 * 384)
    assert compulsory(report)["output_bytes"] == 4 * 24 and report.totals.param_bytes == 128


def test_quantize_and_dequantize_linear(tmp_path):
    quant = helper.make_node("QuantizeLinear", ["x", *q("x")], ["xq"], name="quant")
    dequant = helper.make_node("DequantizeLinear", ["xq", *q("x")], ["y"], name="dequant")
    report = analyze(tmp_path, [quant, dequant], [value("x", [1, 4, 8, 8])], [value("y", None)], qparams("x"))
    n = 256
    assert [o.op for o in report.ops] == ["aten.quantize_per_tensor.default", "aten.dequantize.self"]
    assert [o.flops for o in report.ops] == [4 * n, 2 * n]
    assert [(o.bytes_read, o.bytes_written) for o in report.ops] == [(4 * n, n), (n, 4 * n)]
    assert report.totals.params == 0 and report.model.quantization_bytes == 5  # shared by both nodes: counted once


def test_per_channel_quantize_and_an_int32_bias_dequantized(tmp_path):
    quant = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="quant", axis=1)
    bias = helper.make_node("DequantizeLinear", ["b", "bs", "bz"], ["bf"], name="bias")
    add = helper.make_node("Add", ["x", "bf"], ["y"], name="add")
    inits = [numpy_helper.from_array(np.full(4, 0.1, np.float32), "s"), numpy_helper.from_array(np.zeros(4, np.int8), "z"),
             ints("b", (4, 1, 1), np.int32), scalar("bs", 0.01, np.float32), scalar("bz", 0, np.int32)]
    report = analyze(tmp_path, [quant, bias, add], [value("x", [1, 4, 8, 8])], [value("xq", None, I8), value("y", None)], inits)
    assert [o.op for o in report.ops] == ["aten.quantize_per_channel.default", "aten.dequantize.self", "aten.add.Tensor"]
    assert [o.flops for o in report.ops] == [4 * 256, 2 * 4, 256]
    assert report.totals.params == 4 and report.totals.param_bytes == 16  # the int32 bias is a parameter
    assert report.model.quantization_bytes == 4 * 4 + 4 + 4 + 4  # per-channel scales and zero points, the bias's


def test_dynamic_quantize_linear(tmp_path):
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "y_scale", "y_zero_point"], name="dq")
    report = analyze(tmp_path, [node], [value("x", [2, 64])], [value("y", None, U8), value("y_scale", None), value("y_zero_point", None, U8)], [])
    (op,) = report.ops
    assert op.op == "aten.quantize_per_tensor_dynamic.default"
    assert op.flops == (2 + 4) * 128  # min and max, then quantize
    assert (op.bytes_read, op.bytes_written) == (4 * 128, 128 + 4 + 1)


def test_qgemm_quantized_and_float_outputs(tmp_path):
    node = helper.make_node("QGemm", ["a", *q("a"), "w", *q("w"), "b", *q("y")], ["y"], name="fc", domain="com.microsoft", transB=1)
    inits = qparams("a") + [ints("w", (8, 16))] + qparams("w", np.int8) + [ints("b", (8,), np.int32)] + qparams("y")
    report = analyze(tmp_path, [node], [value("a", [1, 16], U8)], [value("y", [1, 8], U8)], inits, extra=MS)
    assert [o.op for o in report.ops] == ["quantized.linear.default"] and report.ops[0].op_class == "int8_gemm"
    assert report.ops[0].output_shape == [[1, 8]]
    assert (report.totals.macs, report.totals.flops) == (128, 2 * 128 + 8 + 4 * 8)
    assert report.totals.param_bytes == 128 + 4 * 8
    floating = helper.make_node("QGemm", ["a", *q("a"), "w", *q("w"), "b"], ["y"], name="fc", domain="com.microsoft", transB=1)
    report = analyze(tmp_path, [floating], [value("a", [1, 16], U8)], [value("y", [1, 8])], inits[:-2], extra=MS)
    assert [o.op for o in report.ops] == ["aten.t.default", "aten.addmm.default"]
    assert (report.totals.macs, report.totals.flops) == (128, 2 * 128 + 8)
    assert report.ops[-1].bytes_written == 4 * 8  # float32 out


def test_qlinear_add_mul_concat(tmp_path):
    add = helper.make_node("QLinearAdd", ["a", *q("a"), "b", *q("a"), *q("y")], ["s"], name="add", domain="com.microsoft")
    mul = helper.make_node("QLinearMul", ["s", *q("y"), "b", *q("a"), *q("y")], ["p"], name="mul", domain="com.microsoft")
    cat = helper.make_node("QLinearConcat", [*q("y"), "s", *q("y"), "p", *q("y")], ["c"], name="cat", domain="com.microsoft", axis=1)
    shape = [1, 4, 8, 8]
    report = analyze(tmp_path, [add, mul, cat], [value("a", shape, U8), value("b", shape, U8)], [value("c", [1, 8, 8, 8], U8)],
                     qparams("a") + qparams("y"), extra=MS)
    n = 256
    assert [o.op for o in report.ops] == ["quantized.add.default", "quantized.mul.default", "quantized.cat.default"]
    # add/mul: both operands dequantized (2 each), the op (1), requantized (4); concat requantizes each output
    assert [o.flops for o in report.ops] == [9 * n, 9 * n, 4 * 2 * n]
    assert report.ops[-1].output_shape == [[1, 8, 8, 8]]
    assert [(o.bytes_read, o.bytes_written) for o in report.ops] == [(2 * n, n), (2 * n, n), (2 * n, 2 * n)]


def test_qlinear_pools_and_activations(tmp_path):
    gap = helper.make_node("QLinearGlobalAveragePool", ["x", *q("x"), *q("x")], ["g"], name="gap", domain="com.microsoft")
    avg = helper.make_node("QLinearAveragePool", ["x", *q("x"), *q("x")], ["p"], name="avg", domain="com.microsoft",
                           kernel_shape=[2, 2], strides=[2, 2])
    sig = helper.make_node("QLinearSigmoid", ["x", *q("x"), *q("x")], ["s"], name="sig", domain="com.microsoft")
    leaky = helper.make_node("QLinearLeakyRelu", ["x", *q("x"), *q("x")], ["r"], name="leaky", domain="com.microsoft", alpha=0.1)
    outputs = [value(o, shape, U8) for o, shape in zip("gpsr", ([1, 4, 1, 1], [1, 4, 4, 4], [1, 4, 8, 8], [1, 4, 8, 8]))]
    report = analyze(tmp_path, [gap, avg, sig, leaky], [value("x", [1, 4, 8, 8], U8)], outputs, qparams("x"), extra=MS)
    n = 256
    assert [o.op for o in report.ops] == ["aten._adaptive_avg_pool2d.default", "aten.avg_pool2d.default", "aten.sigmoid.default",
                                          "aten.leaky_relu.default"]
    assert [o.output_shape for o in report.ops] == [[[1, 4, 1, 1]], [[1, 4, 4, 4]], [[1, 4, 8, 8]], [[1, 4, 8, 8]]]
    # global pool: every element summed + 1 divide per output; 2x2 pool: (4 + 1) per output; sigmoid 4, leaky ReLU 2
    assert [o.flops for o in report.ops] == [n + 4, 5 * 64, 4 * n, 2 * n]
    assert [o.bytes_written for o in report.ops] == [4, 64, n, n]  # uint8 outputs


def test_dynamic_quantize_matmul_and_matmul_integer_to_float(tmp_path):
    dq = helper.make_node("DynamicQuantizeMatMul", ["a", "w", "w_scale", "w_zero_point", "bias"], ["y"], name="fc", domain="com.microsoft")
    inits = [ints("w", (16, 8)), scalar("w_scale", 0.1, np.float32), scalar("w_zero_point", 0, np.int8),
             numpy_helper.from_array(np.zeros(8, np.float32), "bias")]
    report = analyze(tmp_path, [dq], [value("a", [2, 16])], [value("y", [2, 8])], inits, extra=MS)
    assert [o.op for o in report.ops] == ["aten.t.default", "quantized.linear_dynamic.default"]
    # range (2) and quantize (4) per input element, 2 per MAC, rescale and bias 1 each per output
    assert (report.totals.macs, report.totals.flops) == (256, 6 * 32 + 2 * 256 + 16 + 16)
    assert report.totals.params == 128 + 8 and report.totals.param_bytes == 128 + 32
    assert report.model.quantization_bytes == 5
    node = helper.make_node("MatMulIntegerToFloat", ["a", "w", "a_scale", "w_scale", "a_zero_point", "w_zero_point", "bias"], ["y"],
                            name="fc", domain="com.microsoft")
    inits += [scalar("a_scale", 0.1, np.float32), scalar("a_zero_point", 3, np.uint8)]
    report = analyze(tmp_path, [node], [value("a", [2, 16], U8)], [value("y", [2, 8])], inits, extra=MS)
    assert [o.op for o in report.ops] == ["aten.addmm.default"]
    assert (report.totals.macs, report.totals.flops) == (256, 2 * 256 + 16)
    assert report.ops[0].bytes_written == 4 * 16
