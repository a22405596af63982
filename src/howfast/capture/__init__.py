"""The PyTorch front end: a model's run captured as a ``CapturedGraph`` (``torch_capture``; the
module stack ``modules``, the module tree ``tree``), inputs made from shapes (``inputs``), and model
arguments (zoo names, ``file.py:factory``) built into modules (``loader``, watched by ``budget``)."""

from __future__ import annotations

import warnings
from typing import Any

from howfast.capture.inputs import resolve_inputs
from howfast.capture.torch_capture import capture
from howfast.capture.tree import walk_modules
from howfast.graph.records import CapturedGraph
from howfast.graph.request import CaptureRequest


def capture_request(model: Any, request: CaptureRequest) -> CapturedGraph:
    """Capture one run of the ``nn.Module`` ``model`` as ``request`` asks."""
    if request.train is None and _mode_matters(model):
        warnings.warn("howfast: the model is in training mode (batch norm normalises with batch statistics, dropout is "
                      "active): call model.eval() to count inference, or pass train=True to count training", stacklevel=4)
    args, kwargs = resolve_inputs(model, request.inputs, kwargs=request.kwargs, dtype=request.dtype)
    return capture(model, args, kwargs, until=request.until, no_grad=not request.grad, train=request.train,
                   model_name=request.name)


def _mode_matters(model: Any) -> bool:
    """Whether a module in training mode would count differently in eval mode: a batch norm or a dropout."""
    from torch import nn

    modal = (nn.modules.batchnorm._NormBase, nn.modules.dropout._DropoutNd)
    return any(m.training and isinstance(m, modal) for _, m in walk_modules(model))


__all__ = ["capture", "capture_request", "resolve_inputs"]
