"""Scaled dot-product attention, counted with its true math whatever kernel runs it.

For q (..., L, E), k (..., S, E), v (..., S, Ev) with b = prod(q's leading dims) (batch x heads):
MACs = b x L x S x E (Q K^T) + b x L x S x Ev (P V). FLOPs follow PyTorch's reference math
(``_scaled_dot_product_attention_math``), so a fused kernel and the decomposed ops count alike: the
two products (dot-product rule); q and k each multiplied by sqrt(scale) (numel(q) + numel(k)); 1
per score to apply a mask (an explicit additive mask, or the causal select); softmax 3S-1 per row;
and the write-up's dropout p x scores when training. The same formula serves the function-level
record (captured before kernel choice) and any fused aten kernel met directly.

Write-up memory model: an unfused implementation — Q read once per MAC of Q K^T, K once, the score
matrix written, read and written again by the softmax (with the mask read), P read once per MAC of
P V, V once, the output written. Each read is priced at the item size of what it reads: the mask at
its own (a bool mask 1 byte), the scores and P at q's. The compulsory model reads q, k, v (and
mask) and writes the output once: what a fused flash kernel moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, bias_flops, dot_flops, need, prod, tensor
from howfast.costs.formulas.activations import softmax_flops
from howfast.costs.registry import Access, Cost, OpClass, access, cost
from howfast.graph.records import OpRecord, TensorMeta


@dataclass(frozen=True, slots=True)
class Attention:
    """MACs, FLOPs, write-up reads (one ``Access`` per operand) and write-up writes of one attention."""

    macs: int
    flops: int
    reads: list[Access]
    writes: int

    def cost(self) -> Cost:
        return Cost(macs=self.macs, flops=self.flops, input_reads=self.reads, output_writes=self.writes)


def attention_cost(q: TensorMeta, k: TensorMeta, v: TensorMeta, mask: TensorMeta | Sequence[TensorMeta] | None, dropout_p: float,
                   conv: Conventions, causal: bool = False) -> Attention:
    """Cost of softmax(q k^T * scale + mask) v for the given shapes.

    ``mask``: none, one, or several masks applied together (``multi_head_attention_forward``'s
    ``attn_mask`` and ``key_padding_mask``); each is read once per score, at its own item size, and
    costs one add per score (two masks: merged by one add per score, then applied by another).
    """
    masks = [] if mask is None else [mask] if isinstance(mask, TensorMeta) else list(mask)
    b = prod(q.shape[:-2])
    length, source, e, ev = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    scores = b * length * source
    macs_qk, macs_av = scores * e, scores * ev
    flops = (
        dot_flops(macs_qk, scores, conv)
        + q.numel + k.numel  # q and k scaled by sqrt(scale) each
        + scores * (len(masks) or int(causal))
        + softmax_flops(b * length, source)
        + dot_flops(macs_av, b * length * ev, conv)
        + round(dropout_p * scores)
    )
    return Attention(
        macs=macs_qk + macs_av,
        flops=flops,
        reads=[
            access(macs_qk, q),  # Q once per MAC of Q K^T
            access(k.numel, k),
            access(scores, q),  # the softmax reads the scores (q's dtype)
            *(access(scores, m) for m in masks),  # each mask once per score, broadcast
            access(macs_av, q),  # P once per MAC of P V
            access(v.numel, v),
        ],
        writes=2 * scores + b * length * ev,
    )


def _mask(op: OpRecord, index: int) -> TensorMeta | None:
    for key in ("attn_mask", "attn_bias"):
        if isinstance(op.kwargs.get(key), TensorMeta):
            return op.kwargs[key]
    value = arg(op, index, "attn_mask")
    return value if isinstance(value, TensorMeta) else None


@cost("scaled_dot_product_attention", op_class=OpClass.ATTENTION)
def scaled_dot_product_attention(op: OpRecord, conv: Conventions) -> Cost:
    # (query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False)
    q, k, v = need(op, 0, "query"), need(op, 1, "key"), need(op, 2, "value")
    causal = bool(arg(op, 5, "is_causal", False))
    return attention_cost(q, k, v, _mask(op, 3), float(arg(op, 4, "dropout_p", 0.0) or 0.0), conv, causal).cost()


@cost("aten._scaled_dot_product_flash_attention_for_cpu", "aten._scaled_dot_product_flash_attention",
      "aten._scaled_dot_product_efficient_attention", "aten._scaled_dot_product_cudnn_attention",
      "aten._scaled_dot_product_attention_math", "aten._scaled_dot_product_fused_attention_overrideable", op_class=OpClass.ATTENTION)
def fused_attention_kernel(op: OpRecord, conv: Conventions) -> Cost:
    q, k, v = need(op, 0, "query"), need(op, 1, "key"), need(op, 2, "value")
    if op.op.startswith(("aten._scaled_dot_product_efficient", "aten._scaled_dot_product_cudnn")):
        mask, causal = tensor(op, 3, "attn_bias"), bool(arg(op, 6, "is_causal", False))
    else:  # flash kernels: (query, key, value, dropout_p, is_causal, ...)
        mask, causal = _mask(op, 99), bool(arg(op, 4, "is_causal", False))
    return attention_cost(q, k, v, mask, 0.0, conv, causal).cost()


def _projection(rows: int, weight_rows: int, weight_cols: int, has_bias: bool, conv: Conventions) -> tuple[int, int]:
    macs = rows * weight_rows * weight_cols
    outputs = rows * weight_rows
    return macs, dot_flops(macs, outputs, conv) + bias_flops(outputs, has_bias, conv)


@cost("multi_head_attention_forward", op_class=OpClass.ATTENTION)
def multi_head_attention_forward(op: OpRecord, conv: Conventions) -> Cost:
    """F.multi_head_attention_forward (nn.MultiheadAttention's math path), recorded whole.

    In-projections of query, key and value (one packed (3E, E) weight or three separate ones), an
    optional bias_k/bias_v and zero-attention row (each one more key), attention (the SDPA formula
    above, with dropout when training), the out-projection, and, when the head-averaged attention
    weights are returned, their average: 1 FLOP per weight per head.

    Write-up memory: each projection's input once per MAC; attention's unfused reads and writes, with
    ``attn_mask`` and ``key_padding_mask`` each read once per score at its own item size (a bool
    mask 1 byte); weights returned per head are the probabilities attention already writes; the head
    average reads them all and writes its ``B x L x S'`` result.
    """
    query, key, value = need(op, 0, "query"), need(op, 1, "key"), need(op, 2, "value")
    embed, heads = int(arg(op, 3, "embed_dim_to_check")), int(arg(op, 4, "num_heads"))
    batched = len(query.shape) == 3
    batch = query.shape[1] if batched else 1
    length, source = query.shape[0], key.shape[0]
    separate = bool(arg(op, 17, "use_separate_proj_weight", False))
    kdim, vdim = (key.shape[-1], value.shape[-1]) if separate else (embed, embed)
    in_bias = tensor(op, 6, "in_proj_bias") is not None
    macs_q, flops_q = _projection(batch * length, embed, embed, in_bias, conv)
    macs_k, flops_k = _projection(batch * source, embed, kdim, in_bias, conv)
    macs_v, flops_v = _projection(batch * source, embed, vdim, in_bias, conv)
    macs_o, flops_o = _projection(batch * length, embed, embed, tensor(op, 12, "out_proj_bias") is not None, conv)
    extra_keys = (tensor(op, 7, "bias_k") is not None) + bool(arg(op, 9, "add_zero_attn", False))
    training = bool(arg(op, 13, "training", True))
    dropout = float(arg(op, 10, "dropout_p", 0.0) or 0.0) if training else 0.0
    head_dim = embed // heads
    q = TensorMeta(0, 0, (batch, heads, length, head_dim), query.dtype, query.itemsize, query.kind)
    kv = TensorMeta(0, 0, (batch, heads, source + extra_keys, head_dim), query.dtype, query.itemsize, query.kind)
    masks = [m for m in (tensor(op, 16, "attn_mask"), tensor(op, 14, "key_padding_mask")) if m is not None]
    attn = attention_cost(q, kv, kv, masks, dropout, conv, bool(arg(op, 24, "is_causal", False)))
    need_weights = bool(arg(op, 15, "need_weights", True))
    averaged = bool(arg(op, 23, "average_attn_weights", True))
    # Returned weights: per head they are the probabilities P, already written (2 x scores); the
    # head average reads every head's P and writes B x L x S' more.
    per_head = batch * heads * length * (source + extra_keys) if need_weights and averaged else 0
    average = per_head // heads
    projections = macs_q + macs_k + macs_v + macs_o
    return Cost(
        macs=projections + attn.macs,
        flops=flops_q + flops_k + flops_v + flops_o + attn.flops + per_head,
        input_reads=[
            access(macs_q, query), access(macs_k, key), access(macs_v, value),  # each input once per MAC of its projection
            *attn.reads,
            access(per_head, query),  # P re-read by the head average
            access(macs_o, query),  # attention output once per MAC of the out-projection
        ],
        output_writes=batch * (length + 2 * source) * embed + attn.writes + batch * length * embed + average,
    )


@cost("aten._native_multi_head_attention", op_class=OpClass.ATTENTION)
def native_multi_head_attention(op: OpRecord, conv: Conventions) -> Cost:
    """nn.MultiheadAttention's fused fast path: in-projection, attention, out-projection."""
    # (query, key, value, embed_dim, num_head, qkv_weight, qkv_bias, proj_weight, proj_bias, mask, ...)
    query, key = need(op, 0, "query"), need(op, 1, "key")
    embed, heads = int(arg(op, 3, "embed_dim")), int(arg(op, 4, "num_head"))
    has_bias = tensor(op, 6, "qkv_bias") is not None
    batch = prod(query.shape[:-2]) if len(query.shape) > 2 else 1
    length, source, head_dim = query.shape[-2], key.shape[-2], embed // heads
    macs_q, flops_q = _projection(batch * length, embed, embed, has_bias, conv)
    macs_kv, flops_kv = _projection(batch * source, 2 * embed, embed, has_bias, conv)
    macs_o, flops_o = _projection(batch * length, embed, embed, tensor(op, 8, "proj_bias") is not None, conv)
    shape_q = (batch, heads, length, head_dim)
    shape_kv = (batch, heads, source, head_dim)
    q = TensorMeta(0, 0, shape_q, query.dtype, query.itemsize, query.kind)
    kv = TensorMeta(0, 0, shape_kv, query.dtype, query.itemsize, query.kind)
    attn = attention_cost(q, kv, kv, tensor(op, 9, "mask"), 0.0, conv)
    macs = macs_q + macs_kv + macs_o + attn.macs
    reads = [access(macs_q, query), access(macs_kv, key), *attn.reads, access(macs_o, query)]
    return Cost(macs=macs, flops=flops_q + flops_kv + flops_o + attn.flops, input_reads=reads)
