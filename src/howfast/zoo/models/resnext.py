"""ResNeXt-50 32x4d (Xie et al. 2017, "Aggregated Residual Transformations"), torchvision layout and names.

The ResNet-50 of :mod:`howfast.zoo.models.resnet` (its ``ResNet`` stem, stages and head, used as they
are) with the aggregated-transform bottleneck: the 3x3 conv is grouped (cardinality C = 32) and the
bottleneck width is ``planes x d / 64 x C`` (d = 4: 128 channels in ``layer1``, twice ResNet-50's 64),
form (c) of the paper's Figure 3, as torchvision builds it. The stride sits on the grouped 3x3 (v1.5).
"""

from __future__ import annotations

from typing import cast

from torch import nn

from howfast.zoo.models.resnet import Bottleneck, ResNet
from howfast.zoo.registry import ZooEntry, ZooOption, register


class ResNeXtBottleneck(Bottleneck):
    """1x1 reduce to ``width``, grouped 3x3 (``groups`` paths of ``width_per_group`` x planes / 64 channels,
    carrying the stride), 1x1 expand to 4 x planes; ``Bottleneck``'s forward and module names."""

    groups = 32
    width_per_group = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1) -> None:
        nn.Module.__init__(self)  # Bottleneck's layers differ: the grouped width is built here instead
        width = int(planes * (self.width_per_group / 64.0)) * self.groups
        out_ch = planes * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=self.groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_ch, out_ch, stride)


def shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Sequential | None:
    """1x1 conv + BN projection (``downsample``), or ``None`` when the identity already fits."""
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))


def resnext50_32x4d(num_classes: int = 1000, groups: int = 32, width_per_group: int = 4) -> ResNet:
    """Zoo factory: ResNeXt-50 (C x d = 32x4d by default; Bottleneck layout [3, 4, 6, 3])."""
    block = ResNeXtBottleneck
    if (groups, width_per_group) != (block.groups, block.width_per_group):
        block = cast(type[ResNeXtBottleneck], type(block.__name__, (block,), {"groups": groups, "width_per_group": width_per_group}))
    return ResNet(block, (3, 4, 6, 3), num_classes)


register(ZooEntry(
    name="resnext50_32x4d",
    factory=resnext50_32x4d,
    default_input="1x3x224x224",
    description="ResNeXt-50 32x4d (Xie et al. 2017), torchvision layout; grouped 3x3 (C=32, d=4) carrying the stride",
    feature_layer="layer4",
    options=(
        ZooOption("num_classes", int, 1000, "number of output classes"),
        ZooOption("groups", int, 32, "cardinality C: paths (groups) of the 3x3 conv", high=1024),
        ZooOption("width_per_group", int, 4, "bottleneck width d of each path, at the first stage", high=1024),
    ),
))
