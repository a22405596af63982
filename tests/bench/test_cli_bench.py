"""``howfast bench`` through ``howfast.cli.app.main``: output, JSON, sweeps, per-layer, ORT, errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch

from howfast.cli.app import main

SMALL = ["mobilenet_v2:width=0.35", "-i", "1x3x32x32"]
FAST = ["--runs", "3", "--warmup", "1"]
TINY_SOURCE = """
from torch import nn

def make():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
"""


@pytest.fixture
def tiny(tmp_path: Path) -> list[str]:
    path = tmp_path / "tiny.py"
    path.write_text(TINY_SOURCE)
    return [f"{path}:make", "-i", "1x3x16x16"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["bench", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, text: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("howfast: error: ") and text in lines[0], err
    assert "Traceback" not in err


@pytest.fixture
def factories(tmp_path: Path) -> Path:
    path = tmp_path / "factories.py"
    path.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Eigh(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(4, 4)

            def forward(self, x):
                y = self.lin(x)
                return torch.linalg.eigh(y @ y.transpose(-1, -2)).eigenvalues

        class Boom(nn.Module):
            def forward(self, x):
                raise RuntimeError("boom during the forward pass")

        class Drift(nn.Module):
            # 5 ms per call for the warm-up run and the first 6 timed runs, 15 ms after
            def __init__(self):
                super().__init__()
                self.calls = 0

            def forward(self, x):
                import time
                self.calls += 1
                time.sleep(0.005 if self.calls <= 7 else 0.015)
                return x

        def eigh():
            return Eigh()

        def drift():
            return Drift()

        def boom():
            return Boom()
    """))
    return path


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *SMALL, *FAST)
    assert code == 0, err
    assert "median ms" in out and "p99 ms" in out and "throughput items/s" in out
    assert "3 timed runs" in out and "environment:" in out
    assert err == ""  # no progress bar when stderr is not a terminal


def test_json_and_threads_restored(capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny: list[str]) -> None:
    before = torch.get_num_threads()
    target = tmp_path / "out" / "bench.json"
    code, out, err = run(capsys, *tiny, *FAST, "--batch", "2", "--threads", "1", "-f", "json", "-o", str(target))
    assert code == 0, err
    assert torch.get_num_threads() == before
    data = json.loads(target.read_text())
    assert data["schema_version"]
    bench = data["benchmark"]
    assert bench["batch"] == 2 and bench["inputs"] == ["2x3x16x16"] and bench["runs"] == 3
    assert bench["throughput_items_per_s"] == pytest.approx(2 / bench["latency_s"]["median"])
    env = bench["environment"]
    assert env["threads"] == 1 and env["batch"] == 2 and env["dtype"] == "float32" and env["runtime"] == "torch"
    assert env["torch_version"] == torch.__version__ and env["cpu_model"] and env["device_name"]


def test_a_drifting_measurement_is_flagged(capsys: pytest.CaptureFixture[str], factories: Path) -> None:
    argv = [f"{factories}:drift", "-i", "1x4", "--runs", "12", "--warmup", "1"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "warning: the second half of the runs has a median" in out and "% above the first half's" in out
    code, out, err = run(capsys, *argv, "-f", "json")
    warnings = json.loads(out)["benchmark"]["warnings"]
    assert any(w.startswith("the second half of the runs has a median") for w in warnings)


def test_a_drifting_sweep_point_is_flagged(capsys: pytest.CaptureFixture[str], factories: Path) -> None:
    # batch 1: the warm-up and 6 timed runs at 5 ms, then 6 at 15 ms -> drift; batch 2: all 15 ms -> steady
    argv = [f"{factories}:drift", "-i", "1x4", "--runs", "12", "--warmup", "1", "--batch", "1,2"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "warning at batch 1: the second half of the runs has a median" in out
    assert "warning at batch 2" not in out
    code, out, err = run(capsys, *argv, "-f", "json")
    rows = json.loads(out)["benchmark"]["sweep"]["rows"]
    assert len(rows[0]["warnings"]) >= 1 and rows[1]["warnings"] == []


def test_per_layer(capsys: pytest.CaptureFixture[str], tiny: list[str]) -> None:
    code, out, err = run(capsys, *tiny, *FAST, "--per-layer", "--layer-runs", "2", "-f", "json")
    assert code == 0, err
    layers = json.loads(out)["benchmark"]["per_layer"]
    assert sum(layers["self_by_module"].values()) == pytest.approx(layers["total_s"])
    assert layers["overhead_ratio"] > 0 and "(other)" in layers["self_by_module"]
    code, out, err = run(capsys, *tiny, *FAST, "--per-layer", "--layer-runs", "2")
    assert code == 0 and "hook overhead" in out and "(other)" in out and "Conv2d" in out


def test_sweep(capsys: pytest.CaptureFixture[str], tiny: list[str]) -> None:
    code, out, err = run(capsys, *tiny, "--runs", "2", "--warmup", "0", "--batch", "1,2", "--sweep-size", "16,20",
                         "-f", "json")
    assert code == 0, err
    sweep = json.loads(out)["benchmark"]["sweep"]
    assert [(r["size"], r["batch"]) for r in sweep["rows"]] == [(16, 1), (16, 2), (20, 1), (20, 2)]
    assert sweep["rows"][3]["inputs"] == ["2x3x20x20"]
    assert [k["size"] for k in sweep["knee"]] == [16, 20]
    code, out, err = run(capsys, *tiny, "--runs", "2", "--warmup", "0", "--batch", "1,2,4")
    assert code == 0 and "vs previous" in out and "knee" in out


@pytest.mark.parametrize("model", [
    ["mobilenet_v2:width=0.35", "-i", "1x3x32x32"],
    ["llama:layers=1,d_model=64,heads=4,kv_heads=2,ffn=128,vocab=100", "-i", "1x16:int64"],
    ["gpt2:layers=1,d_model=64,heads=2,vocab=100,n_positions=32", "-i", "1x16:int64"],
    ["vit_tiny:img_size=32,patch=16,depth=1", "-i", "1x3x32x32"],
])
def test_onnxruntime_backend(capsys: pytest.CaptureFixture[str], model: list[str]) -> None:
    code, out, err = run(capsys, *model, *FAST, "--runtime", "onnxruntime", "--threads", "1", "-f", "json")
    assert code == 0, err
    bench = json.loads(out)["benchmark"]
    assert bench["runtime"] == "onnxruntime" and bench["latency_s"]["median"] > 0
    assert bench["environment"]["onnxruntime_version"] and bench["environment"]["runtime_threads"] == 1


def test_export_failure_is_one_line(capsys: pytest.CaptureFixture[str], factories: Path) -> None:
    code, out, err = run(capsys, f"{factories}:eigh", "-i", "2x4x4", *FAST, "--runtime", "onnxruntime")
    assert code == 6
    assert_one_line_error(err, "cannot export the model to ONNX")
    assert "linalg_eigh" in err
    code, _, err = run(capsys, f"{factories}:eigh", "-i", "2x4x4", *FAST)
    assert code == 0, err  # PyTorch itself runs it


def test_model_raising_in_warmup(capsys: pytest.CaptureFixture[str], factories: Path) -> None:
    code, _, err = run(capsys, f"{factories}:boom", "-i", "1x4", *FAST)
    assert code == 7
    assert_one_line_error(err, "the model raised during warm-up run 1: RuntimeError: boom during the forward pass")


@pytest.mark.parametrize("options, code, text", [
    (["--runs", "0"], 7, "runs must be a whole number of at least 1, got 0"),
    (["--runs", "-5"], 7, "runs must be"),
    (["--batch", "0"], 7, "batch must be a whole number of at least 1, got 0"),
    (["--batch", "-2"], 7, "batch must be"),
    (["--batch", "1,x"], 7, "whole numbers separated by commas"),
    (["--threads", "0"], 7, "threads must be a whole number of at least 1"),
    (["--threads", "-1"], 7, "threads must be"),
    (["--warmup", "-1"], 7, "warm-up must be"),
    (["--budget", "0"], 7, "budget must be a positive number"),
    (["--budget", "-1"], 7, "budget must be"),
    (["--sweep-size", "0"], 7, "size must be"),
    (["--layer-runs", "0", "--per-layer"], 7, "per-layer runs must be"),
    (["--device", "meta"], 7, "meta device"),
    (["--per-layer", "--batch", "1,2"], 2, "--per-layer measures one input shape"),
    (["--per-layer", "--runtime", "onnxruntime"], 2, "--per-layer needs --runtime torch"),
])
def test_bad_options(capsys: pytest.CaptureFixture[str], options: list[str], code: int, text: str, tiny: list[str]) -> None:
    got, out, err = run(capsys, *tiny, *options)
    assert got == code, err
    assert_one_line_error(err, text)
    assert out == ""


def test_budget_too_small(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "slow.py"
    path.write_text("import time\nfrom torch import nn\n\nclass Slow(nn.Module):\n"
                    "    def forward(self, x):\n        time.sleep(0.05)\n        return x\n\ndef make():\n    return Slow()\n")
    code, _, err = run(capsys, f"{path}:make", "-i", "1x4", "--warmup", "0", "--budget", "0.001")
    assert code == 7
    assert_one_line_error(err, "budget 0.001 s is shorter than one run (0.0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda(capsys: pytest.CaptureFixture[str], tiny: list[str]) -> None:
    code, _, err = run(capsys, *tiny, *FAST, "--device", "cuda")
    assert code == 8
    assert_one_line_error(err, "no CUDA device")


def test_click_usage_error_exits_2(capsys: pytest.CaptureFixture[str], tiny: list[str]) -> None:
    code, _, err = run(capsys, *tiny, "--runs", "many")
    assert code == 2 and "Traceback" not in err
