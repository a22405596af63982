"""The representative layers timed per op class: shapes from the zoo's models (``representatives(quick)``).

The quantized layers of the int8 classes are in ``quantized_layers``; their inputs are
``QuantizedInput`` specs (a quint8 tensor), the float layers' plain shapes (a random fp32 tensor).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

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

# A class's fixed per-op cost is measured on a chain of this many tiny layers of the class, run one
# after another as a network runs its small ops (``overhead_chains``); its label ends in CHAIN_SUFFIX.
CHAIN_LENGTH = 16
CHAIN_SUFFIX = f", chain of {CHAIN_LENGTH}"


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


class _Op(nn.Module):
    """A module running one tensor function (data movement: permute + contiguous, cat, pad, roll)."""

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.fn(*inputs)


class _Chain(nn.Module):
    """``CHAIN_LENGTH`` tiny layers of one class (each its own weights), each run on the same inputs in turn."""

    def __init__(self, factory: Callable[[], nn.Module], length: int = CHAIN_LENGTH) -> None:
        super().__init__()
        self.layers = nn.ModuleList(factory() for _ in range(length))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = inputs[0]
        for layer in self.layers:
            out = layer(*inputs)
        return out


def chain_length(label: str) -> int:
    """How many tiny layers a representative chains (``CHAIN_LENGTH`` for an overhead chain), else 0."""
    return CHAIN_LENGTH if label.endswith(CHAIN_SUFFIX) else 0


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
        # strided 1x1 convolutions (ResNet downsampling): oneDNN runs them, as the dense ones
        ("conv 1x1/2 128->256 @56x56", lambda: conv(128, 256, 1, stride=2, bias=False), [(1, 128, 56, 56)]),
        ("conv 1x1/2 384->768 @28x28", lambda: conv(384, 768, 1, stride=2, bias=False), [(1, 384, 28, 28)]),
        # dense convolutions of small inputs (at most 20480 elements): PyTorch's native im2col + GEMM path
        ("conv 3x3 128->128 @12x12", lambda: conv(128, 128, 3, padding=1, bias=False), [(1, 128, 12, 12)]),
        ("conv 3x3 64->128 @16x16", lambda: conv(64, 128, 3, padding=1, bias=False), [(1, 64, 16, 16)]),
        ("conv 3x3 256->256 @8x8", lambda: conv(256, 256, 3, padding=1), [(1, 256, 8, 8)]),
        # pointwise convolutions (MobileNet, ResNet bottlenecks)
        ("pwconv 32->64 @112x112", lambda: conv(32, 64, 1, bias=False), [(1, 32, 112, 112)]),
        ("pwconv 256->256 @28x28", lambda: conv(256, 256, 1, bias=False), [(1, 256, 28, 28)]),
        ("pwconv 960->160 @7x7", lambda: conv(960, 160, 1, bias=False), [(1, 960, 7, 7)]),
        ("pwconv 2048->512 @7x7", lambda: conv(2048, 512, 1, bias=False), [(1, 2048, 7, 7)]),
        # depthwise convolutions (MobileNet)
        ("dwconv 3x3 32 @112x112", lambda: conv(32, 32, 3, padding=1, groups=32, bias=False), [(1, 32, 112, 112)]),
        ("dwconv 3x3/2 144 @56x56", lambda: conv(144, 144, 3, stride=2, padding=1, groups=144, bias=False), [(1, 144, 56, 56)]),
        ("dwconv 3x3 960 @7x7", lambda: conv(960, 960, 3, padding=1, groups=960, bias=False), [(1, 960, 7, 7)]),
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
        # a wide thin product whose weight (64 MiB) is beyond the last-level cache: vocabulary heads at a few rows
        ("linear 4x1024 -> 16384", lambda: nn.Linear(1024, 16384, bias=False), [(4, 1024)]),
        ("linear 1x1280 -> 1000", lambda: nn.Linear(1280, 1000), [(1, 1280)]),
        ("linear 1x4096 -> 4096", lambda: nn.Linear(4096, 4096), [(1, 4096)]),
        # attention
        ("sdpa causal 12x128x64", lambda: _SDPA(True), [(1, 12, 128, 64)] * 3),
        ("sdpa 3x197x64", lambda: _SDPA(False), [(1, 3, 197, 64)] * 3),
    ]


def _memory_bound() -> list[Representative]:
    """Pooling, reductions, normalisation, element-wise ops and transcendental activations."""
    return [
        # pooling
        ("maxpool 3x3/2 64 @112x112", lambda: nn.MaxPool2d(3, 2, 1), [(1, 64, 112, 112)]),
        ("maxpool 2x2/2 128 @112x112", lambda: nn.MaxPool2d(2, 2), [(1, 128, 112, 112)]),
        ("maxpool 3x3/1 96 @28x28", lambda: nn.MaxPool2d(3, 1, 1), [(1, 96, 28, 28)]),
        # reductions (global average pooling is a mean)
        ("mean 512x7x7 -> 512", lambda: nn.AdaptiveAvgPool2d(1), [(1, 512, 7, 7)]),
        ("mean 1280x7x7 -> 1280", lambda: nn.AdaptiveAvgPool2d(1), [(1, 1280, 7, 7)]),
        ("mean 128x512 over 512", lambda: _Mean(), [(128, 512)]),
        # normalisation
        ("batchnorm 64 @56x56", lambda: nn.BatchNorm2d(64).eval(), [(1, 64, 56, 56)]),
        ("batchnorm 960 @7x7", lambda: nn.BatchNorm2d(960).eval(), [(1, 960, 7, 7)]),
        ("layernorm 128x768", lambda: nn.LayerNorm(768), [(128, 768)]),
        # element-wise
        ("relu 64 @112x112", lambda: nn.ReLU(inplace=True), [(1, 64, 112, 112)]),
        ("add 256 @56x56", lambda: _Add(), [(1, 256, 56, 56)] * 2),
        ("relu6 96 @28x28", lambda: nn.ReLU6(inplace=True), [(1, 96, 28, 28)]),
        # transcendental activations
        ("gelu 128x3072", lambda: nn.GELU(), [(128, 3072)]),
        ("silu 128x1376", lambda: nn.SiLU(), [(128, 1376)]),
        ("softmax 12x128x128", lambda: nn.Softmax(dim=-1), [(12, 128, 128)]),
    ]


def _data_movement() -> list[Representative]:
    """Copies that move data without arithmetic (``data`` class), by kind and a range of sizes: a layout
    change (NCHW -> NHWC), a channel shuffle (transpose of a channel split), concatenation, padding and
    a cyclic shift (roll), 0.4 to 1.6 MB each."""
    f = nn.functional
    return [
        ("permute 1x64x56x56 -> NHWC", lambda: _Op(lambda x: x.permute(0, 2, 3, 1).contiguous()), [(1, 64, 56, 56)]),
        ("shuffle 2x64 @28x28", lambda: _Op(lambda x: x.view(1, 2, 64, 28, 28).transpose(1, 2).contiguous()),
         [(1, 128, 28, 28)]),
        ("cat 2x 80 @40x40", lambda: _Op(lambda x, y: torch.cat([x, y], 1)), [(1, 80, 40, 40)] * 2),
        ("pad 64 @56x56 by 1", lambda: _Op(lambda x: f.pad(x, (1, 1, 1, 1))), [(1, 64, 56, 56)]),
        ("roll 1x32x32x128 by 2", lambda: _Op(lambda x: torch.roll(x, (2, 2), (1, 2))), [(1, 32, 32, 128)]),
    ]


def overhead_chains() -> list[Representative]:
    """One chain of ``CHAIN_LENGTH`` tiny layers per class (``_Chain``): what one small op of the class
    costs when many run in a row, as in a network; the fit of the class goes through it (``fit_pinned``)."""
    conv = nn.Conv2d
    tiny: list[tuple[str, Callable[[], nn.Module], list[InputSpec]]] = [
        # oneDNN (conv): a strided 1x1 of just over 20480 input elements, next to no arithmetic; below
        # 20480, a 3x3 runs the native path (conv_im2col)
        ("conv 1x1/2 8->8 @52x52", lambda: conv(8, 8, 1, stride=2), [(1, 8, 52, 52)]),
        ("conv 3x3 16->16 @8x8", lambda: conv(16, 16, 3, padding=1), [(1, 16, 8, 8)]),
        ("pwconv 16->16 @8x8", lambda: conv(16, 16, 1), [(1, 16, 8, 8)]),
        ("dwconv 3x3 16 @8x8", lambda: conv(16, 16, 3, padding=1, groups=16), [(1, 16, 8, 8)]),
        ("linear 16x64 -> 64", lambda: nn.Linear(64, 64), [(16, 64)]),
        ("linear 1x256 -> 100", lambda: nn.Linear(256, 100), [(1, 256)]),
        ("sdpa 1x16x16", lambda: _SDPA(False), [(1, 1, 16, 16)] * 3),
        ("maxpool 2x2/2 16 @8x8", lambda: nn.MaxPool2d(2, 2), [(1, 16, 8, 8)]),
        ("mean 16x8x8 -> 16", lambda: nn.AdaptiveAvgPool2d(1), [(1, 16, 8, 8)]),
        ("batchnorm 16 @8x8", lambda: nn.BatchNorm2d(16).eval(), [(1, 16, 8, 8)]),
        ("relu 16 @8x8", lambda: nn.ReLU(), [(1, 16, 8, 8)]),
        ("gelu 16x16", lambda: nn.GELU(), [(16, 16)]),
        ("permute 1x16x8x8 -> NHWC", lambda: _Op(lambda x: x.permute(0, 2, 3, 1).contiguous()), [(1, 16, 8, 8)]),
    ]
    return [(label + CHAIN_SUFFIX, partial(_Chain, make), shapes) for label, make, shapes in tiny]


def quick_subset(reps: list[Representative]) -> list[Representative]:
    """The first (realistic) layer of each kind and the tiny shapes: ``representatives(quick=True)``."""
    keep: list[Representative] = []
    seen: dict[str, int] = {}
    for label, factory, shapes in reps:
        kind = label.split()[0]
        seen[kind] = seen.get(kind, 0) + 1
        if seen[kind] == 1 or label.endswith((*QUICK_TINY_SUFFIXES, CHAIN_SUFFIX)):
            keep.append((label, factory, shapes))
    return keep


def representatives(quick: bool = False) -> list[Representative]:
    """(label, module factory, input shapes) of the layers timed per op class; shapes from the zoo's models."""
    reps = _convolutions() + _matmuls_and_attention() + _memory_bound() + _data_movement() + overhead_chains()
    return quick_subset(reps) if quick else reps
