"""The PyTorch front end: a model's run captured as a ``CapturedGraph`` (``torch_capture``), and
model arguments (zoo names, ``file.py:factory``) built into modules (``loader``)."""

from __future__ import annotations

from typing import Any

from howfast.capture.inputs import resolve_inputs
from howfast.capture.torch_capture import capture
from howfast.graph.records import CapturedGraph
from howfast.graph.request import CaptureRequest


def capture_request(model: Any, request: CaptureRequest) -> CapturedGraph:
    """Capture one run of the ``nn.Module`` ``model`` as ``request`` asks."""
    args, kwargs = resolve_inputs(model, request.inputs, kwargs=request.kwargs, dtype=request.dtype)
    return capture(model, args, kwargs, until=request.until, no_grad=not request.grad, train=request.train,
                   model_name=request.name)


__all__ = ["capture", "capture_request", "resolve_inputs"]
