"""In-place and out-of-place scatters, index_put/add/copy/fill/reduce, masked_scatter, one_hot:
the elements set, the indices and sources read, each at its own item size, in both memory models.

Every expected figure is derived by hand in the comment beside it (docs/formulas.md; float32 = 4
bytes, float16 = 2, int64 = 8, int32 = 4, bool = 1), never copied from the tool's output.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import MODELS, ROWS, Fn, analyze_quiet, only_op, reads, set_mask, set_rows, set_zero, traffic, weights, writes

IDX = torch.tensor([[0, 1, 2], [2, 0, 1]])  # 2x3 int64, no position repeated within a row


def _warn_index_reduce_beta_once() -> None:
    # index_reduce() warns that it is in beta, once per process (TORCH_WARN_ONCE); analyze_quiet
    # turns every warning into a failure (it is there to catch uncounted ops), so let it fire here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.zeros(1).index_reduce_(0, torch.tensor([0]), torch.ones(1), "amax")


def test_one_hot_scatter_reads_its_indices_and_writes_what_it_sets():
    # F.one_hot of 6 indices into 10 classes: zeros(6, 10) then scatter_(-1, idx 6x1, value 1).
    # The value is a Python scalar (no source tensor): reads the 6 int64 indices (48 bytes), writes
    # 6 ones (48 bytes, int64), not the 60-element target; 0 FLOPs. Both models.
    r = analyze_quiet(Fn(lambda x: F.one_hot(x, 10)), torch.randint(0, 10, (6,)))
    op = only_op(r, "aten.scatter_")
    assert op.flops == 0
    for model in ("writeup", "compulsory"):
        assert traffic(op, model) == (6, 0, 6)
        assert op.memory[model]["input_bytes"] == 48 and op.memory[model]["output_bytes"] == 48


def test_scatter_reads_only_the_source_elements_it_scatters():
    # scatter_(1, idx 2x3, src 2x4) into 2x5: n = 6 elements set; reads 6 indices + the 6
    # index-shaped source elements (not all 8) = 12 (WU bytes 6 x 8 + 6 x 4 = 72); writes 6.
    idx = torch.tensor([[0, 1, 2], [2, 0, 1]])
    src = torch.randn(2, 4)
    r = analyze_quiet(Fn(lambda x: x.clone().scatter_(1, idx, src)), torch.zeros(2, 5))
    op = only_op(r, "aten.scatter_")
    assert op.flops == 0
    assert traffic(op, "writeup") == traffic(op, "compulsory") == (12, 0, 6)
    assert op.memory["writeup"]["input_bytes"] == 72
    # scatter_add_ accumulates: + the 6 targets updated, 1 add each: reads 6 + 6 + 6 = 18, 6 FLOPs,
    # writes 6.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_add_(1, idx, src)), torch.zeros(2, 5)), "aten.scatter_add_")
    assert op.flops == 6
    assert traffic(op, "writeup") == traffic(op, "compulsory") == (18, 0, 6)
    # scatter_ of a scalar with reduce='multiply' (scatter_.value_reduce): 6 multiplies; reads the 6
    # indices + the 6 targets = 12; writes 6.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_(1, idx, 2.0, reduce="multiply")), torch.zeros(2, 5)), "aten.scatter_")
    assert op.flops == 6
    assert traffic(op, "writeup") == traffic(op, "compulsory") == (12, 0, 6)


def test_scatter_add_with_repeated_indices():
    # zeros(4).scatter_add_(0, idx of 8, src of 8): 8 adds. WU: reads 8 + 8 + 8 targets = 24, writes
    # 8. COMP counts each of the 4 target elements at most once: reads 8 + 8 + 4 = 20, writes 4.
    idx = torch.tensor([0, 1, 1, 2, 3, 3, 3, 0])
    r = analyze_quiet(Fn(lambda s: torch.zeros(4).scatter_add_(0, idx, s)), torch.ones(8))
    op = only_op(r, "aten.scatter_add_")
    assert op.flops == 8
    assert traffic(op, "writeup") == (24, 0, 8)
    assert traffic(op, "compulsory") == (20, 0, 4)


def test_index_put_writes_the_selected_elements():
    # y[rows] = v, 3 rows of 5 in a 4x5 target: 15 set; reads 3 indices + 15 values = 18; writes 15.
    op = only_op(analyze_quiet(Fn(set_rows), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_put_")
    assert (op.flops, traffic(op, "writeup"), traffic(op, "compulsory")) == (0, (18, 0, 15), (18, 0, 15))
    # y[rows] = 0.: the same 15 set, from a 0-d value read once: reads 3 + 1 = 4.
    op = only_op(analyze_quiet(Fn(set_zero), torch.zeros(4, 5)), "aten.index_put_")
    assert traffic(op, "writeup") == traffic(op, "compulsory") == (4, 0, 15)
    # index_put_ with accumulate=True: + the 15 targets updated, 1 add each: reads 3 + 15 + 15 = 33.
    acc = Fn(lambda x, v: x.clone().index_put_((ROWS,), v, accumulate=True))
    op = only_op(analyze_quiet(acc, (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_put_")
    assert (op.flops, traffic(op, "writeup")) == (15, (33, 0, 15))
    # y[mask] = 1. with a 4x5 bool mask: every position the mask covers may be set (20); reads the
    # 20 mask bytes + the 0-d value (4 bytes): 21 elements, 24 bytes in the write-up model.
    op = only_op(analyze_quiet(Fn(set_mask), (torch.zeros(4, 5), torch.rand(4, 5) > 0.5)), "aten.index_put_")
    assert traffic(op, "writeup") == (21, 0, 20)
    assert op.memory["writeup"]["input_bytes"] == 20 * 1 + 4


def test_index_add_copy_fill_and_masked_scatter():
    rows = torch.tensor([0, 2, 2])
    # index_add_(0, rows, source 3x5) into 4x5: 3 slices of 5 = 15 updated, 1 add each; reads
    # 3 + 15 + 15 = 33; writes 15.
    op = only_op(analyze_quiet(Fn(lambda x, s: x.clone().index_add_(0, rows, s)), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_add_")
    assert (op.flops, traffic(op, "writeup"), traffic(op, "compulsory")) == (15, (33, 0, 15), (33, 0, 15))
    # index_copy_(0, [0, 3, 1], source 3x5): reads 3 + 15 = 18, writes 15, no FLOPs.
    copy = Fn(lambda x, s: x.clone().index_copy_(0, torch.tensor([0, 3, 1]), s))
    op = only_op(analyze_quiet(copy, (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_copy_")
    assert (op.flops, traffic(op, "writeup")) == (0, (18, 0, 15))
    # index_fill_(0, rows, 1.0): a scalar value; reads the 3 indices, writes 15.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().index_fill_(0, rows, 1.0)), torch.zeros(4, 5)), "aten.index_fill_")
    assert (op.flops, traffic(op, "writeup"), traffic(op, "compulsory")) == (0, (3, 0, 15), (3, 0, 15))
    # masked_scatter_(mask 4x5, source 4x5): the set count is data-dependent; every position the mask
    # covers (20) is counted: reads 20 mask + 20 source = 40 (WU bytes 20 x 1 + 20 x 4 = 100), writes 20.
    masked = Fn(lambda x, m, s: x.clone().masked_scatter_(m, s))
    op = only_op(analyze_quiet(masked, (torch.zeros(4, 5), torch.rand(4, 5) > 0.5, torch.randn(4, 5))), "aten.masked_scatter_")
    assert traffic(op, "writeup") == (40, 0, 20)
    assert op.memory["writeup"]["input_bytes"] == 100


def test_scatter_prices_indices_and_source_at_their_own_size_in_both_models():
    # x.scatter_(1, idx 2x3 int64, src 2x4 float32) into a 2x5 float32 target: n = 6 set. Reads the
    # 6 indices 6 x 8 = 48 bytes + the 6 scattered source elements 6 x 4 = 24: 12 elements, 72
    # bytes in BOTH models (the compulsory model used to price all 12 at the target's 4: 48).
    # Writes the 6 elements set: 6 x 4 = 24 bytes.
    src = torch.randn(2, 4)
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_(1, IDX, src)), torch.zeros(2, 5)), "aten.scatter_")
    for model in MODELS:
        assert reads(op, model) == (12, 72)
        assert writes(op, model) == (6, 24)
    # scatter_add_ of the same: + the 6 targets it adds into, 6 x 4 = 24: 18 elements, 96 bytes;
    # 6 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_add_(1, IDX, src)), torch.zeros(2, 5)), "aten.scatter_add_")
    assert op.flops == 6
    for model in MODELS:
        assert reads(op, model) == (18, 96)
        assert writes(op, model) == (6, 24)
    # scatter_(1, idx, 2.0, reduce='multiply'): the 6 indices (48) + the 6 targets multiplied (24):
    # 72 bytes; 6 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_(1, IDX, 2.0, reduce="multiply")), torch.zeros(2, 5)), "aten.scatter_")
    assert op.flops == 6
    for model in MODELS:
        assert reads(op, model) == (12, 72)


def test_half_precision_scatter_add_with_repeated_indices():
    # zeros(4, float16).scatter_add_(0, idx of 8 int64, src of 8 float16): 8 adds. Write-up: reads
    # 8 indices x 8 = 64 + 8 source x 2 = 16 + 8 targets x 2 = 16: 24 elements, 96 bytes; writes
    # 8 x 2 = 16. Compulsory: each of the 4 target elements once: reads 64 + 16 + 4 x 2 = 88 bytes
    # (20 elements); writes 4 x 2 = 8.
    idx = torch.tensor([0, 1, 1, 2, 3, 3, 3, 0])
    r = analyze_quiet(Fn(lambda s: torch.zeros(4, dtype=torch.float16).scatter_add_(0, idx, s)), torch.ones(8, dtype=torch.float16))
    op = only_op(r, "aten.scatter_add_")
    assert op.flops == 8
    assert (reads(op, "writeup"), writes(op, "writeup")) == ((24, 96), (8, 16))
    assert (reads(op, "compulsory"), writes(op, "compulsory")) == ((20, 88), (4, 8))


def test_index_put_prices_indices_values_and_masks_in_both_models():
    # y[rows] = v (3x5 float32) in a 4x5 float32 target: 15 set. Reads 3 int64 indices (24 bytes)
    # + 15 values (60): 18 elements, 84 bytes (the compulsory model said 18 x 4 = 72); writes 60.
    op = only_op(analyze_quiet(Fn(set_rows), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_put_")
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((18, 84), (15, 60))
    # y[rows] = 0.: a 0-d float32 value read once: 24 + 4 = 28 bytes (4 elements).
    op = only_op(analyze_quiet(Fn(set_zero), torch.zeros(4, 5)), "aten.index_put_")
    for model in MODELS:
        assert reads(op, model) == (4, 28)
    # index_put_ with accumulate=True: + the 15 targets added into: 24 + 60 + 60 = 144 bytes (33
    # elements); 15 FLOPs.
    acc = Fn(lambda x, v: x.clone().index_put_((ROWS,), v, accumulate=True))
    op = only_op(analyze_quiet(acc, (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_put_")
    assert op.flops == 15
    for model in MODELS:
        assert reads(op, model) == (33, 144)
    # y[bool 4x5] = 1.: the 20 mask bytes + the 0-d value's 4 = 24 bytes (21 elements), both models
    # (the compulsory model said 21 x 4 = 84); writes every position the mask covers, 20 x 4 = 80.
    op = only_op(analyze_quiet(Fn(set_mask), (torch.zeros(4, 5), torch.rand(4, 5) > 0.5)), "aten.index_put_")
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((21, 24), (20, 80))


def test_index_add_copy_fill_and_masked_scatter_in_both_models():
    # index_add_(0, rows, source 3x5) into 4x5: 15 updated. Reads 3 x 8 = 24 + 15 x 4 = 60 source
    # + 15 x 4 = 60 targets = 144 bytes (33 elements); writes 60; 15 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x, s: x.clone().index_add_(0, ROWS, s)), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_add_")
    assert op.flops == 15
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((33, 144), (15, 60))
    # The same with int32 indices: 3 x 4 = 12 + 60 + 60 = 132 bytes.
    rows32 = ROWS.to(torch.int32)
    op = only_op(analyze_quiet(Fn(lambda x, s: x.clone().index_add_(0, rows32, s)), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_add_")
    for model in MODELS:
        assert reads(op, model) == (33, 132)
    # index_copy_(0, [0, 3, 1], source 3x5): 24 + 60 = 84 bytes (18 elements); writes 60.
    copy = Fn(lambda x, s: x.clone().index_copy_(0, torch.tensor([0, 3, 1]), s))
    op = only_op(analyze_quiet(copy, (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_copy_")
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((18, 84), (15, 60))
    # index_fill_(0, rows, 1.0): a Python scalar, only the 3 indices read: 24 bytes; writes 60.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().index_fill_(0, ROWS, 1.0)), torch.zeros(4, 5)), "aten.index_fill_")
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((3, 24), (15, 60))
    # masked_scatter_(bool 4x5, source 4x5): 20 x 1 + 20 x 4 = 100 bytes (40 elements), both models
    # (the compulsory model said 40 x 4 = 160); writes 80.
    masked = Fn(lambda x, m, s: x.clone().masked_scatter_(m, s))
    op = only_op(analyze_quiet(masked, (torch.zeros(4, 5), torch.rand(4, 5) > 0.5, torch.randn(4, 5))), "aten.masked_scatter_")
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((40, 100), (20, 80))


def test_scatter_into_a_buffer_prices_weight_reads_at_the_buffer_size():
    # A 10-element float32 buffer updated with index_add_(0, idx of 4 int64, ones of 4 float32):
    # activation reads 4 x 8 + 4 x 4 = 48 bytes (8 elements); weight reads the 4 buffer elements
    # updated, 4 x 4 = 16 bytes; writes 16; 4 FLOPs. Both models.
    class Counter(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("counts", torch.zeros(10))

        def forward(self, idx):
            return self.counts.index_add_(0, idx, torch.ones(4))

    op = only_op(analyze_quiet(Counter(), torch.tensor([1, 3, 5, 7])), "aten.index_add_")
    assert op.flops == 4
    for model in MODELS:
        assert (reads(op, model), weights(op, model), writes(op, model)) == ((8, 48), (4, 16), (4, 16))


def test_scatter_reduce_include_self():
    # scatter_reduce_(1, idx 2x3, src 2x4, reduce) into 2x5 float32, include_self=True (default):
    # n = 6; each source element combined with its target: 6 FLOPs for sum, prod, amax, amin.
    # Reads 6 indices (48 bytes) + 6 source (24) + 6 targets (24): 18 elements, 96 bytes; writes
    # 6 (24 bytes). Both models (no position is set twice: min(6, 10) = 6).
    src = torch.randn(2, 4)
    for reduce in ("sum", "prod", "amax", "amin"):
        r = analyze_quiet(Fn(lambda x: x.clone().scatter_reduce_(1, IDX, src, reduce)), torch.randn(2, 5))
        op = only_op(r, "aten.scatter_reduce_")
        assert op.flops == 6, reduce
        for model in MODELS:
            assert (reads(op, model), writes(op, model)) == ((18, 96), (6, 24))
    # mean: the 6 adds + 1 divide per target element set, min(6, 10) = 6: 12 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_reduce_(1, IDX, src, "mean")), torch.randn(2, 5)), "aten.scatter_reduce_")
    assert op.flops == 12


def test_scatter_reduce_without_self():
    # include_self=False: the targets' old values do not enter the result, so they are not read:
    # 6 indices + 6 source = 12 elements, 48 + 24 = 72 bytes. Every source element is still combined
    # once (the kernel fills each position with the reduction's identity first): 6 FLOPs; mean
    # + 6 divides = 12.
    src = torch.randn(2, 4)
    for reduce, flops in (("amax", 6), ("sum", 6), ("mean", 12)):
        fn = Fn(lambda x: x.clone().scatter_reduce_(1, IDX, src, reduce, include_self=False))
        op = only_op(analyze_quiet(fn, torch.randn(2, 5)), "aten.scatter_reduce_")
        assert op.flops == flops, reduce
        for model in MODELS:
            assert (reads(op, model), writes(op, model)) == ((12, 72), (6, 24))


def test_scatter_reduce_with_repeated_indices():
    # zeros(4).scatter_reduce_(0, idx of 8, src of 8, 'amax'): 8 compares. Write-up: reads
    # 8 x 8 + 8 x 4 + 8 x 4 = 128 bytes (24 elements), writes 8 x 4 = 32. Compulsory: each of the 4
    # target elements once: reads 64 + 32 + 16 = 112 bytes (20 elements), writes 16.
    # 'mean': 8 adds + min(8, 4) = 4 divides = 12 FLOPs.
    idx = torch.tensor([0, 1, 1, 2, 3, 3, 3, 0])
    op = only_op(analyze_quiet(Fn(lambda s: torch.zeros(4).scatter_reduce_(0, idx, s, "amax")), torch.ones(8)), "aten.scatter_reduce_")
    assert op.flops == 8
    assert (reads(op, "writeup"), writes(op, "writeup")) == ((24, 128), (8, 32))
    assert (reads(op, "compulsory"), writes(op, "compulsory")) == ((20, 112), (4, 16))
    op = only_op(analyze_quiet(Fn(lambda s: torch.zeros(4).scatter_reduce_(0, idx, s, "mean")), torch.ones(8)), "aten.scatter_reduce_")
    assert op.flops == 12


def test_out_of_place_scatter_reduce_copies_then_scatters():
    # torch.scatter_reduce(x 2x5, 1, idx 2x3, src 2x4, 'sum') (aten.scatter_reduce.two): a copy of
    # x into a new tensor, then the scatter. Reads the whole x once, 10 x 4 = 40 (which holds the
    # values combined), the 6 indices 48 and the 6 source elements scattered 24: 22 elements, 112
    # bytes; writes the whole 2x5 output, 40 bytes; 6 FLOPs. Both models.
    src = torch.randn(2, 4)
    for include_self in (True, False):
        fn = Fn(lambda x: torch.scatter_reduce(x, 1, IDX, src, "sum", include_self=include_self))
        op = only_op(analyze_quiet(fn, torch.randn(2, 5)), "aten.scatter_reduce.two")
        assert op.flops == 6
        for model in MODELS:
            assert (reads(op, model), writes(op, model)) == ((22, 112), (10, 40))


def test_index_reduce():
    _warn_index_reduce_beta_once()
    # index_reduce_(0, rows, source 3x5, reduce) into 4x5 float32: n = 3 x 5 = 15; include_self
    # (default): 15 FLOPs; reads 3 x 8 = 24 + 15 x 4 = 60 + the 15 targets 60 = 144 bytes (33
    # elements); writes 15 x 4 = 60. Both models (min(15, 20) = 15).
    source = torch.randn(3, 5)
    for reduce in ("prod", "amax", "amin"):
        op = only_op(analyze_quiet(Fn(lambda x: x.clone().index_reduce_(0, ROWS, source, reduce)), torch.randn(4, 5)), "aten.index_reduce_")
        assert op.flops == 15, reduce
        for model in MODELS:
            assert (reads(op, model), writes(op, model)) == ((33, 144), (15, 60))
    # mean: 15 + 15 divides = 30.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().index_reduce_(0, ROWS, source, "mean")), torch.randn(4, 5)), "aten.index_reduce_")
    assert op.flops == 30
    # include_self=False: the targets are not read: 24 + 60 = 84 bytes (18 elements); 15 FLOPs.
    fn = Fn(lambda x: x.clone().index_reduce_(0, ROWS, source, "amax", include_self=False))
    op = only_op(analyze_quiet(fn, torch.randn(4, 5)), "aten.index_reduce_")
    assert op.flops == 15
    for model in MODELS:
        assert reads(op, model) == (18, 84)
    # Out of place, torch.index_reduce(x, 0, rows, source, 'amin'): reads x whole 20 x 4 = 80 + 24
    # + 60 = 164 bytes (38 elements); writes the 4x5 output, 80 bytes; 15 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x: torch.index_reduce(x, 0, ROWS, source, "amin")), torch.randn(4, 5)), "aten.index_reduce")
    assert op.flops == 15
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((38, 164), (20, 80))


def test_out_of_place_scatters_cost_what_their_in_place_forms_cost():
    # torch.scatter_add(x 2x5, 1, idx 2x3, src 2x4): 6 adds (the copy rule said 0). Reads x 40 + 48
    # + the 6 scattered source elements 24 = 112 bytes (22 elements; the copy rule read all 8 of
    # src: 24 elements); writes the 2x5 output, 40. torch.scatter: the same reads, 0 FLOPs.
    src = torch.randn(2, 4)
    for fn, name, flops in ((torch.scatter_add, "aten.scatter_add", 6), (torch.scatter, "aten.scatter.src", 0)):
        op = only_op(analyze_quiet(Fn(lambda x: fn(x, 1, IDX, src)), torch.randn(2, 5)), name)
        assert op.flops == flops
        for model in MODELS:
            assert (reads(op, model), writes(op, model)) == ((22, 112), (10, 40))
    # torch.index_add(x 4x5, 0, rows, ones 3x5) (uncounted before): 15 adds; reads 80 + 24 + 60 =
    # 164 bytes (38 elements); writes 80. torch.index_put(x, (rows,), ones 3x5, accumulate=True):
    # the same (it had 0 FLOPs).
    ones = torch.ones(3, 5)
    index_add = Fn(lambda x: torch.index_add(x, 0, ROWS, ones))
    index_put = Fn(lambda x: torch.index_put(x, (ROWS,), ones, accumulate=True))
    for fn, name in ((index_add, "aten.index_add"), (index_put, "aten.index_put")):
        op = only_op(analyze_quiet(fn, torch.randn(4, 5)), name)
        assert op.flops == 15
        for model in MODELS:
            assert (reads(op, model), writes(op, model)) == ((38, 164), (20, 80))
    # torch.index_fill(x, 0, rows, 1.0) (uncounted before): reads x 80 + the indices 24 = 104 bytes
    # (23 elements), writes 80, 0 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x: torch.index_fill(x, 0, ROWS, 1.0)), torch.randn(4, 5)), "aten.index_fill")
    assert op.flops == 0
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((23, 104), (20, 80))


def test_one_hot_writes_only_what_it_sets():
    one_hot = analyze_quiet(Fn(lambda x: torch.nn.functional.one_hot(x, 10)), torch.randint(0, 10, (6,)))
    scatter = [o for o in one_hot.ops if o.op.startswith("aten.scatter_")][0]
    assert scatter.memory["writeup"]["output"] == 6 and scatter.memory["compulsory"]["output"] == 6
