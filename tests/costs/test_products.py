"""Matrix products and einsum: MACs, the dot-product rule, and what each contraction step reads.

Every expected figure is derived by hand in the comment beside it (docs/formulas.md; float32 = 4
bytes, float16 = 2, int64 = 8, int32 = 4, bool = 1), never copied from the tool's output.
"""

from __future__ import annotations

import torch
from torch import nn

from tests.conftest import Fn, analyze_quiet, only_op, traffic


def test_addbmm_sums_the_batch_inside_the_dot_product():
    r = analyze_quiet(Fn(torch.addbmm), (torch.randn(4, 5), torch.randn(3, 4, 8), torch.randn(3, 8, 5)))
    assert r.totals.macs == 3 * 4 * 5 * 8
    assert r.totals.flops == 2 * 480 + 20  # dot products of length 24, + the added matrix


def test_elementwise_einsum_has_no_macs():
    r = analyze_quiet(Fn(lambda a, b: torch.einsum("ij,ij->ij", a, b)), (torch.randn(4, 8), torch.randn(4, 8)))
    assert (r.totals.macs, r.totals.flops) == (0, 32)
    outer = analyze_quiet(Fn(lambda a, b: torch.einsum("i,j->ij", a, b)), (torch.randn(4), torch.randn(5)))
    assert (outer.totals.macs, outer.totals.flops) == (0, 20)


def test_einsum_step_without_macs_reads_each_side_once():
    # 'ij,ij->ij' on 4x8 and 4x8: no index summed, 32 products (1 FLOP each, as torch.mul);
    # each side read once: 32 + 32 = 64 in both models (torch.mul's write-up figure), 32 written.
    ew = analyze_quiet(Fn(lambda a, b: torch.einsum("ij,ij->ij", a, b)), (torch.randn(4, 8), torch.randn(4, 8)))
    assert (ew.totals.macs, ew.totals.flops) == (0, 32)
    assert traffic(only_op(ew, "einsum"), "writeup") == (64, 0, 32)
    assert traffic(only_op(ew, "einsum"), "compulsory") == (64, 0, 32)
    mul = analyze_quiet(Fn(torch.mul), (torch.randn(4, 8), torch.randn(4, 8)))
    assert mul.totals.memory["writeup"]["input"] == 64
    # 'i,j->ij' on 4 and 8: 32 products; each side read once: 4 + 8 = 12 (= the compulsory figure).
    outer = analyze_quiet(Fn(lambda a, b: torch.einsum("i,j->ij", a, b)), (torch.randn(4), torch.randn(8)))
    assert (outer.totals.macs, outer.totals.flops) == (0, 32)
    assert traffic(only_op(outer, "einsum"), "writeup") == (12, 0, 32)
    assert traffic(only_op(outer, "einsum"), "compulsory") == (12, 0, 32)


def test_einsum_reads_an_intermediate_once_in_a_step_without_macs():
    # 'ij,jk,k->ik' on 2x3, 3x4, 4. Step 1 sums j: 2x3x4 = 24 MACs (48 FLOPs), reads a once per MAC
    # (24) + b once (12); its result is 2x4 = 8. Step 2 ('ik,k->ik') sums nothing: 8 multiplies,
    # reads the 8-element intermediate once + c once (4). WU input 24 + 12 + 8 + 4 = 48;
    # FLOPs 48 + 8 = 56; COMP input 6 + 12 + 4 = 22; output 8 in both.
    r = analyze_quiet(Fn(lambda a, b, c: torch.einsum("ij,jk,k->ik", a, b, c)),
                      (torch.randn(2, 3), torch.randn(3, 4), torch.randn(4)))
    assert (r.totals.macs, r.totals.flops) == (24, 56)
    assert traffic(only_op(r, "einsum"), "writeup") == (48, 0, 8)
    assert traffic(only_op(r, "einsum"), "compulsory") == (22, 0, 8)


def test_einsum_with_a_parameter_reads_it_once_as_a_weight():
    # x (3x8) with a parameter W (8x5): 3x5x8 = 120 MACs, as nn.Linear(8, 5, bias=False). WU: the
    # activation x is read once per MAC (120), W once as a weight (40), never as activation input
    # too; 15 written. COMP: 24 + 40 + 15. The same whichever side W is on.
    class WithParam(nn.Module):
        def __init__(self, equation: str, weight_first: bool) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(8, 5))
            self.equation, self.weight_first = equation, weight_first

        def forward(self, x):
            pair = (self.w, x) if self.weight_first else (x, self.w)
            return torch.einsum(self.equation, *pair)

    for equation, weight_first in (("bd,de->be", False), ("de,bd->be", True)):
        r = analyze_quiet(WithParam(equation, weight_first), torch.randn(3, 8))
        assert r.totals.macs == 120
        assert traffic(only_op(r, "einsum"), "writeup") == (120, 40, 15)
        assert traffic(only_op(r, "einsum"), "compulsory") == (24, 40, 15)


def test_elementwise_einsum_reads_both_operands_per_term():
    ew = analyze_quiet(Fn(lambda a, b: torch.einsum("ij,ij->ij", a, b)), (torch.randn(4, 8), torch.randn(4, 8)))
    assert ew.totals.memory["writeup"]["input"] == 64  # both operands per term, as torch.mul
