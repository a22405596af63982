"""``howfast.analyze_training``: the phases of a training step and their counts, derived by hand.

The backward is the one autograd really runs, so a layer's backward MACs follow from which gradients
the graph needs (docs/training.md): a Linear's backward is 2 x its forward MACs (grad_input and
grad_weight), the first layer's 1 x (its input needs no gradient), a frozen layer's 1 x (grad_input
only) or 0 when nothing before it needs a gradient.
"""

from __future__ import annotations

import collections

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

import howfast
from howfast.conventions import Conventions
from howfast.training.step import loss_function
from howfast.zoo import build

aten = torch.ops.aten


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    # 3 -> 16 -> 32 -> 8 on a batch of 4: forward MACs 4 x 3 x 16 = 192, 4 x 16 x 32 = 2,048, 4 x 32 x 8 = 1,024
    return nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))


def _layer_macs(report: howfast.Report, phase: str) -> dict[str, int]:
    found = next(p for p in report.phases if p.name == phase)
    return {row.name: row.macs for row in found.layers if row.name in ("0", "2", "4")}


def test_mlp_backward_is_twice_the_forward_but_the_first_layer_once():
    report = howfast.analyze_training(_mlp(), torch.randn(4, 3))
    assert [p.name for p in report.phases] == ["forward", "backward"]
    assert _layer_macs(report, "forward") == {"0": 192, "2": 2048, "4": 1024}
    assert _layer_macs(report, "backward") == {"0": 192, "2": 2 * 2048, "4": 2 * 1024}
    # the workload's totals: forward + backward
    assert report.totals.macs == 3 * (192 + 2048 + 1024) - 192


def test_a_frozen_middle_layer_computes_its_input_gradient_only():
    model = _mlp()
    model[2].requires_grad_(False)
    report = howfast.analyze_training(model, torch.randn(4, 3))
    assert _layer_macs(report, "backward") == {"0": 192, "2": 2048, "4": 2 * 1024}
    ops = [op.op for op in report.phases[1].ops if op.module == "2"]
    assert ops.count("aten.mm.default") == 1  # grad_input only


def test_a_frozen_first_layer_gets_no_backward():
    model = _mlp()
    model[0].requires_grad_(False)
    # nothing before layer 2 needs a gradient now: layer 0 computes none, layer 2 its weight gradient only
    assert _layer_macs(howfast.analyze_training(model, torch.randn(4, 3)), "backward") == {"0": 0, "2": 2048, "4": 2 * 1024}
    model[2].requires_grad_(False)  # the first two frozen: only the last layer's weight gradient
    assert _layer_macs(howfast.analyze_training(model, torch.randn(4, 3)), "backward") == {"0": 0, "2": 0, "4": 1024}


def test_the_optimizer_phase_and_its_update_ops():
    report = howfast.analyze_training(_mlp(), torch.randn(4, 3), optimizer="adamw")
    assert [p.name for p in report.phases] == ["forward", "backward", "optimizer"]
    ops = [op.op for op in report.phases[2].ops]
    assert "aten._foreach_addcdiv_.ScalarList" in ops
    assert not any(op.startswith("profiler.") for p in report.phases for op in (o.op for o in p.ops))
    assert all(op.module == "" for op in report.phases[2].ops)  # multi-tensor ops update every parameter at once
    # AdamW updates 6 parameter tensors of 48 + 16 + 512 + 32 + 256 + 8 = 872 elements
    assert report.model.name == "Sequential"


# FlopCounterMode has no formula for the CPU flash kernels (it counts CPU SDPA as 0): it is given
# torch's own sdpa_flop_count / sdpa_backward_flop_count for them (as in tests/costs).
CPU_SDPA = {
    aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *a, out_shape=None, **kw: sdpa_flop_count(q, k, v),
    aten._scaled_dot_product_flash_attention_for_cpu_backward:
        lambda g, q, k, v, *a, out_shape=None, **kw: sdpa_backward_flop_count(g, q, k, v),
}
# our op name -> FlopCounterMode's (the forward SDPA is recorded whole, before kernel selection)
PRODUCTS = {"aten.convolution": "aten.convolution", "aten.convolution_backward": "aten.convolution_backward",
            "aten.mm": "aten.mm", "aten.addmm": "aten.addmm", "aten.bmm": "aten.bmm", "aten.baddbmm": "aten.baddbmm",
            "scaled_dot_product_attention": "aten._scaled_dot_product_flash_attention_for_cpu",
            "aten._scaled_dot_product_flash_attention_for_cpu_backward":
                "aten._scaled_dot_product_flash_attention_for_cpu_backward"}


def _gpt2() -> nn.Module:
    return build("gpt2", {"layers": 2, "d_model": 64, "heads": 2, "vocab": 100})


# Expected totals by hand (tests/costs/test_backward_formulas.py derives them; FLOPs = 2 x MACs):
# resnet18 2x3x64x64 with a summed output: 1,744,158,720; gpt2 (2 layers, d 64, 2 heads, vocab 100)
# on 2x16 ids: 21,020,672.
@pytest.mark.parametrize(("make", "inputs", "loss", "expected"), [
    (lambda: build("resnet18"), lambda: torch.randn(2, 3, 64, 64), "sum", 1_744_158_720),
    (_gpt2, lambda: torch.zeros(2, 16, dtype=torch.long), "cross_entropy", 21_020_672),
], ids=["resnet18", "gpt2"])
def test_forward_and_backward_products_equal_flop_counter_mode(make, inputs, loss, expected):
    torch.manual_seed(0)
    model, x = make(), inputs()
    report = howfast.analyze_training(model, x, loss=loss, conventions=Conventions())
    ours: collections.Counter[str] = collections.Counter()
    for phase in report.phases:
        for op in phase.ops:
            base = op.op.rsplit(".", 1)[0] if op.op.startswith("aten.") else op.op
            if base in PRODUCTS:
                ours[PRODUCTS[base]] += 2 * op.macs
    model.train()
    counter = FlopCounterMode(display=False, custom_mapping=CPU_SDPA)
    with counter:
        loss_function(loss)(model(x)).backward()
    theirs = {str(k): v for k, v in counter.get_flop_counts()["Global"].items()}
    assert dict(ours) == theirs
    assert sum(ours.values()) == expected
