"""Vision Transformer (Dosovitskiy et al. 2021), timm ``VisionTransformer`` layout and names.

Defaults are ViT-Ti/16 (timm ``vit_tiny_patch16_224``): patch 16, width 192, depth 12, 3 heads,
MLP ratio 4, class token, learned position embedding, pre-norm LayerNorm (eps 1e-6), GELU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, divides, register


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch x patch`` patches projected by a strided conv (``proj``)."""

    def __init__(self, patch: int, dim: int, in_ch: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_ch, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, dim)


class Attention(nn.Module):
    """Multi-head self-attention: fused ``qkv`` Linear, SDPA, output ``proj`` (timm)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    """``fc1`` -> GELU -> ``fc2``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block; ``attention="mha"`` swaps in ``nn.MultiheadAttention``."""

    def __init__(self, dim: int, heads: int, mlp_hidden: int, attention: str = "sdpa") -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn: nn.Module
        if attention == "sdpa":
            self.attn = Attention(dim, heads)
        elif attention == "mha":
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        else:
            raise ValueError(f"attention must be 'sdpa' or 'mha', got {attention!r}")
        self.use_mha = attention == "mha"
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_hidden)

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_mha:
            return self.attn(x, x, x, need_weights=False)[0]
        return self.attn(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self._attend(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    """ViT classifier on the class token: ``patch_embed``, ``blocks``, ``norm``, ``head``."""

    def __init__(
        self,
        img_size: int = 224,
        patch: int = 16,
        dim: int = 192,
        depth: int = 12,
        heads: int = 3,
        num_classes: int = 1000,
        attention: str = "sdpa",
    ) -> None:
        super().__init__()
        if img_size % patch:
            raise ValueError(f"img_size {img_size} is not a multiple of patch {patch}")
        num_patches = (img_size // patch) ** 2
        self.patch_embed = PatchEmbed(patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.empty(1, num_patches + 1, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.Sequential(*(Block(dim, heads, 4 * dim, attention) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat((cls, x), dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def vit_tiny(
    img_size: int = 224,
    patch: int = 16,
    dim: int = 192,
    depth: int = 12,
    heads: int = 3,
    num_classes: int = 1000,
    attention: str = "sdpa",
) -> VisionTransformer:
    """Zoo factory: ViT-Ti/16 by default (MLP hidden size is 4 x dim)."""
    return VisionTransformer(img_size, patch, dim, depth, heads, num_classes, attention)


register(ZooEntry(
    name="vit_tiny",
    factory=vit_tiny,
    default_input="1x3x224x224",
    description="ViT-Ti/16 (Dosovitskiy et al. 2021), timm vit_tiny_patch16_224 layout; SDPA or nn.MultiheadAttention",
    options=(
        ZooOption("img_size", int, 224, "input height and width (square images)"),
        ZooOption("patch", int, 16, "patch size"),
        ZooOption("dim", int, 192, "embedding width"),
        ZooOption("depth", int, 12, "number of transformer blocks", low=0),
        ZooOption("heads", int, 3, "attention heads"),
        ZooOption("num_classes", int, 1000, "number of output classes"),
        ZooOption("attention", str, "sdpa", "'sdpa' (qkv/proj Linear + SDPA) or 'mha' (nn.MultiheadAttention)",
                  choices=("sdpa", "mha")),
    ),
    rules=(divides("patch", "img_size"), divides("heads", "dim")),
))
