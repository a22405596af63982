"""A Mixture-of-Experts decoder: Mixtral (Jiang et al. 2024, "Mixtral of Experts").

The Llama decoder of ``zoo/models/gpt.py`` (RMSNorm, RoPE, grouped-query attention with the same
KV cache and optional sliding window, untied ``lm_head``) with each SwiGLU MLP replaced by a sparse
mixture of E SwiGLU experts, of which a router picks the top k per token. Module names follow
transformers 5's ``MixtralForCausalLM`` without the ``model.`` prefix: ``embed_tokens``,
``layers.N.self_attn.{q,k,v,o}_proj``, ``layers.N.mlp.gate`` (the router, ``Linear(d, E)``),
``layers.N.mlp.experts`` (``gate_up_proj`` (E, 2 x ffn, d) and ``down_proj`` (E, d, ffn), stacked
3-D parameters as transformers 5's ``MixtralExperts``), ``norm``, ``lm_head``.

Routing, as Mixtral: softmax over the E router logits (in float32 at least), the top k
probabilities renormalised to sum to 1; a token's output is the weighted sum of its k experts'
``down(silu(gate(x)) * up(x))``.

**Expert kernel.** The expert computation has no data-dependent shapes, so it runs on ``meta``:
the T x k (token, expert) assignments are sorted by expert (``sort``), their rows gathered,
per-expert counts taken with ``histc`` over E fixed bins and their running sum (``cumsum``) made the
group offsets; the up and down projections are then one grouped matrix product each over the
sorted rows, and an inverse permutation and a sum over k put the results back per token. This is
transformers 5.23's default ``grouped_mm`` experts implementation (``integrations/moe.py``), and
the kernel is chosen the same way:

* ``torch._grouped_mm`` where it runs: on CPU (torch >= 2.9) in float32, bfloat16 or float16, on
  CUDA (compute capability >= 8.0) and on ``meta`` in bfloat16 (the meta kernel refuses other
  dtypes: "Expected inputs of BF16"), in every case with 16-byte aligned strides (and, on CPU, data).
  transformers calls it on meta in every dtype, so an HF Mixtral in float32 fails on meta.
* otherwise (float64 on CPU, float32 on meta, misaligned operands) a loop over the experts, one
  ``mm`` per expert on its contiguous slice of the sorted rows, written into one output (HF's
  ``_grouped_mm_fallback``). The slice sizes are Python ints, so the shapes stay static: on a real
  device they are the counts (one host sync); on ``meta``, where routing has no values, the T x k
  rows are split evenly over min(E, T x k) experts -- the balanced routing the ``_grouped_mm``
  formula assumes (docs/formulas.md) -- so both kernels count the same MACs (T x k x 3 x d x ffn
  per layer) and read the same expert weights.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from howfast.zoo.models.gpt import LLAMA_RULES, SLIDING_WINDOW_HELP, Llama, LlamaDecoderLayer
from howfast.zoo.registry import ZooEntry, ZooOption, at_most, register

_ALIGNMENT = 16  # bytes: what the grouped-GEMM kernels need of strides and data pointers
_TORCH = tuple(int(part) for part in torch.__version__.split(".")[:2])  # "2.13.0+cpu" -> (2, 13)


def aligned(t: torch.Tensor) -> bool:
    """Whether ``t``'s last two dimensions are row- or column-major with a 16-byte aligned leading
    stride (and, off ``meta``, a 16-byte aligned data pointer): what ``_grouped_mm`` accepts."""
    rows, cols = t.stride()[-2:]
    step = max(_ALIGNMENT // t.element_size(), 1)
    layout = (cols == 1 and rows % step == 0) or (rows == 1 and cols % step == 0)
    return layout and (t.device.type == "meta" or t.data_ptr() % _ALIGNMENT == 0)


def grouped_mm_runs(x: torch.Tensor, w: torch.Tensor) -> bool:
    """Whether ``torch._grouped_mm(x, w, offs=...)`` runs for these operands on their device."""
    if not hasattr(torch, "_grouped_mm") or x.dtype != w.dtype or x.device != w.device:
        return False
    device = w.device.type
    if device == "cpu":
        dtype_ok = _TORCH >= (2, 9) and w.dtype in (torch.float32, torch.bfloat16, torch.float16)
    elif device == "cuda":
        dtype_ok = w.dtype == torch.bfloat16 and torch.cuda.get_device_capability(w.device) >= (8, 0)
    else:
        dtype_ok = device == "meta" and w.dtype == torch.bfloat16
    return dtype_ok and aligned(x) and aligned(w)


def group_sizes(counts: torch.Tensor, rows: int) -> list[int]:
    """Rows per expert: the counts on a real device; on ``meta`` the balanced split of ``rows`` over
    min(E, rows) experts (sizes differ by at most one)."""
    if counts.device.type != "meta":
        return [int(c) for c in counts.tolist()]
    experts = counts.shape[0]
    groups = min(experts, rows)
    base, extra = divmod(rows, groups) if groups else (0, 0)
    return [base + (i < extra) for i in range(groups)] + [0] * (experts - groups)


def expert_loop(x: torch.Tensor, w: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """The grouped product without ``_grouped_mm``: x (S, in) sorted by expert, w (E, in, out)."""
    out = x.new_empty((x.shape[0], w.shape[-1]))
    start = 0
    for expert, size in enumerate(group_sizes(counts, x.shape[0])):
        if size:
            torch.mm(x[start:start + size], w[expert], out=out[start:start + size])
        start += size
    return out


def grouped_linear(x: torch.Tensor, weight: torch.Tensor, offsets: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` (S, in), sorted by expert, times their expert's ``weight`` (E, out, in) transposed."""
    w = weight.transpose(-2, -1)
    if grouped_mm_runs(x, w):
        return torch._grouped_mm(x, w, offs=offsets)
    return expert_loop(x, w, counts)


class MixtralExperts(nn.Module):
    """E SwiGLU experts stored as stacked 3-D parameters: ``gate_up_proj`` (E, 2 x ffn, d) holds
    each expert's gate and up projections, ``down_proj`` (E, d, ffn) its down projection."""

    def __init__(self, experts: int, d_model: int, ffn: int) -> None:
        super().__init__()
        self.num_experts = experts
        self.gate_up_proj = nn.Parameter(torch.empty(experts, 2 * ffn, d_model))
        self.down_proj = nn.Parameter(torch.empty(experts, d_model, ffn))
        for p in (self.gate_up_proj, self.down_proj):
            nn.init.normal_(p, std=0.02)

    def forward(self, hidden: torch.Tensor, top_k_index: torch.Tensor, top_k_weights: torch.Tensor) -> torch.Tensor:
        tokens, k = top_k_index.shape
        expert_ids, perm = torch.sort(top_k_index.reshape(-1))
        rows = hidden[perm // k]
        # histc counts floats on CPU and meta, ints on CUDA (as transformers; no data-dependent size)
        binned = expert_ids.int() if expert_ids.device.type == "cuda" else expert_ids.float()
        counts = torch.histc(binned, bins=self.num_experts, min=0, max=self.num_experts - 1)
        offsets = torch.cumsum(counts, dim=0, dtype=torch.int32)
        gate, up = grouped_linear(rows, self.gate_up_proj, offsets, counts).chunk(2, dim=-1)
        out = grouped_linear(F.silu(gate) * up, self.down_proj, offsets, counts)
        out = out * top_k_weights.reshape(-1)[perm].to(out.dtype).unsqueeze(-1)
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(perm.shape[0], device=perm.device)
        return out[inverse].view(tokens, k, -1).sum(dim=1)


class MixtralSparseMoeBlock(nn.Module):
    """The sparse MoE feed-forward: router ``gate`` (d -> E logits), top-k softmax routing, ``experts``."""

    def __init__(self, d_model: int, ffn: int, experts: int = 8, top_k: int = 2) -> None:
        super().__init__()
        if not 0 < top_k <= experts:
            raise ValueError(f"need 0 < top_k <= experts, got top_k={top_k}, experts={experts}")
        self.top_k = top_k
        self.gate = nn.Linear(d_model, experts, bias=False)
        self.experts = MixtralExperts(experts, d_model, ffn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        hidden = x.reshape(b * t, d)
        logits = self.gate(hidden)
        probs = F.softmax(logits, dim=-1, dtype=torch.float64 if logits.dtype == torch.float64 else torch.float32)
        weights, index = torch.topk(probs, self.top_k, dim=-1)
        weights = weights / weights.sum(dim=-1, keepdim=True)
        return self.experts(hidden, index, weights).view(b, t, d)


class MixtralDecoderLayer(LlamaDecoderLayer):
    """A Llama decoder layer whose ``mlp`` is a ``MixtralSparseMoeBlock``."""

    def __init__(self, d_model: int, heads: int, kv_heads: int, ffn: int, experts: int, top_k: int,
                 sliding_window: int = 0, rope_theta: float = 1e6) -> None:
        super().__init__(d_model, heads, kv_heads, ffn, sliding_window, rope_theta,
                         mlp=MixtralSparseMoeBlock(d_model, ffn, experts, top_k))


class Mixtral(Llama):
    """Mixtral causal LM: ``embed_tokens``, ``layers`` (attention + sparse MoE), ``norm``, untied
    ``lm_head``; ``forward(ids, past_key_values=None, use_cache=False)`` as Llama's."""

    def __init__(self, layers: int = 2, d_model: int = 512, heads: int = 8, kv_heads: int = 2, ffn: int = 1024,
                 vocab: int = 32000, experts: int = 8, top_k: int = 2, sliding_window: int = 0, rope_theta: float = 1e6) -> None:
        super().__init__(layers, d_model, heads, kv_heads, ffn, vocab, sliding_window, rope_theta,
                         make_layer=lambda: MixtralDecoderLayer(d_model, heads, kv_heads, ffn, experts, top_k, sliding_window, rope_theta))


_MIXTRAL_SMALL: dict[str, Any] = dict(layers=2, d_model=512, heads=8, kv_heads=2, ffn=1024, vocab=32000, experts=8, top_k=2,
                                      sliding_window=0, rope_theta=1e6)
# Mixtral 8x7B (mistralai/Mixtral-8x7B-v0.1 config.json): 46,702,792,704 parameters
_MIXTRAL_8X7B: dict[str, Any] = dict(layers=32, d_model=4096, heads=32, kv_heads=8, ffn=14336, vocab=32000, experts=8, top_k=2,
                                     sliding_window=0, rope_theta=1e6)


def mixtral(layers: int = 2, d_model: int = 512, heads: int = 8, kv_heads: int = 2, ffn: int = 1024, vocab: int = 32000,
            experts: int = 8, top_k: int = 2, sliding_window: int = 0, rope_theta: float = 1e6) -> Mixtral:
    """Zoo factory: a small Mixtral (2 layers, 512 wide, 8 experts, top 2) by default."""
    return Mixtral(layers, d_model, heads, kv_heads, ffn, vocab, experts, top_k, sliding_window, rope_theta)


def mixtral_8x7b(**overrides: Any) -> Mixtral:
    """Zoo factory: the Mixtral 8x7B shape (32 layers, 4096 wide, 32 heads, 8 kv heads, 8 experts of
    14336, top 2); 46.7B parameters: build on meta."""
    return Mixtral(**{**_MIXTRAL_8X7B, **overrides})


def _mixtral_options(defaults: dict[str, Any]) -> tuple[ZooOption, ...]:
    helps = {
        "layers": "number of decoder layers",
        "d_model": "hidden size",
        "heads": "query heads",
        "kv_heads": "key/value heads (grouped-query attention; must divide heads)",
        "ffn": "each expert's SwiGLU intermediate size",
        "vocab": "vocabulary size",
        "experts": "experts per MoE layer (E)",
        "top_k": "experts each token is routed to (k <= E)",
        "sliding_window": SLIDING_WINDOW_HELP,
        "rope_theta": "rotary embedding base",
    }
    bounds = {"layers": (0, None), "sliding_window": (0, None), "rope_theta": (1.0, 1e12)}
    return tuple(ZooOption(name, type(defaults[name]), defaults[name], text, *bounds.get(name, (None, None)))
                 for name, text in helps.items())


MIXTRAL_RULES = (*LLAMA_RULES, at_most("top_k", "experts"))


register(ZooEntry(
    name="mixtral",
    factory=mixtral,
    default_input="1x128:int64",
    description="Mixtral-style sparse MoE decoder (Jiang et al. 2024), HF layout; 8 experts, top 2; small by default",
    options=_mixtral_options(_MIXTRAL_SMALL),
    rules=MIXTRAL_RULES,
))

register(ZooEntry(
    name="mixtral_8x7b",
    factory=mixtral_8x7b,
    default_input="1x128:int64",
    description="Mixtral 8x7B shape (Jiang et al. 2024), HF layout, 46.7B parameters: build it with device meta",
    options=_mixtral_options(_MIXTRAL_8X7B),
    rules=MIXTRAL_RULES,
))
