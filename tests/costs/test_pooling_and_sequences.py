"""Pooling variants (fractional max pool, max unpool) and packed sequences.

Every expected figure is derived by hand in the comment beside it (docs/formulas.md; float32 = 4
bytes, float16 = 2, int64 = 8, int32 = 4, bool = 1), never copied from the tool's output.
"""

from __future__ import annotations

import torch
from torch import nn

from tests.conftest import MODELS, Fn, analyze_quiet, only_op, reads, traffic, writes


def test_max_unpool_reads_values_and_indices_and_writes_its_output():
    # MaxPool2d(2) on 1x2x4x4 -> 8 values + 8 int64 indices; MaxUnpool2d(2) reads both (16
    # elements, 8 x 4 + 8 x 8 = 96 bytes in both models) and writes the 1x2x4x4 = 32 output. 0 FLOPs.
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    r = analyze_quiet(Fn(lambda x: unpool(*pool(x))), torch.randn(1, 2, 4, 4))
    op = only_op(r, "aten.max_unpool2d")
    assert op.flops == 0
    assert traffic(op, "writeup") == traffic(op, "compulsory") == (16, 0, 32)
    assert op.memory["writeup"]["input_bytes"] == op.memory["compulsory"]["input_bytes"] == 96
    # 3-D: MaxPool3d(2) on 1x2x4x4x4 -> 16 values + 16 indices (16 x 4 + 16 x 8 = 192 bytes); 128 written.
    pool3, unpool3 = nn.MaxPool3d(2, return_indices=True), nn.MaxUnpool3d(2)
    r3 = analyze_quiet(Fn(lambda x: unpool3(*pool3(x))), torch.randn(1, 2, 4, 4, 4))
    op3 = only_op(r3, "aten.max_unpool3d")
    assert (op3.flops, traffic(op3, "writeup"), op3.memory["writeup"]["input_bytes"]) == (0, (32, 0, 128), 192)
    # 1-D runs as max_unpool2d: MaxPool1d(2) on 1x2x4 -> 4 values + 4 indices (4 x 4 + 4 x 8 = 48
    # bytes); 1x2x4 = 8 written.
    pool1, unpool1 = nn.MaxPool1d(2, return_indices=True), nn.MaxUnpool1d(2)
    op1 = only_op(analyze_quiet(Fn(lambda x: unpool1(*pool1(x))), torch.randn(1, 2, 4)), "aten.max_unpool2d")
    assert (op1.flops, traffic(op1, "writeup"), op1.memory["writeup"]["input_bytes"]) == (0, (8, 0, 8), 48)


def test_fractional_max_pool_is_a_max_pool_with_random_samples():
    # 2x2 windows, output 3x3 on 1x2x7x7: 18 outputs -> 18 FLOPs (1 per output, as max pooling).
    # WU reads 4 x 18 = 72 window elements + the 1x2x2 = 4 random samples = 76; writes the 18 values.
    # COMP reads 98 + 4 = 102, writes 18 values + 18 int64 indices = 36 (18 x 4 + 18 x 8 = 216 bytes).
    r = analyze_quiet(nn.FractionalMaxPool2d(2, output_size=(3, 3)), torch.randn(1, 2, 7, 7))
    op = only_op(r, "aten.fractional_max_pool2d")
    assert op.flops == 18
    assert traffic(op, "writeup") == (76, 0, 18)
    assert traffic(op, "compulsory") == (102, 0, 36)
    assert op.memory["compulsory"]["output_bytes"] == 216
    # 3-D, 2x2x2 windows, output 3x3x3 on 1x2x7x7x7: 54 outputs; WU 8 x 54 + 1x2x3 = 438;
    # COMP 686 + 6 = 692.
    r3 = analyze_quiet(nn.FractionalMaxPool3d(2, output_size=(3, 3, 3)), torch.randn(1, 2, 7, 7, 7))
    op3 = only_op(r3, "aten.fractional_max_pool3d")
    assert (op3.flops, traffic(op3, "writeup"), traffic(op3, "compulsory")) == (54, (438, 0, 54), (692, 0, 108))


def test_pack_padded_sequence_copies_the_valid_steps():
    # Padded 5x2x3 (T=5, B=2, 3 features), lengths (5, 3): 5 + 3 = 8 valid steps -> data 8x3 = 24;
    # batch_sizes (2, 2, 2, 1, 1) = 5 int64. No FLOPs. Reads the 24 packed elements + the 2 lengths
    # = 26 in both models (WU bytes 24 x 4 + 2 x 8 = 112), not the 30 padded ones; writes 24 + 5 = 29.
    r = analyze_quiet(Fn(lambda x: nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3])).data), torch.randn(5, 2, 3))
    op = only_op(r, "aten._pack_padded_sequence")
    assert op.flops == 0
    assert traffic(op, "writeup") == traffic(op, "compulsory") == (26, 0, 29)
    assert op.memory["writeup"]["input_bytes"] == 112
    assert op.memory["compulsory"]["output_bytes"] == 24 * 4 + 5 * 8


def test_pack_padded_sequence_prices_lengths_at_eight_bytes_in_both_models():
    # Padded 5x2x3 float32, lengths (5, 3) int64: packs 8 x 3 = 24 elements (96 bytes) + reads the
    # 2 lengths (16 bytes): 26 elements, 112 bytes in both models (the compulsory model said
    # 26 x 4 = 104). Writes data 24 x 4 = 96 + batch_sizes 5 x 8 = 40 = 136 bytes.
    r = analyze_quiet(Fn(lambda x: nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 3])).data), torch.randn(5, 2, 3))
    op = only_op(r, "aten._pack_padded_sequence")
    for model in MODELS:
        assert (reads(op, model), writes(op, model)) == ((26, 112), (29, 136))
