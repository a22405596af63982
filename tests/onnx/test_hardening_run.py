"""Issue 16, exporting and running ONNX: --opset range, a model returning None, a quiet fallback
exporter (item 10), and ONNX Runtime's errors kept whole to their cause (item 23)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import onnx
from howfast import errors
from howfast.cli.app import main
from howfast.errors import ExportError, UsageError
from onnx import helper
from tests.onnx.builders import const, model, save, value

NETS = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Nothing(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            self.fc(x)
            return None

    class Differences(nn.Module):  # torch.diff: no TorchScript symbolic, so the dynamo exporter runs
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return torch.diff(self.fc(x), dim=1)

    def nothing():
        return Nothing()

    def differences():
        return Differences()

    def linear():
        return nn.Linear(4, 2)
    """
)


@pytest.fixture
def nets(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(NETS)
    return path


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("howfast: error: ") and "Traceback" not in err, err
    return lines[0]


def test_item10_export_refuses_an_unsupported_opset(nets, tmp_path, capfd):
    out = tmp_path / "x.onnx"
    code = main(["export", f"{nets}:linear", str(out), "-i", "1x4", "--opset", "9999"])
    _, err = capfd.readouterr()
    assert code == errors.USAGE and "--opset 9999" in one_line(err)
    assert not out.exists()
    import torch

    from howfast.onnx.export import export_model

    with pytest.raises(UsageError):
        export_model(torch.nn.Linear(4, 2), (torch.randn(1, 4),), None, out, opset=9999)
    # an opset the exporters accept is the opset written
    code = main(["export", f"{nets}:linear", str(out), "-i", "1x4", "--opset", "17"])
    _, err = capfd.readouterr()
    assert code == 0, err
    opsets = {o.domain: o.version for o in onnx.load(str(out)).opset_import}
    assert opsets.get("", opsets.get("ai.onnx")) == 17


def test_item10_export_refuses_a_model_returning_none(nets, tmp_path, capfd):
    out = tmp_path / "none.onnx"
    out.write_bytes(b"the file that was there")
    code = main(["export", f"{nets}:nothing", str(out), "-i", "1x4"])
    _, err = capfd.readouterr()
    assert code == errors.BAD_FILE and "no output" in one_line(err)
    assert out.read_bytes() == b"the file that was there"  # nothing invalid written over it
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".onnx" or "howfast" in p.name] == ["none.onnx"]
    import torch

    from howfast.onnx.export import export_model

    namespace: dict = {}
    exec(compile(NETS, "nets", "exec"), namespace)
    with pytest.raises(ExportError, match="no output"):
        export_model(namespace["nothing"](), (torch.randn(1, 4),), None, tmp_path / "n2.onnx")
    assert not (tmp_path / "n2.onnx").exists()


def test_item10_fallback_exporter_is_quiet(nets, tmp_path, capfd):
    out = tmp_path / "diff.onnx"
    code = main(["export", f"{nets}:differences", str(out), "-i", "2x4"])
    captured = capfd.readouterr()
    assert code == 0, captured.err
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [f"wrote {out}"]  # no exporter log lines
    assert main(["analyze", str(out), "-f", "json"]) == 0


def _failing_model(tmp_path):
    name = "/encoder/layers.0/attention/self/very/long/module/path/written/by/the/exporter/Reshape"
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name=name)]
    return save(model(nodes, [value("x", ["batch", 12])], [value("y", None)], [const("s", np.array([5, 7], np.int64))]),
                tmp_path / "fails.onnx")


def test_item23_bench_onnx_keeps_the_runtime_errors_cause(tmp_path, capfd):
    path = _failing_model(tmp_path)
    code = main(["bench", str(path), "-i", "x=1x12", "--runs", "2", "--warmup", "1"])
    captured = capfd.readouterr()
    assert code == errors.BENCH
    line = one_line(captured.err)  # ONNX Runtime's own error log is not printed beside it
    assert "requested shape:{5,7}" in line and "Input shape:{1,12}" in line  # the cause, at the end of ORT's text
    assert "Reshape" in line and len(line) < 500
