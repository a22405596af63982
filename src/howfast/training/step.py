"""The loss and the optimizer of a training step, by name (``analyze_training``'s ``loss`` and ``optimizer``).

Losses, of the model's output (a tensor, or the ``logits`` of a Hugging Face output, or the first
tensor of a tuple): ``sum`` (the output summed), ``mse`` (mean squared error against zeros shaped
like the output), ``cross_entropy`` (against class 0 for every row: ``(N, C)`` logits, or ``(N, T, V)``
language-model logits flattened to ``(N x T, V)``). Optimizers (``torch.optim``, the multi-tensor
``foreach`` implementation, which GPUs use by default): ``sgd`` (lr 0.01), ``momentum`` (SGD, lr 0.01,
momentum 0.9), ``adam`` and ``adamw`` (their defaults).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from howfast.errors import InputSpecError, UsageError

LOSSES = ("sum", "mse", "cross_entropy")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")


def check_names(loss: str, optimizer: str | None) -> None:
    """Refuse an unknown loss or optimizer name (``UsageError``)."""
    if loss not in LOSSES:
        raise UsageError(f"unknown loss {loss!r}: use one of {', '.join(LOSSES)}")
    if optimizer is not None and optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {optimizer!r}: use one of {', '.join(OPTIMIZERS)} (or none)")


def loss_function(loss: str) -> Callable[[Any], torch.Tensor]:
    """The function from the model's output to the scalar loss named ``loss``."""
    check_names(loss, None)

    def apply(output: Any) -> torch.Tensor:
        y = output_tensor(output, loss)
        if loss == "sum":
            return y.sum()
        if loss == "mse":
            return F.mse_loss(y, torch.zeros_like(y))
        if y.dim() == 3:
            y = y.reshape(-1, y.shape[-1])
        if y.dim() != 2:
            raise InputSpecError(f"loss cross_entropy needs (N, C) or (N, T, V) logits, but the output is {_shape(y)}: "
                                 "use loss='sum' or 'mse'")
        return F.cross_entropy(y, torch.zeros(y.shape[0], dtype=torch.long, device=y.device))

    return apply


def output_tensor(output: Any, loss: str) -> torch.Tensor:
    """The tensor the loss applies to: the output, its ``logits``, or its first tensor element."""
    found: Any = output
    if not isinstance(found, torch.Tensor):
        logits = getattr(output, "logits", None) if not isinstance(output, dict) else output.get("logits")
        if isinstance(logits, torch.Tensor):
            found = logits
        elif isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
            found = output[0]
    if not isinstance(found, torch.Tensor):
        raise InputSpecError(f"the model returned a {type(output).__name__}, not a tensor (nor logits, nor a tuple "
                             f"starting with one): loss {loss!r} cannot apply")
    if not (found.dtype.is_floating_point or found.dtype.is_complex) or found.grad_fn is None and not found.requires_grad:
        raise InputSpecError(f"the model's output ({_shape(found)}) does not depend on any parameter that requires grad: "
                             "nothing to differentiate")
    return found


def make_optimizer(name: str) -> Callable[[list[torch.Tensor]], torch.optim.Optimizer]:
    """The factory of the optimizer named ``name`` over a list of parameters."""
    check_names("sum", name)

    def build(params: list[torch.Tensor]) -> torch.optim.Optimizer:
        if name == "sgd":
            return torch.optim.SGD(params, lr=0.01, foreach=True)
        if name == "momentum":
            return torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=True)
        if name == "adam":
            return torch.optim.Adam(params, foreach=True)
        return torch.optim.AdamW(params, foreach=True)

    return build


def _shape(t: torch.Tensor) -> str:
    return "x".join(str(s) for s in t.shape) + f":{str(t.dtype).removeprefix('torch.')}"
