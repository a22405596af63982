"""Swin-T (Liu et al. 2021, "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows"),
torchvision ``swin_t`` (v1) layout and names.

A 4x4 stride-4 patch embedding (conv, to channels last, LayerNorm), four stages of (2, 2, 6, 2)
blocks at widths (96, 192, 384, 768) with (3, 6, 12, 24) heads, and between stages patch merging
(the 2x2 neighbours concatenated to 4C channels, LayerNorm, Linear to 2C). A block is pre-norm:
``x + attn(norm1(x))`` then ``x + mlp(norm2(x))`` with an MLP of ratio 4. Attention runs inside
non-overlapping 7x7 windows; every second block shifts the windows by 3 (``torch.roll`` of the
feature map, then a mask keeps attention inside the regions that were contiguous before the roll)
and each head adds a learned relative position bias (a (2*7-1)^2 table indexed by the offset between
two positions of a window). A stage whose map is no larger than the window does not shift. Tensors
are channels last, (B, H, W, C), from the patch embedding to the final norm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from howfast.zoo.models.convnext import Permute, StochasticDepth
from howfast.zoo.registry import ZooEntry, ZooOption, register


def relative_position_index(window: int) -> torch.Tensor:
    """(window^2 * window^2,) indices into the bias table: the (dy, dx) offset of every pair of positions."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)  # 2, N
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)  # N, N, 2 in [0, 2w-2]
    return (rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]).flatten()


def shift_mask(height: int, width: int, window: int, shift: tuple[int, int], device: torch.device | None = None) -> torch.Tensor:
    """(windows, N, N) additive mask of a shifted map: -100 between positions from different regions
    (the regions that were apart before the roll), 0 within one."""
    regions = torch.zeros((height, width), device=device)
    count = 0
    for h in ((0, -window), (-window, -shift[0]), (-shift[0], None)):
        for w in ((0, -window), (-window, -shift[1]), (-shift[1], None)):
            regions[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    regions = regions.view(height // window, window, width // window, window).permute(0, 2, 1, 3)
    regions = regions.reshape(-1, window * window)
    mask = regions.unsqueeze(1) - regions.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


def window_layout(height: int, width: int, window: int, shift: int) -> tuple[int, int, tuple[int, int]]:
    """The padded map (a multiple of the window each way) and the shift along each side: none along a
    side that one window covers (torchvision's rule)."""
    ph, pw = height + (window - height % window) % window, width + (window - width % window) % window
    return ph, pw, (0 if window >= ph else shift, 0 if window >= pw else shift)


class ShiftedWindowAttention(nn.Module):
    """Window attention with ``qkv`` and ``proj`` Linears, a ``relative_position_bias_table`` per head
    and, when ``shift`` > 0, the cyclic shift and its mask.

    ``resolution`` is the (H, W) map this block sees at the model's ``img_size``. As the paper's code
    (and timm), the shift mask of that map is a buffer built once (``attn_mask``, non-persistent); a
    map of another size builds its mask in the forward, as torchvision does on every call."""

    def __init__(self, dim: int, window: int, shift: int, heads: int, resolution: tuple[int, int] = (56, 56)) -> None:
        super().__init__()
        self.window, self.shift, self.heads, self.resolution = window, shift, heads, resolution
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.relative_position_index: torch.Tensor
        self.attn_mask: torch.Tensor | None
        self.register_buffer("relative_position_index", relative_position_index(window))
        self.register_buffer("attn_mask", self.built_mask(), persistent=False)

    def built_mask(self, device: torch.device | None = None) -> torch.Tensor | None:
        """The shift mask of ``resolution`` (None where that map does not shift), on ``device`` (default: the current one)."""
        ph, pw, shift = window_layout(*self.resolution, self.window, self.shift)
        return shift_mask(ph, pw, self.window, shift, device) if sum(shift) else None

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> ShiftedWindowAttention:
        # The index and the mask are functions of the sizes, not learned: after every move, and after
        # ``to_empty`` (which leaves them holding whatever the new memory held), they are rebuilt.
        super()._apply(fn, recurse)
        index = self.relative_position_index
        if index.device.type != "meta":
            self.relative_position_index = relative_position_index(self.window).to(index.device)
            if self.attn_mask is not None:
                self.attn_mask = cast(torch.Tensor, self.built_mask(index.device)).to(self.attn_mask.dtype)
        return self

    def position_bias(self) -> torch.Tensor:
        n = self.window * self.window
        bias = self.relative_position_bias_table[self.relative_position_index].view(n, n, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)  # 1, heads, N, N

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        win = self.window
        ph, pw, shift = window_layout(h, w, win, self.shift)
        x = F.pad(x, (0, 0, 0, pw - w, 0, ph - h))
        if sum(shift):
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        windows = (ph // win) * (pw // win)
        x = x.view(b, ph // win, win, pw // win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(b * windows, win * win, c)
        qkv = self.qkv(x).reshape(x.size(0), x.size(1), 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * (c // self.heads) ** -0.5
        attn = q.matmul(k.transpose(-2, -1)) + self.position_bias()
        if sum(shift):
            built = self.attn_mask if (h, w) == self.resolution else None
            mask = built if built is not None else shift_mask(ph, pw, win, shift, x.device)
            attn = attn.view(b, windows, self.heads, x.size(1), x.size(1)) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, x.size(1), x.size(1))
        attn = F.softmax(attn, dim=-1)
        x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), c)
        x = self.proj(x)
        x = x.view(b, ph // win, pw // win, win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(b, ph, pw, c)
        if sum(shift):
            x = torch.roll(x, shifts=shift, dims=(1, 2))
        return x[:, :h, :w, :].contiguous()


class MLP(nn.Sequential):
    """torchvision ``ops.MLP``: ``0`` Linear (d -> 4d), ``1`` GELU, ``2`` Dropout, ``3`` Linear (4d -> d), ``4`` Dropout."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim), nn.Dropout(0.0))


class SwinTransformerBlock(nn.Module):
    """``norm1``, ``attn``, ``stochastic_depth``, ``norm2``, ``mlp`` (pre-norm, two residual adds)."""

    def __init__(self, dim: int, heads: int, window: int, shift: int, drop: float, resolution: tuple[int, int] = (56, 56)) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = ShiftedWindowAttention(dim, window, shift, heads, resolution)
        self.stochastic_depth = StochasticDepth(drop)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = MLP(dim, 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 neighbours concatenated (C -> 4C, H and W halved; odd sizes padded), ``norm``, ``reduction`` (4C -> 2C, no bias)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-3:-1]
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        return self.reduction(self.norm(x))


class SwinTransformer(nn.Module):
    """torchvision ``SwinTransformer``: ``features`` (0 patch embedding, 1/3/5/7 stages, 2/4/6 patch merging),
    ``norm``, ``permute``, ``avgpool``, ``flatten``, ``head``."""

    def __init__(
        self,
        embed_dim: int = 96,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        heads: tuple[int, ...] = (3, 6, 12, 24),
        window: int = 7,
        num_classes: int = 1000,
        drop_path: float = 0.2,
        img_size: int = 224,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(3, embed_dim, kernel_size=4, stride=4), Permute([0, 2, 3, 1]), nn.LayerNorm(embed_dim, eps=1e-5),
        )]
        total, seen, side = sum(depths), 0, img_size // 4
        for i, (depth, n_heads) in enumerate(zip(depths, heads)):
            dim = embed_dim * 2**i
            stage = []
            for j in range(depth):
                drop = drop_path * seen / max(total - 1.0, 1.0)
                stage.append(SwinTransformerBlock(dim, n_heads, window, 0 if j % 2 == 0 else window // 2, drop, (side, side)))
                seen += 1
            layers.append(nn.Sequential(*stage))
            if i + 1 < len(depths):
                layers.append(PatchMerging(dim))
                side = (side + 1) // 2  # odd maps are padded to even, then halved
        self.features = nn.Sequential(*layers)
        final = embed_dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(final, eps=1e-5)
        self.permute = Permute([0, 3, 1, 2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(final, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.permute(self.norm(self.features(x)))
        return self.head(self.flatten(self.avgpool(x)))


def swin_t(num_classes: int = 1000, window: int = 7, drop_path: float = 0.2, img_size: int = 224) -> SwinTransformer:
    """Zoo factory: Swin-T (C = 96, depths [2, 2, 6, 2], heads [3, 6, 12, 24], window 7, shift 3)."""
    return SwinTransformer(96, (2, 2, 6, 2), (3, 6, 12, 24), window, num_classes, drop_path, img_size)


register(ZooEntry(
    name="swin_t",
    factory=swin_t,
    default_input="1x3x224x224",
    description="Swin-T (Liu et al. 2021), torchvision swin_t layout; shifted 7x7 windows (torch.roll), relative position bias",
    feature_layer="features",
    options=(
        ZooOption("num_classes", int, 1000, "number of output classes"),
        ZooOption("window", int, 7, "window size (shift is window // 2)", low=2, high=1024),
        ZooOption("img_size", int, 224, "input height and width the shift masks are built for (other sizes build them per call)",
                  low=4, high=65536),
        ZooOption("drop_path", float, 0.2, "stochastic depth of the last block (linear from 0), training only",
                  low=0.0, high=0.99),
    ),
))
