"""DenseNet-121 (Huang et al. 2017, "Densely Connected Convolutional Networks"), torchvision layout and names.

DenseNet-BC: every dense layer is BN-ReLU-Conv1x1 (to ``bn_size x growth`` channels, the bottleneck)
then BN-ReLU-Conv3x3 (to ``growth`` channels) on the concatenation of every earlier output of its
block; a transition halves the channels (compression 0.5) with a 1x1 conv and halves the resolution
with a 2x2 average pool. DenseNet-121: growth 32, 64 stem channels, blocks of 6, 12, 24, 16 layers.
As torchvision (``memory_efficient=False``), each layer concatenates its inputs itself, so the copies
``torch.cat`` makes are counted where the model makes them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, register


class DenseLayer(nn.Module):
    """``norm1``-``relu1``-``conv1`` (1x1 bottleneck) then ``norm2``-``relu2``-``conv2`` (3x3, ``growth`` out)."""

    def __init__(self, in_ch: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_ch)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_ch, bn_size * growth, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, kernel_size=3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    """``denselayer1``..``denselayerN``; each sees every earlier output, the block returns them all concatenated."""

    def __init__(self, layers: int, in_ch: int, growth: int, bn_size: int) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(in_ch + i * growth, growth, bn_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    """``norm``-``relu``-``conv`` (1x1, channels halved)-``pool`` (2x2 average, stride 2)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """torchvision ``DenseNet``: ``features`` (conv0, norm0, relu0, pool0, denseblockN, transitionN, norm5), ``classifier``."""

    def __init__(
        self,
        growth: int = 32,
        blocks: tuple[int, ...] = (6, 12, 24, 16),
        init_features: int = 64,
        bn_size: int = 4,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, init_features, kernel_size=7, stride=2, padding=3, bias=False))
        self.features.add_module("norm0", nn.BatchNorm2d(init_features))
        self.features.add_module("relu0", nn.ReLU(inplace=True))
        self.features.add_module("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        channels = init_features
        for i, layers in enumerate(blocks):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(layers, channels, growth, bn_size))
            channels += layers * growth
            if i != len(blocks) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x), inplace=True)
        x = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return self.classifier(x)


def densenet121(num_classes: int = 1000, growth: int = 32) -> DenseNet:
    """Zoo factory: DenseNet-121 (growth 32, blocks [6, 12, 24, 16], 64 stem channels, bottleneck 4 x growth)."""
    return DenseNet(growth, (6, 12, 24, 16), 2 * growth, 4, num_classes)


register(ZooEntry(
    name="densenet121",
    factory=densenet121,
    default_input="1x3x224x224",
    description="DenseNet-121 (Huang et al. 2017), torchvision layout; DenseNet-BC, growth 32, blocks [6, 12, 24, 16]",
    feature_layer="features",
    options=(
        ZooOption("num_classes", int, 1000, "number of output classes"),
        ZooOption("growth", int, 32, "growth rate k (channels each dense layer adds); the stem has 2k"),
    ),
))
