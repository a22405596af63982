"""Sorts, top-k, unique, sampling, distances, grid sampling, losses by element and FFTs.

Every expected figure is derived by hand in the comment beside it (docs/formulas.md; float32 = 4
bytes, float16 = 2, int64 = 8, int32 = 4, bool = 1), never copied from the tool's output.
"""

from __future__ import annotations

import torch

from tests.conftest import MODELS, Fn, analyze_quiet, only_op, reads, traffic, writes

ROWS_4x2 = torch.tensor([[1, 3], [1, 3], [2, 2], [1, 3]])  # int64


def test_sorting_sampling_and_distance_ops_have_formulas():
    x = torch.randn(3, 8)
    assert analyze_quiet(Fn(lambda t: torch.sort(t).values), x).totals.flops == 3 * 8 * 3  # n log2 n per row
    assert analyze_quiet(Fn(lambda t: torch.topk(t, 2).values), x).totals.flops == 3 * 8 * 1  # n log2 k
    assert analyze_quiet(Fn(torch.cdist), (torch.randn(3, 4), torch.randn(5, 4))).totals.flops == 15 * (3 * 4 + 1)
    grid = Fn(lambda t, g: torch.nn.functional.grid_sample(t, g, align_corners=False))
    assert analyze_quiet(grid, (torch.randn(1, 2, 4, 4), torch.rand(1, 3, 3, 2))).totals.flops == 9 * 2 * 9
    loss = Fn(lambda a, b: torch.nn.functional.mse_loss(a, b))
    assert analyze_quiet(loss, (torch.randn(4, 5), torch.randn(4, 5))).totals.flops == 3 * 20


def test_unique_is_a_sort_and_a_neighbour_compare():
    # 12 elements: the sort's 12 x ceil(log2 12) = 12 x 4 = 48, + 11 neighbour compares = 59.
    # Distinct values {0, 1, 2, 3, 5, 7, 9}: 7 written; with inverse (12) and counts (7): 26.
    x = torch.tensor([[1, 3, 3, 7, 1, 2], [2, 2, 9, 0, 0, 5]])
    r = analyze_quiet(Fn(torch.unique), x)
    op = only_op(r, "aten._unique2")
    assert op.flops == 59
    assert traffic(op, "writeup") == traffic(op, "compulsory") == (12, 0, 7)
    full = analyze_quiet(Fn(lambda t: torch.unique(t, return_inverse=True, return_counts=True)), x)
    assert traffic(only_op(full, "aten._unique2"), "compulsory") == (12, 0, 26)


def test_multinomial_is_a_running_sum_and_a_search_per_sample():
    # 2 rows of n = 6 weights, 4 samples each: running sums 2 x 5 = 10 adds; 8 samples x
    # ceil(log2 6) = 3 compares = 24; 34 FLOPs, with or without replacement. Reads the 12 weights,
    # writes 8 int64 samples (64 bytes).
    p = torch.rand(2, 6) + 0.1
    for replacement in (True, False):
        r = analyze_quiet(Fn(lambda w: torch.multinomial(w, 4, replacement=replacement)), p)
        op = only_op(r, "aten.multinomial")
        assert op.flops == 34
        assert traffic(op, "writeup") == traffic(op, "compulsory") == (12, 0, 8)
        assert op.memory["compulsory"]["output_bytes"] == 64


def test_unique_dim_sorts_slices():
    # torch.unique(t 4x2 int64, dim=0) (aten.unique_dim): m = 4 rows of w = 2. The unique formula on
    # 4 items (4 x ceil(log2 4) = 8 sort compares + 3 neighbour compares = 11), each a compare of
    # 2 elements: 2 x 11 = 22 FLOPs. Reads 8 (64 bytes). The kernel returns the inverse and the
    # counts whatever is asked: writes 2 distinct rows x 2 = 4 + inverse 4 + counts 2 = 10 (80 bytes).
    for kwargs in ({}, {"return_inverse": True, "return_counts": True}):
        op = only_op(analyze_quiet(Fn(lambda t: torch.unique(t, dim=0, **kwargs)), ROWS_4x2), "aten.unique_dim")
        assert op.flops == 22
        for model in MODELS:
            assert (reads(op, model), writes(op, model)) == ((8, 64), (10, 80))
    # dim=1: m = 2 columns of w = 4: 4 x (2 x 1 + 1) = 12 FLOPs; both columns distinct: writes
    # 4x2 = 8 + 2 + 2 = 12 (96 bytes).
    op = only_op(analyze_quiet(Fn(lambda t: torch.unique(t, dim=1)), ROWS_4x2), "aten.unique_dim")
    assert op.flops == 12
    assert writes(op, "compulsory") == (12, 96)


def test_unique_dim_of_floats_writes_values_and_int64_counts():
    # float32 3x4, dim=1: m = 4 columns of w = 3: 3 x (4 x 2 + 3) = 33 FLOPs. Columns (1,0,3),
    # (2,5,3), (1,0,3), (2,5,3): 2 distinct. Reads 12 x 4 = 48 bytes; writes the 3x2 float32 values
    # 24 bytes + 4 int64 inverse 32 + 2 int64 counts 16 = 12 elements, 72 bytes.
    x = torch.tensor([[1.0, 2.0, 1.0, 2.0], [0.0, 5.0, 0.0, 5.0], [3.0, 3.0, 3.0, 3.0]])
    op = only_op(analyze_quiet(Fn(lambda t: torch.unique(t, dim=1)), x), "aten.unique_dim")
    assert op.flops == 33
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((12, 48), (12, 72))


def test_unique_consecutive_compares_neighbours_only():
    # torch.unique_consecutive of 8 int64 elements [1, 1, 2, 2, 3, 1, 1, 2]: no sort, 7 neighbour
    # compares. Runs 1, 2, 3, 1, 2: writes 5 (40 bytes); with inverse (8) and counts (5): 18 (144).
    seq = torch.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    op = only_op(analyze_quiet(Fn(torch.unique_consecutive), seq), "aten.unique_consecutive")
    assert op.flops == 7
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((8, 64), (5, 40))
    full = Fn(lambda t: torch.unique_consecutive(t, return_inverse=True, return_counts=True))
    op = only_op(analyze_quiet(full, seq), "aten.unique_consecutive")
    assert (op.flops, writes(op, "writeup")) == (7, (18, 144))
    # dim=0 on the 4x2 rows (still aten.unique_consecutive, dim as an argument): 3 neighbour
    # compares of 2 elements = 6 FLOPs; runs [1,3], [2,2], [1,3]: values 3x2 = 6 + inverse 4 +
    # counts 3 = 13 written (104 bytes; along a dim the kernel returns all three).
    op = only_op(analyze_quiet(Fn(lambda t: torch.unique_consecutive(t, dim=0)), ROWS_4x2), "aten.unique_consecutive")
    assert op.flops == 6
    assert writes(op, "compulsory") == (13, 104)
    # aten.unique_dim_consecutive (a separate aten op, not what torch.unique_consecutive calls):
    # the same 6 FLOPs and 13 written.
    op = only_op(analyze_quiet(Fn(lambda t: torch.ops.aten.unique_dim_consecutive(t, 0)), ROWS_4x2), "aten.unique_dim_consecutive")
    assert (op.flops, writes(op, "compulsory")) == (6, (13, 104))


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


def test_irfft_transform_length_is_the_output_length():
    irfft = analyze_quiet(Fn(lambda x: torch.fft.irfft(x)), torch.randn(3, 5, dtype=torch.complex64))
    assert irfft.totals.flops == 3 * (5 * 8 * 3 // 2)  # n = 8 real points
