"""EfficientNet-B0 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for CNNs").

Written from the paper's Table 1 (the B0 baseline found by the MnasNet search) in torchvision's
``efficientnet_b0`` layout and module names: ``features.0`` the stem, ``features.1`` ..
``features.7`` the seven MBConv stages (each a Sequential of blocks, ``features.S.B.block.M``),
``features.8`` the 1x1 head conv to 1280, ``avgpool``, ``classifier.0`` dropout 0.2 and
``classifier.1`` the ``Linear``.

An MBConv block (Sandler et al. 2018, with squeeze-excite from Hu et al. 2018) is ``[expand 1x1]
-> depthwise kxk -> squeeze-excite -> project 1x1 (linear)``; the expansion conv is left out for
ratio 1. Every activation is SiLU (swish), squeeze-excite squeezes to a quarter of the *block's
input* width (``max(1, in / 4)``) with a sigmoid gate. Blocks with stride 1 and equal widths add
their input back through stochastic depth (Huang et al. 2016): drop probability rising linearly
from 0 to 0.2 over the 16 blocks, applied per sample in training and the identity in eval, so it
costs nothing when counted in eval mode. Batch norm uses PyTorch's defaults (eps 1e-5).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from howfast.zoo.models.convnext import StochasticDepth
from howfast.zoo.models.mobilenetv3 import ConvNormActivation, SqueezeExcitation
from howfast.zoo.registry import ZooEntry, ZooOption, register


class Stage(NamedTuple):
    """One row of the paper's Table 1 (an MBConv stage): expansion ratio, kernel, stride of the
    first block, input width, output width, number of blocks."""

    expand: int
    kernel: int
    stride: int
    in_ch: int
    out_ch: int
    blocks: int


# Tan & Le 2019, Table 1: stages 2-8 (stage 1 is the 3x3 stem conv to 32, stage 9 the 1x1 conv to 1280).
B0: tuple[Stage, ...] = (
    Stage(1, 3, 1, 32, 16, 1),
    Stage(6, 3, 2, 16, 24, 2),
    Stage(6, 5, 2, 24, 40, 2),
    Stage(6, 3, 2, 40, 80, 3),
    Stage(6, 5, 1, 80, 112, 3),
    Stage(6, 5, 2, 112, 192, 4),
    Stage(6, 3, 1, 192, 320, 1),
)


def _silu() -> nn.Module:
    return nn.SiLU(inplace=True)


    def extra_repr(self) -> str:
        return f"p={self.p}"


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-excite; ``block`` is ``[expand] -> depthwise -> se -> project``."""

    def __init__(self, expand: int, kernel: int, stride: int, in_ch: int, out_ch: int, drop: float) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and in_ch == out_ch
        hidden = in_ch * expand
        layers: list[nn.Module] = []
        if hidden != in_ch:
            layers.append(ConvNormActivation(in_ch, hidden, 1, activation=_silu))
        layers.append(ConvNormActivation(hidden, hidden, kernel, stride, groups=hidden, activation=_silu))
        layers.append(SqueezeExcitation(hidden, max(1, in_ch // 4), activation=nn.SiLU, scale_activation=nn.Sigmoid))
        layers.append(ConvNormActivation(hidden, out_ch, 1, activation=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out


class EfficientNet(nn.Module):
    """EfficientNet (Tan & Le 2019), torchvision layout: ``features``, ``avgpool``, ``classifier``."""

    def __init__(self, stages: tuple[Stage, ...] = B0, num_classes: int = 1000, dropout: float = 0.2,
                 stochastic_depth: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvNormActivation(3, stages[0].in_ch, 3, 2, activation=_silu)]
        total = sum(stage.blocks for stage in stages)
        index = 0
        for stage in stages:
            blocks: list[nn.Module] = []
            for i in range(stage.blocks):
                in_ch = stage.in_ch if i == 0 else stage.out_ch
                drop = stochastic_depth * index / total
                blocks.append(MBConv(stage.expand, stage.kernel, stage.stride if i == 0 else 1, in_ch, stage.out_ch, drop))
                index += 1
            layers.append(nn.Sequential(*blocks))
        last_in = stages[-1].out_ch
        last_out = 4 * last_in  # 1280
        layers.append(ConvNormActivation(last_in, last_out, 1, activation=_silu))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout, inplace=True), nn.Linear(last_out, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def efficientnet_b0(num_classes: int = 1000) -> EfficientNet:
    """Zoo factory: EfficientNet-B0 (Table 1), dropout 0.2, stochastic depth 0.2."""
    return EfficientNet(B0, num_classes)


register(ZooEntry(
    name="efficientnet_b0",
    factory=efficientnet_b0,
    default_input="1x3x224x224",
    description="EfficientNet-B0 (Tan & Le 2019), torchvision layout; MBConv + squeeze-excite, SiLU",
    options=(ZooOption("num_classes", int, 1000, "number of output classes"),),
    feature_layer="features",
))
