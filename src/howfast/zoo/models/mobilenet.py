"""MobileNet V1 (Howard et al. 2017) and MobileNet V2 (Sandler et al. 2018).

V1 follows the Keras ``keras.applications.MobileNet`` layout and names (``conv1``, ``conv_dw_N`` /
``conv_pw_N``); V2 follows torchvision's ``mobilenet_v2`` layout (``_make_divisible`` channel
rounding) with Keras-like block names (``conv1``, ``expanded_conv``, ``expanded_conv_N``,
``conv_last``), so a model can be truncated at a Keras layer name.

``keras_padding=True`` replaces the symmetric ``padding=1`` of every stride-2 3x3 conv by the
padding of the Keras models the write-up measured: ``ZeroPadding2D(((0, 1), (0, 1)))`` (zeros on
the bottom and right only) and a ``'valid'`` conv. On even sizes the output matches ``padding=1``;
on odd sizes it is one smaller (63 -> 31, where padding=1 gives 32), which is why the write-up's
126x224 figures are lower than a symmetric-padding model's.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, register

# MobileNet V1 body after the stem: (pointwise output channels, depthwise stride), Howard et al. Table 1.
_V1_BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)

# MobileNet V2 inverted residual settings t (expansion), c (channels), n (repeats), s (stride);
# Sandler et al. Table 2.
_V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


class KerasPad2d(nn.ZeroPad2d):
    """Keras' ``ZeroPadding2D(((0, 1), (0, 1)))`` before a stride-2, 3x3 ``'valid'`` conv."""

    def __init__(self) -> None:
        super().__init__((0, 1, 0, 1))


def _make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``value`` to a multiple of ``divisor`` without going below 90% of it (torchvision)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def conv_bn(
    in_ch: int,
    out_ch: int,
    kernel: int = 3,
    stride: int = 1,
    groups: int = 1,
    relu6: bool = True,
    keras_padding: bool = False,
    bn_eps: float = 1e-5,
) -> nn.Sequential:
    """``[pad] -> conv (no bias) -> bn -> [relu6]`` as a named Sequential.

    With ``keras_padding`` and stride 2 the conv gets an explicit :class:`KerasPad2d` (``pad``) and
    ``padding=0``; otherwise it uses symmetric ``padding=kernel // 2``.
    """
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    padding = kernel // 2
    if keras_padding and stride == 2:
        layers["pad"] = KerasPad2d()
        padding = 0
    layers["conv"] = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, groups=groups, bias=False)
    layers["bn"] = nn.BatchNorm2d(out_ch, eps=bn_eps)
    if relu6:
        layers["relu"] = nn.ReLU6(inplace=True)
    return nn.Sequential(layers)


class MobileNetV1(nn.Module):
    """MobileNet V1 (Howard et al. 2017), Keras layout: ``features`` then pool, dropout, classifier.

    The Keras 1x1 ``conv_preds`` classifier is a ``Linear`` here (same parameters). BatchNorm uses
    the Keras epsilon 1e-3 and dropout the Keras default rate 1e-3.
    """

    def __init__(self, width: float = 1.0, num_classes: int = 1000, keras_padding: bool = False) -> None:
        super().__init__()
        eps = 1e-3
        in_ch = int(32 * width)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv1"] = conv_bn(3, in_ch, 3, 2, keras_padding=keras_padding, bn_eps=eps)
        for i, (channels, stride) in enumerate(_V1_BLOCKS, start=1):
            out_ch = int(channels * width)
            layers[f"conv_dw_{i}"] = conv_bn(
                in_ch, in_ch, 3, stride, groups=in_ch, keras_padding=keras_padding, bn_eps=eps
            )
            layers[f"conv_pw_{i}"] = conv_bn(in_ch, out_ch, 1, 1, bn_eps=eps)
            in_ch = out_ch
        self.features = nn.Sequential(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(1e-3)
        self.classifier = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(self.dropout(torch.flatten(x, 1)))


class InvertedResidual(nn.Module):
    """MobileNet V2 block: ``[expand 1x1] -> depthwise 3x3 -> project 1x1 (linear)`` (+ residual)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int, keras_padding: bool) -> None:
        super().__init__()
        hidden = int(round(in_ch * expand_ratio))
        self.use_residual = stride == 1 and in_ch == out_ch
        self.expand = conv_bn(in_ch, hidden, 1, 1) if expand_ratio != 1 else None
        self.depthwise = conv_bn(hidden, hidden, 3, stride, groups=hidden, keras_padding=keras_padding)
        self.project = conv_bn(hidden, out_ch, 1, 1, relu6=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.depthwise(out))
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    """MobileNet V2 (Sandler et al. 2018), torchvision layout with Keras-like block names."""

    block: type[InvertedResidual] = InvertedResidual

    def __init__(self, width: float = 1.0, num_classes: int = 1000, keras_padding: bool = False) -> None:
        super().__init__()
        in_ch = _make_divisible(32 * width)
        last_ch = _make_divisible(1280 * max(1.0, width))
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv1"] = conv_bn(3, in_ch, 3, 2, keras_padding=keras_padding)
        index = 0
        for t, c, n, s in _V2_SETTINGS:
            out_ch = _make_divisible(c * width)
            for i in range(n):
                name = "expanded_conv" if index == 0 else f"expanded_conv_{index}"
                layers[name] = self.block(in_ch, out_ch, s if i == 0 else 1, t, keras_padding)
                in_ch = out_ch
                index += 1
        layers["conv_last"] = conv_bn(in_ch, last_ch, 1, 1)
        self.features = nn.Sequential(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Linear(last_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(self.dropout(torch.flatten(x, 1)))


class QuantizableInvertedResidual(InvertedResidual):
    """``InvertedResidual`` whose residual sum is a ``FloatFunctional.add`` (``skip_add``), so that
    eager quantization makes it ``quantized::add``."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int, keras_padding: bool) -> None:
        super().__init__(in_ch, out_ch, stride, expand_ratio, keras_padding)
        self.skip_add = torch.ao.nn.quantized.FloatFunctional() if self.use_residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.depthwise(out))
        return self.skip_add.add(x, out) if self.skip_add is not None else out


class QuantizableMobileNetV2(MobileNetV2):
    """``MobileNetV2`` for eager quantization (``quantizable=True``): between a ``QuantStub`` and a
    ``DeQuantStub``, residual sums as ``FloatFunctional.add``, and ``fuse_model()`` fusing each
    conv with its BN. ReLU6 stays a module of its own (``torch.ao.quantization`` fuses conv + BN +
    ReLU, not ReLU6; it converts ReLU6 to ``nnq.ReLU6``), so the quantized model computes the
    float model's function (torchvision's quantizable MobileNetV2 replaces ReLU6 by ReLU instead)."""

    block = QuantizableInvertedResidual

    def __init__(self, width: float = 1.0, num_classes: int = 1000, keras_padding: bool = False) -> None:
        super().__init__(width, num_classes, keras_padding)
        self.quant = torch.ao.quantization.QuantStub()
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(super().forward(self.quant(x)))

    def fuse_model(self) -> None:
        """Fuse every conv with its BN, in place (eval mode), as ``fuse_modules`` does before ``prepare``."""
        for module in self.modules():
            if isinstance(module, nn.Sequential) and isinstance(getattr(module, "conv", None), nn.Conv2d):
                torch.ao.quantization.fuse_modules(module, [["conv", "bn"]], inplace=True)


def mobilenet_v1(width: float = 1.0, num_classes: int = 1000, keras_padding: bool = False) -> MobileNetV1:
    """Zoo factory for :class:`MobileNetV1`."""
    return MobileNetV1(width, num_classes, keras_padding)


def mobilenet_v2(width: float = 1.0, num_classes: int = 1000, keras_padding: bool = False,
                 quantizable: bool = False) -> MobileNetV2:
    """Zoo factory for :class:`MobileNetV2` (:class:`QuantizableMobileNetV2` with ``quantizable``)."""
    if quantizable:
        return QuantizableMobileNetV2(width, num_classes, keras_padding)
    return MobileNetV2(width, num_classes, keras_padding)


def _options(width_help: str) -> tuple[ZooOption, ...]:
    return (
        ZooOption("width", float, 1.0, width_help, low=0.05, high=10.0),
        ZooOption("num_classes", int, 1000, "number of output classes"),
        ZooOption(
            "keras_padding", bool, False,
            "TF/Keras 'same' padding (bottom/right) on stride-2 convs instead of symmetric padding=1",
        ),
    )


register(ZooEntry(
    name="mobilenet_v1",
    factory=mobilenet_v1,
    default_input="1x3x224x224",
    description="MobileNet V1 (Howard et al. 2017), Keras layout; width multiplier",
    options=_options("channel multiplier alpha: channels = int(c * alpha)"),
    feature_layer="features.conv_pw_11",
))

register(ZooEntry(
    name="mobilenet_v2",
    factory=mobilenet_v2,
    default_input="1x3x224x224",
    description="MobileNet V2 (Sandler et al. 2018), torchvision layout, Keras block names; width multiplier",
    options=(*_options("width multiplier: channels rounded to multiples of 8 (torchvision _make_divisible)"),
             ZooOption("quantizable", bool, False, "the eager-quantization form: stubs, FloatFunctional sums, fuse_model()")),
    feature_layer="features.expanded_conv_12",
))
