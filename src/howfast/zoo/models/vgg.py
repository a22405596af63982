"""VGG-16 (Simonyan & Zisserman 2015, configuration D), torchvision layout without batch norm."""

from __future__ import annotations

import torch
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, register

# Configuration D: output channels of each 3x3 conv, "M" for a 2x2 stride-2 max pool.
_CFG_D: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)


def _make_features(cfg: tuple[int | str, ...]) -> nn.Sequential:
    """Conv3x3 (with bias) + ReLU stacks and max pools, indexed like torchvision's ``features``."""
    layers: list[nn.Module] = []
    in_ch = 3
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = int(item)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """torchvision ``VGG``: ``features``, ``avgpool`` (7x7 adaptive), three-layer ``classifier``."""

    def __init__(self, cfg: tuple[int | str, ...] = _CFG_D, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = _make_features(cfg)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg16(num_classes: int = 1000) -> VGG:
    """Zoo factory: VGG-16 (configuration D)."""
    return VGG(_CFG_D, num_classes)


register(ZooEntry(
    name="vgg16",
    factory=vgg16,
    default_input="1x3x224x224",
    description="VGG-16 (Simonyan & Zisserman 2015, config D), torchvision layout, no batch norm",
    feature_layer="features",
    options=(ZooOption("num_classes", int, 1000, "number of output classes"),),
))
