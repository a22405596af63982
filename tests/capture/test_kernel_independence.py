"""Counts must not depend on grad mode, eval fast paths, the device, or the kernel PyTorch picks."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import howfast
from tests.conftest import analyze_quiet

VIT = {"img_size": 32, "patch": 8, "dim": 64, "depth": 2, "heads": 4, "num_classes": 10}


def _vit(attention: str, device: str) -> nn.Module:
    return howfast.zoo.build("vit_tiny", {**VIT, "attention": attention}, device=device)


def _hand_vit_macs() -> int:
    tokens, dim, heads, mlp = (32 // 8) ** 2 + 1, 64, 4, 4 * 64
    patch = 16 * 3 * 8 * 8 * dim  # 16 patches, each a 3x8x8 dot product per output channel
    per_block = tokens * dim * 3 * dim + 2 * heads * tokens * tokens * (dim // heads) + tokens * dim * dim + 2 * tokens * dim * mlp
    return patch + 2 * per_block + dim * 10


@pytest.mark.parametrize("attention", ["sdpa", "mha"])
def test_vit_block_counts_identical_across_grad_mode_train_eval_and_device(attention):
    results = set()
    for no_grad, train, device in itertools.product((True, False), (False, True), ("cpu", "meta")):
        model = _vit(attention, device)
        model.train(train)  # the ViT has no dropout: train mode only disables the MHA fast path
        r = analyze_quiet(model, "2x3x32x32", no_grad=no_grad)
        results.add((r.totals.macs, r.totals.flops))
    assert len(results) == 1, results
    assert results.pop()[0] == 2 * _hand_vit_macs()


def test_mha_and_sdpa_blocks_agree_on_macs():
    sdpa = analyze_quiet(_vit("sdpa", "meta"), "1x3x32x32").totals.macs
    mha = analyze_quiet(_vit("mha", "meta"), "1x3x32x32").totals.macs
    assert sdpa == mha == _hand_vit_macs()


def test_mha_fast_path_kernel_is_counted_with_true_math_when_met_directly():
    # Under no_grad in eval mode nn.MultiheadAttention calls the fused _native_multi_head_attention
    # kernel (outside howfast's function interceptor). Its formula must match the slow path.
    from howfast.costs.registry import lookup
    from howfast.graph.records import OpRecord, TensorKind, TensorMeta

    def meta(shape, kind=TensorKind.ACTIVATION):
        return TensorMeta(1, 1, shape, "float32", 4, kind)

    b, length, e, h = 2, 7, 16, 4
    record = OpRecord(0, "aten._native_multi_head_attention.default", "", (
        meta((b, length, e)), meta((b, length, e)), meta((b, length, e)), e, h,
        meta((3 * e, e), TensorKind.PARAM), meta((3 * e,), TensorKind.PARAM), meta((e, e), TensorKind.PARAM), meta((e,), TensorKind.PARAM), None,
    ), {}, (meta((b, length, e)),))
    slow = analyze_quiet(nn.MultiheadAttention(e, h, batch_first=True).train(), (torch.randn(b, length, e),) * 3)
    assert lookup(record.op)(record, howfast.Conventions()).macs == slow.totals.macs == b * (4 * length * e * e + 2 * length * length * e)


def test_sdpa_flash_and_math_kernels_count_the_same():
    q, k, v = torch.randn(1, 2, 5, 8), torch.randn(1, 2, 6, 8), torch.randn(1, 2, 6, 4)

    class Attend(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    real = analyze_quiet(Attend(), (q, k, v))
    meta = analyze_quiet(Attend(), (q.to("meta"), k.to("meta"), v.to("meta")))
    scores = 1 * 2 * 5 * 6
    assert real.totals.macs == meta.totals.macs == scores * 8 + scores * 4
    # FLOPs: Q K^T (2 x 8 per score), q and k scaled (80 + 96), softmax (3 x 6 - 1 per row of 6),
    # P V (2 x 6 per output)
    assert real.totals.flops == meta.totals.flops == 2 * scores * 8 + (80 + 96) + 10 * (3 * 6 - 1) + 2 * scores * 4
    assert [o.op for o in real.ops] == ["scaled_dot_product_attention"]


def test_causal_gqa_attention_counts_every_query_head():
    q, kv = torch.randn(1, 8, 4, 16), torch.randn(1, 2, 4, 16)

    class Attend(nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

    assert analyze_quiet(Attend(), (q, kv, kv)).totals.macs == 8 * 4 * 4 * (16 + 16)


@pytest.mark.parametrize("device", ["cpu", "meta"])
@pytest.mark.parametrize("grad", [False, True])
def test_lstm_gru_rnn_counted_with_true_math(device, grad):
    t, b, i, h = 5, 3, 8, 16
    x = torch.randn(t, b, i, device=device)
    lstm = nn.LSTM(i, h, num_layers=2, device=device)
    gru = nn.GRU(i, h, bidirectional=True, device=device)
    rnn = nn.RNN(i, h, nonlinearity="relu", bias=False, device=device)
    rows = t * b
    lstm_macs = rows * (4 * h * i + 4 * h * h + 4 * h * h + 4 * h * h)
    gru_macs = 2 * rows * (3 * h * i + 3 * h * h)
    rnn_macs = rows * (h * i + h * h)
    assert analyze_quiet(lstm, x, no_grad=not grad).totals.macs == lstm_macs
    assert analyze_quiet(gru, x, no_grad=not grad).totals.macs == gru_macs
    r = analyze_quiet(rnn, x, no_grad=not grad)
    assert r.totals.macs == rnn_macs
    # no bias: 2 FLOPs per MAC, then per unit and row an add and a relu
    assert r.totals.flops == 2 * rnn_macs + rows * h * 2


def test_lstm_flops_by_hand():
    lstm = nn.LSTM(3, 2)
    r = analyze_quiet(lstm, "4x1x3")
    rows, h, gates = 4, 2, 8
    macs = rows * (gates * 3 + gates * 2)
    assert r.totals.macs == macs
    # dot products (2 per MAC) + two biases per gate row + 30 FLOPs of gate arithmetic per unit
    assert r.totals.flops == 2 * macs + rows * 2 * gates + rows * h * 30


def test_einsum_is_counted_whatever_kernel_runs_it():
    class Contract(nn.Module):
        def forward(self, a, b):
            return torch.einsum("bij,bjk->bik", a, b)

    # a contracted dimension of size 1 makes torch use mul instead of bmm
    assert analyze_quiet(Contract(), (torch.randn(2, 3, 1), torch.randn(2, 1, 5))).totals.macs == 2 * 3 * 1 * 5
    assert analyze_quiet(Contract(), (torch.randn(2, 3, 4), torch.randn(2, 4, 5))).totals.macs == 2 * 3 * 4 * 5
