"""Gathers from tables (embedding, embedding_bag, indexing a parameter) and losses that pick
targets (nll_loss, cross_entropy): what they read and at which item size.

Every expected figure is derived by hand in the comment beside it (docs/formulas.md; float32 = 4
bytes, float16 = 2, int64 = 8, int32 = 4, bool = 1), never copied from the tool's output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import MODELS, Fn, analyze_quiet, only_op, reads, weights, writes


def test_embedding_bag_gathers_and_reduces():
    bag = nn.EmbeddingBag(100, 16, mode="sum")
    idx = torch.randint(0, 100, (2, 5))
    r = analyze_quiet(bag, idx)
    assert r.totals.memory["writeup"]["weights"] == 10 * 16
    assert r.totals.flops == 10 * 16 - 2 * 16  # 4 adds per element of each bag of 5
    assert analyze_quiet(nn.EmbeddingBag(100, 16, mode="mean"), idx).totals.flops == 128 + 32


def test_indexing_a_parameter_reads_the_rows_it_takes():
    class Table(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pe = nn.Parameter(torch.randn(100, 16))

        def forward(self, idx):
            return self.pe[idx]

    r = analyze_quiet(Table(), torch.randint(0, 100, (5,)))
    assert r.totals.memory["writeup"]["weights"] == 5 * 16
    assert r.totals.memory["compulsory"]["weights"] == 5 * 16


def test_embedding_bag_reads_offsets_and_per_sample_weights():
    # nn.EmbeddingBag(100, 16, mode='sum') on 2x5 int64 indices: 2 bags of 5, the offsets (2 int64)
    # made by an arange. Activation reads: 10 indices (80 bytes) + 2 offsets (16): 12, 96 bytes;
    # weight reads: the 10 gathered rows, 160 (640 bytes); writes 2x16 = 32 (128); FLOPs
    # 10 x 16 - 2 x 16 = 128 (4 adds per element of each bag of 5). Both models.
    bag = nn.EmbeddingBag(100, 16, mode="sum")
    idx = torch.randint(0, 100, (2, 5))
    op = only_op(analyze_quiet(bag, idx), "aten._embedding_bag")
    assert op.flops == 128
    for model in MODELS:
        assert (reads(op, model), weights(op, model), writes(op, model)) == ((12, 96), (160, 640), (32, 128))
    # With per_sample_weights (2x5 float32): + 10 weights read (40 bytes): 22, 136 bytes; + 1
    # multiply per gathered element, 160: 288 FLOPs.
    class Weighted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bag = bag

        def forward(self, i, p):
            return self.bag(i, per_sample_weights=p)

    op = only_op(analyze_quiet(Weighted(), (idx, torch.rand(2, 5))), "aten._embedding_bag")
    assert op.flops == 288
    for model in MODELS:
        assert (reads(op, model), weights(op, model)) == ((22, 136), (160, 640))


def test_embedding_bag_with_explicit_offsets():
    # 1-D input of 10 indices with offsets [0, 3, 7]: bags of 3, 4, 3. FLOPs 10 x 16 - 3 x 16 = 112
    # ('sum'); 'mean' + 3 x 16 divides = 160. Reads 10 x 8 + 3 x 8 = 104 bytes (13 elements);
    # weights 160; writes 3 x 16 = 48.
    idx = torch.randint(0, 100, (10,))
    for mode, flops in (("sum", 112), ("mean", 160)):
        op = only_op(analyze_quiet(nn.EmbeddingBag(100, 16, mode=mode), (idx, torch.tensor([0, 3, 7]))), "aten._embedding_bag")
        assert op.flops == flops
        for model in MODELS:
            assert (reads(op, model), weights(op, model), op.memory[model]["output"]) == ((13, 104), (160, 640), 48)
    # include_last_offset=True with offsets [0, 3, 7, 10]: the same 3 bags, 4 offsets read:
    # 80 + 32 = 112 bytes (14 elements).
    last = nn.EmbeddingBag(100, 16, mode="sum", include_last_offset=True)
    op = only_op(analyze_quiet(last, (idx, torch.tensor([0, 3, 7, 10]))), "aten._embedding_bag")
    assert op.flops == 112
    for model in MODELS:
        assert reads(op, model) == (14, 112)


def test_nll_loss_with_class_weights():
    # 4x5 float32, 4 int64 targets, a plain float32 weight of 5 classes. 'mean': 1 per target (4),
    # + 4 multiplies by w[t_i], + 4 adds for the sum of the picked weights, + 1 divide = 13.
    # Reads the 4 picked values (16 bytes), the 4 targets (32) and the 4 picked weights (16):
    # 12 elements, 64 bytes, both models; writes the loss, 4 bytes.
    x, t, w = torch.randn(4, 5), torch.randint(0, 5, (4,)), torch.rand(5)
    for reduction, flops in (("mean", 13), ("sum", 8), ("none", 8)):
        op = only_op(analyze_quiet(Fn(lambda a, b, c: F.nll_loss(a, b, weight=c, reduction=reduction)), (x, t, w)), "aten.nll_loss")
        assert op.flops == flops, reduction
        for model in MODELS:
            assert reads(op, model) == (12, 64)
    # 'sum': 4 + 4 multiplies = 8, no weight sum, no divide. 'none': the 4 weighted losses, 4 + 4 =
    # 8, writing 4 (16 bytes).
    assert writes(op, "compulsory") == (4, 16)
    # Without a weight: 5 FLOPs, 8 elements, 48 bytes (unchanged).
    op = only_op(analyze_quiet(Fn(F.nll_loss), (x, t)), "aten.nll_loss")
    assert (op.flops, reads(op, "compulsory")) == (5, (8, 48))


def test_nll_loss_2d_with_class_weights():
    # 2x5x3x3 float32 with 2x3x3 = 18 int64 targets, weight of 5: 'mean' 18 + 18 + 18 + 1 = 55.
    # Reads 18 x 4 + 18 x 8 + 18 x 4 = 288 bytes (54 elements).
    r = analyze_quiet(Fn(lambda a, b: F.nll_loss(a, b, weight=torch.rand(5))), (torch.randn(2, 5, 3, 3), torch.randint(0, 5, (2, 3, 3))))
    op = only_op(r, "aten.nll_loss2d")
    assert op.flops == 55
    for model in MODELS:
        assert reads(op, model) == (54, 288)


def test_cross_entropy_class_weight_buffer_is_read_as_weights():
    # nn.CrossEntropyLoss(weight=w) registers w (5 float32) as a buffer: the 4 picked class weights
    # are weight reads (16 bytes); activation reads the 4 picked log-probabilities (16) and the 4
    # targets (32): 8, 48 bytes. FLOPs: log_softmax 4 x 3 x 5 = 60 + nll 13 = 73.
    loss = nn.CrossEntropyLoss(weight=torch.rand(5))
    r = analyze_quiet(loss, (torch.randn(4, 5), torch.randint(0, 5, (4,))))
    assert r.totals.flops == 73
    op = only_op(r, "aten.nll_loss")
    for model in MODELS:
        assert (reads(op, model), weights(op, model)) == ((8, 48), (4, 16))
