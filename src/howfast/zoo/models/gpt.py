"""Decoder-only language models: GPT-2 (Radford et al. 2019) and a Llama-2 style decoder
(Touvron et al. 2023), with a Hugging Face style key/value cache and, for Llama, Mistral-style
sliding-window attention (Jiang et al. 2023).

GPT-2 uses the Hugging Face ``GPT2LMHeadModel`` module names (``wte``, ``wpe``, ``h.N.attn.c_attn``,
...) with ``nn.Linear`` in place of HF's transposed ``Conv1D`` (same parameters) and ``lm_head`` tied
to ``wte``. The Llama decoder uses the HF ``LlamaForCausalLM`` names (``embed_tokens``,
``layers.N.self_attn.q_proj``, ...): RMSNorm, rotary position embedding, grouped-query attention,
SwiGLU MLP and an untied ``lm_head``.

Inputs are int64 token ids of shape (batch, seq); outputs are logits (batch, seq, vocab).

**KV cache** (both models): ``forward(ids, past_key_values=None, use_cache=False)``. Without either
argument it returns the logits only, running exactly the ops it always ran. With ``use_cache=True``
or a ``past_key_values`` it returns ``(logits, cache)``: ``cache`` is a ``KVCache``, a tuple with one
``(key, value)`` pair per layer, each of shape (batch, kv_heads, length, head_dim) -- Llama's keys
after RoPE and before the grouped-query repeat, so it holds ``kv_heads`` heads -- grown with
``torch.cat(dim=2)`` as HF's ``DynamicCache``. ``cache.seen`` counts the positions processed so far;
the new tokens take positions seen..seen+t-1 (GPT-2's ``wpe``, Llama's rotary tables). A plain tuple
of pairs may be passed as the past too; it is taken to hold every past position. Masks: one new
token (t = 1) attends to every cached key (no mask, ``is_causal=False``); t > 1 tokens without a
past use ``is_causal=True`` as without a cache; t > 1 tokens after a past use an explicit boolean
causal mask offset by the past.

**Sliding window** (Llama, ``sliding_window=W``; 0 is off): a query at position i attends to the
keys j with i - W < j <= i (at most W keys, as Mistral and HF's ``sliding_window``). With a cache,
the cache keeps only the last W - 1 positions after each step (HF's sliding-window cache layer), so a
decode token attends to min(C, W) keys, C counting itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, divides, even_head_dim, register

Pair = tuple[torch.Tensor, torch.Tensor]

# ----------------------------------------------------------------------------------------- cache


class KVCache(tuple[Pair, ...]):
    """One ``(key, value)`` pair per layer, and ``seen``: the positions the model has processed
    (a sliding-window cache holds fewer than that)."""

    seen: int

    def __new__(cls, layers: Iterable[Pair], seen: int) -> KVCache:
        cache = super().__new__(cls, tuple(layers))
        cache.seen = seen
        return cache

    def __getnewargs__(self) -> tuple[tuple[Pair, ...], int]:  # copy and pickle pass ``seen`` back
        return tuple(self), self.seen


def past_length(past: Sequence[Pair] | None) -> int:
    """Positions processed before this call: ``past.seen`` for a ``KVCache``, else the cached length."""
    if not past:
        return 0
    seen = getattr(past, "seen", None)
    return int(seen) if seen is not None else int(past[0][0].shape[2])


def attention_layout(t: int, keys: int, start: int, window: int, device: torch.device) -> tuple[torch.Tensor | None, bool]:
    """``(attn_mask, is_causal)`` for ``t`` queries at positions start..start+t-1 over ``keys`` keys
    ending at position start+t-1, with a sliding window of ``window`` keys (0: none).

    No past (keys == t) and no window that cuts: ``is_causal``. One query whose keys the window does
    not cut: no mask. Otherwise a boolean (t, keys) mask, True where i - W < j <= i.
    """
    if keys == t and (window == 0 or t <= window):
        return None, True
    if t == 1 and (window == 0 or keys <= window):
        return None, False
    query = torch.arange(start, start + t, device=device).unsqueeze(1)
    key = torch.arange(start + t - keys, start + t, device=device).unsqueeze(0)
    mask = key <= query
    if window:
        mask = mask & (key > query - window)
    return mask, False


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, causal: bool) -> torch.Tensor:
    """Scaled dot-product attention with the layout ``attention_layout`` chose."""
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def keep_last(x: torch.Tensor, window: int) -> torch.Tensor:
    """What a cache keeps of ``x`` (batch, heads, length, head_dim): all of it, or with a sliding
    window of W the last W - 1 positions."""
    if not window:
        return x
    return x[:, :, max(x.shape[2] - (window - 1), 0):]


def run_layers(layers: nn.ModuleList, x: torch.Tensor, past: Sequence[Pair] | None, cached: bool, start: int) -> tuple[torch.Tensor, list[Pair]]:
    """Run the decoder layers; in cache mode each returns ``(x, (key, value))``."""
    presents: list[Pair] = []
    for i, layer in enumerate(layers):
        if not cached:
            x = layer(x)
            continue
        x, present = layer(x, past[i] if past else None, True, start)
        presents.append(present)
    return x, presents


def split_cached(result: Any) -> tuple[torch.Tensor, Pair | None]:
    """An attention's result: ``(out, (key, value))`` in cache mode, else ``(out, None)``."""
    return (result[0], result[1]) if isinstance(result, tuple) else (result, None)


# ----------------------------------------------------------------------------------------- GPT-2


class GPT2Attention(nn.Module):
    """Causal self-attention with a fused ``c_attn`` (q, k, v) projection and ``c_proj`` output."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.resid_dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, past: Pair | None = None, use_cache: bool = False, start: int = 0) -> Any:
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
        mask, causal = attention_layout(t, k.shape[2], start, 0, x.device)
        out = self.resid_dropout(self.c_proj(attend(q, k, v, mask, causal).transpose(1, 2).reshape(b, t, c)))
        return (out, (k, v)) if past is not None or use_cache else out


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

    def forward(self, x: torch.Tensor, past: Pair | None = None, use_cache: bool = False, start: int = 0) -> Any:
        h, present = split_cached(self.attn(self.ln_1(x), past, use_cache, start))
        x = x + h
        x = x + self.mlp(self.ln_2(x))
        return (x, present) if present is not None else x


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

    def forward(self, ids: torch.Tensor, past_key_values: Sequence[Pair] | None = None, use_cache: bool = False) -> Any:
        cached = use_cache or past_key_values is not None
        start, t = past_length(past_key_values), ids.shape[1]
        positions = torch.arange(start, start + t, device=ids.device) if start else torch.arange(t, device=ids.device)
        x = self.drop(self.wte(ids) + self.wpe(positions))
        x, presents = run_layers(self.h, x, past_key_values, cached, start)
        logits = self.lm_head(self.ln_f(x))
        return (logits, KVCache(presents, start + t)) if cached else logits


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
    seq_len: int, head_dim: int, like: torch.Tensor, theta: float = 10000.0, start: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary embedding tables (Su et al. 2021) of shape (seq_len, head_dim) for positions
    start..start+seq_len-1, on ``like``'s device."""
    exponents = torch.arange(0, head_dim, 2, device=like.device, dtype=torch.float32) / head_dim
    inv_freq = 1.0 / (theta**exponents)
    if start:
        positions = torch.arange(start, start + seq_len, device=like.device, dtype=torch.float32)
    else:
        positions = torch.arange(seq_len, device=like.device, dtype=torch.float32)
    freqs = torch.outer(positions, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(like.dtype), emb.sin().to(like.dtype)


class LlamaAttention(nn.Module):
    """Grouped-query causal attention with RoPE on q and k; k/v heads repeated to match q heads,
    optionally over a sliding window of ``sliding_window`` keys."""

    def __init__(self, d_model: int, heads: int, kv_heads: int, sliding_window: int = 0, rope_theta: float = 10000.0) -> None:
        super().__init__()
        if d_model % heads or heads % kv_heads:
            raise ValueError(f"need heads | d_model and kv_heads | heads, got {d_model}, {heads}, {kv_heads}")
        if sliding_window < 0:
            raise ValueError(f"sliding_window must be >= 0 (0: off), got {sliding_window}")
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d_model // heads
        self.sliding_window, self.rope_theta = sliding_window, rope_theta
        self.q_proj = nn.Linear(d_model, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d_model, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d_model, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, d_model, bias=False)

    def forward(self, x: torch.Tensor, past: Pair | None = None, use_cache: bool = False, start: int = 0) -> Any:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = rotary_cos_sin(t, self.head_dim, q, self.rope_theta, start)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k, v = torch.cat((past[0], k), dim=2), torch.cat((past[1], v), dim=2)
        cached = past is not None or use_cache
        present = (keep_last(k, self.sliding_window), keep_last(v, self.sliding_window)) if cached else None
        mask, causal = attention_layout(t, k.shape[2], start, self.sliding_window, x.device)
        repeats = self.heads // self.kv_heads
        k = k.repeat_interleave(repeats, dim=1)
        v = v.repeat_interleave(repeats, dim=1)
        out = self.o_proj(attend(q, k, v, mask, causal).transpose(1, 2).reshape(b, t, self.heads * self.head_dim))
        return (out, present) if cached else out


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
    """Pre-norm block: ``x + self_attn(input_layernorm(x))``, ``x + mlp(post_attention_layernorm(x))``.
    ``mlp`` replaces the SwiGLU MLP (a mixture of experts, ``zoo/models/moe.py``)."""

    def __init__(self, d_model: int, heads: int, kv_heads: int, ffn: int, sliding_window: int = 0,
                 rope_theta: float = 10000.0, mlp: nn.Module | None = None) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(d_model)
        self.self_attn = LlamaAttention(d_model, heads, kv_heads, sliding_window, rope_theta)
        self.post_attention_layernorm = RMSNorm(d_model)
        self.mlp = mlp if mlp is not None else LlamaMLP(d_model, ffn)

    def forward(self, x: torch.Tensor, past: Pair | None = None, use_cache: bool = False, start: int = 0) -> Any:
        h, present = split_cached(self.self_attn(self.input_layernorm(x), past, use_cache, start))
        x = x + h
        x = x + self.mlp(self.post_attention_layernorm(x))
        return (x, present) if present is not None else x


class Llama(nn.Module):
    """Llama-2 style causal LM: ``embed_tokens``, ``layers``, ``norm``, untied ``lm_head``.
    ``make_layer`` builds each decoder layer instead of ``LlamaDecoderLayer`` (Mixtral's)."""

    def __init__(
        self,
        layers: int = 2,
        d_model: int = 512,
        heads: int = 8,
        kv_heads: int = 8,
        ffn: int = 1376,
        vocab: int = 32000,
        sliding_window: int = 0,
        rope_theta: float = 10000.0,
        make_layer: Callable[[], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d_model)
        build = make_layer or (lambda: LlamaDecoderLayer(d_model, heads, kv_heads, ffn, sliding_window, rope_theta))
        self.layers = nn.ModuleList(build() for _ in range(layers))
        self.norm = RMSNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab, bias=False)

    def forward(self, ids: torch.Tensor, past_key_values: Sequence[Pair] | None = None, use_cache: bool = False) -> Any:
        cached = use_cache or past_key_values is not None
        start = past_length(past_key_values)
        x, presents = run_layers(self.layers, self.embed_tokens(ids), past_key_values, cached, start)
        logits = self.lm_head(self.norm(x))
        return (logits, KVCache(presents, start + ids.shape[1])) if cached else logits


_LLAMA_SMALL: dict[str, int] = dict(layers=2, d_model=512, heads=8, kv_heads=8, ffn=1376, vocab=32000, sliding_window=0)
_LLAMA2_70B: dict[str, int] = dict(layers=80, d_model=8192, heads=64, kv_heads=8, ffn=28672, vocab=32000, sliding_window=0)


def llama(
    layers: int = 2, d_model: int = 512, heads: int = 8, kv_heads: int = 8, ffn: int = 1376, vocab: int = 32000,
    sliding_window: int = 0,
) -> Llama:
    """Zoo factory: a small Llama-2 style decoder by default."""
    return Llama(layers, d_model, heads, kv_heads, ffn, vocab, sliding_window)


def llama2_70b(**overrides: Any) -> Llama:
    """Zoo factory: the Llama-2 70B shape (80 layers, 8192 wide, 64 heads, 8 kv heads); build on meta."""
    return Llama(**{**_LLAMA2_70B, **overrides})


SLIDING_WINDOW_HELP = "Mistral-style sliding-window attention: each query sees its last W keys (0: off)"


def _llama_options(defaults: dict[str, int]) -> tuple[ZooOption, ...]:
    helps = {
        "layers": "number of decoder layers",
        "d_model": "hidden size",
        "heads": "query heads",
        "kv_heads": "key/value heads (grouped-query attention; must divide heads)",
        "ffn": "SwiGLU intermediate size",
        "vocab": "vocabulary size",
        "sliding_window": SLIDING_WINDOW_HELP,
    }
    return tuple(ZooOption(name, int, defaults[name], text, low=0 if name in ("layers", "sliding_window") else None)
                 for name, text in helps.items())


LLAMA_RULES = (divides("heads", "d_model"), divides("kv_heads", "heads"), even_head_dim())


register(ZooEntry(
    name="gpt2",
    factory=gpt2,
    default_input="1x128:int64",
    description="GPT-2 small (Radford et al. 2019), Hugging Face layout; tied lm_head, causal SDPA",
    options=(
        ZooOption("layers", int, 12, "number of transformer blocks", low=0),
        ZooOption("d_model", int, 768, "hidden size"),
        ZooOption("heads", int, 12, "attention heads"),
        ZooOption("vocab", int, 50257, "vocabulary size"),
        ZooOption("n_positions", int, 1024, "maximum sequence length (position embeddings)"),
    ),
    rules=(divides("heads", "d_model"),),
))

register(ZooEntry(
    name="llama",
    factory=llama,
    default_input="1x128:int64",
    description="Llama-2 style decoder (Touvron et al. 2023), HF layout; RMSNorm, RoPE, GQA, SwiGLU; small by default",
    options=_llama_options(_LLAMA_SMALL),
    rules=LLAMA_RULES,
))

register(ZooEntry(
    name="llama2_70b",
    factory=llama2_70b,
    default_input="1x128:int64",
    description="Llama-2 70B shape (Touvron et al. 2023), HF layout, 69B parameters: build it with device meta",
    options=_llama_options(_LLAMA2_70B),
    rules=LLAMA_RULES,
))
