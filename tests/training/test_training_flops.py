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


# vit_tiny (patch 16, d 192, 12 blocks, 3 heads, 1,000 classes) on 2x3x224x224: B = 2, T = 197 tokens
# (196 patches + the class token), rows B x T = 394. FLOPs = 2 x MACs:
# * patch conv: forward 2 x (2 x 196 x 192 x 768) = 115,605,504; backward the same (grad_weight only:
#   the image needs no gradient);
# * linears: per block qkv 192x576, proj 192x192, fc1 192x768, fc2 768x192 = 442,368 weights, x 12 =
#   5,308,416 on 394 rows, and the head 192x1,000 on the 2 class tokens: forward addmm
#   2 x (394 x 5,308,416 + 2 x 192,000) = 4,183,799,808; backward mm twice that (grad_input and grad_weight);
# * attention: forward 4 B T^2 d per block (QK^T and AV) = 59,610,624, x 12 = 715,327,488; backward
#   2.5 x forward (FlopCounterMode's sdpa_backward_flop_count: the scores recomputed, and grad_q, grad_k,
#   grad_v) = 1,788,318,720.
# Sum: 2 x 115,605,504 + 3 x 4,183,799,808 + 3.5 x 715,327,488 = 15,286,256,640.
VIT_TINY_FLOPS = 2 * 115_605_504 + 3 * 4_183_799_808 + 715_327_488 * 7 // 2


# Expected totals by hand (tests/costs/test_backward_formulas.py derives them; FLOPs = 2 x MACs):
# resnet18 2x3x64x64 with a summed output: 1,744,158,720; gpt2 (2 layers, d 64, 2 heads, vocab 100)
# on 2x16 ids: 21,020,672; vit_tiny at batch 2 above.
@pytest.mark.parametrize(("make", "inputs", "loss", "expected"), [
    (lambda: build("resnet18"), lambda: torch.randn(2, 3, 64, 64), "sum", 1_744_158_720),
    (_gpt2, lambda: torch.zeros(2, 16, dtype=torch.long), "cross_entropy", 21_020_672),
    (lambda: build("vit_tiny"), lambda: torch.randn(2, 3, 224, 224), "cross_entropy", VIT_TINY_FLOPS),
], ids=["resnet18", "gpt2", "vit_tiny"])
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


def test_vit_tiny_flops_by_hand():
    assert VIT_TINY_FLOPS == 15_286_256_640


# GPT-2 small (12 layers, d 768, 12 heads, vocab 50,257, tied lm_head) on 1x1024 ids, on meta.
# PaLM (Chowdhery et al. 2022, appendix B): training FLOPs per token 6N + 12 L T d, N the non-embedding
# parameters; the tied lm_head's d x V matmul added (PaLM leaves it out): 6 dV. docs/training.md
# itemises what the count adds beyond the formula.
L, T, D, V = 12, 1024, 768, 50257
WEIGHTS = L * 12 * D * D  # the linears' weight matrices: c_attn 3d^2, c_proj d^2, c_fc 4d^2, mlp c_proj 4d^2
BIASES = L * 9 * D  # their biases: 3d + d + 4d + d per layer
NORMS = (2 * L + 1) * 2 * D  # two LayerNorms per layer and the final one, weight and bias each
N = WEIGHTS + BIASES + NORMS  # 85,056,000: the non-embedding parameters
PALM = 6 * (N + D * V) + 12 * L * T * D


def test_gpt2_small_training_flops_per_token_match_palm():
    model = build("gpt2", device="meta")
    assert sum(p.numel() for p in model.parameters()) - V * D - T * D == N == 85_056_000
    report = howfast.analyze_training(model, "1x1024:int64", loss="cross_entropy")
    assert not report.uncounted_ops
    flops = report.totals.flops
    # the matrix products exactly: forward 1 x, backward 2 x (grad_input and grad_weight of every linear,
    # the lm_head included: the embedding it is tied to needs a gradient); attention QK^T and AV
    # forward 2 T^2 d per layer in MACs, backward 4 T^2 d (bmm)
    matmuls = sum(op.macs for p in report.phases for op in p.ops if op.op_class in ("gemm", "attention"))
    assert matmuls == 3 * (WEIGHTS + D * V) * T + 6 * L * T * T * D
    per_token = flops / T
    assert abs(per_token - PALM) <= 0.02 * PALM, (per_token, PALM)
    assert PALM == 855_166_464 and 6 * D * V == 231_584_256  # the lm_head adds 27.1% of the formula
    # the remainder beyond the matrix products (element-wise, norms, softmax, the loss, biases):
    # 0.6% of the count; PaLM's 6N also counts the biases and norm weights as if they were matmul weights
    rest = flops - 2 * matmuls
    assert 0 < rest < 0.006 * flops
    assert per_token - PALM == pytest.approx(rest / T - 6 * (BIASES + NORMS), abs=1e-6)


def _lora(base: nn.Linear, rank: int) -> nn.Module:
    class LoRA(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base.requires_grad_(False)
            self.a = nn.Linear(base.in_features, rank, bias=False)
            self.b = nn.Linear(rank, base.out_features, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.base(x) + self.b(self.a(x))

    return LoRA()


def test_lora_frozen_weights_get_no_weight_gradient():
    # Two LoRA layers (16 -> 32 -> 8, rank 2) with a ReLU between, batch 4; the bases frozen.
    # Forward MACs: base0 4x16x32 = 2,048, a0 4x16x2 = 128, b0 4x2x32 = 256; base1 4x32x8 = 1,024,
    # a1 4x32x2 = 256, b1 4x2x8 = 64. Backward: base0 nothing (frozen, and its input needs no gradient);
    # a0 grad_weight only (128); b0 grad_input and grad_weight (2 x 256); base1 grad_input only (1,024:
    # the adapters before it need it), no weight gradient; a1 and b1 both (2 x 256, 2 x 64).
    torch.manual_seed(0)
    model = nn.Sequential(_lora(nn.Linear(16, 32), 2), nn.ReLU(), _lora(nn.Linear(32, 8), 2))
    report = howfast.analyze_training(model, torch.randn(4, 16), optimizer="adamw")
    backward = {row.name: row.macs for row in report.phases[1].layers}
    assert {k: backward[k] for k in ("0.base", "0.a", "0.b", "2.base", "2.a", "2.b")} == {
        "0.base": 0, "0.a": 128, "0.b": 2 * 256, "2.base": 1024, "2.a": 2 * 256, "2.b": 2 * 64}
    memory = report.training
    assert memory is not None
    trainable = 16 * 2 + 2 * 32 + 32 * 2 + 2 * 8  # the adapters only: 176
    frozen = 16 * 32 + 32 + 32 * 8 + 8
    assert (memory.parameters, memory.gradients) == (4 * (trainable + frozen), 4 * trainable)
    assert memory.optimizer_state == 8 * trainable + 4 * 4  # exp_avg, exp_avg_sq, a step counter per adapter tensor
    assert report.totals.trainable_params == trainable
