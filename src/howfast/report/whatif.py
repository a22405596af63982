"""``analyze --weight-dtype`` and ``--act-dtype``: a model's figures as if its weights, or its
activations, were stored at another width, without a quantized model (docs/quantized.md, "What-if").

Every weight element an op reads is priced at the weight dtype's bits / 8 bytes, every activation
element it reads and writes at the activation dtype's (``report/reprice.py``); the model's weight
bytes become parameters x bits / 8 (no group scales are modelled: int4 formats that store one fp16
scale per group of g weights add 2 / g bytes per weight). MACs and FLOPs are unchanged. When
both are int8 (or both fp8), the matrix products and convolutions compute in that type: their
class becomes ``int8_gemm`` / ``int8_conv`` (``fp8_gemm``), priced at the profile's int8 (fp8)
peak. A weight-only what-if keeps the activations' compute. Every output says it is a what-if
(``what_if`` in JSON, a note everywhere else).
"""

from __future__ import annotations

import dataclasses

from howfast.errors import UsageError
from howfast.report.build import combine
from howfast.report.report import Phase, Report
from howfast.report.reprice import copy_phase, figures, price_activations, price_weights, propagate

BITS = {"int8": 8, "int4": 4, "fp8": 8, "fp16": 16, "bf16": 16, "fp32": 32}
_INTEGER = {"gemm": "int8_gemm", "gemv": "int8_gemm", "conv": "int8_conv", "pwconv": "int8_conv", "dwconv": "int8_conv"}
_FP8 = {"gemm": "fp8_gemm", "gemv": "fp8_gemm"}


def bits_of(dtype: str | None, what: str) -> int | None:
    """The width of a what-if dtype (None for none); a ``UsageError`` for an unknown one."""
    if dtype is None:
        return None
    if dtype not in BITS:
        raise UsageError(f"unknown {what} dtype {dtype!r} for a what-if; use one of: {', '.join(BITS)}")
    return BITS[dtype]


def dtype_what_if(report: Report, weight_dtype: str | None = None, act_dtype: str | None = None) -> Report:
    """A copy of ``report`` with weights at ``weight_dtype`` and activations at ``act_dtype``."""
    weight_bits, act_bits = bits_of(weight_dtype, "weight"), bits_of(act_dtype, "activation")
    if weight_bits is None and act_bits is None:
        return report
    classes = _compute_classes(weight_dtype, act_dtype)
    phases = [_reprice(p, weight_bits, act_bits, classes, weight_dtype) for p in report.phases]
    whole = phases[0] if len(phases) == 1 else combine(phases)
    label = describe(weight_dtype, act_dtype)
    model = report.model
    if weight_bits is not None:
        model = dataclasses.replace(model, param_dtype_bytes={str(weight_dtype): whole.totals.param_bytes}, quantization_bytes=0)
    return dataclasses.replace(report, model=model, totals=whole.totals, layers=whole.layers, ops=whole.ops,
                               op_types=whole.op_types, phases=phases, fusion=whole.fusion, roofline=None,
                               notes=[*report.notes, label],
                               what_if={"weight_dtype": weight_dtype, "act_dtype": act_dtype})


def describe(weight_dtype: str | None, act_dtype: str | None) -> str:
    parts = [f"weights at {weight_dtype}" if weight_dtype else "", f"activations at {act_dtype}" if act_dtype else ""]
    return "what-if: " + " and ".join(p for p in parts if p) + " (bytes re-priced; MACs unchanged; not a measured quantized model)"


def _compute_classes(weight_dtype: str | None, act_dtype: str | None) -> dict[str, str]:
    if weight_dtype == act_dtype == "int8":
        return _INTEGER
    if weight_dtype == act_dtype == "fp8":
        return _FP8
    return {}


def _reprice(phase: Phase, weight_bits: int | None, act_bits: int | None, classes: dict[str, str],
             weight_dtype: str | None) -> Phase:
    out = copy_phase(phase)
    layers = {layer.name: layer for layer in out.layers}
    kinds = {kind.op: kind for kind in out.op_types}
    moved = 0
    for row in out.ops:
        before = figures(row)
        if weight_bits is not None:
            price_weights(row, weight_bits)
        if act_bits is not None:
            price_activations(row, act_bits)
        if row.op_class in classes:
            row.op_class = classes[row.op_class]
            moved += row.macs
        propagate(out, row, before, layers, kinds)
    totals = out.totals
    if weight_bits is not None:
        totals.param_bytes = totals.params * weight_bits // 8
        for layer in out.layers:
            layer.param_bytes = layer.params * weight_bits // 8
    if moved:
        compute = dict(totals.macs_by_compute)
        source = max(compute, key=lambda k: compute[k]) if compute else "fp32"
        compute[source] = compute.get(source, 0) - moved
        compute[classes_type(classes)] = compute.get(classes_type(classes), 0) + moved
        totals.macs_by_compute = {k: v for k, v in compute.items() if v}
    return out


def classes_type(classes: dict[str, str]) -> str:
    return "int8" if classes is _INTEGER else "fp8"
