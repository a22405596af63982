"""Capture: functional calls are counted and attributed like module calls; nothing is mutated."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import howfast
from tests.conftest import analyze_quiet


class ModuleNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 4 * 4, 10)
        self.attn_q = nn.Linear(10, 10)

    def forward(self, x):
        x = self.pool(self.act(self.bn(self.conv(x))))
        y = self.fc(x.flatten(1))
        q = self.attn_q(y).unsqueeze(1)
        scores = torch.softmax(torch.matmul(q, q.transpose(-1, -2)), dim=-1)
        return torch.matmul(scores, q)


class FConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, padding=1)


class FBatchNorm(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False)


class FLinear(nn.Module):
    def __init__(self, cin: int, cout: int, matmul: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.matmul = matmul

    def forward(self, x):
        if self.matmul:
            return x @ self.weight.t() + self.bias
        return F.linear(x, self.weight, self.bias)


class FReLU(nn.Module):
    def forward(self, x):
        return F.relu(x)


class FPool(nn.Module):
    def forward(self, x):
        return F.max_pool2d(x, 2)


class FunctionalNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = FConv(3, 8)
        self.bn = FBatchNorm(8)
        self.act = FReLU()
        self.pool = FPool()
        self.fc = FLinear(8 * 4 * 4, 10)
        self.attn_q = FLinear(10, 10)

    def forward(self, x):
        x = self.pool(self.act(self.bn(self.conv(x))))
        y = self.fc(torch.flatten(x, 1))
        q = self.attn_q(y)[:, None, :]
        scores = F.softmax(q @ q.transpose(-1, -2), dim=-1)
        return torch.einsum("bij,bjk->bik", scores, q)


def test_functional_and_module_networks_have_identical_totals_and_attribution():
    a = analyze_quiet(ModuleNet().eval(), "2x3x8x8")
    b = analyze_quiet(FunctionalNet().eval(), "2x3x8x8")
    for key in ("params", "macs", "flops", "mem_accesses", "bytes_written"):
        assert getattr(a.totals, key) == getattr(b.totals, key), key
    rows_a = {r.name: (r.macs, r.flops, r.mem_accesses) for r in a.layers}
    rows_b = {r.name: (r.macs, r.flops, r.mem_accesses) for r in b.layers}
    assert rows_a == rows_b
    # the matmuls written in the root's forward are attributed to the root itself, not lost
    child_macs = sum(r.macs for r in a.layers if r.depth == 1)
    # q k^T (1x10 by 10x1) and scores @ q (1x1 by 1x10), 10 MACs each, for a batch of 2
    assert a.totals.macs - child_macs == 2 * (10 + 10)
    assert a.layer("conv").macs == 2 * 8 * 8 * 8 * 3 * 9


def test_matmul_plus_bias_costs_the_same_arithmetic_but_writes_an_intermediate():
    fused = analyze_quiet(FLinear(16, 8), "4x16")
    split = analyze_quiet(FLinear(16, 8, matmul=True), "4x16")
    assert (fused.totals.macs, fused.totals.flops) == (split.totals.macs, split.totals.flops) == (4 * 16 * 8, 2 * 4 * 16 * 8 + 32)
    # x @ W^T is written, then read again by "+ b": 32 more elements written, 32 + 8 more read.
    assert split.totals.bytes_written - fused.totals.bytes_written == 32 * 4


def test_inplace_ops_are_counted_and_attributed():
    class Inplace(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            y = x * 2
            y.add_(1)
            return self.act(y)

    r = analyze_quiet(Inplace(), "4x5")
    assert r.totals.flops == 20 + 20 + 20
    assert r.layer("act").flops == 20
    # in-place results write their target, but allocate nothing new
    assert r.layer("act").bytes_written == 20 * 4
    assert r.totals.activation_elements == 20


def _snapshot(model: nn.Module):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    attrs = {name: sorted(vars(m).keys()) for name, m in model.named_modules()}
    hooks = {name: (len(m._forward_hooks), len(m._forward_pre_hooks)) for name, m in model.named_modules()}
    return state, attrs, hooks


def test_model_is_not_mutated_even_in_training_mode():
    model = howfast.zoo.build("resnet18").train()
    before = _snapshot(model)
    global_hooks = (len(nn.modules.module._global_forward_hooks), len(nn.modules.module._global_forward_pre_hooks))
    analyze_quiet(model, "2x3x32x32", train=True)
    after = _snapshot(model)
    assert before[1] == after[1] and before[2] == after[2]
    assert before[0].keys() == after[0].keys()
    for key in before[0]:
        assert torch.equal(before[0][key], after[0][key]), key
    assert (len(nn.modules.module._global_forward_hooks), len(nn.modules.module._global_forward_pre_hooks)) == global_hooks
    assert model.training


def test_hooks_are_removed_when_the_model_raises():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(5, 2))
    with pytest.raises(howfast.HowfastError) as info:
        howfast.analyze(model, "1x4")
    assert "'1' (Linear)" in str(info.value) or "1 (Linear)" in str(info.value)
    assert "1x3" in str(info.value)
    assert not nn.modules.module._global_forward_hooks


def test_real_and_meta_give_identical_counts():
    real = analyze_quiet(howfast.zoo.build("mobilenet_v2"), "1x3x64x64")
    meta = analyze_quiet(howfast.zoo.build("mobilenet_v2", device="meta"), "1x3x64x64")
    assert (real.totals.macs, real.totals.flops, real.totals.mem_accesses, real.totals.bytes_read, real.totals.params) == (
        meta.totals.macs, meta.totals.flops, meta.totals.mem_accesses, meta.totals.bytes_read, meta.totals.params)


def test_shared_parameters_are_counted_once():
    r = analyze_quiet(howfast.zoo.build("gpt2", {"layers": 1}, device="meta"), "1x8:int64")
    wte = 50257 * 768
    assert r.totals.params == sum(p.numel() for p in howfast.zoo.build("gpt2", {"layers": 1}, device="meta").parameters())
    # the tied lm_head reads the table once more, as its own op's weights
    assert r.layer("lm_head").macs == 8 * 768 * 50257
    assert r.layer("wte").mem_accesses == 8 + 8 * 768 + 8 * 768  # indices, gathered rows, output
    assert wte > 0


def test_truncation_stops_after_the_named_module():
    model = howfast.zoo.build("resnet18", device="meta")
    full = analyze_quiet(model, "1x3x224x224")
    cut = analyze_quiet(model, "1x3x224x224", until="layer1")
    assert cut.totals.macs == sum(full.layer(n).macs for n in ("conv1", "layer1"))
    assert cut.totals.params == sum(full.layer(n).params for n in ("conv1", "bn1", "layer1"))
    with pytest.raises(howfast.HowfastError, match="nearest: layer1"):
        howfast.analyze(model, "1x3x224x224", until="layer_1")


def test_unknown_op_is_reported_by_name_and_count_never_silently_zero():
    class Bessel(nn.Module):
        def forward(self, x):
            return torch.special.bessel_j0(x) + torch.special.bessel_j0(x * 2)

    with pytest.warns(UserWarning, match="aten.special_bessel_j0.default x2"):
        r = howfast.analyze(Bessel(), "3x4")
    assert r.to_dict()["uncounted_ops"] == [{"op": "aten.special_bessel_j0.default", "count": 2, "modules": [""]}]
    assert r.coverage.uncounted == 2 and r.coverage.share < 1
    with pytest.raises(howfast.errors.UncountedOpError):
        howfast.analyze(Bessel(), "3x4", strict=True)


def test_inputs_forms():
    model = nn.Linear(4, 2)
    expected = 3 * 4 * 2
    assert analyze_quiet(model, torch.randn(3, 4)).totals.macs == expected
    assert analyze_quiet(model, (torch.randn(3, 4),)).totals.macs == expected
    assert analyze_quiet(model, {"input": torch.randn(3, 4)}).totals.macs == expected
    assert analyze_quiet(model, "3x4").totals.macs == expected
    assert analyze_quiet(model, (3, 4)).totals.macs == expected
    assert analyze_quiet(model, [(3, 4)]).totals.macs == expected
    assert math.prod((3, 4)) == 12


def test_a_model_left_in_training_mode_is_warned_about_and_its_mode_restored():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5)).train()
    with pytest.warns(UserWarning, match="training mode"):
        trained = howfast.analyze(model, "2x3x8x8")
    evaluated = howfast.analyze(model, "2x3x8x8", train=False)  # counted as inference, no warning
    assert all(m.training for m in model.modules())  # the model's own mode is kept
    bn_flops = lambda r: sum(o.flops for o in r.ops if "batch_norm" in o.op)  # noqa: E731
    assert bn_flops(trained) == 4 * (2 * 4 * 6 * 6) and bn_flops(evaluated) == 2 * (2 * 4 * 6 * 6)  # BN 4 / 2 FLOPs per element
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        howfast.analyze(nn.Linear(4, 4), "2x4")  # no batch norm or dropout: the mode changes nothing, no warning


def test_keyword_inputs_alone_and_as_shape_strings():
    class Embed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = nn.Embedding(100, 8)

        def forward(self, input_ids, scale=None):
            return self.table(input_ids) * (1 if scale is None else scale)

    by_shape = howfast.analyze(Embed(), {"input_ids": "2x64:int64"})
    by_kwargs = howfast.analyze(Embed(), kwargs={"input_ids": torch.zeros(2, 64, dtype=torch.long)})
    assert by_shape.inputs[0].name == "input_ids" and by_shape.inputs[0].shape == [2, 64] and by_shape.inputs[0].dtype == "int64"
    assert by_shape.totals.flops == by_kwargs.totals.flops == 2 * 64 * 8  # one multiply per embedded element
