"""Third review of docs/formulas.md (sections 11 and 12): scatters priced per operand in both memory
models, formulas for reducing scatters and unique along a dim / consecutive, and the reads that
embedding_bag and nll_loss used to leave out.

Every expected figure is derived by hand in the comment above it (float32 = 4 bytes, float16 = 2,
int64 = 8, int32 = 4, bool = 1), never copied from the tool's output.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import ROWS, Fn, analyze_quiet, only_op, set_mask, set_rows, set_zero

MODELS = ("writeup", "compulsory")


def _reads(op, model: str) -> tuple[int, int]:
    """(activation elements read, their bytes)."""
    return op.memory[model]["input"], op.memory[model]["input_bytes"]


def _writes(op, model: str) -> tuple[int, int]:
    return op.memory[model]["output"], op.memory[model]["output_bytes"]


def _weights(op, model: str) -> tuple[int, int]:
    return op.memory[model]["weights"], op.memory[model]["weights_bytes"]


IDX = torch.tensor([[0, 1, 2], [2, 0, 1]])  # 2x3 int64, no position repeated within a row


# --- 1. in-place scatters: every operand at its own item size, in both models ---------------------


def test_scatter_prices_indices_and_source_at_their_own_size_in_both_models():
    # x.scatter_(1, idx 2x3 int64, src 2x4 float32) into a 2x5 float32 target: n = 6 set. Reads the
    # 6 indices 6 x 8 = 48 bytes + the 6 scattered source elements 6 x 4 = 24: 12 elements, 72
    # bytes in BOTH models (the compulsory model used to price all 12 at the target's 4: 48).
    # Writes the 6 elements set: 6 x 4 = 24 bytes.
    src = torch.randn(2, 4)
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_(1, IDX, src)), torch.zeros(2, 5)), "aten.scatter_")
    for model in MODELS:
        assert _reads(op, model) == (12, 72)
        assert _writes(op, model) == (6, 24)
    # scatter_add_ of the same: + the 6 targets it adds into, 6 x 4 = 24: 18 elements, 96 bytes;
    # 6 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_add_(1, IDX, src)), torch.zeros(2, 5)), "aten.scatter_add_")
    assert op.flops == 6
    for model in MODELS:
        assert _reads(op, model) == (18, 96)
        assert _writes(op, model) == (6, 24)
    # scatter_(1, idx, 2.0, reduce='multiply'): the 6 indices (48) + the 6 targets multiplied (24):
    # 72 bytes; 6 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().scatter_(1, IDX, 2.0, reduce="multiply")), torch.zeros(2, 5)), "aten.scatter_")
    assert op.flops == 6
    for model in MODELS:
        assert _reads(op, model) == (12, 72)


def test_half_precision_scatter_add_with_repeated_indices():
    # zeros(4, float16).scatter_add_(0, idx of 8 int64, src of 8 float16): 8 adds. Write-up: reads
    # 8 indices x 8 = 64 + 8 source x 2 = 16 + 8 targets x 2 = 16: 24 elements, 96 bytes; writes
    # 8 x 2 = 16. Compulsory: each of the 4 target elements once: reads 64 + 16 + 4 x 2 = 88 bytes
    # (20 elements); writes 4 x 2 = 8.
    idx = torch.tensor([0, 1, 1, 2, 3, 3, 3, 0])
    r = analyze_quiet(Fn(lambda s: torch.zeros(4, dtype=torch.float16).scatter_add_(0, idx, s)), torch.ones(8, dtype=torch.float16))
    op = only_op(r, "aten.scatter_add_")
    assert op.flops == 8
    assert (_reads(op, "writeup"), _writes(op, "writeup")) == ((24, 96), (8, 16))
    assert (_reads(op, "compulsory"), _writes(op, "compulsory")) == ((20, 88), (4, 8))


def test_index_put_prices_indices_values_and_masks_in_both_models():
    # y[rows] = v (3x5 float32) in a 4x5 float32 target: 15 set. Reads 3 int64 indices (24 bytes)
    # + 15 values (60): 18 elements, 84 bytes (the compulsory model said 18 x 4 = 72); writes 60.
    op = only_op(analyze_quiet(Fn(set_rows), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_put_")
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((18, 84), (15, 60))
    # y[rows] = 0.: a 0-d float32 value read once: 24 + 4 = 28 bytes (4 elements).
    op = only_op(analyze_quiet(Fn(set_zero), torch.zeros(4, 5)), "aten.index_put_")
    for model in MODELS:
        assert _reads(op, model) == (4, 28)
    # index_put_ with accumulate=True: + the 15 targets added into: 24 + 60 + 60 = 144 bytes (33
    # elements); 15 FLOPs.
    acc = Fn(lambda x, v: x.clone().index_put_((ROWS,), v, accumulate=True))
    op = only_op(analyze_quiet(acc, (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_put_")
    assert op.flops == 15
    for model in MODELS:
        assert _reads(op, model) == (33, 144)
    # y[bool 4x5] = 1.: the 20 mask bytes + the 0-d value's 4 = 24 bytes (21 elements), both models
    # (the compulsory model said 21 x 4 = 84); writes every position the mask covers, 20 x 4 = 80.
    op = only_op(analyze_quiet(Fn(set_mask), (torch.zeros(4, 5), torch.rand(4, 5) > 0.5)), "aten.index_put_")
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((21, 24), (20, 80))


def test_index_add_copy_fill_and_masked_scatter_in_both_models():
    # index_add_(0, rows, source 3x5) into 4x5: 15 updated. Reads 3 x 8 = 24 + 15 x 4 = 60 source
    # + 15 x 4 = 60 targets = 144 bytes (33 elements); writes 60; 15 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x, s: x.clone().index_add_(0, ROWS, s)), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_add_")
    assert op.flops == 15
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((33, 144), (15, 60))
    # The same with int32 indices: 3 x 4 = 12 + 60 + 60 = 132 bytes.
    rows32 = ROWS.to(torch.int32)
    op = only_op(analyze_quiet(Fn(lambda x, s: x.clone().index_add_(0, rows32, s)), (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_add_")
    for model in MODELS:
        assert _reads(op, model) == (33, 132)
    # index_copy_(0, [0, 3, 1], source 3x5): 24 + 60 = 84 bytes (18 elements); writes 60.
    copy = Fn(lambda x, s: x.clone().index_copy_(0, torch.tensor([0, 3, 1]), s))
    op = only_op(analyze_quiet(copy, (torch.zeros(4, 5), torch.randn(3, 5))), "aten.index_copy_")
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((18, 84), (15, 60))
    # index_fill_(0, rows, 1.0): a Python scalar, only the 3 indices read: 24 bytes; writes 60.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().index_fill_(0, ROWS, 1.0)), torch.zeros(4, 5)), "aten.index_fill_")
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((3, 24), (15, 60))
    # masked_scatter_(bool 4x5, source 4x5): 20 x 1 + 20 x 4 = 100 bytes (40 elements), both models
    # (the compulsory model said 40 x 4 = 160); writes 80.
    masked = Fn(lambda x, m, s: x.clone().masked_scatter_(m, s))
    op = only_op(analyze_quiet(masked, (torch.zeros(4, 5), torch.rand(4, 5) > 0.5, torch.randn(4, 5))), "aten.masked_scatter_")
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((40, 100), (20, 80))


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
        assert (_reads(op, model), _weights(op, model), _writes(op, model)) == ((8, 48), (4, 16), (4, 16))


def test_pack_padded_sequence_prices_lengths_at_eight_bytes_in_both_models():
    # Padded 5x2x3 float32, lengths (5, 3) int64: packs 8 x 3 = 24 elements (96 bytes) + reads the
    # 2 lengths (16 bytes): 26 elements, 112 bytes in both models (the compulsory model said
    # 26 x 4 = 104). Writes data 24 x 4 = 96 + batch_sizes 5 x 8 = 40 = 136 bytes.
    r = analyze_quiet(Fn(lambda x: nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3])).data), torch.randn(5, 2, 3))
    op = only_op(r, "aten._pack_padded_sequence")
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((26, 112), (29, 136))


# --- 2. reducing scatters -----------------------------------------------------------------------


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
            assert (_reads(op, model), _writes(op, model)) == ((18, 96), (6, 24))
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
            assert (_reads(op, model), _writes(op, model)) == ((12, 72), (6, 24))


def test_scatter_reduce_with_repeated_indices():
    # zeros(4).scatter_reduce_(0, idx of 8, src of 8, 'amax'): 8 compares. Write-up: reads
    # 8 x 8 + 8 x 4 + 8 x 4 = 128 bytes (24 elements), writes 8 x 4 = 32. Compulsory: each of the 4
    # target elements once: reads 64 + 32 + 16 = 112 bytes (20 elements), writes 16.
    # 'mean': 8 adds + min(8, 4) = 4 divides = 12 FLOPs.
    idx = torch.tensor([0, 1, 1, 2, 3, 3, 3, 0])
    op = only_op(analyze_quiet(Fn(lambda s: torch.zeros(4).scatter_reduce_(0, idx, s, "amax")), torch.ones(8)), "aten.scatter_reduce_")
    assert op.flops == 8
    assert (_reads(op, "writeup"), _writes(op, "writeup")) == ((24, 128), (8, 32))
    assert (_reads(op, "compulsory"), _writes(op, "compulsory")) == ((20, 112), (4, 16))
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
            assert (_reads(op, model), _writes(op, model)) == ((22, 112), (10, 40))


def _warn_index_reduce_beta_once() -> None:
    # index_reduce() warns that it is in beta, once per process (TORCH_WARN_ONCE); analyze_quiet
    # turns every warning into a failure (it is there to catch uncounted ops), so let it fire here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.zeros(1).index_reduce_(0, torch.tensor([0]), torch.ones(1), "amax")


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
            assert (_reads(op, model), _writes(op, model)) == ((33, 144), (15, 60))
    # mean: 15 + 15 divides = 30.
    op = only_op(analyze_quiet(Fn(lambda x: x.clone().index_reduce_(0, ROWS, source, "mean")), torch.randn(4, 5)), "aten.index_reduce_")
    assert op.flops == 30
    # include_self=False: the targets are not read: 24 + 60 = 84 bytes (18 elements); 15 FLOPs.
    fn = Fn(lambda x: x.clone().index_reduce_(0, ROWS, source, "amax", include_self=False))
    op = only_op(analyze_quiet(fn, torch.randn(4, 5)), "aten.index_reduce_")
    assert op.flops == 15
    for model in MODELS:
        assert _reads(op, model) == (18, 84)
    # Out of place, torch.index_reduce(x, 0, rows, source, 'amin'): reads x whole 20 x 4 = 80 + 24
    # + 60 = 164 bytes (38 elements); writes the 4x5 output, 80 bytes; 15 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x: torch.index_reduce(x, 0, ROWS, source, "amin")), torch.randn(4, 5)), "aten.index_reduce")
    assert op.flops == 15
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((38, 164), (20, 80))


def test_out_of_place_scatters_cost_what_their_in_place_forms_cost():
    # torch.scatter_add(x 2x5, 1, idx 2x3, src 2x4): 6 adds (the copy rule said 0). Reads x 40 + 48
    # + the 6 scattered source elements 24 = 112 bytes (22 elements; the copy rule read all 8 of
    # src: 24 elements); writes the 2x5 output, 40. torch.scatter: the same reads, 0 FLOPs.
    src = torch.randn(2, 4)
    for fn, name, flops in ((torch.scatter_add, "aten.scatter_add", 6), (torch.scatter, "aten.scatter.src", 0)):
        op = only_op(analyze_quiet(Fn(lambda x: fn(x, 1, IDX, src)), torch.randn(2, 5)), name)
        assert op.flops == flops
        for model in MODELS:
            assert (_reads(op, model), _writes(op, model)) == ((22, 112), (10, 40))
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
            assert (_reads(op, model), _writes(op, model)) == ((38, 164), (20, 80))
    # torch.index_fill(x, 0, rows, 1.0) (uncounted before): reads x 80 + the indices 24 = 104 bytes
    # (23 elements), writes 80, 0 FLOPs.
    op = only_op(analyze_quiet(Fn(lambda x: torch.index_fill(x, 0, ROWS, 1.0)), torch.randn(4, 5)), "aten.index_fill")
    assert op.flops == 0
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((23, 104), (20, 80))


# --- 2. unique along a dim, unique_consecutive ----------------------------------------------------

ROWS_4x2 = torch.tensor([[1, 3], [1, 3], [2, 2], [1, 3]])  # int64


def test_unique_dim_sorts_slices():
    # torch.unique(t 4x2 int64, dim=0) (aten.unique_dim): m = 4 rows of w = 2. The unique formula on
    # 4 items (4 x ceil(log2 4) = 8 sort compares + 3 neighbour compares = 11), each a compare of
    # 2 elements: 2 x 11 = 22 FLOPs. Reads 8 (64 bytes). The kernel returns the inverse and the
    # counts whatever is asked: writes 2 distinct rows x 2 = 4 + inverse 4 + counts 2 = 10 (80 bytes).
    for kwargs in ({}, {"return_inverse": True, "return_counts": True}):
        op = only_op(analyze_quiet(Fn(lambda t: torch.unique(t, dim=0, **kwargs)), ROWS_4x2), "aten.unique_dim")
        assert op.flops == 22
        for model in MODELS:
            assert (_reads(op, model), _writes(op, model)) == ((8, 64), (10, 80))
    # dim=1: m = 2 columns of w = 4: 4 x (2 x 1 + 1) = 12 FLOPs; both columns distinct: writes
    # 4x2 = 8 + 2 + 2 = 12 (96 bytes).
    op = only_op(analyze_quiet(Fn(lambda t: torch.unique(t, dim=1)), ROWS_4x2), "aten.unique_dim")
    assert op.flops == 12
    assert _writes(op, "compulsory") == (12, 96)


def test_unique_dim_of_floats_writes_values_and_int64_counts():
    # float32 3x4, dim=1: m = 4 columns of w = 3: 3 x (4 x 2 + 3) = 33 FLOPs. Columns (1,0,3),
    # (2,5,3), (1,0,3), (2,5,3): 2 distinct. Reads 12 x 4 = 48 bytes; writes the 3x2 float32 values
    # 24 bytes + 4 int64 inverse 32 + 2 int64 counts 16 = 12 elements, 72 bytes.
    x = torch.tensor([[1.0, 2.0, 1.0, 2.0], [0.0, 5.0, 0.0, 5.0], [3.0, 3.0, 3.0, 3.0]])
    op = only_op(analyze_quiet(Fn(lambda t: torch.unique(t, dim=1)), x), "aten.unique_dim")
    assert op.flops == 33
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((12, 48), (12, 72))


def test_unique_consecutive_compares_neighbours_only():
    # torch.unique_consecutive of 8 int64 elements [1, 1, 2, 2, 3, 1, 1, 2]: no sort, 7 neighbour
    # compares. Runs 1, 2, 3, 1, 2: writes 5 (40 bytes); with inverse (8) and counts (5): 18 (144).
    seq = torch.tensor([1, 1, 2, 2, 3, 1, 1, 2])
    op = only_op(analyze_quiet(Fn(torch.unique_consecutive), seq), "aten.unique_consecutive")
    assert op.flops == 7
    for model in MODELS:
        assert (_reads(op, model), _writes(op, model)) == ((8, 64), (5, 40))
    full = Fn(lambda t: torch.unique_consecutive(t, return_inverse=True, return_counts=True))
    op = only_op(analyze_quiet(full, seq), "aten.unique_consecutive")
    assert (op.flops, _writes(op, "writeup")) == (7, (18, 144))
    # dim=0 on the 4x2 rows (still aten.unique_consecutive, dim as an argument): 3 neighbour
    # compares of 2 elements = 6 FLOPs; runs [1,3], [2,2], [1,3]: values 3x2 = 6 + inverse 4 +
    # counts 3 = 13 written (104 bytes; along a dim the kernel returns all three).
    op = only_op(analyze_quiet(Fn(lambda t: torch.unique_consecutive(t, dim=0)), ROWS_4x2), "aten.unique_consecutive")
    assert op.flops == 6
    assert _writes(op, "compulsory") == (13, 104)
    # aten.unique_dim_consecutive (a separate aten op, not what torch.unique_consecutive calls):
    # the same 6 FLOPs and 13 written.
    op = only_op(analyze_quiet(Fn(lambda t: torch.ops.aten.unique_dim_consecutive(t, 0)), ROWS_4x2), "aten.unique_dim_consecutive")
    assert (op.flops, _writes(op, "compulsory")) == (6, (13, 104))


# --- 3. embedding_bag offsets and per-sample weights ----------------------------------------------


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
        assert (_reads(op, model), _weights(op, model), _writes(op, model)) == ((12, 96), (160, 640), (32, 128))
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
        assert (_reads(op, model), _weights(op, model)) == ((22, 136), (160, 640))


def test_embedding_bag_with_explicit_offsets():
    # 1-D input of 10 indices with offsets [0, 3, 7]: bags of 3, 4, 3. FLOPs 10 x 16 - 3 x 16 = 112
    # ('sum'); 'mean' + 3 x 16 divides = 160. Reads 10 x 8 + 3 x 8 = 104 bytes (13 elements);
    # weights 160; writes 3 x 16 = 48.
    idx = torch.randint(0, 100, (10,))
    for mode, flops in (("sum", 112), ("mean", 160)):
        op = only_op(analyze_quiet(nn.EmbeddingBag(100, 16, mode=mode), (idx, torch.tensor([0, 3, 7]))), "aten._embedding_bag")
        assert op.flops == flops
        for model in MODELS:
            assert (_reads(op, model), _weights(op, model), op.memory[model]["output"]) == ((13, 104), (160, 640), 48)
    # include_last_offset=True with offsets [0, 3, 7, 10]: the same 3 bags, 4 offsets read:
    # 80 + 32 = 112 bytes (14 elements).
    last = nn.EmbeddingBag(100, 16, mode="sum", include_last_offset=True)
    op = only_op(analyze_quiet(last, (idx, torch.tensor([0, 3, 7, 10]))), "aten._embedding_bag")
    assert op.flops == 112
    for model in MODELS:
        assert _reads(op, model) == (14, 112)


# --- 3. nll_loss's class weights ------------------------------------------------------------------
# PyTorch: l_i = -w[t_i] x[i, t_i]; 'mean' = sum_i l_i / sum_i w[t_i]; 'sum' = sum_i l_i.


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
            assert _reads(op, model) == (12, 64)
    # 'sum': 4 + 4 multiplies = 8, no weight sum, no divide. 'none': the 4 weighted losses, 4 + 4 =
    # 8, writing 4 (16 bytes).
    assert _writes(op, "compulsory") == (4, 16)
    # Without a weight: 5 FLOPs, 8 elements, 48 bytes (unchanged).
    op = only_op(analyze_quiet(Fn(F.nll_loss), (x, t)), "aten.nll_loss")
    assert (op.flops, _reads(op, "compulsory")) == (5, (8, 48))


def test_nll_loss_2d_with_class_weights():
    # 2x5x3x3 float32 with 2x3x3 = 18 int64 targets, weight of 5: 'mean' 18 + 18 + 18 + 1 = 55.
    # Reads 18 x 4 + 18 x 8 + 18 x 4 = 288 bytes (54 elements).
    r = analyze_quiet(Fn(lambda a, b: F.nll_loss(a, b, weight=torch.rand(5))), (torch.randn(2, 5, 3, 3), torch.randint(0, 5, (2, 3, 3))))
    op = only_op(r, "aten.nll_loss2d")
    assert op.flops == 55
    for model in MODELS:
        assert _reads(op, model) == (54, 288)


def test_cross_entropy_class_weight_buffer_is_read_as_weights():
    # nn.CrossEntropyLoss(weight=w) registers w (5 float32) as a buffer: the 4 picked class weights
    # are weight reads (16 bytes); activation reads the 4 picked log-probabilities (16) and the 4
    # targets (32): 8, 48 bytes. FLOPs: log_softmax 4 x 3 x 5 = 60 + nll 13 = 73.
    loss = nn.CrossEntropyLoss(weight=torch.rand(5))
    r = analyze_quiet(loss, (torch.randn(4, 5), torch.randint(0, 5, (4,))))
    assert r.totals.flops == 73
    op = only_op(r, "aten.nll_loss")
    for model in MODELS:
        assert (_reads(op, model), _weights(op, model)) == ((8, 48), (4, 16))


def test_copy_forms_of_views_copy_what_the_view_covers():
    # x 4x6 float32 (24 elements). split_copy(x, 2): two 2x6 pieces, 24 read, 24 written (96 B each
    # way). slice_copy(x, 1, 0, 3): keeps 4x3 = 12 -> reads 12, writes 12 (48 B). expand_copy of a
    # 1x6 row to 4x6: reads the 6 row elements once, writes 24 (24 B read, 96 B written).
    x = torch.randn(4, 6)
    cases = [(lambda t: torch.ops.aten.split_copy(t, 2), "aten.split_copy", 24, 24),
             (lambda t: torch.ops.aten.slice_copy(t, 1, 0, 3), "aten.slice_copy", 12, 12),
             (lambda t: torch.ops.aten.expand_copy(t[:1], [4, 6]), "aten.expand_copy", 6, 24)]
    for fn, name, read, written in cases:
        op = only_op(analyze_quiet(Fn(fn), x), name)
        for model in MODELS:
            m = op.memory[model]
            assert (m["input"], m["output"], m["input_bytes"], m["output_bytes"]) == (read, written, 4 * read, 4 * written)
        assert op.activation_elements == written and op.flops == 0
