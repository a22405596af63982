"""``--backward``, ``--loss`` and ``--optimizer``, shared by ``howfast analyze`` and ``howfast bench``
(a training step: ``docs/training.md``), and ``--checkpoint`` (``analyze`` only: activation
checkpointing of the named module classes).

The names are checked by ``training.step.check_names`` rather than by click, so an unknown one is
one line (``howfast: error: unknown optimizer 'lion': use one of sgd, momentum, adam, adamw``, exit 2)
like every other usage error, and not click's usage text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from howfast.errors import UsageError
from howfast.training.step import LOSSES, OPTIMIZERS, check_names


def training_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--backward, --loss and --optimizer."""
    command = click.option("--optimizer", metavar="|".join(OPTIMIZERS),
                           help="With --backward: add one optimizer step (torch.optim, foreach): sgd (lr 0.01), momentum "
                                "(SGD, momentum 0.9), adam, adamw. Default: none.")(command)
    command = click.option("--loss", metavar="|".join(LOSSES),
                           help="With --backward: the loss of the model's output: sum (default), mse (against zeros), "
                                "cross_entropy (against class 0; (N, C) or (N, T, V) logits).")(command)
    return click.option("--backward", is_flag=True,
                        help="A training step: forward, the loss, backward() and --optimizer's step (analyze: phase by "
                             "phase, with the memory by category; bench: timed on a copy of the model, with its MFU).")(command)


def training_names(backward: bool, loss: str | None, optimizer: str | None) -> str:
    """The loss (``sum`` by default), after checking the names; ``--loss``/``--optimizer`` without
    ``--backward`` are refused (UsageError)."""
    if not backward and (loss is not None or optimizer is not None):
        raise UsageError("--loss and --optimizer describe a training step: add --backward")
    chosen = loss if loss is not None else "sum"
    check_names(chosen, optimizer)
    return chosen


def checkpoint_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """--checkpoint MODULE_TYPE (repeatable, or comma-separated)."""
    return click.option("--checkpoint", "checkpoint", metavar="MODULE_TYPE", multiple=True,
                        help="With --backward: run the step with every module of this class (e.g. GPT2Block; repeat or "
                             "comma-separate for several) under activation checkpointing, on a copy of the model: the "
                             "recomputation's FLOPs and the saved activations with and without it.")(command)


def checkpoint_classes(backward: bool, checkpoint: tuple[str, ...]) -> list[str] | None:
    """The class names of ``--checkpoint`` (None without it); refused without ``--backward`` (UsageError)."""
    if not checkpoint:
        return None
    if not backward:
        raise UsageError("--checkpoint checkpoints the blocks of a training step: add --backward")
    return list(checkpoint)
