"""Cases found in review, each with the count derived by hand from docs/formulas.md."""

from __future__ import annotations

import torch
from torch import nn

from tests.conftest import Fn, analyze_quiet


def test_addbmm_sums_the_batch_inside_the_dot_product():
    r = analyze_quiet(Fn(torch.addbmm), (torch.randn(4, 5), torch.randn(3, 4, 8), torch.randn(3, 8, 5)))
    assert r.totals.macs == 3 * 4 * 5 * 8
    assert r.totals.flops == 2 * 480 + 20  # dot products of length 24, + the added matrix


def test_elementwise_einsum_has_no_macs():
    r = analyze_quiet(Fn(lambda a, b: torch.einsum("ij,ij->ij", a, b)), (torch.randn(4, 8), torch.randn(4, 8)))
    assert (r.totals.macs, r.totals.flops) == (0, 32)
    outer = analyze_quiet(Fn(lambda a, b: torch.einsum("i,j->ij", a, b)), (torch.randn(4), torch.randn(5)))
    assert (outer.totals.macs, outer.totals.flops) == (0, 20)


def test_rms_norm_is_recorded_whole():
    assert analyze_quiet(nn.RMSNorm(3), "2x4x3x3").totals.flops == 72 * 4
    assert analyze_quiet(nn.RMSNorm(3, elementwise_affine=False), "2x4x3x3").totals.flops == 72 * 3


def test_multihead_attention_training_dropout_is_p_times_scores():
    x = torch.randn(1, 5, 8)
    call = Fn(lambda q: call.mha(q, q, q, need_weights=False)[0])
    call.mha = nn.MultiheadAttention(8, 2, batch_first=True, dropout=0.5)
    train = analyze_quiet(call.train(), x).totals.flops
    evaluate = analyze_quiet(call.eval(), x).totals.flops
    assert train - evaluate == round(0.5 * 2 * 5 * 5)  # 2 heads x 5 x 5 scores


def test_embedding_bag_gathers_and_reduces():
    bag = nn.EmbeddingBag(100, 16, mode="sum")
    idx = torch.randint(0, 100, (2, 5))
    r = analyze_quiet(bag, idx)
    assert r.totals.memory["writeup"]["weights"] == 10 * 16
    assert r.totals.flops == 10 * 16 - 2 * 16  # 4 adds per element of each bag of 5
    assert analyze_quiet(nn.EmbeddingBag(100, 16, mode="mean"), idx).totals.flops == 128 + 32


def test_copy_into_does_not_read_its_destination():
    r = analyze_quiet(Fn(lambda a, b: a.clone().copy_(b)), (torch.randn(4, 5), torch.randn(4, 5)))
    copy_op = [o for o in r.ops if o.op.startswith("aten.copy_")][0]
    assert copy_op.memory["writeup"]["input"] == 20 and copy_op.memory["compulsory"]["input"] == 20


def test_allocation_reads_and_writes_nothing():
    r = analyze_quiet(Fn(lambda a: a.new_empty_strided((2, 3), (3, 1))), torch.randn(4, 5))
    assert r.totals.mem_accesses == 0 and r.totals.bytes_read == 0 and r.totals.bytes_written == 0


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


def test_mixed_dtype_operands_are_priced_by_their_own_size():
    r = analyze_quiet(Fn(torch.where), (torch.ones(2, 3, dtype=torch.bool), torch.randn(2, 3), torch.randn(2, 3)))
    assert r.totals.memory["writeup"]["input_bytes"] == 6 * 1 + 6 * 4 + 6 * 4


def test_sorting_sampling_and_distance_ops_have_formulas():
    x = torch.randn(3, 8)
    assert analyze_quiet(Fn(lambda t: torch.sort(t).values), x).totals.flops == 3 * 8 * 3  # n log2 n per row
    assert analyze_quiet(Fn(lambda t: torch.topk(t, 2).values), x).totals.flops == 3 * 8 * 1  # n log2 k
    assert analyze_quiet(Fn(torch.cdist), (torch.randn(3, 4), torch.randn(5, 4))).totals.flops == 15 * (3 * 4 + 1)
    grid = Fn(lambda t, g: torch.nn.functional.grid_sample(t, g, align_corners=False))
    assert analyze_quiet(grid, (torch.randn(1, 2, 4, 4), torch.rand(1, 3, 3, 2))).totals.flops == 9 * 2 * 9
    loss = Fn(lambda a, b: torch.nn.functional.mse_loss(a, b))
    assert analyze_quiet(loss, (torch.randn(4, 5), torch.randn(4, 5))).totals.flops == 3 * 20


def test_second_review_cases():
    ew = analyze_quiet(Fn(lambda a, b: torch.einsum("ij,ij->ij", a, b)), (torch.randn(4, 8), torch.randn(4, 8)))
    assert ew.totals.memory["writeup"]["input"] == 64  # both operands per term, as torch.mul
    one_hot = analyze_quiet(Fn(lambda x: torch.nn.functional.one_hot(x, 10)), torch.randint(0, 10, (6,)))
    scatter = [o for o in one_hot.ops if o.op.startswith("aten.scatter_")][0]
    assert scatter.memory["writeup"]["output"] == 6 and scatter.memory["compulsory"]["output"] == 6
    irfft = analyze_quiet(Fn(lambda x: torch.fft.irfft(x)), torch.randn(3, 5, dtype=torch.complex64))
    assert irfft.totals.flops == 3 * (5 * 8 * 3 // 2)  # n = 8 real points
    fused = analyze_quiet(torch.nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()).eval(),
                          "1x3x8x8", fused=True)
    assert fused.totals.activation_elements == 512 and fused.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 3 * 512
