"""SqueezeNet 1.1 (Iandola et al. 2016, "SqueezeNet: AlexNet-level accuracy with 50x fewer
parameters and <0.5MB model size"; version 1.1 from the authors' repository, DeepScale/SqueezeNet).

Built from Fire modules (the paper's Section 3.2): a 1x1 ``squeeze`` conv to s channels, ReLU, then
``expand1x1`` (1x1) and ``expand3x3`` (3x3, padding 1) convs, each with a ReLU, concatenated. Version
1.1 (2.4x less computation than 1.0, the same accuracy) starts with a 3x3 stride-2 conv to 64
channels instead of 7x7 to 96 and pools earlier: max pools (3x3, stride 2, ``ceil_mode``) after
the stem, after Fire 3 and after Fire 5. torchvision's ``squeezenet1_1`` layout and names:
``features.0`` .. ``features.12`` and ``classifier`` = dropout 0.5, ``classifier.1`` the final 1x1
conv to the classes, ReLU, global average pool. Every conv has a bias.
"""

from __future__ import annotations

import torch
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, register


class Fire(nn.Module):
    """Fire module: ``squeeze`` 1x1 -> ReLU -> (``expand1x1`` 1x1 | ``expand3x3`` 3x3) -> ReLU -> concat."""

    def __init__(self, in_ch: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(in_ch, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1
        )


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1, torchvision layout: ``features``, then ``classifier`` (a 1x1 conv head)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2),
            nn.ReLU(inplace=True),
            _pool(),
            Fire(64, 16, 64, 64),
            Fire(128, 16, 64, 64),
            _pool(),
            Fire(128, 32, 128, 128),
            Fire(256, 32, 128, 128),
            _pool(),
            Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256),
            Fire(512, 64, 256, 256),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Conv2d(512, num_classes, kernel_size=1), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def squeezenet1_1(num_classes: int = 1000) -> SqueezeNet:
    """Zoo factory: SqueezeNet 1.1."""
    return SqueezeNet(num_classes)


register(ZooEntry(
    name="squeezenet1_1",
    factory=squeezenet1_1,
    default_input="1x3x224x224",
    description="SqueezeNet 1.1 (Iandola et al. 2016; v1.1 from the authors' repository), torchvision layout; Fire modules",
    options=(ZooOption("num_classes", int, 1000, "number of output classes"),),
    feature_layer="features",
))
