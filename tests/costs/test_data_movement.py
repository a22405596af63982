"""Copies and allocations: copy_ does not read its destination, empty writes nothing, mixed dtypes
are priced at their own size, the *_copy forms of views copy what the view covers.

Every expected figure is derived by hand in the comment beside it (docs/formulas.md; float32 = 4
bytes, float16 = 2, int64 = 8, int32 = 4, bool = 1), never copied from the tool's output.
"""

from __future__ import annotations

import torch

from tests.conftest import MODELS, Fn, analyze_quiet, only_op


def test_copy_into_does_not_read_its_destination():
    r = analyze_quiet(Fn(lambda a, b: a.clone().copy_(b)), (torch.randn(4, 5), torch.randn(4, 5)))
    copy_op = [o for o in r.ops if o.op.startswith("aten.copy_")][0]
    assert copy_op.memory["writeup"]["input"] == 20 and copy_op.memory["compulsory"]["input"] == 20


def test_allocation_reads_and_writes_nothing():
    r = analyze_quiet(Fn(lambda a: a.new_empty_strided((2, 3), (3, 1))), torch.randn(4, 5))
    assert r.totals.mem_accesses == 0 and r.totals.bytes_read == 0 and r.totals.bytes_written == 0


def test_mixed_dtype_operands_are_priced_by_their_own_size():
    r = analyze_quiet(Fn(torch.where), (torch.ones(2, 3, dtype=torch.bool), torch.randn(2, 3), torch.randn(2, 3)))
    assert r.totals.memory["writeup"]["input_bytes"] == 6 * 1 + 6 * 4 + 6 * 4


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
