"""``howfast analyze MODEL --backward --checkpoint MODULE_TYPE``: the recomputation and the memory saved, in
the table (80 columns), JSON and HTML; one-line refusals.

The model is tests/training/test_checkpoint.py's: 3 blocks ``x + fc2(GELU(fc1(x)))`` (Linear(8, 32),
Linear(32, 8)) on 4x8, loss ``sum``. By hand there: 8,448 FLOPs (3,072 MACs) recomputed (each block's
fc1 addmm 2,176 and GELU 640; PyTorch's early stop skips fc2 and the residual add), saved activations
3,456 bytes without checkpointing and 384 with (the blocks' inputs).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from howfast import errors
from howfast.cli.app import main

SOURCE = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1 = nn.Linear(d, 4 * d)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


def blocks():
    torch.manual_seed(0)
    return nn.Sequential(*(Block(8) for _ in range(3)))
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


def test_json_has_the_checkpoint_figures(capsys, models):
    code, out, err = run(capsys, "analyze", f"{models}:blocks", "-i", "4x8", "--backward", "--checkpoint", "Block", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    c = data["training_memory"]["checkpoint"]
    assert (c["types"], c["modules"]) == (["Block"], ["0", "1", "2"])
    assert (c["recompute_flops"], c["recompute_macs"]) == (8_448, 3_072)
    assert (c["saved_without"], c["saved_with"], c["bytes_saved"]) == (3_456, 384, 3_072)
    assert data["training_memory"]["saved_activations"] == 384 and c["peak_with"] == data["training_memory"]["peak"]
    assert {k: v for k, v in c["recompute_by_layer"].items() if v} == {
        f"{b}.{m}": f for b in "012" for m, f in (("fc1", 2_176), ("act", 640))}
    phases = {p["name"]: p["totals"] for p in data["phases"]}
    assert phases["backward"]["flops"] > c["recompute_flops"] and data["totals"]["flops"] == sum(p["flops"] for p in phases.values())


def test_the_table_shows_the_recomputation_and_both_saved_figures(capsys, models):
    code, out, err = run(capsys, "analyze", f"{models}:blocks", "-i", "4x8", "--backward", "--checkpoint", "Block",
                         "--width", "80")
    assert code == 0, err
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "no optimizer step; 3 Block modules checkpointed" in " ".join(out.split())
    recomputed = next(line for line in out.splitlines() if line.startswith("FLOPs recomputed"))
    assert recomputed.split()[2:] == ["-", "8.45k", "8.45k"]
    assert next(line for line in out.splitlines() if line.startswith("saved activations")).split()[2:4] == ["384", "B"]
    row = next(line for line in out.splitlines() if line.startswith("saved, no checkpointing"))
    assert "3.38 KiB" in row
    assert "checkpointing saves 3.00 KiB (88.9%)" in " ".join(out.split())
    assert any(line.startswith("peak, no checkpointing") for line in out.splitlines())


def test_the_html_page_adds_the_saved_bar(capsys, models, tmp_path):
    target = tmp_path / "r.html"
    code, _, err = run(capsys, "analyze", f"{models}:blocks", "-i", "4x8", "--backward", "--checkpoint", "Block",
                       "-f", "html", "-o", str(target))
    assert code == 0, err
    page = target.read_text()
    assert "FLOPs recomputed" in page and "saved, no checkpointing" in page


@pytest.mark.parametrize(("args", "fragment"), [
    (["--backward", "--checkpoint", "TransformerBlock"],
     "no module of class 'TransformerBlock' in the model to checkpoint; nearest: Block"),
    (["--checkpoint", "Block"], "--checkpoint checkpoints the blocks of a training step: add --backward"),
], ids=["unknown-class", "no-backward"])
def test_refusals_are_one_line(capsys, models, args, fragment):
    code, _, err = run(capsys, "analyze", f"{models}:blocks", "-i", "4x8", *args)
    one_line_error(code, err, errors.USAGE, fragment)
