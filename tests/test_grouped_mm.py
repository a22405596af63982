"""Mixture-of-experts costs: the ``_grouped_mm`` and ``histc`` formulas, derived by hand from
docs/formulas.md, and the zoo Mixtral and Hugging Face's ``MixtralForCausalLM`` counted in full."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import howfast
from howfast.conventions import Conventions
from howfast.report.report import OpRow, Report
from howfast.zoo import build
from howfast.zoo.models import moe


class Grouped(nn.Module):
    """``torch._grouped_mm(x, w, offs)``, with ``w`` a parameter (given here) or an input."""

    def __init__(self, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight) if weight is not None else None

    def forward(self, x: torch.Tensor, offs: torch.Tensor | None = None, other: torch.Tensor | None = None) -> torch.Tensor:
        return torch._grouped_mm(x, self.weight if self.weight is not None else other, offs=offs)


def only(report: Report, name: str) -> OpRow:
    rows = [op for op in report.ops if op.op.startswith(name)]
    assert len(rows) == 1, [op.op for op in report.ops]
    return rows[0]


def int32(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int32)


def test_rows_times_stacked_weights() -> None:
    # x (M=10, K=16) in 4 groups of rows (2, 3, 0, 5) times a (G=4, K=16, N=8) parameter.
    report = howfast.analyze(Grouped(torch.randn(4, 16, 8)), [torch.randn(10, 16), int32(2, 5, 5, 10)])
    op = only(report, "aten._grouped_mm")
    assert (op.macs, op.flops) == (10 * 16 * 8, 2 * 1280)
    exact = howfast.analyze(Grouped(torch.randn(4, 16, 8)), [torch.randn(10, 16), int32(2, 5, 5, 10)],
                            conventions=Conventions(flops="exact"))
    assert only(exact, "aten._grouped_mm").flops == 2 * 1280 - 10 * 8
    comp, writeup = op.traffic("compulsory"), op.traffic("writeup")
    # 10 rows reach min(4, 10) = 4 groups: all 4 x 16 x 8 weights; x once and the 4 int32 offsets
    assert (comp["weights"], comp["weights_bytes"]) == (512, 512 * 4)
    assert (comp["input"], comp["input_bytes"]) == (160 + 4, 160 * 4 + 4 * 4)
    assert (comp["output"], comp["output_bytes"]) == (80, 80 * 4)
    # write-up: x read once per MAC
    assert (writeup["input"], writeup["input_bytes"], writeup["weights"]) == (1280 + 4, 1280 * 4 + 16, 512)


def test_fewer_rows_than_groups_read_that_many_groups() -> None:
    # 3 rows, 8 groups: balanced routing reaches min(8, 3) = 3 groups of 16 x 8 weights.
    report = howfast.analyze(Grouped(torch.randn(8, 16, 8)), [torch.randn(3, 16), int32(1, 2, 2, 3, 3, 3, 3, 3)])
    op = only(report, "aten._grouped_mm")
    assert op.macs == 3 * 16 * 8
    assert (op.traffic("compulsory")["weights"], op.traffic("compulsory")["weights_bytes"]) == (3 * 128, 3 * 128 * 4)


def test_two_2d_operands_group_the_shared_dimension() -> None:
    # a (4, 12) x b (12, 8), K = 12 in groups of 4: out (3, 4, 8); every k in one group.
    report = howfast.analyze(Grouped(), [torch.randn(4, 12), int32(4, 8, 12), torch.randn(12, 8)])
    op = only(report, "aten._grouped_mm")
    assert op.output_shape == [[3, 4, 8]]
    assert (op.macs, op.flops) == (4 * 12 * 8, 768)
    assert op.traffic("compulsory")["input"] == 48 + 96 + 3
    assert op.traffic("writeup")["input"] == 384 + 96 + 3  # a once per MAC, b and offs once


def test_batched_3d_operands() -> None:
    report = howfast.analyze(Grouped(), [torch.randn(3, 4, 8), None, torch.randn(3, 8, 4)])
    op = only(report, "aten._grouped_mm")
    assert (op.macs, op.flops) == (3 * 4 * 8 * 4, 768)
    assert op.traffic("compulsory")["input"] == 96 + 96


def test_3d_times_2d_groups_the_columns() -> None:
    # a (G=6, M=2, K=8) x b (8, N=4), the 4 columns in groups (1, 1, 1, 1, 0, 0): MACs M x K x N;
    # balanced, the columns reach min(6, 4) = 4 of a's (2, 8) matrices.
    report = howfast.analyze(Grouped(), [torch.randn(6, 2, 8), int32(1, 2, 3, 4, 4, 4), torch.randn(8, 4)])
    op = only(report, "aten._grouped_mm")
    assert op.macs == 2 * 8 * 4
    assert op.traffic("compulsory")["input"] == 4 * 16 + 32 + 6


def test_bfloat16_on_meta() -> None:
    with torch.device("meta"):
        model = Grouped(torch.empty(4, 16, 8, dtype=torch.bfloat16))
    x = torch.empty(10, 16, dtype=torch.bfloat16, device="meta")
    op = only(howfast.analyze(model, [x, torch.empty(4, dtype=torch.int32, device="meta")]), "aten._grouped_mm")
    assert op.macs == 1280
    assert op.traffic("compulsory")["weights_bytes"] == 512 * 2 and op.traffic("compulsory")["input_bytes"] == 160 * 2 + 16


class Histogram(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.histc(x, bins=4, min=0, max=3)


class Bincount(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.bincount(x, minlength=5)


def test_histc_updates_one_bin_per_element() -> None:
    op = only(howfast.analyze(Histogram(), [torch.rand(5, 6) * 3]), "aten.histc")
    assert (op.macs, op.flops) == (0, 30)
    assert (op.bytes_read, op.bytes_written) == (30 * 4, 4 * 4)


def test_bincount_updates_one_bin_per_element() -> None:
    op = only(howfast.analyze(Bincount(), [torch.tensor([0, 1, 1, 3, 2, 0, 1])]), "aten.bincount")
    assert (op.macs, op.flops) == (0, 7)
    assert (op.bytes_read, op.bytes_written) == (7 * 8, 5 * 8)


def test_an_out_call_does_not_read_its_destination() -> None:
    # The expert loop's torch.mm(x, w, out=slice): reads x (4 x 8) and w (8 x 5), writes 4 x 5.
    class Into(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            out = a.new_empty((6, 5))
            torch.mm(a, b, out=out[:4])
            return out

    op = only(howfast.analyze(Into(), [(4, 8), (8, 5)]), "aten.mm")
    assert op.macs == 160
    assert op.traffic("compulsory")["input"] == 32 + 40 and op.traffic("compulsory")["output"] == 20


# ----------------------------------------------------------------------------------- MoE models

SMALL = dict(layers=2, d_model=64, heads=4, kv_heads=2, ffn=96, vocab=100, experts=4, top_k=2)
TOKENS = 16


def expert_macs(report: Report) -> list[int]:
    return [layer.macs for layer in report.layers if layer.name.endswith("mlp.experts")]


def expected_experts(tokens: int, top_k: int, d: int, ffn: int, layers: int) -> list[int]:
    # gate_up: tokens x k rows of d x 2 ffn; down: of ffn x d
    return [tokens * top_k * 3 * d * ffn] * layers


def mixtral_report(device: str, dtype: torch.dtype, **options: Any) -> Report:
    torch.manual_seed(0)
    model = build("mixtral", {**SMALL, **options}, device=device).to(dtype)
    return howfast.analyze(model, f"1x{TOKENS}:int64")


@pytest.mark.parametrize(("device", "dtype", "kernel"), [
    ("cpu", torch.float32, "aten._grouped_mm"),  # grouped_mm runs on CPU in float32
    ("cpu", torch.float64, "aten.mm"),  # not in float64: the expert loop, with the real counts
    ("meta", torch.bfloat16, "aten._grouped_mm"),  # the meta kernel takes bfloat16 only
    ("meta", torch.float32, "aten.mm"),  # the expert loop, balanced over the experts
])
def test_zoo_mixtral_is_fully_counted(device: str, dtype: torch.dtype, kernel: str) -> None:
    report = mixtral_report(device, dtype)
    assert report.uncounted_ops == []
    assert expert_macs(report) == expected_experts(TOKENS, 2, 64, 96, 2)
    assert {op.op.rsplit(".", 1)[0] for op in report.ops if ".experts" in op.module and op.macs} == {kernel}


def test_both_kernels_read_the_same_expert_weights_on_meta() -> None:
    # 32 routed rows over 4 experts: every expert's 3 x 64 x 96 weights, in both kernels.
    for top_k, tokens_rows in ((2, TOKENS * 2), (1, TOKENS)):
        reads = []
        for dtype in (torch.float32, torch.bfloat16):
            report = mixtral_report("meta", dtype, top_k=top_k)
            reads.append(sum(op.traffic("compulsory")["weights"] for op in report.ops if ".experts" in op.module))
        assert reads == [2 * min(4, tokens_rows) * 3 * 64 * 96] * 2


def test_a_decode_token_reads_only_its_experts_on_meta() -> None:
    # 1 token, top 2 of 8 experts: 2 rows reach min(8, 2) = 2 experts per layer, in both kernels.
    options = dict(SMALL, experts=8)
    for dtype in (torch.float32, torch.bfloat16):
        model = build("mixtral", options, device="meta").to(dtype)
        report = howfast.analyze(model, "1x1:int64")
        assert expert_macs(report) == expected_experts(1, 2, 64, 96, 2)
        assert sum(op.traffic("compulsory")["weights"] for op in report.ops if ".experts" in op.module) == 2 * 2 * 3 * 64 * 96


def test_grouped_mm_runs_where_torch_takes_it() -> None:
    x, w = torch.randn(8, 16), torch.randn(4, 32, 16).transpose(-2, -1)
    assert moe.grouped_mm_runs(x, w)
    assert not moe.grouped_mm_runs(x.double(), w.double())
    assert not moe.grouped_mm_runs(torch.randn(8, 10), torch.randn(4, 32, 10).transpose(-2, -1))  # 40-byte rows
    meta = torch.empty(8, 16, device="meta"), torch.empty(4, 16, 32, device="meta")
    assert not moe.grouped_mm_runs(*meta)
    assert moe.grouped_mm_runs(*(t.to(torch.bfloat16) for t in meta))
    assert moe.group_sizes(torch.empty(8, device="meta"), 3) == [1, 1, 1, 0, 0, 0, 0, 0]
    assert moe.group_sizes(torch.empty(4, device="meta"), 10) == [3, 3, 2, 2]


def test_grouped_and_loop_kernels_agree() -> None:
    torch.manual_seed(0)
    model = build("mixtral", SMALL)
    reference = build("mixtral", SMALL).double()
    reference.load_state_dict(model.state_dict())
    ids = torch.randint(0, 100, (2, 9))
    with torch.no_grad():
        assert torch.allclose(model(ids).double(), reference(ids), atol=1e-5)


def test_mixtral_8x7b_parameters() -> None:
    d, layers, ffn, experts, vocab, kv = 4096, 32, 14336, 8, 32000, 8 * 128
    attention = d * d + 2 * d * kv + d * d  # q, k, v (8 kv heads of 128), o
    moe_block = d * experts + experts * 3 * d * ffn  # router, experts' gate_up and down
    per_layer = attention + moe_block + 2 * d  # two RMSNorms
    total = layers * per_layer + d + 2 * vocab * d  # final norm, embed_tokens, untied lm_head
    assert total == 46_702_792_704
    model = build("mixtral_8x7b", device="meta")
    assert sum(p.numel() for p in model.parameters()) == total and round(total / 1e9, 1) == 46.7
    report = howfast.analyze(build("mixtral_8x7b", {"layers": 1}, device="meta"), "1x8:int64")
    assert report.uncounted_ops == [] and expert_macs(report) == expected_experts(8, 2, d, ffn, 1)


# ---------------------------------------------------------------------------- Hugging Face Mixtral

def hf_mixtral(device: str = "cpu") -> Any:
    transformers = pytest.importorskip("transformers")  # not a test dependency: skipped without it
    config = transformers.MixtralConfig(vocab_size=100, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                                        num_experts_per_tok=2, max_position_embeddings=64, rms_norm_eps=1e-5)
    torch.manual_seed(0)
    with torch.device(device):
        return transformers.MixtralForCausalLM(config).eval()


def test_hf_mixtral_is_fully_counted() -> None:
    hf = hf_mixtral()
    report = howfast.analyze(hf, torch.randint(0, 100, (1, TOKENS)))
    assert report.uncounted_ops == []
    assert expert_macs(report) == expected_experts(TOKENS, 2, 64, 96, 2)
    # the zoo Mixtral with HF's weights: the same logits and the same MACs
    ours = build("mixtral", SMALL)
    ours.load_state_dict({k.removeprefix("model."): v for k, v in hf.state_dict().items()})
    ids = torch.randint(0, 100, (2, 9))
    with torch.no_grad():
        assert torch.allclose(hf(ids).logits, ours(ids), atol=1e-5)
    assert howfast.analyze(ours, f"1x{TOKENS}:int64").totals.macs == report.totals.macs


def test_hf_mixtral_on_meta_in_bfloat16() -> None:
    # transformers calls grouped_mm on meta in any dtype, and the meta kernel takes bfloat16 only:
    # an HF Mixtral in float32 fails on meta in its own code, so it is counted in bfloat16.
    report = howfast.analyze(hf_mixtral("meta").to(torch.bfloat16), f"1x{TOKENS}:int64")
    assert report.uncounted_ops == []
    assert expert_macs(report) == expected_experts(TOKENS, 2, 64, 96, 2)
