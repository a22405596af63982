"""Bytes: every access priced at the item size of the tensor it touches, in both memory models.

Each expected figure is derived by hand in the comment above it, from the formulas in
docs/formulas.md (float32 = 4 bytes, int64 = 8, bool = 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import Fn, analyze_quiet, only_op


def reads(op, model: str) -> tuple[int, int]:
    return op.memory[model]["input"], op.memory[model]["input_bytes"]


# --- attention masks ----------------------------------------------------------------------------


def test_sdpa_bool_mask_is_read_at_one_byte():
    # q 2x3x5x4, k and v 2x3x7x4: b = 6, L = 5, S = 7, E = Ev = 4, scores = 6 x 5 x 7 = 210.
    # Write-up reads: Q once per MAC of Q K^T 210 x 4 = 840, K 168, the softmax's scores 210, the
    # mask once per score 210, P once per MAC of P V 840, V 168: 2,436 elements. All but the mask
    # are float32: (840 + 168 + 210 + 840 + 168) x 4 = 2,226 x 4 = 8,904; the bool mask 210 x 1.
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 7, 4), torch.randn(2, 3, 7, 4)
    sdpa = Fn(F.scaled_dot_product_attention)
    op = only_op(analyze_quiet(sdpa, (q, k, v, torch.ones(5, 7, dtype=torch.bool))), "scaled_dot_product_attention")
    assert reads(op, "writeup") == (2_436, 8_904 + 210)  # 9,114
    # Compulsory: q 120 x 4 + k 168 x 4 + v 168 x 4 + the 5x7 mask once, 35 x 1 = 1,859.
    assert reads(op, "compulsory") == (120 + 168 + 168 + 35, 480 + 672 + 672 + 35)
    # A float32 mask: 2,436 x 4 = 9,744 and 1,824 + 35 x 4 = 1,964.
    op = only_op(analyze_quiet(sdpa, (q, k, v, torch.zeros(5, 7))), "scaled_dot_product_attention")
    assert reads(op, "writeup") == (2_436, 9_744)
    assert reads(op, "compulsory") == (491, 1_964)


def _mha_functional(mha: nn.MultiheadAttention):
    def call(q, attn_mask, key_padding_mask):
        return F.multi_head_attention_forward(
            q, q, q, 8, 2, mha.in_proj_weight, mha.in_proj_bias, None, None, False, 0.0,
            mha.out_proj.weight, mha.out_proj.bias, training=False, key_padding_mask=key_padding_mask,
            need_weights=False, attn_mask=attn_mask)[0]

    module = Fn(call)
    module.mha = mha
    return module


def test_multi_head_attention_bool_masks_are_read_at_one_byte():
    # F.multi_head_attention_forward, E = 8, H = 2, self-attention on (L=5, B=1, E=8): head size 4,
    # scores = B x H x L x S = 50. Write-up reads, float32: q, k, v and out-projections once per
    # MAC, 4 x 5 x 8 x 8 = 1,280; attention Q 50 x 4 = 200, K 40, scores 50, P 200, V 40 = 530;
    # 1,810 x 4 = 7,240 bytes. Then each mask once per score: attn_mask (bool 5x5) 50 x 1 and
    # key_padding_mask (bool 1x5) 50 x 1: 1,910 elements, 7,340 bytes.
    x = torch.randn(5, 1, 8)
    attn_mask = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
    key_padding = torch.tensor([[False, False, False, False, True]])
    r = analyze_quiet(_mha_functional(nn.MultiheadAttention(8, 2)), (x, attn_mask, key_padding))
    op = only_op(r, "multi_head_attention_forward")
    assert reads(op, "writeup") == (1_910, 7_240 + 50 + 50)
    # Compulsory: the query 40 x 4 + the masks once, 25 x 1 + 5 x 1 = 190 bytes.
    assert reads(op, "compulsory") == (40 + 25 + 5, 160 + 25 + 5)


def test_each_mha_mask_costs_one_add_per_score():
    # The same call with no mask, attn_mask only, and both masks: PyTorch merges key_padding_mask
    # into attn_mask (one add per score of the B x H x L x S = 50 merged mask) and adds the result
    # to the scores (one more per score): 0, 50 and 100 FLOPs above the unmasked call.
    x = torch.randn(5, 1, 8)
    attn_mask = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
    key_padding = torch.tensor([[False, False, False, False, True]])
    module = _mha_functional(nn.MultiheadAttention(8, 2))
    flops = [only_op(analyze_quiet(module, (x, a, k)), "multi_head_attention_forward").flops
             for a, k in ((None, None), (attn_mask, None), (attn_mask, key_padding))]
    assert (flops[1] - flops[0], flops[2] - flops[0]) == (50, 100)


def test_multihead_attention_module_converts_bool_masks_to_float_first():
    # nn.MultiheadAttention turns bool masks into float ones (zeros_like + masked_fill_, counted as
    # ops of their own, reading the bool mask at 1 byte) before it calls
    # F.multi_head_attention_forward, which then reads float32 masks: 1,910 x 4 = 7,640 bytes.
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    call = Fn(lambda q, a, k: call.mha(q, q, q, need_weights=False, attn_mask=a, key_padding_mask=k)[0])
    call.mha = mha
    attn_mask = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
    key_padding = torch.tensor([[False, False, False, False, True]])
    r = analyze_quiet(call, (torch.randn(1, 5, 8), attn_mask, key_padding))
    assert reads(only_op(r, "multi_head_attention_forward"), "writeup") == (1_910, 1_910 * 4)
    # Each conversion's masked_fill_ reads its float target and the bool mask once per element:
    # attn_mask 25 x 4 + 25 x 1 = 125 bytes, key_padding_mask 5 x 4 + 5 x 1 = 25.
    fills = sorted(o.memory["writeup"]["input_bytes"] for o in r.ops if o.op.startswith("aten.masked_fill_"))
    assert fills == [25, 125]


# --- returned attention weights -----------------------------------------------------------------


def _mha_module(batch_first: bool, **kwargs):
    call = Fn(lambda q: call.mha(q, q, q, **kwargs)[0])
    call.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first).eval()
    return only_op(analyze_quiet(call, torch.randn(1, 5, 8)), "multi_head_attention_forward")


def test_multihead_attention_returned_weights_are_written():
    # nn.MultiheadAttention(8, 2, batch_first=True) on 1x5x8: B = 1, L = S = 5, E = 8, H = 2,
    # scores 50. Without weights: reads 1,810 (previous test); writes the q, k, v projections
    # 1 x (5 + 2 x 5) x 8 = 120, the scores 50 and probabilities 50, attention's output 2 x 5 x 4 = 40,
    # the out-projection 40: 300. Compulsory: 40 written.
    op = _mha_module(True, need_weights=False)
    assert (op.memory["writeup"]["input"], op.memory["writeup"]["output"], op.memory["compulsory"]["output"]) == (1_810, 300, 40)
    # Averaged weights (the default): the head average reads both heads' 25 probabilities (50) and
    # writes the 1x5x5 average (25): reads 1,860, writes 325; compulsory 40 + 25 = 65; FLOPs
    # 3,740 + 50 (1 per weight per head).
    op = _mha_module(True, need_weights=True)
    assert (op.memory["writeup"]["input"], op.memory["writeup"]["output"], op.memory["compulsory"]["output"]) == (1_860, 325, 65)
    assert op.flops == 3_740 + 50
    # Per-head weights (average_attn_weights=False): the returned 1x2x5x5 tensor is the
    # probabilities themselves, already among the 2 x 50 score writes: reads 1,810, writes 300;
    # compulsory 40 + 50 = 90 (an ideal kernel would not write them otherwise).
    op = _mha_module(True, need_weights=True, average_attn_weights=False)
    assert (op.memory["writeup"]["input"], op.memory["writeup"]["output"], op.memory["compulsory"]["output"]) == (1_810, 300, 90)


def test_multihead_attention_returned_weights_sequence_first():
    # The same 1x5x8 tensor with batch_first=False is L = 1, B = 5, S = 1: scores = 5 x 2 x 1 x 1 = 10.
    # Writes: projections 5 x (1 + 2) x 8 = 120, scores + probabilities 20, output 5 x 2 x 1 x 4 = 40,
    # out-projection 40: 220; averaged weights 5 x 1 x 1 = 5 more: 225 (compulsory 40 + 5 = 45).
    assert _mha_module(False, need_weights=False).memory["writeup"]["output"] == 220
    op = _mha_module(False, need_weights=True)
    assert (op.memory["writeup"]["output"], op.memory["compulsory"]["output"]) == (225, 45)


# --- gathers, losses, copies: formulas that override element counts ------------------------------


def test_gather_prices_indices_and_values_separately():
    # torch.gather(x 4x10 f32, 1, idx 4x3 int64): the 12 int64 indices 12 x 8 = 96 and the 12
    # gathered float32 values 12 x 4 = 48: 144 bytes read; 12 x 4 = 48 written. Both models.
    r = analyze_quiet(Fn(lambda x, i: torch.gather(x, 1, i)), (torch.randn(4, 10), torch.randint(0, 10, (4, 3))))
    op = only_op(r, "aten.gather")
    for model in ("writeup", "compulsory"):
        assert reads(op, model) == (24, 144)
        assert op.memory[model]["output_bytes"] == 48


def test_embedding_and_indexing_a_plain_table():
    # 5 int64 indices into a plain (not parameter) 100x16 float32 table: 5 x 8 = 40 bytes of
    # indices + 5 x 16 = 80 gathered elements x 4 = 320: 85 elements, 360 bytes, both models.
    idx, table = torch.randint(0, 100, (5,)), torch.randn(100, 16)
    embedding = only_op(analyze_quiet(Fn(F.embedding), (idx, table)), "aten.embedding")
    indexing = only_op(analyze_quiet(Fn(lambda t, i: t[i]), (table, idx)), "aten.index")
    for op in (embedding, indexing):
        for model in ("writeup", "compulsory"):
            assert reads(op, model) == (85, 360)


def test_embedding_parameter_table():
    # nn.Embedding(100, 16) on 2x5 int64 indices: activation reads 10 x 8 = 80 bytes; weight reads
    # the 10 gathered rows, 160 x 4 = 640 bytes (not the 6,400-byte table).
    op = only_op(analyze_quiet(nn.Embedding(100, 16), torch.randint(0, 100, (2, 5))), "aten.embedding")
    for model in ("writeup", "compulsory"):
        assert reads(op, model) == (10, 80)
        assert (op.memory[model]["weights"], op.memory[model]["weights_bytes"]) == (160, 640)


def test_nll_loss_prices_picked_values_and_int64_targets():
    # F.nll_loss on 4x5 float32 with 4 int64 targets: the 4 picked values 4 x 4 = 16 and the 4
    # targets 4 x 8 = 32: 8 elements, 48 bytes; the float32 loss 4 bytes written. Both models.
    r = analyze_quiet(Fn(F.nll_loss), (torch.randn(4, 5), torch.randint(0, 5, (4,))))
    op = only_op(r, "aten.nll_loss")
    for model in ("writeup", "compulsory"):
        assert reads(op, model) == (8, 48)
        assert op.memory[model]["output_bytes"] == 4


def test_dtype_converting_copy_reads_source_bytes_and_writes_destination_bytes():
    # a (float32 4x5, a clone) .copy_(b float64 4x5): reads b only, 20 x 8 = 160 bytes; writes a,
    # 20 x 4 = 80 bytes. Both models.
    r = analyze_quiet(Fn(lambda a, b: a.clone().copy_(b)), (torch.randn(4, 5), torch.randn(4, 5, dtype=torch.float64)))
    op = only_op(r, "aten.copy_")
    for model in ("writeup", "compulsory"):
        assert reads(op, model) == (20, 160)
        assert (op.memory[model]["output"], op.memory[model]["output_bytes"]) == (20, 80)


# --- the shared rules: every tensor at its own size ---------------------------------------------


def test_shared_rules_price_each_tensor_at_its_own_size():
    # torch.sort on 3x8 float32 writes 24 float32 values (96 bytes) and 24 int64 indices (192):
    # 288 bytes in both models (the write-up used to price both at the values' 4 bytes: 192).
    op = only_op(analyze_quiet(Fn(lambda x: torch.sort(x)), torch.randn(3, 8)), "aten.sort")
    for model in ("writeup", "compulsory"):
        assert (op.memory[model]["output"], op.memory[model]["output_bytes"]) == (48, 288)
    # masked_select(x 2x3 float32, bool 2x3) reads x 6 x 4 = 24 bytes and the mask 6 x 1 = 6: 30.
    r = analyze_quiet(Fn(torch.masked_select), (torch.randn(2, 3), torch.tensor([[True, False, True]] * 2)))
    op = only_op(r, "aten.masked_select")
    for model in ("writeup", "compulsory"):
        assert reads(op, model) == (12, 30)
