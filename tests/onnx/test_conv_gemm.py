"""Conv and Gemm from tiny hand-built ONNX graphs: attribute cases against hand-derived counts."""

from __future__ import annotations

import pytest

from howfast.api import analyze as analyze_onnx
from howfast.conventions import Conventions
from howfast.onnx import capture_onnx
from onnx import helper
from tests.onnx.builders import single, value, weight


def conv_model(tmp_path, x_shape, w_shape, bias=True, name="conv", **attrs):
    inputs = ["x", "w"] + (["b"] if bias else [])
    node = helper.make_node("Conv", inputs, ["y"], name=name, **attrs)
    inits = [weight("w", w_shape)] + ([weight("b", (w_shape[0],))] if bias else [])
    return single(tmp_path, node, [value("x", list(x_shape))], [value("y", None)], inits)


def test_conv_auto_pad_same_upper_stride_2(tmp_path):
    # 7x7 input, stride 2, SAME_UPPER: output ceil(7/2) = 4 per side (pads 1 before... split 1/2).
    path = conv_model(tmp_path, (1, 3, 7, 7), (8, 3, 3, 3), kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
    report = analyze_onnx(path)
    macs = 1 * 8 * 4 * 4 * 3 * 3 * 3  # N Cout Hout Wout Cin k k = 3456
    assert report.totals.macs == macs
    assert report.totals.flops == 2 * macs + 8 * 4 * 4  # + bias, 1 per output
    assert report.totals.params == 8 * 3 * 3 * 3 + 8
    assert report.ops[0].output_shape == [[1, 8, 4, 4]]
    # write-up accesses: input read once per MAC, weights once, output once
    assert report.totals.memory["writeup"]["input"] == macs
    assert report.totals.memory["writeup"]["weights"] == 8 * 27 + 8
    assert report.totals.memory["writeup"]["output"] == 8 * 16


def test_conv_dilation(tmp_path):
    # kernel 3 dilated by 2 spans 5: 10x10 -> 6x6 without padding.
    path = conv_model(tmp_path, (1, 4, 10, 10), (6, 4, 3, 3), bias=False, kernel_shape=[3, 3], dilations=[2, 2])
    report = analyze_onnx(path)
    assert report.totals.macs == 6 * 6 * 6 * 4 * 9  # 7776
    assert report.totals.flops == 2 * 7776


@pytest.mark.parametrize("groups,w_in", [(4, 2), (8, 1)])
def test_conv_groups_and_depthwise(tmp_path, groups, w_in):
    cout = 16 if groups == 4 else 8
    path = conv_model(tmp_path, (1, 8, 5, 5), (cout, w_in, 3, 3), bias=False, kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=groups)
    report = analyze_onnx(path)
    assert report.totals.macs == cout * 25 * w_in * 9  # 7200 grouped, 1800 depthwise
    graph = capture_onnx(path)
    (op,) = graph.ops
    assert op.op == "aten.convolution.default"
    assert op.args[3:] == ([1, 1], [1, 1], [1, 1], False, [0, 0], groups)


def test_conv_exact_flops_convention(tmp_path):
    path = conv_model(tmp_path, (1, 3, 7, 7), (8, 3, 3, 3), kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
    report = analyze_onnx(path, conventions=Conventions.exact())
    outputs = 8 * 4 * 4
    assert report.totals.flops == 2 * 3456 - outputs + outputs  # 2n-1 per dot product, + bias


def test_conv_transpose(tmp_path):
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2])
    path = single(tmp_path, node, [value("x", [1, 4, 3, 3])], [value("y", None)], [weight("w", (4, 2, 3, 3))])
    report = analyze_onnx(path)
    assert report.ops[0].output_shape == [[1, 2, 7, 7]]
    assert report.totals.macs == 1 * 4 * 3 * 3 * 2 * 9  # every input element meets Cout x k x k weights: 648


def gemm_model(tmp_path, a_shape, b_shape, c=True, b_is_weight=True, **attrs):
    inputs = [value("a", list(a_shape))]
    inits = []
    if b_is_weight:
        inits.append(weight("b", b_shape))
    else:
        inputs.append(value("b", list(b_shape)))
    if c:
        n = b_shape[0] if attrs.get("transB") else b_shape[1]
        inits.append(weight("c", (n,)))
    node = helper.make_node("Gemm", ["a", "b"] + (["c"] if c else []), ["y"], name="fc", **attrs)
    return single(tmp_path, node, inputs, [value("y", None)], inits)


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_gemm_transposes(tmp_path, trans_a, trans_b):
    m, k, n = 4, 5, 6
    a_shape = (k, m) if trans_a else (m, k)
    b_shape = (n, k) if trans_b else (k, n)
    path = gemm_model(tmp_path, a_shape, b_shape, transA=trans_a, transB=trans_b)
    report = analyze_onnx(path)
    assert report.totals.macs == m * n * k == 120
    assert report.totals.flops == 2 * 120 + m * n  # + bias
    assert report.totals.params == n * k + n
    graph = capture_onnx(path)
    names = [op.op for op in graph.ops]
    assert names == ["aten.t.default"] * (trans_a + trans_b) + ["aten.addmm.default"]
    addmm = graph.ops[-1]
    assert addmm.args[1].shape == (m, k) and addmm.args[2].shape == (k, n)
    # the transposed operand is a view of the weight: same storage, still a parameter
    if trans_b:
        assert addmm.args[2].storage == graph.ops[0 if not trans_a else 1].args[0].storage
        assert addmm.args[2].is_weight


def test_gemm_without_bias_is_mm_and_alpha_is_kept(tmp_path):
    path = gemm_model(tmp_path, (4, 5), (5, 6), c=False, alpha=0.5)
    graph = capture_onnx(path)
    assert [op.op for op in graph.ops] == ["aten.mm.default"]
    assert graph.ops[0].kwargs == {"alpha": 0.5}
    assert analyze_onnx(path).totals.flops == 240


def test_gemm_activation_operand_reads(tmp_path):
    # two activations: A read once per MAC, B once (as matmul's second activation operand)
    path = gemm_model(tmp_path, (4, 5), (5, 6), c=False, b_is_weight=False)
    report = analyze_onnx(path)
    assert report.totals.params == 0
    assert report.totals.memory["writeup"]["input"] == 120 + 30
