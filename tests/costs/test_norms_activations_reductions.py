"""Normalisation, activations, attention dropout and reductions, each figure derived by hand.

Every expected figure is derived by hand in the comment beside it (docs/formulas.md; float32 = 4
bytes, float16 = 2, int64 = 8, int32 = 4, bool = 1), never copied from the tool's output.
"""

from __future__ import annotations

import torch
from torch import nn

from tests.conftest import Fn, analyze_quiet


def test_rms_norm_is_recorded_whole():
    assert analyze_quiet(nn.RMSNorm(3), "2x4x3x3").totals.flops == 72 * 4
    assert analyze_quiet(nn.RMSNorm(3, elementwise_affine=False), "2x4x3x3").totals.flops == 72 * 3


def test_layer_norm_without_bias():
    assert analyze_quiet(nn.LayerNorm(3, bias=False), "2x4x3x3").totals.flops == 72 * 6
    assert analyze_quiet(nn.LayerNorm(3), "2x4x3x3").totals.flops == 72 * 7


def test_glu_reads_both_halves():
    # 2x3x10 float32: both halves read, 60 elements = 240 bytes (the bytes once followed the 30
    # outputs, 120, while the elements counted 60)
    memory = analyze_quiet(nn.GLU(), "2x3x10").totals.memory["writeup"]
    assert (memory["input"], memory["input_bytes"]) == (60, 240)


def test_log_sigmoid_buffer_is_not_an_output():
    assert analyze_quiet(nn.LogSigmoid(), "2x3x5").totals.activation_elements == 30


def test_cumsum_is_n_minus_1_per_row():
    assert analyze_quiet(Fn(lambda x: torch.cumsum(x, -1)), torch.randn(4, 6)).totals.flops == 4 * 5


def test_multihead_attention_training_dropout_is_p_times_scores():
    x = torch.randn(1, 5, 8)
    call = Fn(lambda q: call.mha(q, q, q, need_weights=False)[0])
    call.mha = nn.MultiheadAttention(8, 2, batch_first=True, dropout=0.5)
    train = analyze_quiet(call.train(), x).totals.flops
    evaluate = analyze_quiet(call.eval(), x).totals.flops
    assert train - evaluate == round(0.5 * 2 * 5 * 5)  # 2 heads x 5 x 5 scores
