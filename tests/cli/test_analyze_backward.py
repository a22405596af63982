"""``howfast analyze MODEL --backward``: a training step's phases side by side and its memory, in the
table (80 columns), JSON and HTML; predicted time per phase with a profile; one-line refusals.

The model: Linear(3, 16) -> ReLU -> Linear(16, 32) -> ReLU -> Linear(32, 8) on a 4x3 input, N = 872
parameters in 6 tensors. By hand (docs/formulas.md; FLOPs = 2 x MACs, bias counted):

* forward, loss ``sum``: addmm 2 x 192 + 4 x 16 = 448, 2 x 2,048 + 4 x 32 = 4,224, 2 x 1,024 + 4 x 8 = 2,080;
  ReLUs 64 + 128; the sum of 32 outputs 31: 6,975 FLOPs, 3,264 MACs;
* backward: the last two layers' grad_input and grad_weight mm (2 x 2 x 1,024, 2 x 2 x 2,048), the
  first layer's grad_weight only (2 x 192), bias gradients summed over 4 rows (3 x 8, 3 x 32, 3 x 16),
  threshold_backward 128 + 64: 13,032 FLOPs, 6,336 MACs (2 x 3,264 - 192);
* AdamW: 14 FLOPs per parameter (weight decay 1, lerp 3, mul 1, addcmul 3, sqrt 1, div 1, add 1,
  addcdiv 3) and 1 per tensor for its step counter: 14 x 872 + 6 = 12,214;
* memory: parameters = gradients = 4 x 872 = 3,488 B; AdamW state 8 x 872 + 4 x 6 = 7,000 B.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from howfast import errors
from howfast.cli.app import main
from howfast.hardware.profiles import get_profile

SOURCE = """
import torch
from torch import nn


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))


def frozen():
    return mlp().requires_grad_(False)


class Named(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return {"n": self.fc(x).shape[0]}


def named():
    return Named()
"""


@pytest.fixture
def models(tmp_path: Path) -> Path:
    path = tmp_path / "models.py"
    path.write_text(textwrap.dedent(SOURCE))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, expected: int, fragment: str) -> None:
    assert code == expected, err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("howfast: error: ") and "Traceback" not in err, err
    assert fragment in lines[0], lines[0]


def test_json_has_the_phases_and_the_training_memory(capsys, models):
    code, out, err = run(capsys, "analyze", f"{models}:mlp", "-i", "4x3", "--backward", "--optimizer", "adamw", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["schema_version"] == "1.2"
    phases = {p["name"]: p["totals"] for p in data["phases"]}
    assert list(phases) == ["forward", "backward", "optimizer"]
    assert (phases["forward"]["macs"], phases["forward"]["flops"]) == (3264, 6975)
    assert (phases["backward"]["macs"], phases["backward"]["flops"]) == (6336, 13032)
    assert (phases["optimizer"]["macs"], phases["optimizer"]["flops"]) == (0, 12214)
    assert data["totals"]["flops"] == 6975 + 13032 + 12214
    memory = data["training_memory"]
    assert (memory["parameters"], memory["gradients"], memory["optimizer_state"], memory["step_counters"]) == (3488, 3488, 7000, 24)
    assert memory["loss"] == "sum" and memory["optimizer"] == "adamw"
    assert memory["saved_activations"] > 0 and memory["peak"] >= 3488 + 3488 + 7000


def test_the_table_shows_the_phases_side_by_side_in_80_columns(capsys, models):
    code, out, err = run(capsys, "analyze", f"{models}:mlp", "-i", "4x3", "--backward", "--optimizer", "adamw", "--width", "80",
                         "--device", "a100")
    assert code == 0, err
    assert all(len(line.rstrip()) <= 80 for line in out.splitlines()), max(out.splitlines(), key=len)
    lines = out.splitlines()
    head = next(k for k, line in enumerate(lines) if line.startswith("phases side by side"))
    assert lines[head + 1].split() == ["forward", "backward", "optimizer", "step"]
    assert lines[head + 4].split() == ["FLOPs", "6.97k", "13.03k", "12.21k", "32.22k"]
    assert lines[head + 5].split() == ["FLOPs", "/", "forward", "1.00x", "1.87x", "1.75x", "4.62x"]  # 13,032 / 6,975; 12,214 / 6,975
    assert any(line.startswith("predicted ") for line in lines[head:head + 9])
    for row in ("parameters", "gradients", "optimizer state", "saved activations", "peak"):
        assert any(line.startswith(row) for line in lines), row
    assert next(line for line in lines if line.startswith("parameters")).split()[1:3] == ["3.41", "KiB"]  # 3,488 B
    assert next(line for line in lines if line.startswith("optimizer state")).split()[2:4] == ["6.84", "KiB"]  # 7,000 B
    assert "phases: forward" not in out  # the summary's one-line phases give way to the table


def test_predicted_time_per_phase_sums_to_the_step(capsys, models):
    code, out, err = run(capsys, "analyze", f"{models}:mlp", "-i", "4x3", "--backward", "--optimizer", "sgd", "--device", "a100",
                         "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    times = [p["roofline"]["predicted_latency_s"] for p in data["phases"]]
    assert len(times) == 3 and all(t > 0 for t in times)
    assert data["roofline"]["predicted_latency_s"] == pytest.approx(sum(times), rel=1e-12)
    a100 = get_profile("a100")
    # every op of the optimizer phase is memory-bound on an A100 (a few FLOPs per byte): its time is
    # its bytes over the bandwidth plus the per-op overhead, op by op
    ops = data["phases"][2]["roofline"]["ops"]
    expected = sum(max(op["flops"] / a100.peak("fp32"), op["bytes"] / a100.bandwidth_bytes_per_s) + a100.overhead_s for op in ops)
    assert times[2] == pytest.approx(expected, rel=1e-9)


def test_the_html_page_has_the_training_section_and_charts(capsys, models, tmp_path):
    target = tmp_path / "r.html"
    code, _, err = run(capsys, "analyze", f"{models}:mlp", "-i", "4x3", "--backward", "--optimizer", "adam", "-f", "html",
                       "-o", str(target))
    assert code == 0, err
    page = target.read_text()
    assert '<section id="training">' in page and 'id="training-phases"' in page and 'id="training-memory"' in page
    assert 'data-chart="training_phases"' in page and 'data-chart="training_memory"' in page
    assert '"barmode":"stack"' in page


@pytest.mark.parametrize(("args", "code", "fragment"), [
    (["--optimizer", "lion"], errors.USAGE, "unknown optimizer 'lion': use one of sgd, momentum, adam, adamw"),
    (["--loss", "l1"], errors.USAGE, "unknown loss 'l1'"),
    (["--fused"], errors.USAGE, "--backward counts a whole training step"),
], ids=["optimizer", "loss", "fused"])
def test_bad_options_are_one_line(capsys, models, args, code, fragment):
    one_line_error(*run(capsys, "analyze", f"{models}:mlp", "-i", "4x3", "--backward", *args)[::2], code, fragment)


def test_loss_without_backward_is_refused(capsys, models):
    code, _, err = run(capsys, "analyze", f"{models}:mlp", "-i", "4x3", "--loss", "mse")
    one_line_error(code, err, errors.USAGE, "add --backward")


def test_nothing_to_train_and_no_tensor_output_are_bad_input(capsys, models):
    code, _, err = run(capsys, "analyze", f"{models}:frozen", "-i", "4x3", "--backward")
    one_line_error(code, err, errors.BAD_INPUT, "no parameter of the model requires grad")
    code, _, err = run(capsys, "analyze", f"{models}:named", "-i", "4x3", "--backward", "--loss", "mse")
    one_line_error(code, err, errors.BAD_INPUT, "returned a dict, not a tensor")
