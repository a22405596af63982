"""Views are transparent to fusion grouping (docs/memory-models.md §5), figures derived by hand.

A view op (``view``, ``_unsafe_view``, ``t``, ``permute``, ``unbind``..., and eval dropout, which
returns its input) is no consumer: a chain of views from a producer P to one real consumer C is
the edge P -> C. The view must cover all of P's result (not a slice, a piece of a split or an
expand), and C must be P's only real consumer, through any view; neither P's result nor a view of
it may be a model output. ``nn.Linear`` on a 3-D input runs ``view -> addmm -> view``, so before
this rule no transformer MLP fused. All tensors float32 (4 bytes).
"""

from __future__ import annotations

import torch
from torch import nn

import howfast
from howfast.transforms.fold import fold
from tests.conftest import analyze_quiet


def _groups(report) -> list[list[str]]:
    return [[n.split(".")[1] if n.startswith("aten.") else n for n in g["names"]] for g in report.to_dict()["fusion"]["groups"]]


def _compulsory_bytes(totals) -> int:
    return totals["bytes_read"] + totals["bytes_written"]


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8)).eval()


def test_linear_gelu_linear_on_a_3d_input_fuses():
    report = analyze_quiet(_mlp(), "1x4x8", fused=True)
    # ops: view x to 4x8, t(W1), addmm -> 4x16, view to 1x4x16, gelu, view to 4x16, t(W2), addmm -> 4x8,
    # view to 1x4x8. The first addmm's only real consumer is the gelu, through a view of all 64 elements.
    assert _groups(report) == [["addmm", "gelu"]]
    (group,) = report.to_dict()["fusion"]["groups"]
    assert not group["folded_batchnorm"] and group["saved_flops"] == 0
    # one link, the 4x16 = 64-element hidden tensor: neither written by addmm nor read back by gelu
    assert group["saved_accesses"] == 2 * 64 == 128  # write-up, elements
    assert group["saved_bytes"] == 2 * 64 * 4 == 512  # compulsory, bytes
    unfused, fused = report.to_dict()["fusion"]["unfused_totals"], report.to_dict()["fusion"]["fused_totals"]
    # write-up, unfused: addmm 1 reads x once per MAC (4 x 8 x 16 = 512), W1 + b1 = 128 + 16 = 144,
    # writes 64; gelu reads 64, writes 64; addmm 2 reads 4 x 16 x 8 = 512, W2 + b2 = 128 + 8 = 136,
    # writes 32: 512 + 144 + 64 + 64 + 64 + 512 + 136 + 32 = 1,528; fused 1,528 - 128 = 1,400
    assert unfused["mem_accesses"] == 1528 and fused["mem_accesses"] == 1528 - 128 == 1400
    # compulsory, unfused: reads x 32 + hidden 64 + gelu out 64 = 160 elements (640 B) and weights
    # 144 + 136 = 280 (1,120 B); writes 64 + 64 + 32 = 160 (640 B): 2,400 B; fused 2,400 - 512 = 1,888
    assert _compulsory_bytes(unfused) == 640 + 1120 + 640 == 2400
    assert _compulsory_bytes(fused) == 2400 - 512 == 1888
    assert unfused["flops"] == fused["flops"]  # no batch norm to fold
    # activation elements: unfused 64 (addmm) + 64 (gelu) + 32 (addmm) = 160 (views: 0, x: an input);
    # fused: the hidden addmm output is never allocated: 0 + 64 + 32 = 96
    assert unfused["activation_elements"] == 64 + 64 + 32 == 160
    assert report.totals.activation_elements == fused["activation_elements"] == 64 + 32 == 96
    counted = [(o.op.split(".")[1], o.activation_elements) for o in report.ops if o.op.startswith("aten.addmm") or o.op.startswith("aten.gelu")]
    assert counted == [("addmm", 0), ("gelu", 64), ("addmm", 32)]
    # peak, unfused: x 128 B; addmm 1: x + 256 B = 384 (x then dies); gelu: hidden 256 + its output
    # 256 = 512; addmm 2: 256 + 128 = 384: 512 B at the gelu.
    # fused: the hidden tensor takes 0 B: addmm 1 128 B; gelu 0 + 256; addmm 2 256 + 128 = 384 B
    assert unfused["peak_activation_bytes"] == 256 + 256 == 512
    assert report.totals.peak_activation_bytes == 256 + 128 == 384


class _TwoReaders(nn.Module):
    """The Linear's result, viewed as 1x4x16, has two readers."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16)

    def forward(self, x):
        h = self.fc(x)
        return torch.relu(h), torch.sigmoid(h)


def test_a_view_with_two_readers_is_not_fused():
    report = analyze_quiet(_TwoReaders().eval(), "1x4x8", fused=True)
    # addmm -> view -> {relu, sigmoid}: two real consumers, so the 64-element result is written;
    # relu and sigmoid write model outputs, which no one reads: no group at all
    assert _groups(report) == []
    unfused, fused = report.to_dict()["fusion"]["unfused_totals"], report.to_dict()["fusion"]["fused_totals"]
    assert report.to_dict()["fusion"]["saved"] == {"flops": 0, "accesses": 0, "bytes": 0, "groups": 0, "folded_batchnorms": 0}
    # addmm 64 + relu 64 + sigmoid 64, fused or not
    assert unfused["activation_elements"] == fused["activation_elements"] == 3 * 64
    # peak at the sigmoid: h 256 B + relu's output 256 B (a model output, kept) + its own 256 B
    assert unfused["peak_activation_bytes"] == fused["peak_activation_bytes"] == 3 * 256


class _ViewIsAnOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16)

    def forward(self, x):
        h = self.fc(x)  # a view of the addmm's result, returned: it must be written
        return h, torch.relu(h)


def test_a_view_that_is_a_model_output_is_not_fused():
    report = analyze_quiet(_ViewIsAnOutput().eval(), "1x4x8", fused=True)
    # relu is the addmm's only real consumer, but the view of its result is a model output
    assert _groups(report) == []
    assert report.totals.activation_elements == 64 + 64


class _Slice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16)

    def forward(self, x):
        return torch.relu(self.fc(x)[..., :8])


def test_a_partial_view_is_not_fused():
    report = analyze_quiet(_Slice().eval(), "1x4x8", fused=True)
    # relu reads 32 of the 64 elements the addmm writes (a slice): the result is not one fused value
    assert _groups(report) == []
    assert report.totals.activation_elements == 64 + 32


class _Glu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16)

    def forward(self, x):
        a, b = self.fc(x).chunk(2, -1)
        return a * torch.sigmoid(b)


def test_pieces_of_a_split_are_two_readers():
    report = analyze_quiet(_Glu().eval(), "1x4x8", fused=True)
    # addmm 4x16 -> view 1x4x16 -> split into a, b (1x4x8 views): read by mul (a) and sigmoid (b),
    # two consumers, so the addmm result is written; sigmoid's 32-element output has one reader,
    # the mul, at the same shape: [sigmoid, mul]
    assert _groups(report) == [["sigmoid", "mul"]]
    (group,) = report.to_dict()["fusion"]["groups"]
    assert group["saved_accesses"] == 2 * 32 and group["saved_bytes"] == 2 * 32 * 4
    # activation elements: addmm 64 + sigmoid 32 + mul 32 = 128 -> 64 + 0 + 32 = 96
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 64 + 32 + 32 == 128
    assert report.totals.activation_elements == 64 + 32 == 96
    # peak, unfused: addmm x 128 + 256 = 384; sigmoid: h 256 (kept by a) + 128 = 384; mul: h 256 +
    # sigmoid's 128 + its 128 = 512. Fused: sigmoid's output takes 0 B: 384 at addmm and mul
    assert report.to_dict()["fusion"]["unfused_totals"]["peak_activation_bytes"] == 256 + 128 + 128 == 512
    assert report.totals.peak_activation_bytes == 384


class _DropoutResidual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.drop = nn.Linear(8, 8), nn.Dropout(0.1)

    def forward(self, x):
        return x + self.drop(self.fc(x))


def test_eval_dropout_is_transparent():
    report = analyze_quiet(_DropoutResidual().eval(), "1x4x8", fused=True)
    # addmm -> view -> dropout (eval: returns its input) -> add: the add is the addmm's consumer.
    # (Before, the dropout started a group [dropout, add] that kept the Linear's output out of
    # liveness while its 32 activation elements still counted.)
    assert _groups(report) == [["addmm", "add"]]
    (group,) = report.to_dict()["fusion"]["groups"]
    assert group["saved_accesses"] == 2 * 32 and group["saved_bytes"] == 2 * 32 * 4
    unfused, fused = report.to_dict()["fusion"]["unfused_totals"], report.to_dict()["fusion"]["fused_totals"]
    # write-up: addmm reads 4 x 8 x 8 = 256, weights 64 + 8 = 72, writes 32; dropout nothing; add
    # reads 32 + 32, writes 32: 456 -> 456 - 64 = 392
    assert unfused["mem_accesses"] == 256 + 72 + 32 + 64 + 32 == 456 and fused["mem_accesses"] == 392
    # compulsory: addmm x 128 B + weights 288 B + out 128 B; add x 128 + h 128 + out 128: 928 -> 672
    assert _compulsory_bytes(unfused) == 128 + 288 + 128 + 3 * 128 == 928
    assert _compulsory_bytes(fused) == 928 - 256 == 672
    # activation elements: addmm 32 + add 32 = 64 -> 32
    assert unfused["activation_elements"] == 64 and fused["activation_elements"] == 32
    # peak: x (128 B) lives to the add; unfused add: x + h + out = 384; fused: x + 0 + out = 256
    assert unfused["peak_activation_bytes"] == 3 * 128 and fused["peak_activation_bytes"] == 2 * 128


def test_batch_norm_through_a_view_fuses_but_does_not_fold():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4)).eval()
    report = analyze_quiet(model, "1x4x8", fused=True)
    # BatchNorm1d on the 1x4x4 view normalises dim 1, the 4 rows, not the Linear's 4 features: the
    # batch norm runs as an epilogue of the addmm (one link of 16 elements) but cannot be folded
    # into its weights, as `howfast fold` agrees (it folds only a batch norm read directly)
    assert _groups(report) == [["addmm", "native_batch_norm"]]
    (group,) = report.to_dict()["fusion"]["groups"]
    assert not group["folded_batchnorm"] and group["saved_flops"] == 0
    assert group["saved_accesses"] == 2 * 16 and group["saved_bytes"] == 2 * 16 * 4
    assert report.to_dict()["fusion"]["unfused_totals"]["flops"] == report.totals.flops
    # activation elements: addmm 16 + batch norm 16 -> 16 (its saved statistics never count)
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 32 and report.totals.activation_elements == 16
    assert fold(model, "1x4x8").folded == []


def test_vit_block_groups():
    report = analyze_quiet(howfast.zoo.build("vit_tiny", {"depth": 1}), "1x3x224x224", fused=True)
    # 197 tokens x 192 = 37,824 elements; the MLP's hidden 197 x 768 = 151,296
    # [cat, add]: the class token + patches, plus the position embedding (no view: fused before too)
    # proj -> view -> residual add; fc1 -> view -> gelu; fc2 -> view -> residual add
    assert _groups(report) == [["cat", "add"], ["addmm", "add"], ["addmm", "gelu"], ["addmm", "add"]]
    saved = [g["saved_accesses"] for g in report.to_dict()["fusion"]["groups"]]
    assert saved == [2 * 37824, 2 * 37824, 2 * 151296, 2 * 37824]
    # qkv -> view -> permute -> unbind -> SDPA reads three pieces: not fused
    assert report.to_dict()["fusion"]["saved"]["accesses"] == 3 * 75648 + 302592 == 529536
    # fused activation elements drop by the four intermediates: 3 x 37,824 + 151,296 = 264,768
    drop = report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] - report.totals.activation_elements
    assert drop == 3 * 37824 + 151296 == 264768


def test_llama_swiglu_fuses_through_unsafe_view():
    report = analyze_quiet(howfast.zoo.build("llama", {"layers": 1}), "1x8:int64", fused=True)
    groups = {(g["module"], tuple(n.split(".")[1] for n in g["names"])): g["saved_accesses"] for g in report.to_dict()["fusion"]["groups"]}
    # a 3-D x @ W runs mm + _unsafe_view: gate_proj (8 x 1376) -> silu -> * up: two links of
    # 8 x 1,376 = 11,008 elements; o_proj and down_proj (8 x 512 = 4,096) -> residual add: one link
    assert groups[("layers.0.mlp.gate_proj", ("mm", "silu", "mul"))] == 2 * 2 * 11008
    assert groups[("layers.0.self_attn.o_proj", ("mm", "add"))] == 2 * 4096
    assert groups[("layers.0.mlp.down_proj", ("mm", "add"))] == 2 * 4096
