"""Fusion groups from producer/consumer edges, and batch-norm folding on every zoo model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import howfast
from howfast.errors import UsageError
from howfast.transforms.fold import fold, max_difference
from tests.conftest import analyze_quiet


def test_conv_bn_relu_folds_and_fuses():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()).eval()
    report = analyze_quiet(model, "1x3x8x8", fused=True)
    (group,) = report.to_dict()["fusion"]["groups"]
    assert group["folded_batchnorm"] and group["names"][0].startswith("aten.convolution")
    n = 8 * 8 * 8
    # BN eval (2 FLOPs/elem) folds; the conv gains a bias add (1 FLOP/elem); ReLU stays
    assert group["saved_flops"] == 2 * n - n
    # two intermediates (conv out, BN out) neither written nor read back; BN's 4 vectors gone, a bias of 8 added
    assert group["saved_accesses"] == 2 * (2 * n) + 4 * 8 - 8
    unfused = report.to_dict()["fusion"]["unfused_totals"]
    assert unfused["flops"] - report.totals.flops == group["saved_flops"]
    assert unfused["mem_accesses"] - report.totals.mem_accesses == group["saved_accesses"]


def test_a_tensor_used_twice_is_not_fused_through():
    class Fork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            y = self.conv(x)
            return torch.relu(y), torch.sigmoid(y)

    report = analyze_quiet(Fork(), "1x3x4x4", fused=True)
    assert report.to_dict()["fusion"]["groups"] == []


def test_residual_epilogue_fuses_add_and_relu():
    report = analyze_quiet(howfast.zoo.build("resnet18", device="meta"), "1x3x64x64", fused=True)
    names = [g["names"] for g in report.to_dict()["fusion"]["groups"]]
    assert any([n.split(".")[1] for n in g] == ["convolution", "native_batch_norm", "add", "relu_"] for g in names)
    assert report.to_dict()["fusion"]["saved"]["folded_batchnorms"] == 20
    assert report.totals.peak_activation_bytes <= report.to_dict()["fusion"]["unfused_totals"]["peak_activation_bytes"]


ZOO_SMALL = {
    "mobilenet_v1": ({}, "2x3x64x64"),
    "mobilenet_v2": ({}, "2x3x64x64"),
    "resnet18": ({}, "2x3x64x64"),
    "resnet50": ({}, "2x3x64x64"),
    "vgg16": ({}, "2x3x32x32"),
    "vit_tiny": ({"depth": 2}, "2x3x224x224"),
    "gpt2": ({"layers": 1}, "2x8:int64"),
    "llama": ({}, "2x8:int64"),
}


def _randomise_batchnorm(model: nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-1, 1)


@pytest.mark.parametrize("name", sorted(ZOO_SMALL))
def test_fold_every_zoo_model(name):
    options, shape = ZOO_SMALL[name]
    model = howfast.zoo.build(name, options)
    _randomise_batchnorm(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    result = fold(model, shape)
    batch_norms = {path: m for path, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    assert len(result.folded) == len(batch_norms) and not result.kept
    x = (torch.randn(2, 3, *[int(s) for s in shape.split("x")[2:]]) if "int64" not in shape else torch.randint(0, 100, (2, 8)))
    _, relative = max_difference(model, result.model, x)
    assert relative < 1e-4
    channels = sum(m.num_features for m in batch_norms.values())
    assert result.params_removed == 2 * channels  # gamma and beta; running stats are buffers
    added = sum(dict(model.named_modules())[layer].weight.shape[0] for layer, _ in result.folded
                if dict(model.named_modules())[layer].bias is None)
    assert result.params_added == added
    before = sum(p.numel() for p in model.parameters())
    after = sum(p.numel() for p in result.model.parameters())
    assert before - after == 2 * channels - added
    for key, value in model.state_dict().items():  # the input model is untouched
        assert torch.equal(value, state[key])


def test_conv_with_bias_drops_exactly_two_c():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)).eval()
    result = fold(model, "1x3x8x8")
    assert sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in result.model.parameters()) == 2 * 8


def test_batchnorm_without_a_producer_layer_stays_and_is_reported():
    model = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 1), nn.ReLU(), nn.BatchNorm2d(4)).eval()
    result = fold(model, "1x3x4x4")
    assert result.folded == [] and {bn for bn, _ in result.kept} == {"0", "3"}
    seq = fold(model)  # without inputs: adjacent pairs in nn.Sequential only
    assert seq.folded == [] and len(seq.kept) == 2
    model2 = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).eval()
    assert fold(model2).folded == [("0", "1")]
    assert isinstance(howfast.fold_batchnorm(model2)[1], nn.Identity)


def test_folding_a_training_model_is_refused():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4)).train()
    with pytest.raises(UsageError, match="training mode"):
        fold(model, "1x3x4x4")
