"""Decoder-only language models: GPT-2 (Radford et al. 2019) and a Llama-2 style decoder
(Touvron et al. 2023).

GPT-2 uses the Hugging Face ``GPT2LMHeadModel`` module names (``wte``, ``wpe``, ``h.N.attn.c_attn``,
...) with ``nn.Linear`` in place of HF's transposed ``Conv1D`` (same parameters) and ``lm_head`` tied
to ``wte``. The Llama decoder uses the HF ``LlamaForCausalLM`` names (``embed_tokens``,
``layers.N.self_attn.q_proj``, ...): RMSNorm, rotary position embedding, grouped-query attention,
SwiGLU MLP and an untied ``lm_head``.

Inputs are int64 token ids of shape (batch, seq); outputs are logits (batch, seq, vocab).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, register

# ----------------------------------------------------------------------------------------- GPT-2


class GPT2Attention(nn.Module):
    """Causal self-attention with a fused ``c_attn`` (q, k, v) projection and ``c_proj`` output."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.resid_dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.resid_dropout(self.c_proj(out.transpose(1, 2).reshape(b, t, c)))


class GPT2MLP(nn.Module):
    """``c_fc`` (d -> 4d), tanh-approximated GELU, ``c_proj`` (4d -> d)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(d_model, 4 * d_model)
        self.act = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * d_model, d_model)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class GPT2Block(nn.Module):
    """Pre-norm block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, eps=1e-5)
        self.attn = GPT2Attention(d_model, heads)
        self.ln_2 = nn.LayerNorm(d_model, eps=1e-5)
        self.mlp = GPT2MLP(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    """GPT-2 language model; ``lm_head.weight`` is the ``wte.weight`` Parameter (tied)."""

    def __init__(
        self, layers: int = 12, d_model: int = 768, heads: int = 12, vocab: int = 50257, n_positions: int = 1024
    ) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not a multiple of heads {heads}")
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Embedding(n_positions, d_model)
        self.drop = nn.Dropout(0.1)
        self.h = nn.ModuleList(GPT2Block(d_model, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d_model, eps=1e-5)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)
        self.lm_head.weight = self.wte.weight
        for emb in (self.wte, self.wpe):
            nn.init.normal_(emb.weight, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.drop(self.wte(ids) + self.wpe(positions))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def gpt2(layers: int = 12, d_model: int = 768, heads: int = 12, vocab: int = 50257, n_positions: int = 1024) -> GPT2:
    """Zoo factory: GPT-2 small by default (124M parameters with the tied head)."""
    return GPT2(layers, d_model, heads, vocab, n_positions)


# ----------------------------------------------------------------------------------------- Llama


class RMSNorm(nn.Module):
    """Root-mean-square norm (Zhang & Sennrich 2019): ``x / rms(x) * weight``, no bias."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x1, x2) -> (-x2, x1)`` over the two halves of the last dimension (HF/GPT-NeoX RoPE)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotary_cos_sin(
    seq_len: int, head_dim: int, like: torch.Tensor, theta: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary embedding tables (Su et al. 2021) of shape (seq_len, head_dim) on ``like``'s device."""
    exponents = torch.arange(0, head_dim, 2, device=like.device, dtype=torch.float32) / head_dim
    inv_freq = 1.0 / (theta**exponents)
    positions = torch.arange(seq_len, device=like.device, dtype=torch.float32)
    freqs = torch.outer(positions, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(like.dtype), emb.sin().to(like.dtype)


class LlamaAttention(nn.Module):
    """Grouped-query causal attention with RoPE on q and k; k/v heads repeated to match q heads."""

    def __init__(self, d_model: int, heads: int, kv_heads: int) -> None:
        super().__init__()
        if d_model % heads or heads % kv_heads:
            raise ValueError(f"need heads | d_model and kv_heads | heads, got {d_model}, {heads}, {kv_heads}")
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d_model // heads
        self.q_proj = nn.Linear(d_model, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d_model, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d_model, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = rotary_cos_sin(t, self.head_dim, q)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        repeats = self.heads // self.kv_heads
        k = k.repeat_interleave(repeats, dim=1)
        v = v.repeat_interleave(repeats, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.heads * self.head_dim))


class LlamaMLP(nn.Module):
    """SwiGLU feed-forward (Shazeer 2020): ``down(silu(gate(x)) * up(x))``."""

    def __init__(self, d_model: int, ffn: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(d_model, ffn, bias=False)
        self.up_proj = nn.Linear(d_model, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    """Pre-norm block: ``x + self_attn(input_layernorm(x))``, ``x + mlp(post_attention_layernorm(x))``."""

    def __init__(self, d_model: int, heads: int, kv_heads: int, ffn: int) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(d_model)
        self.self_attn = LlamaAttention(d_model, heads, kv_heads)
        self.post_attention_layernorm = RMSNorm(d_model)
        self.mlp = LlamaMLP(d_model, ffn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """Llama-2 style causal LM: ``embed_tokens``, ``layers``, ``norm``, untied ``lm_head``."""

    def __init__(
        self,
        layers: int = 2,
        d_model: int = 512,
        heads: int = 8,
        kv_heads: int = 8,
        ffn: int = 1376,
        vocab: int = 32000,
    ) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d_model)
        self.layers = nn.ModuleList(LlamaDecoderLayer(d_model, heads, kv_heads, ffn) for _ in range(layers))
        self.norm = RMSNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


_LLAMA_SMALL: dict[str, int] = dict(layers=2, d_model=512, heads=8, kv_heads=8, ffn=1376, vocab=32000)
_LLAMA2_70B: dict[str, int] = dict(layers=80, d_model=8192, heads=64, kv_heads=8, ffn=28672, vocab=32000)


def llama(
    layers: int = 2, d_model: int = 512, heads: int = 8, kv_heads: int = 8, ffn: int = 1376, vocab: int = 32000
) -> Llama:
    """Zoo factory: a small Llama-2 style decoder by default."""
    return Llama(layers, d_model, heads, kv_heads, ffn, vocab)


def llama2_70b(**overrides: Any) -> Llama:
    """Zoo factory: the Llama-2 70B shape (80 layers, 8192 wide, 64 heads, 8 kv heads); build on meta."""
    return Llama(**{**_LLAMA2_70B, **overrides})


def _llama_options(defaults: dict[str, int]) -> tuple[ZooOption, ...]:
    helps = {
        "layers": "number of decoder layers",
        "d_model": "hidden size",
        "heads": "query heads",
        "kv_heads": "key/value heads (grouped-query attention; must divide heads)",
        "ffn": "SwiGLU intermediate size",
        "vocab": "vocabulary size",
    }
    return tuple(ZooOption(name, int, defaults[name], text) for name, text in helps.items())


register(ZooEntry(
    name="gpt2",
    factory=gpt2,
    default_input="1x128:int64",
    description="GPT-2 small (Radford et al. 2019), Hugging Face layout; tied lm_head, causal SDPA",
    options=(
        ZooOption("layers", int, 12, "number of transformer blocks"),
        ZooOption("d_model", int, 768, "hidden size"),
        ZooOption("heads", int, 12, "attention heads"),
        ZooOption("vocab", int, 50257, "vocabulary size"),
        ZooOption("n_positions", int, 1024, "maximum sequence length (position embeddings)"),
    ),
))

register(ZooEntry(
    name="llama",
    factory=llama,
    default_input="1x128:int64",
    description="Llama-2 style decoder (Touvron et al. 2023), HF layout; RMSNorm, RoPE, GQA, SwiGLU; small by default",
    options=_llama_options(_LLAMA_SMALL),
))

register(ZooEntry(
    name="llama2_70b",
    factory=llama2_70b,
    default_input="1x128:int64",
    description="Llama-2 70B shape (Touvron et al. 2023), HF layout, 69B parameters: build it with device meta",
    options=_llama_options(_LLAMA2_70B),
))
