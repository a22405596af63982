"""``analyze_training``: the report of one training step — forward (with the loss), backward and an
optimizer step, each a phase costed by the one pipeline — and its memory by category; with
``checkpoint``, the step under activation checkpointing (``training.checkpoint``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from howfast.capture.inputs import resolve_inputs
from howfast.capture.training import PHASES, capture_training
from howfast.capture.tree import unique_tensors, unwrap
from howfast.conventions import Conventions
from howfast.errors import InputSpecError, UsageError
from howfast.pipeline import PhaseGraph, analyze_phases
from howfast.report.report import Report
from howfast.training.checkpoint import checkpoint_figures, checkpoint_names, checkpoint_paths, copy_model
from howfast.training.memory import training_memory
from howfast.training.step import check_names, loss_function, make_optimizer


def analyze_training(model: nn.Module, inputs: Any = None, *, loss: str = "sum", optimizer: str | None = None,
                     kwargs: dict[str, Any] | None = None, dtype: Any = None, name: str | None = None,
                     conventions: Conventions | None = None, strict: bool = False,
                     checkpoint: str | Sequence[str] | None = None) -> Report:
    """Count one training step of ``model`` on ``inputs``: the phases ``forward`` (the loss included),
    ``backward`` (the ops autograd really runs, attributed to the module whose forward they
    differentiate) and, with ``optimizer`` (``sgd``, ``momentum``, ``adam``, ``adamw``), ``optimizer``;
    ``report.training`` is the step's memory by category (``docs/training.md``).

    ``loss``: ``sum``, ``mse`` or ``cross_entropy`` (``howfast.training.step``). The model runs in
    training mode; its parameters, gradients, buffers, flags and mode are restored after, and the
    optimizer is made for the step and discarded. A meta model allocates no weights.

    ``checkpoint``: module class names (``"GPT2Block"``, a comma-separated list or a sequence): the
    step runs on a deep copy of the model with those modules under activation checkpointing
    (``torch.utils.checkpoint``, non-reentrant), its recomputation counted in backward, and
    ``report.training.checkpoint`` sets its figures beside the same step without checkpointing.
    """
    if not isinstance(model, nn.Module):
        raise UsageError(f"analyze_training takes a torch.nn.Module, not a {type(model).__name__}")
    check_names(loss, optimizer)
    if not any(p.requires_grad for _, p in unique_tensors(model, "parameters")):
        raise InputSpecError("no parameter of the model requires grad: there is nothing to train "
                             "(set requires_grad=True on the parameters to train)")
    names = checkpoint_names(checkpoint)
    paths = checkpoint_paths(unwrap(model), names) if names else []
    args, kw = resolve_inputs(model, inputs, kwargs=kwargs, dtype=dtype)
    make = make_optimizer(optimizer) if optimizer else None
    plain = None
    if paths:
        plain = training_memory(capture_training(model, args, kw, loss_function(loss), make, model_name=name), loss, optimizer)
        runner = copy_model(unwrap(model))
    else:
        runner = model
    step = capture_training(runner, args, kw, loss_function(loss), make, model_name=name, checkpoint=paths)
    phases = [PhaseGraph(phase, step.graphs[phase]) for phase in PHASES if phase != "optimizer" or optimizer]
    report = analyze_phases(phases, conventions, strict=strict)
    report.training = training_memory(step, loss, optimizer)
    if plain is not None:
        report.training.checkpoint = checkpoint_figures(names, paths, step, report, plain, report.training)
    return report
