"""``analyze_training``: the report of one training step — forward (with the loss), backward and an
optimizer step, each a phase costed by the one pipeline — and its memory by category."""

from __future__ import annotations

from typing import Any

from torch import nn

from howfast.capture.inputs import resolve_inputs
from howfast.capture.training import PHASES, capture_training
from howfast.capture.tree import unique_tensors
from howfast.conventions import Conventions
from howfast.errors import InputSpecError, UsageError
from howfast.pipeline import PhaseGraph, analyze_phases
from howfast.report.report import Report
from howfast.training.memory import training_memory
from howfast.training.step import check_names, loss_function, make_optimizer


def analyze_training(model: nn.Module, inputs: Any = None, *, loss: str = "sum", optimizer: str | None = None,
                     kwargs: dict[str, Any] | None = None, dtype: Any = None, name: str | None = None,
                     conventions: Conventions | None = None, strict: bool = False) -> Report:
    """Count one training step of ``model`` on ``inputs``: the phases ``forward`` (the loss included),
    ``backward`` (the ops autograd really runs, attributed to the module whose forward they
    differentiate) and, with ``optimizer`` (``sgd``, ``momentum``, ``adam``, ``adamw``), ``optimizer``;
    ``report.training`` is the step's memory by category (``docs/training.md``).

    ``loss``: ``sum``, ``mse`` or ``cross_entropy`` (``howfast.training.step``). The model runs in
    training mode; its parameters, gradients, buffers, flags and mode are restored after, and the
    optimizer is made for the step and discarded. A meta model allocates no weights.
    """
    if not isinstance(model, nn.Module):
        raise UsageError(f"analyze_training takes a torch.nn.Module, not a {type(model).__name__}")
    check_names(loss, optimizer)
    if not any(p.requires_grad for _, p in unique_tensors(model, "parameters")):
        raise InputSpecError("no parameter of the model requires grad: there is nothing to train "
                             "(set requires_grad=True on the parameters to train)")
    args, kw = resolve_inputs(model, inputs, kwargs=kwargs, dtype=dtype)
    step = capture_training(model, args, kw, loss_function(loss), make_optimizer(optimizer) if optimizer else None,
                            model_name=name)
    phases = [PhaseGraph(phase, step.graphs[phase]) for phase in PHASES if phase != "optimizer" or optimizer]
    report = analyze_phases(phases, conventions, strict=strict)
    report.training = training_memory(step, loss, optimizer)
    return report
