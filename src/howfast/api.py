"""Python front door: ``howfast.analyze(model, inputs)`` -> ``Report``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from howfast.graph.inputs import InputSpec, materialise, parse_inputs
from howfast.capture.torch_capture import capture
from howfast.conventions import Conventions
from howfast.costs.evaluate import evaluate
from howfast.errors import InputSpecError, UncountedOpError
from howfast.report.build import build_report
from howfast.report.report import Report

Inputs = Any  # a tensor, a tuple/list of tensors, a dict of keyword tensors, shape text or shape tuples


def analyze(
    model: nn.Module,
    inputs: Inputs = None,
    *,
    kwargs: dict[str, Any] | None = None,
    conventions: Conventions | None = None,
    until: str | None = None,
    no_grad: bool = True,
    strict: bool = False,
    dtype: torch.dtype | None = None,
    name: str | None = None,
    fused: bool = False,
) -> Report:
    """Count parameters, MACs, FLOPs and memory traffic of one forward pass of ``model``.

    ``inputs`` may be a tensor, a tuple or list of tensors (positional arguments), a dict (keyword
    arguments), a shape string such as ``"1x3x224x224"`` or ``["1x128:int64"]``, or shape tuples.
    Shapes are made into tensors on the model's device (``meta`` allocates nothing). ``until``
    stops after the named module. With ``strict``, an op without a cost formula raises
    ``UncountedOpError``; otherwise it is listed in ``report.uncounted_ops`` and warned about.
    With ``fused``, the totals and layers are those of the fused program (batch norms folded,
    element-wise chains fused into their producer) and ``report.fusion`` lists the groups, the
    savings and the unfused totals. The model is run once and left unchanged. ``model`` may also
    be the path of an ``.onnx`` file; ``inputs`` then sizes its symbolic dimensions (see
    ``howfast.onnx.analyze_onnx``).
    """
    conventions = conventions or Conventions()
    from howfast.onnx.load import is_onnx_path

    if is_onnx_path(model):  # an .onnx file: the ONNX front end, same formulas and report (docs/onnx.md)
        if until is not None:
            raise InputSpecError("until is not supported for ONNX models")
        from howfast.onnx import analyze_onnx

        return analyze_onnx(model, inputs, conventions, strict=strict, name=name, fused=fused)
    args, kw = _resolve_inputs(model, inputs, dtype)
    kw.update(kwargs or {})
    graph = capture(model, args, kw, until=until, no_grad=no_grad, model_name=name)
    costs = evaluate(graph.ops, conventions)
    report = build_report(graph, costs, conventions)
    if fused:
        report = _fused_report(graph, costs, conventions, report)
    _check_uncounted(report, strict)
    return report


def _fused_report(graph, costs, conventions: Conventions, unfused: Report) -> Report:
    from dataclasses import asdict

    from howfast.passes.fusion import fuse

    result = fuse(costs, graph.outputs, conventions)
    report = build_report(graph, result.fused_costs, conventions, virtual=result.intermediates)
    report.fusion = {
        "fused": True,
        "groups": [g.as_dict() for g in result.groups],
        "saved": result.saved,
        "unfused_totals": asdict(unfused.totals),
        "fused_totals": asdict(report.totals),
    }
    return report


def _resolve_inputs(model: nn.Module, inputs: Inputs, dtype: torch.dtype | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if inputs is None:
        raise InputSpecError("no inputs given: pass a tensor, a tuple of tensors, a dict, or a shape such as '1x3x224x224'")
    if isinstance(inputs, torch.Tensor):
        return (inputs,), {}
    if isinstance(inputs, dict):
        return (), dict(inputs)
    specs = _as_specs(inputs)
    if specs is not None:
        device, default_dtype = _model_device_dtype(model)
        return materialise(specs, device, dtype or default_dtype)
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    return (inputs,), {}


def _as_specs(inputs: Inputs) -> list[InputSpec] | None:
    """Shape-like inputs as specs, or None when ``inputs`` are values to pass as they are."""
    if isinstance(inputs, InputSpec):
        return [inputs]
    if isinstance(inputs, str):
        return parse_inputs(inputs)
    if isinstance(inputs, (tuple, list)) and inputs:
        if all(isinstance(v, int) for v in inputs):
            return [InputSpec(shape=tuple(inputs))]
        if all(isinstance(v, str) for v in inputs):
            return parse_inputs(list(inputs))
        if all(isinstance(v, InputSpec) for v in inputs):
            return list(inputs)
        if all(isinstance(v, (tuple, list)) and v and all(isinstance(d, int) for d in v) for v in inputs):
            return [InputSpec(shape=tuple(v)) for v in inputs]
    return None


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, (p.dtype if p.dtype.is_floating_point else torch.float32)
    for b in model.buffers():
        return b.device, torch.float32
    return torch.device("cpu"), torch.float32


def _check_uncounted(report: Report, strict: bool) -> None:
    if not report.uncounted_ops:
        return
    listed = ", ".join(f"{u['op']} x{u['count']}" for u in report.uncounted_ops)
    message = f"{sum(u['count'] for u in report.uncounted_ops)} op(s) have no cost formula and are not counted: {listed}"
    if strict:
        raise UncountedOpError(message)
    warnings.warn(f"howfast: {message}", stacklevel=3)


def shapes_text(inputs: Sequence[InputSpec]) -> str:
    return " ".join(spec.text() for spec in inputs)
