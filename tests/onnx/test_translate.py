"""ONNX nodes -> aten-style records: weights, views, folding, names, inputs, formulas (hand-derived)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import howfast
from howfast.api import analyze as analyze_onnx
from howfast.conventions import Conventions
from howfast.errors import BadFileError, InputSpecError, UncountedOpError
from howfast.graph.records import TensorKind
from howfast.onnx import capture_onnx
from howfast.onnx.names import module_path
from onnx import TensorProto, helper
from tests.onnx.builders import const, model, save, single, value, weight

I64 = TensorProto.INT64


def bn_model(tmp_path, training=0):
    outputs = ["y", "rm", "rv"] if training else ["y"]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], outputs, name="/bn/BatchNormalization", training_mode=training)
    inits = [weight(n, (4,)) for n in "sbm"] + [const("v", np.ones(4, np.float32))]
    return single(tmp_path, node, [value("x", [1, 4, 5, 5])], [value(o, None) for o in outputs], inits, opset=15)


def test_batch_norm_eval_params_buffers_flops(tmp_path):
    path = bn_model(tmp_path)
    report = analyze_onnx(path)
    assert report.totals.params == 8 and report.totals.buffers == 8  # scale, bias | running mean, var
    assert report.totals.flops == 2 * 100  # eval: one scale and one shift per element
    op = capture_onnx(path).ops[0]
    assert op.op == "aten._native_batch_norm_legit_no_training.default"
    assert op.args[5] == pytest.approx(0.1)  # PyTorch momentum = 1 - ONNX momentum (0.9)
    assert [t.kind for t in op.args[1:5]] == [TensorKind.PARAM, TensorKind.PARAM, TensorKind.BUFFER, TensorKind.BUFFER]
    assert report.layers[1].name == "bn" and report.layers[1].type == "BatchNormalization"


def test_batch_norm_training_mode(tmp_path):
    report = analyze_onnx(bn_model(tmp_path, training=1))
    assert report.totals.flops == 4 * 100


def test_identity_copy_is_its_own_weight_and_sharing_counts_once(tmp_path):
    nodes = [
        helper.make_node("Identity", ["w"], ["w_copy"], name="Identity_0"),
        helper.make_node("MatMul", ["x", "w"], ["a"], name="/l1/MatMul"),
        helper.make_node("MatMul", ["a", "w"], ["b"], name="/l2/MatMul"),  # w shared: counted once
        helper.make_node("MatMul", ["b", "w_copy"], ["y"], name="/l3/MatMul"),
    ]
    m = model(nodes, [value("x", [2, 3])], [value("y", [2, 3])], [weight("w", (3, 3))])
    report = analyze_onnx(save(m, tmp_path / "m.onnx"))
    assert report.totals.params == 9 + 9
    assert report.totals.macs == 3 * 2 * 3 * 3
    layers = {layer.name: layer for layer in report.layers}
    assert layers["l1"].params == 9 and layers["l3"].params == 9 and layers[""].params == 18
    assert any("Identity" in n for n in report.notes)


def test_constant_initializers_are_not_params(tmp_path):
    # shape argument (int64) and a scalar operand are constants; the (4,) scale is a weight
    nodes = [
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Mul", ["r", "half"], ["h"]),
        helper.make_node("Mul", ["h", "scale"], ["y"]),
    ]
    inits = [const("shape", np.array([2, 4], np.int64)), const("half", np.array(0.5, np.float32)), weight("scale", (4,))]
    path = save(model(nodes, [value("x", [8])], [value("y", [2, 4])], inits), tmp_path / "m.onnx")
    graph = capture_onnx(path)
    assert graph.params == 4
    mul = graph.ops[1]
    assert mul.op == "aten.mul.Tensor" and mul.args[1] == 0.5  # a scalar, as PyTorch passes x * 0.5
    assert graph.ops[0].op == "aten.view.default" and graph.ops[0].outputs[0].storage == graph.inputs[0].storage


def test_matmul_add_bias_becomes_addmm_only_when_it_is_a_linear(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"], name="/fc/MatMul"), helper.make_node("Add", ["mm", "b"], ["y"], name="/fc/Add")]
    m = model(nodes, [value("x", [1, 5, 3])], [value("y", [1, 5, 4])], [weight("w", (3, 4)), weight("b", (4,))])
    graph = capture_onnx(save(m, tmp_path / "fused.onnx"))
    assert [op.op for op in graph.ops] == ["aten.addmm.default"]
    report = analyze_onnx(tmp_path / "fused.onnx")
    assert report.totals.macs == 5 * 3 * 4 and report.totals.flops == 2 * 60 + 20
    # the MatMul output also read elsewhere: two ops, same FLOPs
    nodes.append(helper.make_node("Relu", ["mm"], ["z"]))
    m = model(nodes, [value("x", [1, 5, 3])], [value("y", [1, 5, 4]), value("z", [1, 5, 4])], [weight("w", (3, 4)), weight("b", (4,))])
    graph = capture_onnx(save(m, tmp_path / "two.onnx"))
    assert [op.op for op in graph.ops] == ["aten.matmul.default", "aten.add.Tensor", "aten.relu.default"]


def test_shape_arithmetic_is_folded_not_counted(tmp_path):
    # Reshape to (batch, -1) computed at run time: Shape -> Gather -> Unsqueeze -> Concat
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
        helper.make_node("Relu", ["y"], ["z"]),
    ]
    inits = [const("zero", np.array(0, np.int64)), const("axes", np.array([0], np.int64)), const("minus1", np.array([-1], np.int64))]
    path = save(model(nodes, [value("x", ["batch", 3, 4])], [value("z", None)], inits), tmp_path / "m.onnx")
    graph = capture_onnx(path, "x=2x3x4")
    assert [op.op for op in graph.ops] == ["aten.view.default", "aten.relu.default"]
    assert graph.ops[1].outputs[0].shape == (2, 12)
    assert any("folded" in note for note in graph.notes)


def test_unknown_ops_are_listed_never_zero(tmp_path):
    nodes = [helper.make_node("LpNormalization", ["x"], ["y"]), helper.make_node("Relu", ["y"], ["z"])]
    path = save(model(nodes, [value("x", [2, 3])], [value("z", [2, 3])]), tmp_path / "m.onnx")
    with pytest.warns(UserWarning, match="onnx.LpNormalization x1"):
        report = analyze_onnx(path)
    assert report.to_dict()["uncounted_ops"] == [{"op": "onnx.LpNormalization", "count": 1, "modules": ["LpNormalization_0"]}]
    with pytest.raises(UncountedOpError, match="onnx.LpNormalization"):
        analyze_onnx(path, strict=True)


def test_custom_domain_op_without_shape_is_a_clear_error(tmp_path):
    nodes = [helper.make_node("Foo", ["x"], ["y"], domain="com.example", name="foo"), helper.make_node("Relu", ["y"], ["z"])]
    m = model(nodes, [value("x", [2, 3])], [value("z", [2, 3])], extra_opsets={"com.example": 1})
    with pytest.raises(BadFileError, match=r"'y', output of node 'foo' \(com.example.Foo\) cannot be determined statically"):
        analyze_onnx(save(m, tmp_path / "m.onnx"))


def conv_relu_symbolic(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])]
    return save(model(nodes, [value("x", ["batch", 3, 8, 8])], [value("y", ["batch", 4, 8, 8])], [weight("w", (4, 3, 3, 3))]), tmp_path / "m.onnx")


def test_symbolic_dimension_needs_a_size(tmp_path):
    path = conv_relu_symbolic(tmp_path)
    with pytest.raises(InputSpecError) as info:
        analyze_onnx(path)
    assert str(info.value) == "input 'x' dimension 0 ('batch') is symbolic: give its size with --input x=1x3x8x8"
    one = analyze_onnx(path, "x=1x3x8x8").totals.macs
    assert one == 4 * 64 * 27
    assert analyze_onnx(path, "2x3x8x8").totals.macs == 2 * one  # positional
    assert analyze_onnx(path, {"x": (3, 3, 8, 8)}).totals.macs == 3 * one
    with pytest.raises(InputSpecError, match="dimension 1 is 3 in the model, but 4 was given"):
        analyze_onnx(path, "x=1x4x8x8")
    with pytest.raises(InputSpecError, match="has 4 dimension"):
        analyze_onnx(path, "x=1x3x8")
    with pytest.raises(InputSpecError, match="no input named 'y'"):
        analyze_onnx(path, "y=1x3x8x8")
    with pytest.raises(InputSpecError, match="is float32 in the model, but int64 was given"):
        analyze_onnx(path, "x=1x3x8x8:int64")


def test_a_symbol_bound_by_one_input_sizes_the_others(tmp_path):
    nodes = [helper.make_node("Add", ["a", "b"], ["y"])]
    path = save(model(nodes, [value("a", ["batch", 4]), value("b", ["batch", 4])], [value("y", ["batch", 4])]), tmp_path / "m.onnx")
    report = analyze_onnx(path, "a=5x4")
    assert report.totals.flops == 20
    with pytest.raises(InputSpecError, match="dimension 'batch' is given as 5 and as 6"):
        analyze_onnx(path, ["a=5x4", "b=6x4"])


def test_python_front_door_takes_onnx_paths(tmp_path):
    path = conv_relu_symbolic(tmp_path)
    report = howfast.analyze(str(path), "1x3x8x8")
    assert report.totals.macs == 4 * 64 * 27
    assert howfast.analyze(path, [(1, 3, 8, 8)]).totals.macs == report.totals.macs


@pytest.mark.parametrize("name,expected", [
    ("/layer1/layer1.0/conv1/Conv", "layer1.0.conv1"),
    ("/features/features.0/Conv", "features.0"),
    ("/h.0/attn/MatMul_1", "h.0.attn"),
    ("/blocks.0/blocks.0.1/Relu", "blocks.0.1"),
    ("/block/block/Conv", "block.block"),
    ("/Add", ""),
    ("conv1", "conv1"),
    ("encoder/layer.0/fc", "encoder.layer.0.fc"),
])
def test_module_paths_from_node_names(name, expected):
    assert module_path(name, "Conv", {}) == expected


def test_unnamed_nodes_get_numbered_names():
    counters: dict[str, int] = {}
    assert [module_path("", "Relu", counters) for _ in range(2)] == ["Relu_0", "Relu_1"]


@pytest.mark.parametrize("equation,shapes,macs,flops", [
    ("ij,jk->ik", [(4, 5), (5, 6)], 120, 240),  # a matmul: M N K
    ("bij,bjk->bik", [(2, 4, 5), (2, 5, 6)], 240, 480),  # a bmm
    ("i,j->ij", [(128,), (32,)], 0, 4096),  # outer product: one multiply per output
    ("ij,ij->ij", [(3, 4), (3, 4)], 0, 12),  # element-wise
    ("ij->i", [(3, 4)], 0, 9),  # row sums: 3 adds per row
    ("ij->ji", [(3, 4)], 0, 0),  # a permutation
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)], 2 * 3 * 4 + 2 * 4 * 5, 2 * (24 + 40)),  # left to right
])
def test_einsum_is_the_pytorch_einsum_record(tmp_path, equation, shapes, macs, flops):
    names = [f"in{i}" for i in range(len(shapes))]
    node = helper.make_node("Einsum", names, ["y"], equation=equation)
    path = single(tmp_path, node, [value(n, list(s)) for n, s in zip(names, shapes)], [value("y", None)])
    report = analyze_onnx(path)
    assert (report.totals.macs, report.totals.flops) == (macs, flops)
    assert report.ops[0].op == "einsum"  # the record torch.einsum makes in the PyTorch capture
    exact = analyze_onnx(path, conventions=Conventions.exact()).totals.flops
    outputs = 1
    for d in report.ops[0].output_shape[0]:
        outputs *= d
    if len(shapes) == 2 and macs:
        assert exact == flops - outputs  # 2n-1 per dot product


def test_einsum_matches_pytorch(tmp_path):
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="bhqd,bhkd->bhqk")
    path = single(tmp_path, node, [value("a", [1, 2, 5, 4]), value("b", [1, 2, 6, 4])], [value("y", None)])

    class Scores(torch.nn.Module):
        def forward(self, a, b):
            return torch.einsum("bhqd,bhkd->bhqk", a, b)

    theirs = howfast.analyze(Scores(), [(1, 2, 5, 4), (1, 2, 6, 4)]).totals
    mine = analyze_onnx(path).totals
    assert (mine.macs, mine.flops) == (theirs.macs, theirs.flops) == (2 * 5 * 6 * 4, 2 * 2 * 5 * 6 * 4)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_matches_pytorch(tmp_path, bidirectional):
    seq, batch, inp, hidden = 5, 2, 3, 4
    d = 2 if bidirectional else 1
    node = helper.make_node("LSTM", ["x", "w", "r", "b"], ["y", "yh", "yc"], hidden_size=hidden,
                            direction="bidirectional" if bidirectional else "forward")
    inits = [weight("w", (d, 4 * hidden, inp)), weight("r", (d, 4 * hidden, hidden)), weight("b", (d, 8 * hidden))]
    path = single(tmp_path, node, [value("x", [seq, batch, inp])], [value("y", None), value("yh", None), value("yc", None)], inits)
    onnx_report = analyze_onnx(path)
    torch_report = howfast.analyze(torch.nn.LSTM(inp, hidden, bidirectional=bidirectional), torch.randn(seq, batch, inp))
    assert onnx_report.totals.params == torch_report.totals.params == d * 4 * hidden * (inp + hidden + 2)
    assert onnx_report.totals.macs == torch_report.totals.macs == seq * batch * d * 4 * hidden * (inp + hidden)
    assert onnx_report.totals.flops == torch_report.totals.flops


def test_gru_matches_pytorch(tmp_path):
    seq, batch, inp, hidden = 6, 1, 5, 3
    node = helper.make_node("GRU", ["x", "w", "r", "b"], ["y"], hidden_size=hidden)
    inits = [weight("w", (1, 3 * hidden, inp)), weight("r", (1, 3 * hidden, hidden)), weight("b", (1, 6 * hidden))]
    path = single(tmp_path, node, [value("x", [seq, batch, inp])], [value("y", None)], inits)
    onnx_report = analyze_onnx(path)
    torch_report = howfast.analyze(torch.nn.GRU(inp, hidden), torch.randn(seq, batch, inp))
    assert (onnx_report.totals.params, onnx_report.totals.macs, onnx_report.totals.flops) == (
        torch_report.totals.params, torch_report.totals.macs, torch_report.totals.flops)


def test_activation_pooling_and_softmax_records(tmp_path):
    nodes = [
        helper.make_node("Clip", ["x", "lo", "hi"], ["c"], name="/act/Clip"),
        helper.make_node("MaxPool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="/pool/MaxPool"),
        helper.make_node("GlobalAveragePool", ["p"], ["g"], name="/gap/GlobalAveragePool"),
        helper.make_node("Flatten", ["g"], ["f"], axis=1, name="/flat/Flatten"),
        helper.make_node("Softmax", ["f"], ["y"], axis=1, name="/sm/Softmax"),
    ]
    inits = [const("lo", np.array(0.0, np.float32)), const("hi", np.array(6.0, np.float32))]
    path = save(model(nodes, [value("x", [1, 4, 8, 8])], [value("y", [1, 4])], inits), tmp_path / "m.onnx")
    graph = capture_onnx(path)
    assert [op.op for op in graph.ops] == ["aten.hardtanh.default", "aten.max_pool2d.default", "aten._adaptive_avg_pool2d.default",
                                          "aten.view.default", "aten._softmax.default"]
    assert graph.ops[0].args[1:] == (0.0, 6.0)
    report = analyze_onnx(path)
    expected = 2 * 256 + 64 + (16 + 1) * 4 + (3 * 4 - 1)  # hardtanh 2/elt, max pool 1/output, GAP (k+1)/output, softmax 3n-1
    assert report.totals.flops == expected
    assert report.totals.params == 0


def test_conventions_reach_onnx_reports(tmp_path):
    path = bn_model(tmp_path)
    report = analyze_onnx(path, conventions=Conventions(flops="exact", count_bias=False))
    assert report.conventions.flops == "exact" and report.conventions.count_bias is False


def test_no_partial_report_on_warning_free_model(tmp_path):
    # every op of a small conv net is counted: no warning at all
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        analyze_onnx(conv_relu_symbolic(tmp_path), "1x3x8x8")


def test_topk_and_shrink(tmp_path):
    nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1), helper.make_node("Shrink", ["v"], ["y"], lambd=0.5)]
    m = model(nodes, [value("x", [2, 16])], [value("y", [2, 4]), value("i", [2, 4], I64)], [const("k", np.array([4], np.int64))])
    graph = capture_onnx(save(m, tmp_path / "m.onnx"))
    assert [op.op for op in graph.ops] == ["aten.topk.default", "aten.hardshrink.default"]
    assert graph.ops[0].args[1:3] == (4, 1)
    report = analyze_onnx(tmp_path / "m.onnx")
    assert report.to_dict()["uncounted_ops"] == []


def test_initializers_listed_as_inputs_are_weights(tmp_path):
    # IR < 4 style (keep_initializers_as_inputs): the weight is a graph input and an initializer
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()).eval()
    path = tmp_path / "kept.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(2, 3),), str(path), dynamo=False, keep_initializers_as_inputs=True)
    graph = capture_onnx(path, "2x3")  # the one positional spec goes to the real input
    assert graph.params == 16 and [t.name for t in graph.inputs] == [graph.inputs[0].name]
    assert analyze_onnx(path).totals.macs == 2 * 4 * 3
