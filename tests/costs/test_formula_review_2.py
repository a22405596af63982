"""Second review of docs/formulas.md: every expected figure is derived by hand in the comments."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import ROWS, Fn, analyze_quiet, only_op, set_mask, set_rows, set_zero


def _traffic(op, model: str) -> tuple[int, int, int]:
    m = op.memory[model]
    return m["input"], m["weights"], m["output"]


# --- open item 1: write-up reads of a non-contracting einsum step ---------------------------------


def test_einsum_step_without_macs_reads_each_side_once():
    # 'ij,ij->ij' on 4x8 and 4x8: no index summed, 32 products (1 FLOP each, as torch.mul);
    # each side read once: 32 + 32 = 64 in both models (torch.mul's write-up figure), 32 written.
    ew = analyze_quiet(Fn(lambda a, b: torch.einsum("ij,ij->ij", a, b)), (torch.randn(4, 8), torch.randn(4, 8)))
    assert (ew.totals.macs, ew.totals.flops) == (0, 32)
    assert _traffic(only_op(ew, "einsum"), "writeup") == (64, 0, 32)
    assert _traffic(only_op(ew, "einsum"), "compulsory") == (64, 0, 32)
    mul = analyze_quiet(Fn(torch.mul), (torch.randn(4, 8), torch.randn(4, 8)))
    assert mul.totals.memory["writeup"]["input"] == 64
    # 'i,j->ij' on 4 and 8: 32 products; each side read once: 4 + 8 = 12 (= the compulsory figure).
    outer = analyze_quiet(Fn(lambda a, b: torch.einsum("i,j->ij", a, b)), (torch.randn(4), torch.randn(8)))
    assert (outer.totals.macs, outer.totals.flops) == (0, 32)
    assert _traffic(only_op(outer, "einsum"), "writeup") == (12, 0, 32)
    assert _traffic(only_op(outer, "einsum"), "compulsory") == (12, 0, 32)


def test_einsum_reads_an_intermediate_once_in_a_step_without_macs():
    # 'ij,jk,k->ik' on 2x3, 3x4, 4. Step 1 sums j: 2x3x4 = 24 MACs (48 FLOPs), reads a once per MAC
    # (24) + b once (12); its result is 2x4 = 8. Step 2 ('ik,k->ik') sums nothing: 8 multiplies,
    # reads the 8-element intermediate once + c once (4). WU input 24 + 12 + 8 + 4 = 48;
    # FLOPs 48 + 8 = 56; COMP input 6 + 12 + 4 = 22; output 8 in both.
    r = analyze_quiet(Fn(lambda a, b, c: torch.einsum("ij,jk,k->ik", a, b, c)),
                      (torch.randn(2, 3), torch.randn(3, 4), torch.randn(4)))
    assert (r.totals.macs, r.totals.flops) == (24, 56)
    assert _traffic(only_op(r, "einsum"), "writeup") == (48, 0, 8)
    assert _traffic(only_op(r, "einsum"), "compulsory") == (22, 0, 8)


def test_einsum_with_a_parameter_reads_it_once_as_a_weight():
    # x (3x8) with a parameter W (8x5): 3x5x8 = 120 MACs, as nn.Linear(8, 5, bias=False). WU: the
    # activation x is read once per MAC (120), W once as a weight (40), never as activation input
    # too; 15 written. COMP: 24 + 40 + 15. The same whichever side W is on.
    class WithParam(nn.Module):
        def __init__(self, equation: str, weight_first: bool) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(8, 5))
            self.equation, self.weight_first = equation, weight_first

        def forward(self, x):
            pair = (self.w, x) if self.weight_first else (x, self.w)
            return torch.einsum(self.equation, *pair)

    for equation, weight_first in (("bd,de->be", False), ("de,bd->be", True)):
        r = analyze_quiet(WithParam(equation, weight_first), torch.randn(3, 8))
        assert r.totals.macs == 120
        assert _traffic(only_op(r, "einsum"), "writeup") == (120, 40, 15)
        assert _traffic(only_op(r, "einsum"), "compulsory") == (24, 40, 15)


# --- open item 6: irfft's transform length -------------------------------------------------------


def test_irfft_takes_the_output_signal_length():
    # Section 12: a real FFT of N points costs 5 N log2 N / 2 per transform (log2 rounded up).
    # irfft of complex 3x5 (default n = 2 x (5 - 1) = 8 real points): 3 transforms of N = 8:
    # 3 x 5 x 8 x 3 / 2 = 3 x 60 = 180 (N = 5, the half spectrum, would give 3 x (75 // 2) = 111).
    r = analyze_quiet(Fn(torch.fft.irfft), torch.randn(3, 5, dtype=torch.complex64))
    assert r.totals.flops == 180
    # It reads the 15 complex64 inputs (120 bytes) and writes 3 x 8 = 24 float32 (96 bytes).
    op = only_op(r, "aten._fft_c2r")
    assert op.memory["compulsory"]["input_bytes"] == 15 * 8 and op.memory["compulsory"]["output_bytes"] == 24 * 4
    # The inverse of rfft on 3x8 costs what rfft costs: 180.
    assert analyze_quiet(Fn(torch.fft.rfft), torch.randn(3, 8)).totals.flops == 180
    # n=9: N = 9, ceil(log2 9) = 4: 3 x 5 x 9 x 4 / 2 = 270.
    assert analyze_quiet(Fn(lambda x: torch.fft.irfft(x, n=9)), torch.randn(3, 5, dtype=torch.complex64)).totals.flops == 270
    # irfft2 of complex 2x4x5 -> 2x4x8: 2 transforms of N = 4 x 8 = 32 points, log2 32 = 5:
    # 2 x 5 x 32 x 5 / 2 = 800, as rfft2 on 2x4x8.
    assert analyze_quiet(Fn(torch.fft.irfft2), torch.randn(2, 4, 5, dtype=torch.complex64)).totals.flops == 800


# --- open item 7: ops that had no formula ---------------------------------------------------------


def test_multinomial_is_a_running_sum_and_a_search_per_sample():
    # 2 rows of n = 6 weights, 4 samples each: running sums 2 x 5 = 10 adds; 8 samples x
    # ceil(log2 6) = 3 compares = 24; 34 FLOPs, with or without replacement. Reads the 12 weights,
    # writes 8 int64 samples (64 bytes).
    p = torch.rand(2, 6) + 0.1
    for replacement in (True, False):
        r = analyze_quiet(Fn(lambda w: torch.multinomial(w, 4, replacement=replacement)), p)
        op = only_op(r, "aten.multinomial")
        assert op.flops == 34
        assert _traffic(op, "writeup") == _traffic(op, "compulsory") == (12, 0, 8)
        assert op.memory["compulsory"]["output_bytes"] == 64


def test_pack_padded_sequence_copies_the_valid_steps():
    # Padded 5x2x3 (T=5, B=2, 3 features), lengths (5, 3): 5 + 3 = 8 valid steps -> data 8x3 = 24;
    # batch_sizes (2, 2, 2, 1, 1) = 5 int64. No FLOPs. Reads the 24 packed elements + the 2 lengths
    # = 26 in both models (WU bytes 24 x 4 + 2 x 8 = 112), not the 30 padded ones; writes 24 + 5 = 29.
    r = analyze_quiet(Fn(lambda x: nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3])).data), torch.randn(5, 2, 3))
    op = only_op(r, "aten._pack_padded_sequence")
    assert op.flops == 0
    assert _traffic(op, "writeup") == _traffic(op, "compulsory") == (26, 0, 29)
    assert op.memory["writeup"]["input_bytes"] == 112
    assert op.memory["compulsory"]["output_bytes"] == 24 * 4 + 5 * 8


def test_max_unpool_reads_values_and_indices_and_writes_its_output():
    # MaxPool2d(2) on 1x2x4x4 -> 8 values + 8 int64 indices; MaxUnpool2d(2) reads both (16
    # elements, 8 x 4 + 8 x 8 = 96 bytes in both models) and writes the 1x2x4x4 = 32 output. 0 FLOPs.
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    r = analyze_quiet(Fn(lambda x: unpool(*pool(x))), torch.randn(1, 2, 4, 4))
    op = only_op(r, "aten.max_unpool2d")
    assert op.flops == 0
    assert _traffic(op, "writeup") == _traffic(op, "compulsory") == (16, 0, 32)
    assert op.memory["writeup"]["input_bytes"] == op.memory["compulsory"]["input_bytes"] == 96
    # 3-D: MaxPool3d(2) on 1x2x4x4x4 -> 16 values + 16 indices (16 x 4 + 16 x 8 = 192 bytes); 128 written.
    pool3, unpool3 = nn.MaxPool3d(2, return_indices=True), nn.MaxUnpool3d(2)
    r3 = analyze_quiet(Fn(lambda x: unpool3(*pool3(x))), torch.randn(1, 2, 4, 4, 4))
    op3 = only_op(r3, "aten.max_unpool3d")
    assert (op3.flops, _traffic(op3, "writeup"), op3.memory["writeup"]["input_bytes"]) == (0, (32, 0, 128), 192)
    # 1-D runs as max_unpool2d: MaxPool1d(2) on 1x2x4 -> 4 values + 4 indices (4 x 4 + 4 x 8 = 48
    # bytes); 1x2x4 = 8 written.
    pool1, unpool1 = nn.MaxPool1d(2, return_indices=True), nn.MaxUnpool1d(2)
    op1 = only_op(analyze_quiet(Fn(lambda x: unpool1(*pool1(x))), torch.randn(1, 2, 4)), "aten.max_unpool2d")
    assert (op1.flops, _traffic(op1, "writeup"), op1.memory["writeup"]["input_bytes"]) == (0, (8, 0, 8), 48)


def test_fractional_max_pool_is_a_max_pool_with_random_samples():
    # 2x2 windows, output 3x3 on 1x2x7x7: 18 outputs -> 18 FLOPs (1 per output, as max pooling).
    # WU reads 4 x 18 = 72 window elements + the 1x2x2 = 4 random samples = 76; writes the 18 values.
    # COMP reads 98 + 4 = 102, writes 18 values + 18 int64 indices = 36 (18 x 4 + 18 x 8 = 216 bytes).
    r = analyze_quiet(nn.FractionalMaxPool2d(2, output_size=(3, 3)), torch.randn(1, 2, 7, 7))
    op = only_op(r, "aten.fractional_max_pool2d")
    assert op.flops == 18
    assert _traffic(op, "writeup") == (76, 0, 18)
    assert _traffic(op, "compulsory") == (102, 0, 36)
    assert op.memory["compulsory"]["output_bytes"] == 216
    # 3-D, 2x2x2 windows, output 3x3x3 on 1x2x7x7x7: 54 outputs; WU 8 x 54 + 1x2x3 = 438;
    # COMP 686 + 6 = 692.
    r3 = analyze_quiet(nn.FractionalMaxPool3d(2, output_size=(3, 3, 3)), torch.randn(1, 2, 7, 7, 7))
    op3 = only_op(r3, "aten.fractional_max_pool3d")
    assert (op3.flops, _traffic(op3, "writeup"), _traffic(op3, "compulsory")) == (54, (438, 0, 54), (692, 0, 108))


def test_unique_is_a_sort_and_a_neighbour_compare():
    # 12 elements: the sort's 12 x ceil(log2 12) = 12 x 4 = 48, + 11 neighbour compares = 59.
    # Distinct values {0, 1, 2, 3, 5, 7, 9}: 7 written; with inverse (12) and counts (7): 26.
    x = torch.tensor([[1, 3, 3, 7, 1, 2], [2, 2, 9, 0, 0, 5]])
    r = analyze_quiet(Fn(torch.unique), x)
    op = only_op(r, "aten._unique2")
    assert op.flops == 59
    assert _traffic(op, "writeup") == _traffic(op, "compulsory") == (12, 0, 7)
    full = analyze_quiet(Fn(lambda t: torch.unique(t, return_inverse=True, return_counts=True)), x)
    assert _traffic(only_op(full, "aten._unique2"), "compulsory") == (12, 0, 26)


# --- open item 8: in-place scatters touch only what they scatter ----------------------------------


def test_one_hot_scatter_reads_its_indices_and_writes_what_it_sets():
    # F.one_hot of 6 indices into 10 classes: zeros(6, 10) then scatter_(-1, idx 6x1, value 1).
    # The value is a Python scalar (no source tensor): reads the 6 int64 indices (48 bytes), writes
    # 6 ones (48 bytes, int64), not the 60-element target; 0 FLOPs. Both models.
    r = analyze_quiet(Fn(lambda x: F.one_hot(x, 10)), torch.randint(0, 10, (6,)))
    op = only_op(r, "aten.scatter_")
    assert op.flops == 0
    for model in ("writeup", "compulsory"):
        assert _traffic(op, model) == (6, 0, 6)
        assert op.memory[model]["input_bytes"] == 48 and op.memory[model]["output_bytes"] == 48


def test_scatter_reads_only_the_source_elements_it_scatters():
    # scatter_(1, idx 2x3, src 2x4) into 2x5: n = 6 elements set; reads 6 indices + the 6
    # index-shaped source elements (not all 8) = 12 (WU bytes 6 x 8 + 6 x 4 = 72); writes 6.
    idx = torch.tensor([[0, 1, 2], [2, 0, 1]])
    src = torch.randn(2, 4)
    r = analyze_quiet(Fn(lambda x: x.clone().scatter_(1, idx, src)), torch.zeros(2, 5))
    op = only_op(r, "aten.scatter_")
    assert op.flops == 0
    assert _traffic(op, "writeup") == _traffic(op, "compulsory") == (12, 0, 6)
    assert op.memory["writeup"]["input_bytes"] == 72
    # scatter_add_ accumulates: + the 6 targets updated, 1 add each: reads 6 + 6 + 6 = 18, 6 FLOPs,
    # writes 6.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_add_(1, idx, src)), torch.zeros(2, 5)), "aten.scatter_add_")
    assert op.flops == 6
    assert _traffic(op, "writeup") == _traffic(op, "compulsory") == (18, 0, 6)
    # scatter_ of a scalar with reduce='multiply' (scatter_.value_reduce): 6 multiplies; reads the 6
    # indices + the 6 targets = 12; writes 6.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_(1, idx, 2.0, reduce="multiply")), torch.zeros(2, 5)), "aten.scatter_")
    assert op.flops == 6
    assert _traffic(op, "writeup") == _traffic(op, "compulsory") == (12, 0, 6)


def test_scatter_add_with_repeated_indices():
    # zeros(4).scatter_add_(0, idx of 8, src of 8): 8 adds. WU: reads 8 + 8 + 8 targets = 24, writes
    # 8. COMP counts each of the 4 target elements at most once: reads 8 + 8 + 4 = 20, writes 4.
    idx = torch.tensor([0, 1, 1, 2, 3, 3, 3, 0])
    r = analyze_quiet(Fn(lambda s: torch.zeros(4).scatter_add_(0, idx, s)), torch.ones(8))
    op = only_op(r, "aten.scatter_add_")
    assert op.flops == 8
    assert _traffic(op, "writeup") == (24, 0, 8)
    assert _traffic(op, "compulsory") == (20, 0, 4)


def test_index_put_writes_the_selected_elements():
    # y[rows] = v, 3 rows of 5 in a 4x5 target: 15 set; reads 3 indices + 15 values = 18; writes 15.
    op = only_op(analyze_quiet(Fn(set_rows), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_put_")
    assert (op.flops, _traffic(op, "writeup"), _traffic(op, "compulsory")) == (0, (18, 0, 15), (18, 0, 15))
    # y[rows] = 0.: the same 15 set, from a 0-d value read once: reads 3 + 1 = 4.
    op = only_op(analyze_quiet(Fn(set_zero), torch.zeros(4, 5)), "aten.index_put_")
    assert _traffic(op, "writeup") == _traffic(op, "compulsory") == (4, 0, 15)
    # index_put_ with accumulate=True: + the 15 targets updated, 1 add each: reads 3 + 15 + 15 = 33.
    acc = Fn(lambda x, v: x.clone().index_put_((ROWS,), v, accumulate=True))
    op = only_op(analyze_quiet(acc, (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_put_")
    assert (op.flops, _traffic(op, "writeup")) == (15, (33, 0, 15))
    # y[mask] = 1. with a 4x5 bool mask: every position the mask covers may be set (20); reads the
    # 20 mask bytes + the 0-d value (4 bytes): 21 elements, 24 bytes in the write-up model.
    op = only_op(analyze_quiet(Fn(set_mask), (torch.zeros(4, 5), torch.rand(4, 5) > 0.5)), "aten.index_put_")
    assert _traffic(op, "writeup") == (21, 0, 20)
    assert op.memory["writeup"]["input_bytes"] == 20 * 1 + 4


def test_index_add_copy_fill_and_masked_scatter():
    rows = torch.tensor([0, 2, 2])
    # index_add_(0, rows, source 3x5) into 4x5: 3 slices of 5 = 15 updated, 1 add each; reads
    # 3 + 15 + 15 = 33; writes 15.
    op = only_op(analyze_quiet(Fn(lambda x, s: x.clone().index_add_(0, rows, s)), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_add_")
    assert (op.flops, _traffic(op, "writeup"), _traffic(op, "compulsory")) == (15, (33, 0, 15), (33, 0, 15))
    # index_copy_(0, [0, 3, 1], source 3x5): reads 3 + 15 = 18, writes 15, no FLOPs.
    copy = Fn(lambda x, s: x.clone().index_copy_(0, torch.tensor([0, 3, 1]), s))
    op = only_op(analyze_quiet(copy, (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_copy_")
    assert (op.flops, _traffic(op, "writeup")) == (0, (18, 0, 15))
    # index_fill_(0, rows, 1.0): a scalar value; reads the 3 indices, writes 15.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().index_fill_(0, rows, 1.0)), torch.zeros(4, 5)), "aten.index_fill_")
    assert (op.flops, _traffic(op, "writeup"), _traffic(op, "compulsory")) == (0, (3, 0, 15), (3, 0, 15))
    # masked_scatter_(mask 4x5, source 4x5): the set count is data-dependent; every position the mask
    # covers (20) is counted: reads 20 mask + 20 source = 40 (WU bytes 20 x 1 + 20 x 4 = 100), writes 20.
    masked = Fn(lambda x, m, s: x.clone().masked_scatter_(m, s))
    op = only_op(analyze_quiet(masked, (torch.zeros(4, 5), torch.rand(4, 5) > 0.5, torch.randn(4, 5))), "aten.masked_scatter_")
    assert _traffic(op, "writeup") == (40, 0, 20)
    assert op.memory["writeup"]["input_bytes"] == 100
