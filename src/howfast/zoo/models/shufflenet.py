"""ShuffleNet V2 1.0x (Ma et al. 2018, "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design").

Written from the paper's Table 5 and Figure 3 (c, d) in torchvision's ``shufflenet_v2_x1_0`` layout
and module names: ``conv1`` (3x3 stride-2 conv to 24, BN, ReLU), ``maxpool``, ``stage2`` ..
``stage4`` (4, 8 and 4 units; 116, 232 and 464 channels), ``conv5`` (1x1 to 1024), global average
pool (a ``mean`` over height and width) and ``fc``.

A basic unit (stride 1, Figure 3c) splits the channels in two halves: one passes untouched, the
other goes through ``branch2`` = 1x1 conv, BN, ReLU, 3x3 depthwise conv, BN, 1x1 conv, BN, ReLU;
the halves are concatenated. A downsampling unit (stride 2, Figure 3d) feeds the whole input to both
``branch1`` (3x3 depthwise stride 2, BN, 1x1 conv, BN, ReLU) and ``branch2``, doubling the width.
Both end in a channel shuffle with 2 groups: a reshape to (N, 2, C/2, H, W), a transpose of the two
group axes, a contiguous copy and a reshape back. No conv has a bias.
"""

from __future__ import annotations

import torch
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, register

# Ma et al. 2018, Table 5, the 1x column: output channels of conv1, stage2-4, conv5; units per stage.
WIDTHS_1X = (24, 116, 232, 464, 1024)
REPEATS = (4, 8, 4)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet, Zhang et al. 2018): reshape, swap
    the group axes, copy to contiguous memory and flatten back."""
    batch, channels, height, width = x.shape
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, channels, height, width)


def _depthwise(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False)


class InvertedResidual(nn.Module):
    """A ShuffleNet V2 unit: ``branch1`` (downsampling units only) and ``branch2``, concatenated and shuffled."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        if stride == 1 and in_ch != out_ch:
            raise ValueError(f"a stride-1 ShuffleNet V2 unit keeps its width: {in_ch} in, {out_ch} out")
        self.stride = stride
        half = out_ch // 2
        self.branch1: nn.Sequential | None = None
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(in_ch, stride), nn.BatchNorm2d(in_ch),
                nn.Conv2d(in_ch, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            )
        self.branch2 = nn.Sequential(
            nn.Conv2d(in_ch if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            _depthwise(half, stride), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch1 is None:
            kept, x2 = x.chunk(2, dim=1)
            out = torch.cat((kept, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet V2 (Ma et al. 2018), torchvision layout."""

    def __init__(self, widths: tuple[int, ...] = WIDTHS_1X, repeats: tuple[int, ...] = REPEATS,
                 num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_ch = widths[0]
        stages = []
        for units, out_ch in zip(repeats, widths[1:-1], strict=True):
            stages.append(nn.Sequential(InvertedResidual(in_ch, out_ch, 2),
                                        *(InvertedResidual(out_ch, out_ch, 1) for _ in range(units - 1))))
            in_ch = out_ch
        self.stage2, self.stage3, self.stage4 = stages
        self.conv5 = nn.Sequential(
            nn.Conv2d(in_ch, widths[-1], 1, bias=False), nn.BatchNorm2d(widths[-1]), nn.ReLU(inplace=True)
        )
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))


def shufflenet_v2_x1_0(num_classes: int = 1000) -> ShuffleNetV2:
    """Zoo factory: ShuffleNet V2 1.0x (Table 5)."""
    return ShuffleNetV2(WIDTHS_1X, REPEATS, num_classes)


register(ZooEntry(
    name="shufflenet_v2_x1_0",
    factory=shufflenet_v2_x1_0,
    default_input="1x3x224x224",
    description="ShuffleNet V2 1.0x (Ma et al. 2018), torchvision layout; channel split and shuffle",
    options=(ZooOption("num_classes", int, 1000, "number of output classes"),),
    feature_layer="conv5",
))
