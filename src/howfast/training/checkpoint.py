"""Activation checkpointing of a training step: which modules, and what it costs and saves
(``analyze_training(checkpoint=...)``, ``howfast analyze --backward --checkpoint``; ``docs/training.md``).

The modules are named by class (``"GPT2Block"``, or several); every module of one of those classes
is checkpointed, but one inside another already checkpointed is not checkpointed again (the outer
recomputation re-runs it). The step runs on a ``copy.deepcopy`` of the model, whose named modules'
``forward`` the capture replaces by ``torch.utils.checkpoint.checkpoint(forward, ...,
use_reentrant=False)`` (``capture/training.py``): the user's model, its modules and their ``forward``
are never touched. The same step without checkpointing is captured too (on the model itself, left
as it was), for the saved activations and peak it would have.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Sequence

from torch import nn

from howfast.capture.training import TrainingCapture
from howfast.capture.tree import is_scripted, type_name, walk_modules
from howfast.errors import ModelRunError, UsageError
from howfast.report.report import Report
from howfast.report.training import CheckpointFigures, TrainingMemory


def checkpoint_names(checkpoint: str | Sequence[str] | None) -> list[str]:
    """The class names asked for: a name, a comma-separated list, or a sequence of those; each once."""
    if checkpoint is None:
        return []
    items = [checkpoint] if isinstance(checkpoint, str) else list(checkpoint)
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise UsageError(f"checkpoint takes module class names, not a {type(item).__name__}")
        for name in item.split(","):
            if name.strip() and name.strip() not in names:
                names.append(name.strip())
    return names


def checkpoint_paths(model: nn.Module, names: Sequence[str]) -> list[str]:
    """The paths of the outermost modules of ``model`` whose class is one of ``names``; a name no module
    has is refused (``UsageError``, with the model's nearest class names)."""
    modules = list(walk_modules(model))
    classes = list(dict.fromkeys(type_name(m) for _, m in modules))
    missing = [n for n in names if n not in classes]
    if missing:
        near = [c for n in missing for c in difflib.get_close_matches(n, classes, n=3, cutoff=0.3)]
        shown = ", ".join(dict.fromkeys(near)) if near else ", ".join(classes[:8]) + (" ..." if len(classes) > 8 else "")
        raise UsageError(f"no module of class {', '.join(repr(n) for n in missing)} in the model to checkpoint; "
                         f"{'nearest' if near else 'its classes'}: {shown}")
    paths: list[str] = []
    for path, module in modules:
        if type_name(module) not in names or any(_inside(path, outer) for outer in paths):
            continue
        if is_scripted(module):
            raise UsageError(f"module {path or '(the model)'!r} ({type_name(module)}) is TorchScript: its forward cannot be "
                             "checkpointed")
        paths.append(path)
    return paths


def _inside(path: str, outer: str) -> bool:
    return outer == "" or path.startswith(outer + ".")


def copy_model(model: nn.Module) -> nn.Module:
    """The deep copy the checkpointed step runs on (``ModelRunError`` when the model cannot be copied)."""
    try:
        return copy.deepcopy(model)
    except Exception as exc:
        raise ModelRunError(f"checkpointing runs the step on a copy of the model, and copy.deepcopy failed: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc


def checkpoint_figures(names: Sequence[str], paths: Sequence[str], step: TrainingCapture, report: Report,
                       plain: TrainingMemory, memory: TrainingMemory) -> CheckpointFigures:
    """The ``training_memory.checkpoint`` section: the recomputation (the ops of ``step`` marked as
    recomputed, as the backward phase of ``report`` costs them) and the memory of the ``plain`` step
    beside the checkpointed one (``memory``)."""
    b0, b1 = step.bounds
    indices = {i - b0 for i in step.recomputed if b0 <= i < b1}
    backward = next(p for p in report.phases if p.name == "backward")
    rows = [op for op in backward.ops if op.index in indices]
    by_layer: dict[str, int] = {}
    for op in rows:
        by_layer[op.module] = by_layer.get(op.module, 0) + op.flops
    return CheckpointFigures(types=list(names), modules=list(paths), recompute_flops=sum(op.flops for op in rows),
                             recompute_macs=sum(op.macs for op in rows), recompute_ops=len(rows),
                             saved_without=plain.saved_activations, saved_with=memory.saved_activations,
                             peak_without=plain.peak, peak_with=memory.peak,
                             recompute_by_layer=dict(sorted(by_layer.items(), key=lambda kv: -kv[1])))
