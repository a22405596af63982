"""A measurement leaves the model as it found it: the buffers a training-mode forward updates in
place (batch-norm running statistics and ``num_batches_tracked``) and every module's mode are
copied before the timed runs and put back after, also when a run raises. ``howfast.analyze`` and
``fold`` give the same guarantee (``capture/torch_capture.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch
from torch import nn


@contextmanager
def model_kept(model: nn.Module) -> Iterator[None]:
    """``model``'s buffers (when any module is in training mode: only then does a forward change
    them) and modes, restored when the block ends, however it ends."""
    modes = [(module, module.training) for module in model.modules()]
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    if any(training for _, training in modes):
        seen: set[int] = set()
        for buffer in model.buffers():
            if id(buffer) not in seen and buffer.device.type != "meta":
                seen.add(id(buffer))
                saved.append((buffer, buffer.detach().clone()))
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, copy in saved:
                buffer.copy_(copy)
        for module, training in modes:
            module.training = training


@contextmanager
def models_kept(models: list[nn.Module]) -> Iterator[None]:
    """``model_kept`` for each distinct model of ``models``."""
    with ExitStack() as stack:
        distinct = {id(m): m for m in models}
        for model in distinct.values():
            stack.enter_context(model_kept(model))
        yield
