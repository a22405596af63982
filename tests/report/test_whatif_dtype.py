"""``analyze --weight-dtype / --act-dtype``: bytes re-priced at the what-if widths, MACs unchanged,
labelled as a what-if (report/whatif.py, docs/quantized.md)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import howfast
from howfast.errors import UsageError
from howfast.hardware.roofline import roofline
from howfast.report.whatif import dtype_what_if
from howfast.zoo.registry import build


def _mlp_report() -> howfast.Report:
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 16))
    return howfast.analyze(model, torch.randn(8, 64))


def test_int4_weights_halve_a_byte_per_weight() -> None:
    report = _mlp_report()
    w = dtype_what_if(report, "int4")
    params = 64 * 128 + 128 + 128 * 16 + 16
    assert w.totals.params == params and w.totals.param_bytes == params // 2
    assert w.totals.macs == report.totals.macs == 8 * (64 * 128 + 128 * 16)
    index = next(i for i, r in enumerate(w.ops) if r.macs)
    first = w.ops[index]  # addmm: weight 64x128 and bias 128 read once, at 4 bits
    assert first.traffic("compulsory")["weights_bytes"] == (64 * 128 + 128) * 4 // 8
    assert first.traffic("compulsory")["input_bytes"] == report.ops[index].traffic("compulsory")["input_bytes"] == 8 * 64 * 4
    assert w.what_if == {"weight_dtype": "int4", "act_dtype": None}
    assert any(n.startswith("what-if: weights at int4") for n in w.notes)
    assert w.to_dict()["what_if"]["weight_dtype"] == "int4"
    # the totals stay the sum of the ops
    assert w.totals.bytes_read == sum(r.bytes_read for r in w.ops)
    assert report.totals.param_bytes == 4 * params  # the original report is unchanged


def test_w8a8_computes_in_int8_at_the_int8_peak() -> None:
    w = dtype_what_if(_mlp_report(), "int8", "int8")
    assert w.totals.macs_by_compute == {"int8": 8 * (64 * 128 + 128 * 16)}
    relu = next(r for r in w.ops if "relu" in r.op)
    assert relu.traffic("compulsory")["input_bytes"] == 8 * 128 and relu.bytes_written == 8 * 128
    roofline(w, "t4")
    assert w.roofline is not None and "int8_gemm" in w.roofline.classes
    assert "what-if" in w.render("table")


def test_weight_only_keeps_float_compute() -> None:
    w = dtype_what_if(_mlp_report(), "int8")
    assert w.totals.macs_by_compute == {"fp32": 8 * (64 * 128 + 128 * 16)}
    assert {r.op_class for r in w.ops if r.macs} == {"gemm"}


@pytest.mark.slow
def test_int4_on_the_70b_shape() -> None:
    model = build("llama2_70b", device="meta")
    report = howfast.analyze(model, torch.zeros(1, 8, dtype=torch.long, device="meta"))
    w = dtype_what_if(report, "int4")
    assert w.totals.param_bytes == report.totals.params // 2
    assert w.totals.macs == report.totals.macs
    weights = report.totals.traffic("compulsory")["weights"]
    assert w.totals.traffic("compulsory")["weights_bytes"] == pytest.approx(weights / 2, rel=1e-6)


def test_unknown_what_if_dtype() -> None:
    with pytest.raises(UsageError, match="unknown weight dtype 'int3'"):
        dtype_what_if(_mlp_report(), "int3")
