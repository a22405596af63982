"""The command line with ONNX files: analyze, export, one-line errors, and a fuzz of mutated files."""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import onnx
from howfast import errors
from howfast.cli.app import main
from tests.onnx.test_files import small_net

FACTORY = textwrap.dedent(
    """
    import torch
    from torch import nn

    def make():
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))

    def broken():
        class Broken(nn.Module):
            def forward(self, x):
                return torch.linalg.eigh(x)[0].numpy()  # leaves torch: not exportable
        return Broken()
    """
)


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("howfast: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def factory(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(FACTORY)
    return path


def test_analyze_onnx_table_and_json(tmp_path, capsys):
    path = small_net(tmp_path)
    code, out, err = cli(capsys, "analyze", path)
    assert code == 0, err
    assert "conv" in out and "fc" in out
    code, out, err = cli(capsys, "analyze", path, "-f", "json", "--flops", "exact")
    data = json.loads(out)
    assert data["model"]["name"] == "net.onnx"
    assert {layer["name"] for layer in data["layers"]} >= {"", "conv", "relu", "fc"}
    assert data["conventions"]["flops"] == "exact"


def test_analyze_onnx_refuses_pytorch_only_options(tmp_path, capsys):
    code, out, err = cli(capsys, "analyze", small_net(tmp_path), "--until", "conv")
    assert code == errors.USAGE and out == ""
    assert "--until applies to PyTorch models only" in one_line(err)
    code, out, err = cli(capsys, "analyze", small_net(tmp_path), "--dtype", "float16")
    assert code == errors.USAGE and "--dtype applies to PyTorch models only" in one_line(err)


def test_symbolic_input_without_size(tmp_path, capsys):
    from onnx import helper
    from tests.onnx.builders import model, save, value

    m = model([helper.make_node("Relu", ["x"], ["y"])], [value("x", ["batch", 4])], [value("y", ["batch", 4])])
    path = save(m, tmp_path / "sym.onnx")
    code, out, err = cli(capsys, "analyze", path)
    assert code == errors.BAD_INPUT and out == ""
    assert "input 'x' dimension 0 ('batch') is symbolic: give its size with --input x=1x4" in one_line(err)
    code, out, err = cli(capsys, "analyze", path, "--input", "x=3x4", "-f", "json")
    assert code == 0 and json.loads(out)["totals"]["flops"] == 12


def test_export_then_analyze_matches_pytorch(factory, tmp_path, capsys):
    out_path = tmp_path / "out" / "net.onnx"
    code, out, err = cli(capsys, "export", f"{factory}:make", out_path, "--input", "1x3x16x16")
    assert code == 0, err
    assert f"wrote {out_path}" in err
    graph = onnx.load(str(out_path))
    assert "BatchNormalization" in {n.op_type for n in graph.graph.node}  # kept, not folded
    names = {i.name for i in graph.graph.initializer} | {n.output[0] for n in graph.graph.node if n.op_type == "Identity"}
    assert names >= {"0.weight", "1.weight", "1.running_mean", "1.running_var", "5.weight"}  # PyTorch's names
    _, torch_json, _ = cli(capsys, "analyze", f"{factory}:make", "--input", "1x3x16x16", "-f", "json")
    _, onnx_json, _ = cli(capsys, "analyze", out_path, "-f", "json")
    t, o = json.loads(torch_json)["totals"], json.loads(onnx_json)["totals"]
    for key in ("params", "macs", "flops", "mem_accesses", "bytes_read", "bytes_written"):
        assert o[key] == t[key], key


def test_export_errors(factory, tmp_path, capsys):
    code, out, err = cli(capsys, "export", f"{factory}:make", tmp_path / "x.onnx", "--device", "meta", "--input", "1x3x8x8")
    assert code == errors.BAD_FILE and "meta device" in one_line(err)
    code, out, err = cli(capsys, "export", f"{factory}:make", tmp_path / "x.txt", "--input", "1x3x8x8")
    assert code == errors.BAD_FILE and "must end in .onnx" in one_line(err)
    code, out, err = cli(capsys, "export", f"{factory}:broken", tmp_path / "b.onnx", "--input", "2x3x3")
    assert code == errors.BAD_FILE and "cannot export the model to ONNX" in one_line(err)
    code, out, err = cli(capsys, "export", small_net(tmp_path), tmp_path / "y.onnx")
    assert code == errors.MODEL_LOAD and "this command needs a PyTorch model" in one_line(err)
    code, out, err = cli(capsys, "export", tmp_path / "missing.onnx", tmp_path / "y.onnx")
    assert code == errors.BAD_FILE and "no such file" in one_line(err)


_BASE: dict[str, bytes] = {}


def _base_bytes() -> bytes:
    """A small model with many node kinds and tiny weights, so most bytes are graph structure."""
    if "net" not in _BASE:
        import numpy as np

        from onnx import helper
        from tests.onnx.builders import const, model, value, weight

        nodes = [
            helper.make_node("Conv", ["x", "cw", "cb"], ["c"], name="/conv/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=1),
            helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="/bn/BatchNormalization"),
            helper.make_node("Clip", ["n", "lo", "hi"], ["r"], name="/act/Clip"),
            helper.make_node("MaxPool", ["r"], ["p"], name="/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Shape", ["p"], ["sh"], name="/Shape"),
            helper.make_node("Gather", ["sh", "zero"], ["n0"], name="/Gather", axis=0),
            helper.make_node("Unsqueeze", ["n0", "axes"], ["n1"], name="/Unsqueeze"),
            helper.make_node("Concat", ["n1", "minus1"], ["target"], name="/Concat", axis=0),
            helper.make_node("Reshape", ["p", "target"], ["f"], name="/flat/Reshape"),
            helper.make_node("MatMul", ["f", "fw"], ["mm"], name="/fc/MatMul"),
            helper.make_node("Add", ["mm", "fb"], ["logits"], name="/fc/Add"),
            helper.make_node("Softmax", ["logits"], ["y"], name="/Softmax", axis=-1),
        ]
        inits = [weight("cw", (2, 1, 3, 3)), weight("cb", (2,)), weight("s", (2,)), weight("b", (2,)), weight("m", (2,)),
                 const("v", np.ones(2, np.float32)), const("lo", np.array(0.0, np.float32)), const("hi", np.array(6.0, np.float32)),
                 const("zero", np.array(0, np.int64)), const("axes", np.array([0], np.int64)), const("minus1", np.array([-1], np.int64)),
                 weight("fw", (8, 3)), weight("fb", (3,))]
        m = model(nodes, [value("x", ["batch", 1, 4, 4])], [value("y", ["batch", 3])], inits)
        _BASE["net"] = m.SerializeToString()
    return _BASE["net"]


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), min_size=0, max_size=8),
    cut=st.one_of(st.none(), st.integers(min_value=0)),
)
def test_fuzz_mutated_model_never_crashes(flips, cut):
    data = bytearray(_base_bytes())
    for position, byte in flips:
        data[position % len(data)] = byte
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.onnx"
        path.write_bytes(bytes(data))
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["analyze", str(path), "-f", "json", "--input", "2x1x4x4"])
    assert code != errors.INTERNAL, err.getvalue()
    assert "Traceback" not in err.getvalue()
    if code == 0:
        json.loads(out.getvalue())
    else:
        assert out.getvalue() == ""
        assert len([line for line in err.getvalue().strip().splitlines() if line.startswith("howfast: error: ")]) == 1
