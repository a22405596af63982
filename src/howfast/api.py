"""The Python door: ``howfast.analyze(model, inputs)`` -> ``Report``, for any front end.

A front end turns one kind of model into a ``CapturedGraph``: ``capture/`` a PyTorch ``nn.Module``,
``onnx/`` an ``.onnx`` file. ``FRONT_ENDS`` is the table of them — what each takes, how a model
argument (the command line's text) is loaded for it, and how it captures a run — and the one
pipeline (``howfast.pipeline``) does the rest. Adding a front end is one folder and one entry here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from howfast import capture, onnx
from howfast.capture.loader import load_model as load_torch_model
from howfast.conventions import Conventions
from howfast.errors import BadFileError, GraphError, HowfastError, UsageError
from howfast.graph.records import CapturedGraph
from howfast.graph.request import CaptureRequest, LoadedModel
from howfast.onnx.load import is_onnx_path
from howfast.passes.pause import gc_paused
from howfast.pipeline import analyze_graph
from howfast.report.report import Report


@dataclass(frozen=True)
class FrontEnd:
    """One kind of model: which objects and model arguments are its, how to load and capture one.

    ``bad_graph`` is the error a pipeline failure becomes for this front end (a malformed file);
    None lets it through as what it is (a bug, for a captured PyTorch run).
    """

    name: str
    takes: Callable[[Any], bool]
    names: Callable[[str], bool]
    load: Callable[[str, str], LoadedModel]
    capture: Callable[[Any, CaptureRequest], CapturedGraph]
    bad_graph: type[HowfastError] | None = None


def _is_module(value: Any) -> bool:
    from torch import nn

    return isinstance(value, nn.Module)


def _load_onnx(spec: str, device: str) -> LoadedModel:
    return LoadedModel(spec, os.path.basename(spec), None, front_end="onnx")


def _load_torch(spec: str, device: str) -> LoadedModel:
    return load_torch_model(spec, device=device)


FRONT_ENDS: tuple[FrontEnd, ...] = (
    FrontEnd("onnx", takes=is_onnx_path, names=is_onnx_path, load=_load_onnx, capture=onnx.capture_request,
             bad_graph=BadFileError),
    FrontEnd("torch", takes=_is_module, names=lambda spec: True, load=_load_torch, capture=capture.capture_request),
)


def front_end_for(model: Any) -> FrontEnd:
    """The front end that analyses ``model`` (an ``nn.Module``, or the path of an ``.onnx`` file)."""
    for front_end in FRONT_ENDS:
        if front_end.takes(model):
            return front_end
    raise UsageError(f"cannot analyse a {type(model).__name__}: give a torch.nn.Module or the path of an .onnx file")


def load(spec: str, device: str = "cpu") -> LoadedModel:
    """The model a model argument names: a zoo name with options, ``file.py:factory``,
    ``package.module:factory`` or an ``.onnx`` file; built on ``device`` (PyTorch models)."""
    for front_end in FRONT_ENDS:
        if front_end.names(spec):
            return front_end.load(spec, device)
    raise UsageError(f"no front end reads {spec!r}")  # pragma: no cover - the torch front end names everything


def analyze(
    model: Any,
    inputs: Any = None,
    *,
    kwargs: dict[str, Any] | None = None,
    conventions: Conventions | None = None,
    until: str | None = None,
    no_grad: bool = True,
    train: bool | None = None,
    strict: bool = False,
    dtype: Any = None,
    name: str | None = None,
    fused: bool = False,
) -> Report:
    """Count parameters, MACs, FLOPs and memory traffic of one forward pass of ``model``.

    ``model`` is an ``nn.Module`` or the path of an ``.onnx`` file. ``inputs`` may be a tensor, a
    tuple or list of tensors (positional arguments), a dict (keyword arguments), a shape string such
    as ``"1x3x224x224"`` or ``["1x128:int64"]``, or shape tuples; ``kwargs`` adds keyword inputs.
    Shapes are made into tensors on the model's device (``meta`` allocates nothing); for an ONNX
    file they size its symbolic dimensions (``docs/onnx.md``). ``until`` stops after the named
    module; ``train`` runs in training (True) or eval (False) mode instead of the model's own.
    With ``strict``, an op without a cost formula raises ``UncountedOpError``; otherwise it is
    listed in ``report.uncounted_ops`` and warned about. With ``fused``, the totals and layers are
    those of the fused program (batch norms folded, element-wise chains fused into their producer)
    and ``report.fusion`` lists the groups, the savings and the unfused totals. The model is run
    once and left unchanged.
    """
    front_end = front_end_for(model)
    request = CaptureRequest(inputs=inputs, kwargs=kwargs, until=until, grad=not no_grad, train=train, dtype=dtype, name=name)
    with gc_paused():  # thousands of small records that all stay alive: collections would only walk them
        graph = front_end.capture(model, request)
        try:
            return analyze_graph(graph, conventions, fused=fused, strict=strict)
        except GraphError as exc:
            if front_end.bad_graph is None:
                raise
            raise front_end.bad_graph(f"{os.fspath(model)}: {exc}") from exc
