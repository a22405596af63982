"""ConvNeXt-T (Liu et al. 2022, "A ConvNet for the 2020s"), torchvision layout and names.

A 4x4 stride-4 "patchify" stem, four stages of (3, 3, 9, 3) blocks at widths (96, 192, 384, 768),
and between stages a LayerNorm then a 2x2 stride-2 conv. A block (``CNBlock``): 7x7 depthwise conv
(channels first), permute to channels last, LayerNorm, Linear to 4x the width, GELU, Linear back,
permute to channels first, then layer scale (a learned per-channel gain, 1e-6 at start), stochastic
depth (identity in eval) and the residual add. The LayerNorms of the stem, downsampling layers and
head normalise channels last (``LayerNorm2d``: permute, layer norm, permute back). eps 1e-6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, register


class Permute(nn.Module):
    """``x.permute(*dims)`` as a module (torchvision ``ops.misc.Permute``)."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)


class StochasticDepth(nn.Module):
    """Drop the whole residual branch of a sample with probability ``p`` while training ("row" mode,
    survivors scaled by 1 / (1 - p)); the identity in eval or when ``p`` is 0."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        noise = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * noise.div_(keep)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor: permute to NHWC, normalise, permute back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """``block`` (dwconv 7x7, permute, LayerNorm, Linear 4x, GELU, Linear, permute), ``layer_scale``, ``stochastic_depth``."""

    def __init__(self, dim: int, layer_scale: float, drop: float) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(4 * dim, dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.stochastic_depth(self.layer_scale * self.block(x))
        return result + x


class ConvNeXt(nn.Module):
    """torchvision ``ConvNeXt``: ``features`` (0 stem, 1/3/5/7 stages, 2/4/6 downsampling), ``avgpool``, ``classifier``."""

    def __init__(
        self,
        depths: tuple[int, ...] = (3, 3, 9, 3),
        dims: tuple[int, ...] = (96, 192, 384, 768),
        num_classes: int = 1000,
        drop_path: float = 0.1,
        layer_scale: float = 1e-6,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(3, dims[0], kernel_size=4, stride=4, padding=0, bias=True), LayerNorm2d(dims[0], eps=1e-6),
        )]
        total, seen = sum(depths), 0
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            stage = []
            for _ in range(depth):
                stage.append(CNBlock(dim, layer_scale, drop_path * seen / max(total - 1.0, 1.0)))
                seen += 1
            layers.append(nn.Sequential(*stage))
            if i + 1 < len(dims):
                layers.append(nn.Sequential(LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, dims[i + 1], kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(dims[-1], eps=1e-6), nn.Flatten(1), nn.Linear(dims[-1], num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def convnext_tiny(num_classes: int = 1000, drop_path: float = 0.1) -> ConvNeXt:
    """Zoo factory: ConvNeXt-T (depths [3, 3, 9, 3], widths [96, 192, 384, 768]); stochastic depth 0.1 as torchvision."""
    return ConvNeXt((3, 3, 9, 3), (96, 192, 384, 768), num_classes, drop_path)


register(ZooEntry(
    name="convnext_tiny",
    factory=convnext_tiny,
    default_input="1x3x224x224",
    description="ConvNeXt-T (Liu et al. 2022), torchvision layout; 7x7 depthwise, channels-last LayerNorm, layer scale",
    feature_layer="features",
    options=(
        ZooOption("num_classes", int, 1000, "number of output classes"),
        ZooOption("drop_path", float, 0.1, "stochastic depth of the last block (linear from 0), training only",
                  low=0.0, high=0.99),
    ),
))
