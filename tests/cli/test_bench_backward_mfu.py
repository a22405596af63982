"""``howfast bench``'s achieved FLOP/s and share of the peak, and ``bench --backward``: a training
step timed on a copy of the model, with its MFU; the profile named, or the calibrated local one.

The model is the MLP of test_analyze_backward.py (Linear 3 -> 16 -> 32 -> 8 on 4x3, N = 872): by hand,
one forward pass (eval, no loss) is 448 + 64 + 4,224 + 128 + 2,080 = 6,944 FLOPs, and one training
step with AdamW 6,975 + 13,032 + 12,214 = 32,221 FLOPs (forward with the loss ``sum``, backward,
optimizer). achieved = FLOPs / median; MFU = achieved / peak (docs/benchmarking.md, docs/training.md).
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from howfast import errors
from howfast.bench import benchmark
from howfast.bench.environment import device_name
from howfast.cli.app import main
from howfast.hardware.profiles import ClassFigures, Figure, get_profile
from howfast.training import benchmark_training

SOURCE = """
import torch
from torch import nn


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))


def frozen():
    return mlp().requires_grad_(False)
"""
FAST = ["--runs", "3", "--warmup", "1"]
FORWARD_FLOPS = 6944
STEP_FLOPS = 32221


@pytest.fixture(autouse=True)
def no_saved_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty profiles folder: no calibrated local profile unless a test saves one."""
    folder = tmp_path / "devices"
    folder.mkdir()
    monkeypatch.setenv("HOWFAST_DEVICES_DIR", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return folder


@pytest.fixture
def models(tmp_path: Path) -> Path:
    path = tmp_path / "models.py"
    path.write_text(textwrap.dedent(SOURCE))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bench", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 8))


def test_bench_backward_json_has_the_step_flops_and_mfu(capsys, models):
    code, out, err = run(capsys, f"{models}:mlp", "-i", "4x3", "--backward", "--optimizer", "adamw", "--device", "xeon_8480",
                         "-f", "json", *FAST)
    assert code == 0, err
    data = json.loads(out)
    b = data["benchmark"]
    assert (b["workload"], b["loss"], b["optimizer"]) == ("training step", "sum", "adamw")
    assert b["flops_per_run"] == STEP_FLOPS
    median = b["latency_s"]["median"]
    assert b["achieved_flops_per_s"] == pytest.approx(STEP_FLOPS / median, rel=1e-12)
    peak = get_profile("xeon_8480").peak("fp32")
    assert (b["peak_flops_per_s"], b["peak_profile"], b["peak_dtype"], b["peak_source"]) == (peak, "xeon_8480", "fp32", "given")
    assert b["mfu"] == pytest.approx(STEP_FLOPS / median / peak, rel=1e-12)
    assert b["throughput_items_per_s"] == pytest.approx(4 / median)


def test_bench_backward_table_prints_the_mfu_beside_the_step_time(capsys, models):
    code, out, err = run(capsys, f"{models}:mlp", "-i", "4x3", "--backward", "--loss", "mse", "--hardware", "a100", *FAST)
    assert code == 0, err
    assert "training step (loss mse, optimizer none)" in out.splitlines()[0]
    achieved = next(line for line in out.splitlines() if line.startswith("achieved "))
    # without an optimizer: forward with the mse loss, then backward; the FLOPs are analyze_training's
    assert " FLOPs per step / median " in achieved
    assert next(line for line in out.splitlines() if line.startswith("MFU ")).endswith("a100's fp32 peak 19.5 TFLOP/s")


def test_inference_bench_gives_achieved_flops_and_share_of_peak(capsys, models):
    code, out, err = run(capsys, f"{models}:mlp", "-i", "4x3", "-f", "json", *FAST)
    assert code == 0, err
    b = json.loads(out)["benchmark"]
    assert (b["workload"], b["flops_per_run"]) == ("forward", FORWARD_FLOPS)
    assert b["achieved_flops_per_s"] == pytest.approx(FORWARD_FLOPS / b["latency_s"]["median"], rel=1e-12)
    assert b["mfu"] is None and b["peak_flops_per_s"] is None  # no profile given, none saved
    code, out, err = run(capsys, f"{models}:mlp", "-i", "4x3", "--device", "t4", *FAST)
    assert code == 0, err
    assert any(line.startswith("of peak ") and "t4's fp32 peak" in line for line in out.splitlines())


def test_the_calibrated_local_profile_gives_the_peak(capsys, models, no_saved_profiles):
    threads = torch.get_num_threads()
    base = get_profile("xeon_8480")
    mine = dataclasses.replace(base, name="this_box", classes={"gemm": ClassFigures(efficiency=Figure(0.5, "test"))},
                               calibration={"date": "2099-01-01", "device": device_name("cpu"), "threads": threads})
    other = dataclasses.replace(mine, name="other_box", calibration={**mine.calibration, "threads": threads + 1})
    for profile in (mine, other):  # the other was measured with another thread count: not this run's peak
        (no_saved_profiles / f"{profile.name}.toml").write_text(profile.to_toml())
    result = benchmark(_mlp().eval(), torch.randn(4, 3), runs=3, warmup=1)
    e = result.efficiency
    assert e is not None and (e.profile, e.source, e.peak_flops_per_s) == ("this_box", "calibrated local profile", base.peak("fp32"))
    code, out, err = run(capsys, f"{models}:mlp", "-i", "4x3", "--backward", *FAST)
    assert code == 0, err
    assert next(line for line in out.splitlines() if line.startswith("MFU ")).endswith("(calibrated local profile)")


def test_bench_backward_leaves_the_model_unchanged():
    model = _mlp().eval()
    model[2].weight.requires_grad_(False)
    x = torch.randn(5, 3)
    model.train()
    model(x).sum().backward()  # the user's own gradients and batch-norm statistics, and an optimizer of theirs with state
    model.eval()
    user_opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    user_opt.step()
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    grads = {k: (v.grad, v.grad.clone()) for k, v in model.named_parameters() if v.grad is not None}
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    state = {id(p): {k: v.clone() for k, v in s.items()} for p, s in user_opt.state.items()}
    result = benchmark_training(model, x, loss="mse", optimizer="adamw", runs=3, warmup=2)
    assert result.stats.n == 3 and result.efficiency is not None and result.efficiency.flops > 0
    assert not any(m.training for m in model.modules())
    for k, v in model.named_parameters():
        assert torch.equal(v, params[k]) and v.requires_grad == (k != "2.weight")
        if k in grads:
            assert v.grad is grads[k][0] and torch.equal(v.grad, grads[k][1])
        else:
            assert v.grad is None
    assert all(torch.equal(v, buffers[k]) for k, v in model.named_buffers())
    for p, s in user_opt.state.items():
        assert all(torch.equal(v, state[id(p)][k]) for k, v in s.items())


def test_bench_backward_refusals_are_one_line_and_leave_the_model(capsys, models):
    code, _, err = run(capsys, f"{models}:frozen", "-i", "4x3", "--backward", *FAST)
    assert code == errors.BAD_INPUT and err.count("\n") == 1 and "no parameter of the model requires grad" in err
    code, _, err = run(capsys, f"{models}:mlp", "-i", "4x3", "--backward", "--optimizer", "lion", *FAST)
    assert code == errors.USAGE and err.count("\n") == 1 and "unknown optimizer 'lion'" in err
    code, _, err = run(capsys, f"{models}:mlp", "-i", "4x3", "--backward", "--per-layer", *FAST)
    assert code == errors.USAGE and err.count("\n") == 1 and "--backward times one training step" in err

    class Named(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"y": self.fc(x)}

    named = Named()
    before = named.fc.weight.detach().clone()
    with pytest.raises(errors.InputSpecError, match="returned a dict, not a tensor"):
        benchmark_training(named, torch.randn(2, 3), optimizer="sgd", runs=2, warmup=1)
    assert torch.equal(named.fc.weight, before) and named.fc.weight.grad is None and named.training
