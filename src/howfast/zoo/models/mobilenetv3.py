"""MobileNetV3-Large and MobileNetV3-Small (Howard et al. 2019, "Searching for MobileNetV3").

Written from the paper's Tables 1 (Large) and 2 (Small) in torchvision's ``mobilenet_v3_large`` /
``mobilenet_v3_small`` layout and module names (``features.N.block.M``, ``avgpool``,
``classifier.0`` .. ``classifier.3``), so a parameter name here is the torchvision one:

- a bottleneck (``InvertedResidual``) is ``[expand 1x1] -> depthwise kxk -> [squeeze-excite] ->
  project 1x1 (linear)``, with a residual when the stride is 1 and the widths match; the
  expansion conv is left out when the expanded width equals the input width;
- squeeze-excite squeezes to ``make_divisible(expanded / 4, 8)`` channels with two biased 1x1
  convs, ReLU between them and a hard sigmoid gate (Section 5.3);
- "HS" blocks use hard-swish ``x * ReLU6(x + 3) / 6``, "RE" blocks ReLU; batch norm uses
  eps 1e-3 (the TensorFlow models');
- the head is the paper's "efficient last stage": 1x1 conv to 960 (576) channels, global pool, then
  the two biased 1x1 "NBN" convs of the tables as ``Linear`` layers (1280 / 1024 hidden units,
  hard-swish, dropout 0.2).

``width`` scales every width (torchvision's ``width_mult``), rounded to multiples of 8.
:class:`ConvNormActivation` and :class:`SqueezeExcitation` are shared with EfficientNet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, register

Activation = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never below 90% of it (torchvision,
    after the TensorFlow MobileNet code)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _hardswish() -> nn.Module:
    return nn.Hardswish(inplace=True)


def _relu() -> nn.Module:
    return nn.ReLU(inplace=True)


class ConvNormActivation(nn.Sequential):
    """torchvision ``Conv2dNormActivation``: ``0`` conv (no bias), ``1`` batch norm, ``2`` activation
    (left out when ``activation`` is None); padding ``(kernel - 1) // 2 * dilation`` keeps the size
    at stride 1."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: Activation | None = _relu,
        dilation: int = 1,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        padding = (kernel - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch, eps=bn_eps, momentum=bn_momentum),
        ]
        if activation is not None:
            layers.append(activation())
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018), torchvision ``SqueezeExcitation``: global average
    pool -> ``fc1`` (1x1 conv, bias) -> ``activation`` -> ``fc2`` (1x1 conv, bias) ->
    ``scale_activation`` -> the input scaled channel by channel."""

    def __init__(self, channels: int, squeeze: int, activation: Activation = _relu,
                 scale_activation: Activation = nn.Hardsigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.activation(self.fc1(self.avgpool(x)))
        scale = self.scale_activation(self.fc2(scale))
        return scale * x


class Bneck(NamedTuple):
    """One row of the paper's Table 1 / 2: input width, kernel, expanded width ("exp size"), output
    width, squeeze-excite, activation ("HS" hard-swish or "RE" ReLU), stride."""

    in_ch: int
    kernel: int
    expanded: int
    out_ch: int
    se: bool
    activation: str
    stride: int


# Howard et al. 2019, Table 1 (MobileNetV3-Large) and Table 2 (MobileNetV3-Small), the bneck rows.
LARGE: tuple[Bneck, ...] = (
    Bneck(16, 3, 16, 16, False, "RE", 1),
    Bneck(16, 3, 64, 24, False, "RE", 2),
    Bneck(24, 3, 72, 24, False, "RE", 1),
    Bneck(24, 5, 72, 40, True, "RE", 2),
    Bneck(40, 5, 120, 40, True, "RE", 1),
    Bneck(40, 5, 120, 40, True, "RE", 1),
    Bneck(40, 3, 240, 80, False, "HS", 2),
    Bneck(80, 3, 200, 80, False, "HS", 1),
    Bneck(80, 3, 184, 80, False, "HS", 1),
    Bneck(80, 3, 184, 80, False, "HS", 1),
    Bneck(80, 3, 480, 112, True, "HS", 1),
    Bneck(112, 3, 672, 112, True, "HS", 1),
    Bneck(112, 5, 672, 160, True, "HS", 2),
    Bneck(160, 5, 960, 160, True, "HS", 1),
    Bneck(160, 5, 960, 160, True, "HS", 1),
)
SMALL: tuple[Bneck, ...] = (
    Bneck(16, 3, 16, 16, True, "RE", 2),
    Bneck(16, 3, 72, 24, False, "RE", 2),
    Bneck(24, 3, 88, 24, False, "RE", 1),
    Bneck(24, 5, 96, 40, True, "HS", 2),
    Bneck(40, 5, 240, 40, True, "HS", 1),
    Bneck(40, 5, 240, 40, True, "HS", 1),
    Bneck(40, 5, 120, 48, True, "HS", 1),
    Bneck(48, 5, 144, 48, True, "HS", 1),
    Bneck(48, 5, 288, 96, True, "HS", 2),
    Bneck(96, 5, 576, 96, True, "HS", 1),
    Bneck(96, 5, 576, 96, True, "HS", 1),
)
_EPS, _MOMENTUM = 1e-3, 0.01  # the TensorFlow models' batch norm, as torchvision sets it


class InvertedResidual(nn.Module):
    """A MobileNetV3 bottleneck: ``block`` is ``[expand] -> depthwise -> [SE] -> project``."""

    def __init__(self, cfg: Bneck) -> None:
        super().__init__()
        act = _hardswish if cfg.activation == "HS" else _relu
        self.use_res_connect = cfg.stride == 1 and cfg.in_ch == cfg.out_ch
        layers: list[nn.Module] = []
        if cfg.expanded != cfg.in_ch:
            layers.append(ConvNormActivation(cfg.in_ch, cfg.expanded, 1, activation=act, bn_eps=_EPS, bn_momentum=_MOMENTUM))
        layers.append(ConvNormActivation(cfg.expanded, cfg.expanded, cfg.kernel, cfg.stride, groups=cfg.expanded,
                                         activation=act, bn_eps=_EPS, bn_momentum=_MOMENTUM))
        if cfg.se:
            layers.append(SqueezeExcitation(cfg.expanded, make_divisible(cfg.expanded // 4, 8)))
        layers.append(ConvNormActivation(cfg.expanded, cfg.out_ch, 1, activation=None, bn_eps=_EPS, bn_momentum=_MOMENTUM))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.use_res_connect else out


class MobileNetV3(nn.Module):
    """MobileNetV3 (Howard et al. 2019), torchvision layout: ``features``, ``avgpool``, ``classifier``."""

    def __init__(self, settings: tuple[Bneck, ...], last_channel: int, width: float = 1.0,
                 num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()

        def scaled(channels: int) -> int:
            return make_divisible(channels * width, 8)

        blocks = [cfg._replace(in_ch=scaled(cfg.in_ch), expanded=scaled(cfg.expanded), out_ch=scaled(cfg.out_ch))
                  for cfg in settings]
        layers: list[nn.Module] = [
            ConvNormActivation(3, blocks[0].in_ch, 3, 2, activation=_hardswish, bn_eps=_EPS, bn_momentum=_MOMENTUM)
        ]
        layers += [InvertedResidual(cfg) for cfg in blocks]
        last_in = blocks[-1].out_ch
        last_out = 6 * last_in  # 960 (Large) and 576 (Small) at width 1
        layers.append(ConvNormActivation(last_in, last_out, 1, activation=_hardswish, bn_eps=_EPS, bn_momentum=_MOMENTUM))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        hidden = scaled(last_channel)
        self.classifier = nn.Sequential(
            nn.Linear(last_out, hidden), nn.Hardswish(inplace=True), nn.Dropout(dropout, inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v3_large(width: float = 1.0, num_classes: int = 1000) -> MobileNetV3:
    """Zoo factory: MobileNetV3-Large (Table 1), last stage 960 -> 1280."""
    return MobileNetV3(LARGE, 1280, width, num_classes)


def mobilenet_v3_small(width: float = 1.0, num_classes: int = 1000) -> MobileNetV3:
    """Zoo factory: MobileNetV3-Small (Table 2), last stage 576 -> 1024."""
    return MobileNetV3(SMALL, 1024, width, num_classes)


_OPTIONS = (
    ZooOption("width", float, 1.0, "width multiplier: channels rounded to multiples of 8 (torchvision width_mult)",
              low=0.05, high=10.0),
    ZooOption("num_classes", int, 1000, "number of output classes"),
)

register(ZooEntry(
    name="mobilenet_v3_large",
    factory=mobilenet_v3_large,
    default_input="1x3x224x224",
    description="MobileNetV3-Large (Howard et al. 2019), torchvision layout; squeeze-excite, hard-swish",
    options=_OPTIONS,
    feature_layer="features",
))

register(ZooEntry(
    name="mobilenet_v3_small",
    factory=mobilenet_v3_small,
    default_input="1x3x224x224",
    description="MobileNetV3-Small (Howard et al. 2019), torchvision layout; squeeze-excite, hard-swish",
    options=_OPTIONS,
    feature_layer="features",
))
