"""BERT-base (Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers"), the encoder
with the Hugging Face ``BertModel`` module names (``embeddings.word_embeddings``,
``encoder.layer.N.attention.self.query``, ``encoder.layer.N.output.LayerNorm``, ``pooler.dense``...).

Embeddings: word + learned absolute position + token type (segment), summed, LayerNorm (eps 1e-12).
Each of the 12 layers is post-norm: ``LayerNorm(x + dense(attention(x)))`` with separate query, key and
value Linears (scaled dot-product attention, bidirectional, 12 heads), then
``LayerNorm(x + dense(GELU(dense(x))))`` with a 3072-wide intermediate layer (exact GELU). The pooler
is a Linear and tanh on the first ([CLS]) token, as ``BertModel`` computes it.

``forward(input_ids, token_type_ids=None, attention_mask=None)``: int64 ids of shape (batch, seq);
no ``token_type_ids`` is segment 0 everywhere (HF's default), no ``attention_mask`` attends to every
position (HF's default, no mask op). Returns ``(last_hidden_state, pooler_output)``, of shapes
(batch, seq, hidden) and (batch, hidden), as ``BertModel``'s first two outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from howfast.zoo.registry import ZooEntry, ZooOption, divides, register


class BertEmbeddings(nn.Module):
    """``word_embeddings`` + ``position_embeddings`` + ``token_type_embeddings``, ``LayerNorm``, ``dropout``.

    As HF, the position ids (0..max_positions-1) and the default segment ids (zeros) are non-persistent
    buffers, sliced to the sequence (views, no op); an ``arange`` in the forward would be an op PyTorch
    runs and an exported graph folds away."""

    def __init__(self, vocab: int, hidden: int, max_positions: int, type_vocab: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_positions, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(0.1)
        self.position_ids: torch.Tensor
        self.token_type_ids: torch.Tensor
        self.register_buffer("position_ids", torch.arange(max_positions).unsqueeze(0), persistent=False)
        self.register_buffer("token_type_ids", torch.zeros((1, max_positions), dtype=torch.long), persistent=False)

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> BertEmbeddings:
        # The id buffers are not learned: after every move, and after ``to_empty`` (which leaves them
        # holding whatever the new memory held), they are the ids again. On meta they have no values.
        super()._apply(fn, recurse)
        device = self.position_ids.device
        if device.type != "meta":
            self.position_ids = torch.arange(self.position_ids.shape[1], device=device).unsqueeze(0)
            self.token_type_ids = torch.zeros_like(self.token_type_ids)
        return self

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        b, t = input_ids.shape
        if token_type_ids is None:
            token_type_ids = self.token_type_ids[:, :t].expand(b, t)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(self.position_ids[:, :t])
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """``query``, ``key``, ``value`` Linears and attention over every position: ``"sdpa"`` (one
    ``scaled_dot_product_attention``, HF's default) or ``"eager"`` (HF's eager path: ``Q K^T`` times
    1/sqrt(head size), mask added, softmax, times ``V``; the scores are written and read back)."""

    def __init__(self, hidden: int, heads: int, attention: str = "sdpa") -> None:
        super().__init__()
        if attention not in ("sdpa", "eager"):
            raise ValueError(f"attention must be 'sdpa' or 'eager', got {attention!r}")
        self.heads = heads
        self.attention = attention
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (proj(x).view(b, t, self.heads, c // self.heads).transpose(1, 2) for proj in (self.query, self.key, self.value))
        if self.attention == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.1 if self.training else 0.0)
        else:
            scores = torch.matmul(q, k.transpose(2, 3)) * (c // self.heads) ** -0.5
            if mask is not None:
                scores = scores + mask
            out = torch.matmul(self.dropout(F.softmax(scores, dim=-1)), v)
        return out.transpose(1, 2).reshape(b, t, c)


class BertSelfOutput(nn.Module):
    """``dense``, ``dropout``, then ``LayerNorm`` of the residual sum (post-norm)."""

    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.dense = nn.Linear(inner, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertOutput(BertSelfOutput):
    """The feed-forward's ``dense`` (intermediate -> hidden), ``dropout``, ``LayerNorm`` of the residual sum."""


class BertAttention(nn.Module):
    """``self`` (the attention) and ``output`` (projection, residual, LayerNorm)."""

    def __init__(self, hidden: int, heads: int, attention: str = "sdpa") -> None:
        super().__init__()
        self.self = BertSelfAttention(hidden, heads, attention)
        self.output = BertSelfOutput(hidden, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.output(self.self(x, mask), x)


class BertIntermediate(nn.Module):
    """``dense`` (hidden -> intermediate) and ``intermediate_act_fn`` (exact GELU)."""

    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, inner)
        self.intermediate_act_fn = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(x))


class BertLayer(nn.Module):
    """``attention``, ``intermediate``, ``output``."""

    def __init__(self, hidden: int, heads: int, inner: int, attention: str = "sdpa") -> None:
        super().__init__()
        self.attention = BertAttention(hidden, heads, attention)
        self.intermediate = BertIntermediate(hidden, inner)
        self.output = BertOutput(hidden, inner)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.attention(x, mask)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    """``layer``: the stack of ``BertLayer``."""

    def __init__(self, layers: int, hidden: int, heads: int, inner: int, attention: str = "sdpa") -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(hidden, heads, inner, attention) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, mask)
        return x


class BertPooler(nn.Module):
    """``dense`` and ``activation`` (tanh) on the first token."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.activation = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(x[:, 0]))


class BertModel(nn.Module):
    """``embeddings``, ``encoder``, ``pooler`` (Hugging Face ``BertModel`` with ``add_pooling_layer=True``)."""

    def __init__(
        self,
        layers: int = 12,
        hidden: int = 768,
        heads: int = 12,
        intermediate: int = 3072,
        vocab: int = 30522,
        max_positions: int = 512,
        type_vocab: int = 2,
        attention: str = "sdpa",
    ) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden {hidden} is not a multiple of heads {heads}")
        self.max_positions = max_positions
        self.embeddings = BertEmbeddings(vocab, hidden, max_positions, type_vocab)
        self.encoder = BertEncoder(layers, hidden, heads, intermediate, attention)
        self.pooler = BertPooler(hidden)

    def forward(
        self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if input_ids.shape[1] > self.max_positions:
            raise ValueError(f"sequence of {input_ids.shape[1]} tokens is longer than max_positions={self.max_positions}")
        mask = None
        if attention_mask is not None:  # 1 = attend, 0 = padding; additive, broadcast over heads and queries
            dtype = self.embeddings.word_embeddings.weight.dtype
            mask = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        x = self.encoder(self.embeddings(input_ids, token_type_ids), mask)
        return x, self.pooler(x)


def bert_base(
    layers: int = 12,
    hidden: int = 768,
    heads: int = 12,
    intermediate: int = 3072,
    vocab: int = 30522,
    max_positions: int = 512,
    attention: str = "sdpa",
) -> BertModel:
    """Zoo factory: BERT-base (12 layers, hidden 768, 12 heads, intermediate 3072, uncased vocabulary of 30522)."""
    return BertModel(layers, hidden, heads, intermediate, vocab, max_positions, 2, attention)


register(ZooEntry(
    name="bert_base",
    factory=bert_base,
    default_input="1x128:int64",
    description="BERT-base encoder (Devlin et al. 2019), Hugging Face BertModel names; post-norm, pooler on [CLS]",
    options=(
        ZooOption("layers", int, 12, "number of encoder layers", low=0),
        ZooOption("hidden", int, 768, "hidden size d"),
        ZooOption("heads", int, 12, "attention heads"),
        ZooOption("intermediate", int, 3072, "feed-forward width"),
        ZooOption("vocab", int, 30522, "vocabulary size (bert-base-uncased: 30522)"),
        ZooOption("max_positions", int, 512, "learned positions: the longest sequence"),
        ZooOption("attention", str, "sdpa", "'sdpa' (one fused SDPA, HF's default) or 'eager' (HF's matmul-softmax-matmul)",
                  choices=("sdpa", "eager")),
    ),
    rules=(divides("heads", "hidden"),),
))
