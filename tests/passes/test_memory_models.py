"""Both memory models on every op class, derived by hand (elements; bytes = elements x 4 for float32)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from howfast import Conventions
from tests.conftest import analyze_quiet


def traffic(model, inputs, **kwargs):
    report = analyze_quiet(model, inputs, **kwargs)
    return report.totals.memory["writeup"], report.totals.memory["compulsory"]


def parts(t):
    return t["input"], t["weights"], t["output"]


def test_strided_conv_both_models_and_literal_reading():
    conv = nn.Conv2d(4, 8, 3, stride=2, padding=1)
    writeup, compulsory = traffic(conv, "1x4x8x8")
    # 1x8x4x4 = 128 outputs, each a 4x3x3 window: 4,608 MACs = input reads under "window"
    assert parts(writeup) == (128 * 36, 8 * 4 * 9 + 8, 128)
    assert parts(compulsory) == (4 * 8 * 8, 296, 128)
    assert (compulsory["input_bytes"], compulsory["weights_bytes"], compulsory["output_bytes"]) == (1024, 1184, 512)
    literal, _ = traffic(conv, "1x4x8x8", conventions=Conventions(conv_reads="input"))
    assert literal["input"] == 8 * 8 * 4 * 3 * 3 * 8  # Hin x Win x Cin x K x K x Cout: 4x the windows at stride 2


def test_depthwise_and_pointwise():
    writeup, compulsory = traffic(nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), "1x4x6x6")
    assert parts(writeup) == (144 * 9, 36, 144) and parts(compulsory) == (144, 36, 144)
    writeup, compulsory = traffic(nn.Conv2d(4, 6, 1, bias=False), "1x4x5x5")
    assert parts(writeup) == (150 * 4, 24, 150) and parts(compulsory) == (100, 24, 150)
    literal, _ = traffic(nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), "1x4x6x6", conventions=Conventions(conv_reads="input"))
    assert literal["input"] == 6 * 6 * 4 * 9  # stride 1: both readings agree


def test_linear():
    writeup, compulsory = traffic(nn.Linear(5, 3), "2x5")
    assert parts(writeup) == (2 * 5 * 3, 15 + 3, 6)
    assert parts(compulsory) == (10, 18, 6)


def test_elementwise_with_broadcast():
    class Add(nn.Module):
        def forward(self, a, b):
            return a + b

    writeup, compulsory = traffic(Add(), (torch.randn(2, 3, 4), torch.randn(1, 3, 1)))
    assert parts(writeup) == (24 + 24, 0, 24)  # the broadcast operand is re-read per output
    assert parts(compulsory) == (24 + 3, 0, 24)  # each distinct tensor once


def test_pooling():
    writeup, compulsory = traffic(nn.AvgPool2d(2), "1x2x4x4")
    assert parts(writeup) == (8 * 4, 0, 8) and parts(compulsory) == (32, 0, 8)
    writeup, compulsory = traffic(nn.MaxPool2d(2), "1x2x4x4")
    assert parts(writeup) == (8 * 4, 0, 8)
    # PyTorch's CPU max pool also writes its int64 argmax indices: 8 values + 8 indices
    assert parts(compulsory) == (32, 0, 16) and compulsory["output_bytes"] == 8 * 4 + 8 * 8


def test_attention():
    class Attend(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    q, k, v = torch.randn(1, 1, 2, 4), torch.randn(1, 1, 3, 4), torch.randn(1, 1, 3, 5)
    writeup, compulsory = traffic(Attend(), (q, k, v))
    scores = 2 * 3
    # unfused: Q read per MAC of QK^T (24), K once (12), scores read by softmax (6), P read per MAC
    # of PV (30), V once (15); writes: scores, probabilities, output
    assert parts(writeup) == (24 + 12 + scores + 30 + 15, 0, 2 * scores + 10)
    assert parts(compulsory) == (8 + 12 + 15, 0, 10)  # a fused kernel: q, k, v in, output out


def test_relu_fused_costs_nothing_extra():
    relu = analyze_quiet(nn.ReLU(), "1x512x28x28").totals.memory["writeup"]
    assert relu["elements"] == 802_816
    conv = nn.Conv2d(256, 512, 3, padding=1)
    alone = analyze_quiet(conv, "1x256x28x28").totals.mem_accesses
    fused = analyze_quiet(nn.Sequential(conv, nn.ReLU()), "1x256x28x28", fused=True)
    assert fused.totals.mem_accesses == alone == 926_425_600
    assert fused.to_dict()["fusion"]["saved"]["accesses"] == 802_816
