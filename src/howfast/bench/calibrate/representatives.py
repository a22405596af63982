"""The representative layers timed per op class: shapes from the zoo's models (``representatives(quick)``).

The quantized layers of the int8 classes are in ``quantized_layers``; their inputs are
``QuantizedInput`` specs (a quint8 tensor), the float layers' plain shapes (a random fp32 tensor).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class QuantizedInput:
    """A quint8 input of ``shape``: random values quantized per tensor with ``scale`` and ``zero_point``.

    A 4-d input is laid out channels-last, as inside a quantized network: a quantized convolution
    writes its output channels-last and the next layer reads it so (an NCHW input costs a quantized
    convolution a layout conversion on every call, which only a network's first layer pays).
    """

    shape: tuple[int, ...]
    scale: float = 0.05
    zero_point: int = 64


InputSpec = tuple[int, ...] | QuantizedInput

# (label, module factory, input specs); the label's first word names the kind of layer
Representative = tuple[str, Callable[[], nn.Module], list[InputSpec]]

# the tiny shape of each class, kept with ``quick`` besides the first (realistic) shape
QUICK_TINY_SUFFIXES = ("@8x8", "16x64 -> 64", "8x64 -> 64", "1x256 -> 100", "1x16x16", "16x16", "16x8x8 -> 16")


def make_input(spec: InputSpec, device: torch.device) -> torch.Tensor:
    """The input tensor of one spec: random fp32 values of a shape, or quantized to quint8 (``QuantizedInput``)."""
    if isinstance(spec, QuantizedInput):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantized tensor creation is deprecated (still what quantized models run)
            q = torch.quantize_per_tensor(torch.randn(*spec.shape, device=device), spec.scale, spec.zero_point, torch.quint8)
        return q.contiguous(memory_format=torch.channels_last) if q.dim() == 4 else q
    return torch.randn(*spec, device=device)


def is_quantized(rep: Representative) -> bool:
    """Whether a representative layer takes quantized inputs (one of the int8 classes')."""
    return any(isinstance(spec, QuantizedInput) for spec in rep[2])


class _Add(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y


class _Mean(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(-1, keepdim=True)


class _SDPA(nn.Module):
    def __init__(self, causal: bool) -> None:
        super().__init__()
        self.causal = causal

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return nn.functional.scaled_dot_product_attention(q, k, v, is_causal=self.causal)


def _convolutions() -> list[Representative]:
    """Dense (ResNet, VGG), pointwise (MobileNet, ResNet bottlenecks) and depthwise (MobileNet) convolutions."""
    conv = nn.Conv2d
    return [
        # dense convolutions (ResNet, VGG)
        ("conv 3x3 64->64 @56x56", lambda: conv(64, 64, 3, padding=1, bias=False), [(1, 64, 56, 56)]),
        ("conv 3x3 128->128 @112x112", lambda: conv(128, 128, 3, padding=1), [(1, 128, 112, 112)]),
        ("conv 3x3 256->256 @14x14", lambda: conv(256, 256, 3, padding=1, bias=False), [(1, 256, 14, 14)]),
        ("conv 7x7/2 3->64 @224x224", lambda: conv(3, 64, 7, stride=2, padding=3, bias=False), [(1, 3, 224, 224)]),
        ("conv 3x3 512->512 @7x7", lambda: conv(512, 512, 3, padding=1, bias=False), [(1, 512, 7, 7)]),
        ("conv 3x3 16->16 @8x8", lambda: conv(16, 16, 3, padding=1), [(1, 16, 8, 8)]),
        # pointwise convolutions (MobileNet, ResNet bottlenecks)
        ("pwconv 32->64 @112x112", lambda: conv(32, 64, 1, bias=False), [(1, 32, 112, 112)]),
        ("pwconv 256->256 @28x28", lambda: conv(256, 256, 1, bias=False), [(1, 256, 28, 28)]),
        ("pwconv 960->160 @7x7", lambda: conv(960, 160, 1, bias=False), [(1, 960, 7, 7)]),
        ("pwconv 2048->512 @7x7", lambda: conv(2048, 512, 1, bias=False), [(1, 2048, 7, 7)]),
        ("pwconv 16->16 @8x8", lambda: conv(16, 16, 1), [(1, 16, 8, 8)]),
        # depthwise convolutions (MobileNet)
        ("dwconv 3x3 32 @112x112", lambda: conv(32, 32, 3, padding=1, groups=32, bias=False), [(1, 32, 112, 112)]),
        ("dwconv 3x3/2 144 @56x56", lambda: conv(144, 144, 3, stride=2, padding=1, groups=144, bias=False), [(1, 144, 56, 56)]),
        ("dwconv 3x3 960 @7x7", lambda: conv(960, 960, 3, padding=1, groups=960, bias=False), [(1, 960, 7, 7)]),
        ("dwconv 3x3 16 @8x8", lambda: conv(16, 16, 3, padding=1, groups=16), [(1, 16, 8, 8)]),
    ]


def _matmuls_and_attention() -> list[Representative]:
    """Matrix multiplications (transformers), matrix-vector products (classifier heads) and attention."""
    return [
        # matrix multiplications (transformers) and matrix-vector products (classifier heads)
        ("linear 128x768 -> 768", lambda: nn.Linear(768, 768), [(128, 768)]),
        ("linear 128x768 -> 3072", lambda: nn.Linear(768, 3072), [(128, 768)]),
        ("linear 197x192 -> 576", lambda: nn.Linear(192, 576), [(197, 192)]),
        # thin products (a few rows: batched decoding, small batches): the kernel packs the weights each call
        ("linear 4x2048 -> 2048", lambda: nn.Linear(2048, 2048, bias=False), [(4, 2048)]),
        ("linear 8x1024 -> 4096", lambda: nn.Linear(1024, 4096, bias=False), [(8, 1024)]),
        ("linear 16x4096 -> 1024", lambda: nn.Linear(4096, 1024, bias=False), [(16, 4096)]),
        ("linear 32x2048 -> 2048", lambda: nn.Linear(2048, 2048, bias=False), [(32, 2048)]),
        ("linear 16x64 -> 64", lambda: nn.Linear(64, 64), [(16, 64)]),
        ("linear 1x1280 -> 1000", lambda: nn.Linear(1280, 1000), [(1, 1280)]),
        ("linear 1x4096 -> 4096", lambda: nn.Linear(4096, 4096), [(1, 4096)]),
        ("linear 1x256 -> 100", lambda: nn.Linear(256, 100), [(1, 256)]),
        # attention
        ("sdpa causal 12x128x64", lambda: _SDPA(True), [(1, 12, 128, 64)] * 3),
        ("sdpa 3x197x64", lambda: _SDPA(False), [(1, 3, 197, 64)] * 3),
        ("sdpa 1x16x16", lambda: _SDPA(False), [(1, 1, 16, 16)] * 3),
    ]


def _memory_bound() -> list[Representative]:
    """Pooling, reductions, normalisation, element-wise ops and transcendental activations."""
    return [
        # pooling
        ("maxpool 3x3/2 64 @112x112", lambda: nn.MaxPool2d(3, 2, 1), [(1, 64, 112, 112)]),
        ("maxpool 2x2/2 128 @112x112", lambda: nn.MaxPool2d(2, 2), [(1, 128, 112, 112)]),
        ("maxpool 2x2/2 16 @8x8", lambda: nn.MaxPool2d(2, 2), [(1, 16, 8, 8)]),
        # reductions (global average pooling is a mean)
        ("mean 512x7x7 -> 512", lambda: nn.AdaptiveAvgPool2d(1), [(1, 512, 7, 7)]),
        ("mean 1280x7x7 -> 1280", lambda: nn.AdaptiveAvgPool2d(1), [(1, 1280, 7, 7)]),
        ("mean 128x512 over 512", lambda: _Mean(), [(128, 512)]),
        ("mean 16x8x8 -> 16", lambda: nn.AdaptiveAvgPool2d(1), [(1, 16, 8, 8)]),
        # normalisation
        ("batchnorm 64 @56x56", lambda: nn.BatchNorm2d(64).eval(), [(1, 64, 56, 56)]),
        ("batchnorm 960 @7x7", lambda: nn.BatchNorm2d(960).eval(), [(1, 960, 7, 7)]),
        ("layernorm 128x768", lambda: nn.LayerNorm(768), [(128, 768)]),
        ("batchnorm 16 @8x8", lambda: nn.BatchNorm2d(16).eval(), [(1, 16, 8, 8)]),
        # element-wise
        ("relu 64 @112x112", lambda: nn.ReLU(inplace=True), [(1, 64, 112, 112)]),
        ("add 256 @56x56", lambda: _Add(), [(1, 256, 56, 56)] * 2),
        ("relu6 96 @28x28", lambda: nn.ReLU6(inplace=True), [(1, 96, 28, 28)]),
        ("relu 16 @8x8", lambda: nn.ReLU(), [(1, 16, 8, 8)]),
        # transcendental activations
        ("gelu 128x3072", lambda: nn.GELU(), [(128, 3072)]),
        ("silu 128x1376", lambda: nn.SiLU(), [(128, 1376)]),
        ("softmax 12x128x128", lambda: nn.Softmax(dim=-1), [(12, 128, 128)]),
        ("gelu 16x16", lambda: nn.GELU(), [(16, 16)]),
    ]


def quick_subset(reps: list[Representative]) -> list[Representative]:
    """The first (realistic) layer of each kind and the tiny shapes: ``representatives(quick=True)``."""
    keep: list[Representative] = []
    seen: dict[str, int] = {}
    for label, factory, shapes in reps:
        kind = label.split()[0]
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] == 1 or label.endswith(QUICK_TINY_SUFFIXES):
            keep.append((label, factory, shapes))
    return keep


def representatives(quick: bool = False) -> list[Representative]:
    """(label, module factory, input shapes) of the layers timed per op class; shapes from the zoo's models."""
    reps = _convolutions() + _matmuls_and_attention() + _memory_bound()
    return quick_subset(reps) if quick else reps
