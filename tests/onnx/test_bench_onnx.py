"""`howfast bench model.onnx` times the file in ONNX Runtime, with one-line errors for bad files."""

from __future__ import annotations

import json

import torch
from torch import nn

from howfast import errors
from howfast.cli.app import main
from howfast.onnx.export import export_model


def test_bench_an_onnx_file(tmp_path, capsys):
    path = tmp_path / "tiny.onnx"
    export_model(nn.Sequential(nn.Linear(8, 4), nn.ReLU()).eval(), (torch.randn(2, 8),), {}, path)
    code = main(["bench", str(path), "--runs", "5", "--warmup", "1", "-f", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)["benchmark"]
    assert data["runtime"] == "onnxruntime" and data["runs"] == 5 and data["latency_s"]["median"] > 0
    assert data["inputs"] == ["2x8:float32"]


def test_bench_bad_onnx_files(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    for target in (bad, tmp_path / "missing.onnx"):
        code = main(["bench", str(target), "--runs", "2"])
        _, err = capsys.readouterr()
        assert code == errors.BAD_FILE and "Traceback" not in err and len(err.strip().splitlines()) == 1
    path = tmp_path / "ok.onnx"
    export_model(nn.Linear(3, 3).eval(), (torch.randn(1, 3),), {}, path)
    code = main(["bench", str(path), "--batch", "4"])
    _, err = capsys.readouterr()
    assert code == errors.USAGE and "--input" in err
