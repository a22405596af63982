"""ONNX Runtime helpers (sessions, feeds) and the exporter (batch norm kept, one-line failures)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import onnx
from howfast.errors import BadFileError, DeviceError, ExportError, InputSpecError
from howfast.onnx.export import export_model
from howfast.onnx.runtime import create_session, make_feeds
from onnx import helper
from tests.onnx.builders import model, save, value, weight


def symbolic_model(tmp_path):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Cast", ["ids"], ["z"], to=onnx.TensorProto.FLOAT)]
    m = model(nodes, [value("x", ["batch", 3]), value("ids", ["batch", "seq"], onnx.TensorProto.INT64)],
              [value("y", ["batch", 4]), value("z", ["batch", "seq"])], [weight("w", (3, 4))])
    return save(m, tmp_path / "sym.onnx")


def test_session_and_feeds_with_symbolic_dims(tmp_path):
    session = create_session(symbolic_model(tmp_path), threads=1)
    feeds = make_feeds(session, ["x=2x3", "ids=2x5"])
    assert feeds["x"].shape == (2, 3) and feeds["x"].dtype == np.float32
    assert feeds["ids"].shape == (2, 5) and feeds["ids"].dtype == np.int64 and not feeds["ids"].any()
    y, z = session.run(None, feeds)
    assert y.shape == (2, 4) and z.shape == (2, 5)
    with pytest.raises(InputSpecError, match="input 'ids' dimension 1 \\('seq'\\) is symbolic"):
        make_feeds(session, ["x=2x3"])  # batch is bound by x, seq is not


def test_session_errors(tmp_path):
    with pytest.raises(BadFileError, match="no such file"):
        create_session(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk bytes, not a model")
    with pytest.raises(BadFileError):
        create_session(tmp_path / "junk.onnx")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(DeviceError, match="no CUDA provider"):
            create_session(symbolic_model(tmp_path), device="cuda")
    with pytest.raises(DeviceError, match="unknown device"):
        create_session(symbolic_model(tmp_path), device="tpu")


def test_export_keeps_batch_norm_and_names_and_runs(tmp_path):
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p))
        net[1].running_mean.copy_(torch.randn(4))
        net[1].running_var.copy_(torch.rand(4) + 0.5)
    x = torch.randn(1, 3, 6, 6)
    path = export_model(net, (x,), None, tmp_path / "net.onnx")
    graph = onnx.load(str(path)).graph
    assert [n.op_type for n in graph.node if n.op_type != "Constant"] == ["Conv", "BatchNormalization", "Relu"]
    assert {i.name for i in graph.initializer} == {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"}
    assert not net.training  # the model is left as it was
    session = create_session(path)
    (y,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(y, net(x).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_export_failures_are_one_line_export_errors(tmp_path):
    class Unexportable(nn.Module):
        def forward(self, x):
            if torch.jit.is_tracing() or torch.compiler.is_compiling():
                raise RuntimeError("this model cannot be traced\nsecond line")
            return x

    with pytest.raises(ExportError) as info:
        export_model(Unexportable(), (torch.randn(2),), None, tmp_path / "u.onnx")
    assert "\n" not in str(info.value) and str(info.value).startswith("cannot export the model to ONNX")
    with pytest.raises(ExportError, match="meta device"):
        export_model(nn.Linear(2, 2, device="meta"), (torch.randn(1, 2),), None, tmp_path / "m.onnx")
