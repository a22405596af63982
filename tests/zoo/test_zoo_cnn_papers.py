"""MobileNetV3-Large/Small, EfficientNet-B0, ShuffleNet V2 1.0x and SqueezeNet 1.1: published counts,
hand-derived MACs, nothing uncounted, meta builds, small CPU forwards, torchvision module names.

Published figures (docs/zoo.md has the table with every source):

- parameters: torchvision's weight tables (``num_params``), the same layout as here, exact;
- MACs at 1x3x224x224: torchvision's ``_ops`` meta field, GMACs to 3 decimals (its docs print it as
  "GFLOPS" rounded to 2: 0.22, 0.06, 0.39, 0.14, 0.35). The papers round coarser and count their
  own variants: MobileNetV3 219M (Large) and 56M (Small) MAdds (Howard et al. 2019, Table 3),
  EfficientNet-B0 0.39B (Tan & Le 2019, Table 2), ShuffleNet V2 1x 146M (Ma et al. 2018).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import howfast
from howfast.zoo import ZOO, build
from howfast.zoo.models.efficientnet import B0, StochasticDepth
from howfast.zoo.models.mobilenetv3 import LARGE, SMALL, make_divisible
from howfast.zoo.models.shufflenet import channel_shuffle

MODELS = ["mobilenet_v3_large", "mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2_x1_0", "squeezenet1_1"]

# torchvision's num_params (its docs' weight tables and model builders' meta).
PUBLISHED_PARAMS = {
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548,
    "shufflenet_v2_x1_0": 2_278_604,
    "squeezenet1_1": 1_235_496,
}
# torchvision's `_ops` (GMACs at 224x224, 3 decimals), torchvision/models/{mobilenetv3,efficientnet,
# shufflenetv2,squeezenet}.py.
PUBLISHED_GMACS = {
    "mobilenet_v3_large": 0.217,
    "mobilenet_v3_small": 0.057,
    "efficientnet_b0": 0.386,
    "shufflenet_v2_x1_0": 0.145,
    "squeezenet1_1": 0.349,
}
# Within 0.5% of the figure, except where the figure's own rounding is coarser: 0.057 stands for
# anything in [0.0565, 0.0575), +-0.88%; ours (0.05651) rounds to it.
TOLERANCE = {"mobilenet_v3_small": 0.0005 / 0.057}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- hand-derived MACs: k*k*(c_in/groups)*c_out per output pixel, from the papers' tables ---------

def conv(size: int, c_in: int, c_out: int, k: int = 1, groups: int = 1) -> int:
    """MACs of a conv producing a ``size`` x ``size`` output."""
    return size * size * c_out * (c_in // groups) * k * k


def mobilenet_v3_macs(rows, last_channel: int) -> int:
    size = 112
    total = conv(size, 3, 16, 3)  # stem: 3x3 stride 2
    for row in rows:
        if row.expanded != row.in_ch:
            total += conv(size, row.in_ch, row.expanded)
        size //= row.stride
        total += conv(size, row.expanded, row.expanded, row.kernel, row.expanded)
        if row.se:  # two 1x1 convs on the pooled 1x1 map
            total += 2 * row.expanded * make_divisible(row.expanded // 4, 8)
        total += conv(size, row.expanded, row.out_ch)
    last_conv = 6 * rows[-1].out_ch
    return total + conv(size, rows[-1].out_ch, last_conv) + last_conv * last_channel + last_channel * 1000


def efficientnet_b0_macs() -> int:
    size = 112
    total = conv(size, 3, 32, 3)
    for stage in B0:
        for i in range(stage.blocks):
            c_in = stage.in_ch if i == 0 else stage.out_ch
            hidden = c_in * stage.expand
            if stage.expand != 1:
                total += conv(size, c_in, hidden)
            size //= stage.stride if i == 0 else 1
            total += conv(size, hidden, hidden, stage.kernel, hidden)
            total += 2 * hidden * max(1, c_in // 4)  # squeeze-excite
            total += conv(size, hidden, stage.out_ch)
    return total + conv(size, 320, 1280) + 1280 * 1000


def shufflenet_v2_macs() -> int:
    total = conv(112, 3, 24, 3)
    size, c_in = 56, 24  # after the stride-2 max pool
    for units, c_out in zip((4, 8, 4), (116, 232, 464), strict=True):
        half = c_out // 2
        total += conv(size // 2, c_in, c_in, 3, c_in) + conv(size // 2, c_in, half)  # branch1
        total += conv(size, c_in, half) + conv(size // 2, half, half, 3, half) + conv(size // 2, half, half)  # branch2
        size //= 2
        total += (units - 1) * (2 * conv(size, half, half) + conv(size, half, half, 3, half))
        c_in = c_out
    return total + conv(size, 464, 1024) + 1024 * 1000


def squeezenet1_1_macs() -> int:
    def fire(size: int, c_in: int, squeeze: int, expand: int) -> int:
        return conv(size, c_in, squeeze) + conv(size, squeeze, expand) + conv(size, squeeze, expand, 3)

    total = conv(111, 3, 64, 3)  # (224 - 3) // 2 + 1 = 111; pools (ceil mode) 111 -> 55 -> 27 -> 13
    total += fire(55, 64, 16, 64) + fire(55, 128, 16, 64)
    total += fire(27, 128, 32, 128) + fire(27, 256, 32, 128)
    total += fire(13, 256, 48, 192) + fire(13, 384, 48, 192) + fire(13, 384, 64, 256) + fire(13, 512, 64, 256)
    return total + conv(13, 512, 1000)


HAND_MACS = {
    "mobilenet_v3_large": mobilenet_v3_macs(LARGE, 1280),
    "mobilenet_v3_small": mobilenet_v3_macs(SMALL, 1024),
    "efficientnet_b0": efficientnet_b0_macs(),
    "shufflenet_v2_x1_0": shufflenet_v2_macs(),
    "squeezenet1_1": squeezenet1_1_macs(),
}


@pytest.fixture(scope="module")
def reports() -> dict[str, howfast.Report]:
    return {name: howfast.analyze(build(name, device="meta"), "1x3x224x224") for name in MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_published_parameter_count_exact(name: str, reports) -> None:
    assert n_params(build(name, device="meta")) == PUBLISHED_PARAMS[name]
    assert reports[name].totals.params == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", MODELS)
def test_macs_equal_the_hand_derived_count(name: str, reports) -> None:
    assert reports[name].totals.macs == HAND_MACS[name]


def test_hand_derived_counts() -> None:
    # the values the docs quote (docs/zoo.md)
    assert HAND_MACS == {
        "mobilenet_v3_large": 216_589_760,
        "mobilenet_v3_small": 56_510_400,
        "efficientnet_b0": 385_814_752,
        "shufflenet_v2_x1_0": 144_907_992,
        "squeezenet1_1": 349_151_936,
    }


@pytest.mark.parametrize("name", MODELS)
def test_macs_match_the_published_figure(name: str, reports) -> None:
    macs, published = reports[name].totals.macs, PUBLISHED_GMACS[name] * 1e9
    assert round(macs / 1e9, 3) == PUBLISHED_GMACS[name]  # agrees with every digit published
    assert abs(macs - published) / published <= TOLERANCE.get(name, 0.005)


@pytest.mark.parametrize("name", MODELS)
def test_nothing_uncounted(name: str, reports) -> None:
    assert reports[name].uncounted_ops == []


@pytest.mark.parametrize("name", MODELS)
def test_meta_build_and_forward(name: str) -> None:
    model = build(name, device="meta")
    assert all(p.device.type == "meta" for p in model.parameters())
    with torch.no_grad():
        out = model(torch.empty(1, 3, 224, 224, device="meta"))
    assert out.device.type == "meta" and out.shape == (1, 1000)
    assert ZOO[name].default_input == "1x3x224x224"


@pytest.mark.parametrize("name", MODELS)
def test_small_cpu_forward(name: str) -> None:
    model = build(name, {"num_classes": 10})
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize(("name", "keys"), [
    ("mobilenet_v3_large", ["features.0.0.weight", "features.1.block.0.0.weight", "features.4.block.2.fc1.weight",
                            "features.4.block.3.1.running_mean", "features.16.0.weight", "classifier.0.weight",
                            "classifier.3.weight"]),
    ("mobilenet_v3_small", ["features.1.block.1.fc2.bias", "features.11.block.3.0.weight", "features.12.1.weight",
                            "classifier.3.bias"]),
    ("efficientnet_b0", ["features.0.0.weight", "features.1.0.block.0.0.weight", "features.1.0.block.1.fc1.weight",
                         "features.2.0.block.0.0.weight", "features.6.3.block.3.1.weight", "features.8.1.bias",
                         "classifier.1.weight"]),
    ("shufflenet_v2_x1_0", ["conv1.0.weight", "stage2.0.branch1.0.weight", "stage2.0.branch1.2.weight",
                            "stage3.7.branch2.6.bias", "conv5.1.weight", "fc.weight"]),
    ("squeezenet1_1", ["features.0.weight", "features.3.squeeze.weight", "features.12.expand3x3.bias",
                       "classifier.1.weight"]),
])
def test_torchvision_parameter_names(name: str, keys: list[str]) -> None:
    state = build(name, device="meta").state_dict()
    assert set(keys) <= set(state)


def test_mobilenet_v3_blocks_follow_the_tables() -> None:
    large = build("mobilenet_v3_large", device="meta")
    assert len(large.features) == 17 and large.features[1].block[0][0].groups == 16  # no expansion conv at 16 -> 16
    se = large.features[4].block[2]
    assert (se.fc1.out_channels, type(se.scale_activation)) == (24, nn.Hardsigmoid)  # 72 / 4 = 18 -> 24
    assert isinstance(large.features[7].block[0][2], nn.Hardswish) and isinstance(large.features[2].block[0][2], nn.ReLU)
    assert large.features[13].block[1][0].kernel_size == (5, 5) and large.features[13].block[1][0].stride == (2, 2)
    assert large.features[0][1].eps == 1e-3
    small = build("mobilenet_v3_small", device="meta")
    assert len(small.features) == 13 and small.classifier[0].out_features == 1024
    assert build("mobilenet_v3_large", {"width": 0.75}, device="meta").features[0][0].out_channels == 16


def test_efficientnet_stochastic_depth_is_identity_in_eval() -> None:
    model = build("efficientnet_b0", device="meta")
    blocks = [block for stage in model.features[1:8] for block in stage]
    assert len(blocks) == 16
    assert [b.stochastic_depth.p for b in blocks] == [0.2 * i / 16 for i in range(16)]
    assert type(blocks[0].block[1].scale_activation) is nn.Sigmoid and blocks[3].block[2].fc1.out_channels == 6
    cpu = build("efficientnet_b0", {"num_classes": 10})
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(cpu(x), cpu(x))  # eval: no random drop
    drop = StochasticDepth(0.5).train()
    torch.manual_seed(0)
    rows = drop(torch.ones(64, 3, 2, 2)).flatten(1)
    assert {tuple(set(r.tolist())) for r in rows} == {(0.0,), (2.0,)}  # a row dropped whole or kept, scaled by 1 / (1 - p)
    x = torch.randn(2, 3)
    assert drop.eval()(x) is x


def test_shufflenet_channel_shuffle_interleaves_the_halves() -> None:
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    model = build("shufflenet_v2_x1_0", device="meta")
    assert model.stage2[0].branch1 is not None and model.stage2[1].branch1 is None
    assert [len(s) for s in (model.stage2, model.stage3, model.stage4)] == [4, 8, 4]


def test_squeezenet_pools_round_up() -> None:
    model = build("squeezenet1_1", device="meta")
    shape = model.features[:3](torch.empty(1, 3, 224, 224, device="meta")).shape
    assert shape[-2:] == (55, 55) and math.ceil((111 - 3) / 2) + 1 == 55
    assert model.features(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 512, 13, 13)
