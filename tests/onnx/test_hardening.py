"""Issue 16, ONNX front end: memory caps, --batch, sequences, opset-9 Dropout, fused Linear after a Pad,
buffers (one test per item, each reproducing the report first)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from howfast import errors
from howfast.api import analyze as analyze_onnx
from howfast.cli.app import main
from howfast.errors import InputSpecError
from howfast.graph.records import TensorKind
from howfast.onnx import capture_onnx
from onnx import TensorProto, helper, numpy_helper
from tests.onnx.builders import const, model, save, value, weight

I64 = TensorProto.INT64

# Runs `howfast analyze` on each file in a fresh process: the peak resident memory above the
# baseline (every module imported first) is what the analysis allocated. RLIMIT_AS is a safety net
# that keeps an unfixed front end from exhausting the machine: it fails the test, not the host.
MEMORY_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    import numpy, onnx, onnx.reference, onnx.shape_inference
    import howfast.onnx.capture, howfast.pipeline
    from howfast.cli.app import main

    def vm_size():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))

    limit = vm_size() + 4 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    codes = [main(["analyze", path, "-f", "json", "-o", path + ".json"]) for path in sys.argv[1:]]
    extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    print(json.dumps({"codes": codes, "extra_mib": extra}))
    """
)


def _constant(name, data):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(data)))


def _amplifiers(tmp_path):
    """Three files of a few hundred bytes that ask for gigabytes when folded or data-propagated."""
    ones = numpy_helper.from_array(np.array([1], np.int64))
    out = [helper.make_tensor_value_info("y", I64, None)]
    files = {
        # the 131-byte file: ConstantOfShape int64 [20000, 20000] (3.2 GB when folded)
        "cos.onnx": model([_constant("s", np.array([20000, 20000], np.int64)),
                           helper.make_node("ConstantOfShape", ["s"], ["y"], value=ones)], [], out),
        # Range(0, 4e8) from initializers: 3.2 GB when folded
        "range.onnx": model([helper.make_node("Range", ["a", "b", "c"], ["y"])], [], out,
                            [const("a", np.array(0, np.int64)), const("b", np.array(400_000_000, np.int64)), const("c", np.array(1, np.int64))]),
        # Range(0, 4e8) -> Cast: ONNX data propagation holds one shape dimension per element (tens of GB)
        "range_cast.onnx": model([_constant("a", np.array(0, np.int64)), _constant("b", np.array(400_000_000, np.int64)),
                                  _constant("c", np.array(1, np.int64)), helper.make_node("Range", ["a", "b", "c"], ["r"]),
                                  helper.make_node("Cast", ["r"], ["y"], to=I64)], [], out),
    }
    return [str(save(m, tmp_path / name)) for name, m in files.items()]


def test_item1_constant_of_shape_is_capped(tmp_path):
    paths = _amplifiers(tmp_path)
    run = subprocess.run([sys.executable, "-c", MEMORY_PROBE, *paths], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    probe = json.loads(run.stdout.strip().splitlines()[-1])
    assert probe["codes"] == [0, 0, 0], run.stderr[-2000:]
    assert probe["extra_mib"] < 200, probe  # the values stay symbolic: no constant of that size is made
    # the ops are in the report, with their (symbolic) output sizes, not folded away
    ops = {p.rsplit("/", 1)[-1]: capture_onnx(p).ops for p in paths}
    assert [(op.op, op.outputs[0].shape) for op in ops["cos.onnx"]] == [("aten.full.default", (20000, 20000))]
    assert [(op.op, op.outputs[0].shape) for op in ops["range.onnx"]] == [("aten.arange.start_step", (400_000_000,))]
    assert [op.op for op in ops["range_cast.onnx"]] == ["aten.arange.start_step", "aten._to_copy.default"]
    assert ops["range_cast.onnx"][1].outputs[0].shape == (400_000_000,)


def test_item1_small_constants_still_fold(tmp_path):
    # the cap leaves ordinary shape arithmetic alone: Range(0, 6) -> Reshape target stays folded
    nodes = [helper.make_node("Range", ["z", "six", "one"], ["r"]), helper.make_node("Reshape", ["x", "shape"], ["y"]),
             helper.make_node("Add", ["y", "r"], ["out"])]
    inits = [const("z", np.array(0, np.int64)), const("six", np.array(6, np.int64)), const("one", np.array(1, np.int64)),
             const("shape", np.array([-1, 6], np.int64))]
    m = model(nodes, [value("x", [2, 3, 2], I64)], [value("out", None, I64)], inits)
    graph = capture_onnx(save(m, tmp_path / "small.onnx"))
    assert [op.op for op in graph.ops] == ["aten.view.default", "aten.add.Tensor"]
    assert graph.ops[1].outputs[0].shape == (2, 6)


def test_item1_nodes_left_out_of_data_propagation_are_shaped_by_the_walk(tmp_path, monkeypatch):
    from howfast.onnx import dataprop

    # Reshape(x, [Shape(x)[0], -1]): its shape needs the value of the shape arithmetic
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]), helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["y"])]
    inits = [const("zero", np.array(0, np.int64)), const("axes", np.array([0], np.int64)), const("minus1", np.array([-1], np.int64)),
             weight("w", (12, 5))]
    path = save(model(nodes, [value("x", ["batch", 3, 4])], [value("y", None)], inits), tmp_path / "reshape.onnx")
    kept = [(op.op, [t.shape for t in op.outputs]) for op in capture_onnx(path, "x=2x3x4").ops]
    monkeypatch.setattr(dataprop, "DATA_PROP_LIMIT", 0)  # every propagating node left out
    assert [(op.op, [t.shape for t in op.outputs]) for op in capture_onnx(path, "x=2x3x4").ops] == kept
    assert kept == [("aten.view.default", [(2, 12)]), ("aten.matmul.default", [(2, 5)])]


def _batch_model(tmp_path, dims, name="b.onnx"):
    m = model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [value("x", dims)], [value("y", None)])
    return save(m, tmp_path / name)


def test_item3_batch_applies_to_a_symbolic_batch_dimension(tmp_path):
    from howfast.onnx import batch_inputs

    sym = _batch_model(tmp_path, ["N", 3, 4], "sym.onnx")
    specs = batch_inputs(sym, None, 4)
    assert [(s.name, s.shape) for s in specs] == [("x", (4, 3, 4))]
    assert analyze_onnx(sym, specs).totals.flops == 4 * 3 * 4
    # given shapes get the batch as their first dimension (as --batch does for PyTorch models)
    assert [s.shape for s in batch_inputs(sym, "x=2x3x4", 5)] == [(5, 3, 4)]
    # the model fixes its batch at 1: refused in one line, never silently reported as batch 1
    fixed = _batch_model(tmp_path, [1, 3, 4], "fixed.onnx")
    with pytest.raises(InputSpecError, match=r"--batch 4 cannot be applied.*first dimension.*1x3x4"):
        batch_inputs(fixed, None, 4)
    assert batch_inputs(fixed, None, 1) == []  # the batch it has: the declared shapes stand
    # a symbol shared by two inputs is sized once; a second symbolic dimension is left to --input
    two = save(model([helper.make_node("Add", ["a", "b"], ["y"])], [value("a", ["B", 4]), value("b", ["B", "T"])], [value("y", None)]),
               tmp_path / "two.onnx")
    assert [(s.name, s.shape) for s in batch_inputs(two, None, 3)] == [("a", (3, 4))]
    assert capture_onnx(two, batch_inputs(two, "b=1x4", 3)).inputs[1].shape == (3, 4)


def test_item3_cli_batch_on_onnx_file(tmp_path, capsys):
    sym = _batch_model(tmp_path, ["N", 3, 4], "sym.onnx")
    code = main(["analyze", str(sym), "-b", "4", "-f", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["totals"]["flops"] == 4 * 3 * 4
    code = main(["analyze", str(_batch_model(tmp_path, [1, 3, 4], "fixed.onnx")), "-b", "4"])
    assert code == errors.BAD_INPUT and "--batch 4 cannot be applied" in capsys.readouterr().err


def test_item20_fused_linear_after_pad_infers_the_bias_add_shape(tmp_path):
    # pad the tokens to a multiple of 4, p = (4 - T % 4) % 4 (Mod is beyond ONNX data propagation, so
    # whole-graph inference leaves the Pad and everything after it symbolic), then an nn.Linear
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="/shape"),
        helper.make_node("Gather", ["shape", "one"], ["t"], name="/gather", axis=0),
        helper.make_node("Mod", ["t", "four"], ["r"], name="/mod"),
        helper.make_node("Sub", ["four", "r"], ["q"], name="/sub"),
        helper.make_node("Mod", ["q", "four"], ["p"], name="/mod2"),
        helper.make_node("Unsqueeze", ["p", "axes0"], ["p1"], name="/unsqueeze"),
        helper.make_node("Concat", ["zeros4", "p1", "zero1"], ["pads"], name="/concat", axis=0),  # pad the end of dim 1
        helper.make_node("Pad", ["x", "pads"], ["xp"], name="/pad/Pad"),
        helper.make_node("MatMul", ["xp", "w"], ["mm"], name="/fc/MatMul"),
        helper.make_node("Add", ["b", "mm"], ["y"], name="/fc/Add"),
    ]
    inits = [const("one", np.array(1, np.int64)), const("four", np.array(4, np.int64)), const("axes0", np.array([0], np.int64)),
             const("zeros4", np.zeros(4, np.int64)), const("zero1", np.zeros(1, np.int64)), weight("w", (8, 16)), weight("b", (16,))]
    path = save(model(nodes, [value("x", ["batch", 5, 8])], [value("y", None)], inits), tmp_path / "pad_linear.onnx")
    graph = capture_onnx(path, "x=2x5x8")
    addmm = [op for op in graph.ops if op.op == "aten.addmm.default"]
    assert len(addmm) == 1 and addmm[0].outputs[0].shape == (2, 8, 16)  # T = 5 padded to 8
    report = analyze_onnx(path, "x=2x5x8")
    assert report.totals.macs == 2 * 8 * 8 * 16
    assert report.totals.params == 8 * 16 + 16


def test_item21_unused_dropout_mask_without_a_shape(tmp_path):
    # opset 9 (as in the model zoo's VGG-19, AlexNet, SqueezeNet, Inception-v1): Dropout writes a mask
    # that nothing reads and that ONNX shape inference leaves without a shape
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
             helper.make_node("Dropout", ["h"], ["d", "mask"], name="drop", ratio=0.5),
             helper.make_node("Relu", ["d"], ["y"], name="relu")]
    m = model(nodes, [value("x", [1, 8])], [value("y", [1, 4])], [weight("w", (4, 8)), weight("b", (4,))], opset=9)
    m.ir_version = 4
    report = analyze_onnx(save(m, tmp_path / "drop9.onnx"))
    assert report.totals.params == 4 * 8 + 4 and report.totals.macs == 32
    assert {layer.name for layer in report.layers} >= {"fc", "drop", "relu"}


def test_item22_sequence_ops_with_static_shapes(tmp_path):
    # the dynamo exporter writes torch.split as SplitToSequence + SequenceAt (GPT-2's q, k, v split)
    nodes = [
        helper.make_node("SplitToSequence", ["x", "split"], ["qkv"], name="/attn/split", axis=2),
        helper.make_node("SequenceAt", ["qkv", "i0"], ["q"], name="/attn/getitem"),
        helper.make_node("SequenceAt", ["qkv", "i1"], ["k"], name="/attn/getitem_1"),
        helper.make_node("SequenceAt", ["qkv", "last"], ["v"], name="/attn/getitem_2"),
        helper.make_node("SequenceLength", ["qkv"], ["n"], name="/attn/len"),
        helper.make_node("Mul", ["q", "k"], ["qk"], name="/attn/mul"),
        helper.make_node("Add", ["qk", "v"], ["y"], name="/attn/add"),
        helper.make_node("SplitToSequence", ["x", "sizes"], ["parts"], name="/cat/split", axis=2),
        helper.make_node("ConcatFromSequence", ["parts"], ["z"], name="/cat/cat", axis=2),
        helper.make_node("SplitToSequence", ["x"], ["rows"], name="/unbind/unbind", axis=0, keepdims=0),
        helper.make_node("SequenceAt", ["rows", "i1"], ["row"], name="/unbind/getitem"),
        helper.make_node("Relu", ["row"], ["r"], name="/unbind/relu"),
    ]
    inits = [const("split", np.array(4, np.int64)), const("i0", np.array(0, np.int64)), const("i1", np.array(1, np.int64)),
             const("last", np.array(-1, np.int64)), const("sizes", np.array([2, 10], np.int64))]
    outputs = [value("y", None), value("n", None, I64), value("z", None), value("r", None)]
    graph = capture_onnx(save(model(nodes, [value("x", [2, 8, 12])], outputs, inits), tmp_path / "seq.onnx"))
    by_op = {}
    for op in graph.ops:
        by_op.setdefault(op.op, []).append(op)
    split = by_op["aten.split.Tensor"][0]
    assert split.args[1:] == (4, 2) and [t.shape for t in split.outputs] == [(2, 8, 4)] * 3
    assert split.aliases == frozenset({0, 1, 2})  # views of x
    assert [t.shape for t in by_op["aten.split_with_sizes.default"][0].outputs] == [(2, 8, 2), (2, 8, 10)]
    assert by_op["aten.cat.default"][0].outputs[0].shape == (2, 8, 12)
    assert [t.shape for t in by_op["aten.unbind.int"][0].outputs] == [(8, 12), (8, 12)]
    assert by_op["aten.relu.default"][0].outputs[0].shape == (8, 12)
    add = by_op["aten.add.Tensor"][0]
    assert add.args[1].storage == split.outputs[2].storage  # SequenceAt(-1) is the last piece
    report = analyze_onnx(tmp_path / "seq.onnx")
    assert report.totals.flops == 2 * (2 * 8 * 4) + 8 * 12 + 0  # mul + add, relu; the cat copies only
    assert not report.uncounted_ops


def test_item22_rotary_inv_freq_is_a_buffer(tmp_path):
    import torch
    from torch import nn

    from howfast.onnx.export import export_model

    class Rotary(nn.Module):  # as Hugging Face's Llama: a non-persistent buffer read as data, and RMSNorm
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 8)
            self.register_buffer("freqs", 1.0 / (10000 ** (torch.arange(0, 8, 2).float() / 8)), persistent=False)

        def forward(self, x):
            # F.rms_norm has no TorchScript symbolic: the dynamo exporter writes this file, as for a
            # Hugging Face Llama, and keeps the buffer as an initializer
            positions = torch.cumsum(torch.ones_like(x[0, :, 0]), 0)
            angles = torch.outer(positions, self.freqs)
            return nn.functional.rms_norm(self.proj(x), (8,)) * torch.cat([angles.cos(), angles.sin()], dim=-1)

    net = Rotary().eval()
    path = export_model(net, (torch.randn(1, 5, 8),), None, tmp_path / "rotary.onnx")
    torch_report = analyze_onnx(net, torch.randn(1, 5, 8))
    onnx_report = analyze_onnx(path)
    assert onnx_report.totals.params == torch_report.totals.params == 8 * 8 + 8
    assert onnx_report.totals.buffers == torch_report.totals.buffers == 4
    # a file from another exporter: the Hugging Face name alone marks it
    nodes = [helper.make_node("MatMul", ["pos", "model.rotary_emb.inv_freq"], ["a"], name="/rotary/MatMul"),
             helper.make_node("Cos", ["a"], ["y"], name="/rotary/Cos")]
    m = model(nodes, [value("pos", [5, 1])], [value("y", None)], [weight("model.rotary_emb.inv_freq", (1, 4))])
    graph = capture_onnx(save(m, tmp_path / "hf.onnx"))
    assert graph.params == 0 and graph.buffers == 4
    assert graph.ops[0].args[1].kind == TensorKind.BUFFER
