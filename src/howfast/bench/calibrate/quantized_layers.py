"""The quantized representative layers of the int8 classes (``int8_representatives(quick)``).

Each is a ``torch.ao.nn.quantized`` module as ``torch.ao.quantization`` converts a float layer to
(eager or FX, the x86 qconfig): qint8 weights quantized per output channel, packed once when the
module is made, a float bias, a quint8 input and output. They run PyTorch's quantized kernels
(``quantized::conv2d(_relu)``, ``quantized::linear``) of the engine in effect
(``torch.backends.quantized.engine``) and are priced in the ``int8_conv`` and ``int8_gemm``
classes at the profile's int8 peak.

The shapes span a range rather than copy a model: dense 3x3 convolutions from 32 channels at
64x64 to 512 channels at 6x6, a pointwise convolution, depthwise ones at a wide and a narrow
point, matrix products from a 64-row GEMM to a one-row product (weight streaming), and a tiny
convolution and product (the fixed cost of a call).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

from howfast.bench.calibrate.representatives import InputSpec, QuantizedInput, Representative, quick_subset

OUTPUT_SCALE = 0.1  # the layers' output quantization (its values do not change the kernels' speed)
OUTPUT_ZERO_POINT = 64
WEIGHT_STD = 0.05


def _per_channel_weight(shape: tuple[int, ...]) -> torch.Tensor:
    """Random qint8 weights of ``shape``, symmetric per output channel (dimension 0), as the x86 qconfig makes them."""
    w = torch.randn(*shape) * WEIGHT_STD
    scales = (w.abs().amax(dim=tuple(range(1, w.dim()))) / 127).clamp(min=1e-8).double()
    return torch.quantize_per_channel(w, scales, torch.zeros(shape[0], dtype=torch.long), 0, torch.qint8)


def qlinear(in_features: int, out_features: int, bias: bool = True) -> nn.Module:
    """A quantized Linear (``quantized::linear``) with random per-channel qint8 weights."""
    from torch.ao.nn import quantized as nnq

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = nnq.Linear(in_features, out_features, bias_=bias)
        layer.set_weight_bias(_per_channel_weight((out_features, in_features)), torch.randn(out_features) if bias else None)
    layer.scale, layer.zero_point = OUTPUT_SCALE, OUTPUT_ZERO_POINT
    return layer


def qconv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = False) -> nn.Module:
    """A quantized Conv2d (``quantized::conv2d``, or ``conv2d_relu`` as conv+BN+ReLU fuse to) with
    "same" padding and random per-channel qint8 weights."""
    from torch.ao.nn import quantized as nnq
    from torch.ao.nn.intrinsic import quantized as nniq

    kind = nniq.ConvReLU2d if relu else nnq.Conv2d
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = kind(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, groups=groups)
        weight = _per_channel_weight((out_channels, in_channels // groups, kernel, kernel))
        layer.set_weight_bias(weight, torch.randn(out_channels))
    layer.scale, layer.zero_point = OUTPUT_SCALE, OUTPUT_ZERO_POINT
    return layer


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1,
          relu: bool = False) -> Callable[[], nn.Module]:
    return lambda: qconv(in_channels, out_channels, kernel, stride, groups, relu)


def _linear(in_features: int, out_features: int) -> Callable[[], nn.Module]:
    return lambda: qlinear(in_features, out_features)


def _image(channels: int, size: int) -> list[InputSpec]:
    return [QuantizedInput((1, channels, size, size))]


def _rows(rows: int, features: int) -> list[InputSpec]:
    return [QuantizedInput((rows, features))]


def int8_representatives(quick: bool = False) -> list[Representative]:
    """(label, module factory, input specs) of the quantized layers timed for ``int8_conv`` and
    ``int8_gemm``; with ``quick`` the first layer of each kind and the tiny ones."""
    reps: list[Representative] = [
        # dense convolutions: channels 32 .. 512, spatial 64x64 .. 6x6
        ("qconv 3x3 32->32 relu @64x64", _conv(32, 32, 3, relu=True), _image(32, 64)),
        ("qconv 3x3 256->256 @20x20", _conv(256, 256, 3), _image(256, 20)),
        ("qconv 3x3 512->512 relu @6x6", _conv(512, 512, 3, relu=True), _image(512, 6)),
        ("qconv 3x3 16->16 @8x8", _conv(16, 16, 3), _image(16, 8)),
        # a pointwise convolution, and depthwise ones wide-and-shallow and narrow-and-deep
        ("qpwconv 64->256 @32x32", _conv(64, 256, 1), _image(64, 32)),
        ("qdwconv 3x3 64 relu @64x64", _conv(64, 64, 3, groups=64, relu=True), _image(64, 64)),
        ("qdwconv 3x3 512 @12x12", _conv(512, 512, 3, groups=512), _image(512, 12)),
        # matrix products: a 64-row GEMM, a one-row product (weight streaming), a tiny one
        ("qlinear 64x1024 -> 1024", _linear(1024, 1024), _rows(64, 1024)),
        ("qlinear 1x2048 -> 1024", _linear(2048, 1024), _rows(1, 2048)),
        ("qlinear 8x64 -> 64", _linear(64, 64), _rows(8, 64)),
    ]
    return quick_subset(reps) if quick else reps
