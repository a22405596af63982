"""Training memory by category, from the tensor lifetimes of the captured step (``docs/training.md``).

Walks the step's ops in execution order (forward, backward, optimizer) as the liveness pass walks a
forward: a storage is allocated by the op that first writes it and freed after the last op that
reads it, the size of a storage being that of the largest tensor seen in it. Held to the end of the
step: the ``.grad`` tensors and the optimizer state; held to the end of backward: the model's output
and the loss (the caller's references). The inputs are live from the start; parameters and buffers
for the whole step. ``saved_activations`` are the storages forward created (or the inputs) that
backward reads: autograd keeps exactly those alive from the end of forward into backward.
"""

from __future__ import annotations

from howfast.capture.training import TrainingCapture
from howfast.graph.records import OpRecord, TensorKind
from howfast.report.training import TrainingMemory

_COUNTED = (TensorKind.ACTIVATION, TensorKind.INPUT)


def training_memory(step: TrainingCapture, loss: str, optimizer: str | None) -> TrainingMemory:
    """The ``training_memory`` section of the captured ``step``."""
    ops, (b0, b1) = step.ops, step.bounds
    sizes = _sizes(step)
    born: dict[int, int] = {t.storage: -1 for t in step.graphs["forward"].inputs if t.kind in _COUNTED}
    creator: dict[int, str] = {s: "" for s in born}
    for s, (module, index) in step.made_in.items():  # made inside a composite function recorded whole
        if s not in born:
            born[s], creator[s] = index, module
    last: dict[int, int] = dict(born)
    for op in ops:
        for t in op.inputs:
            if t.storage in born:
                last[t.storage] = max(last[t.storage], op.index)
        for t in op.outputs:
            if t.kind in _COUNTED and t.storage not in born:
                born[t.storage] = last[t.storage] = op.index
                creator[t.storage] = op.module
    end = len(ops)
    for t in step.outputs:
        if t.storage in last:
            last[t.storage] = max(last[t.storage], b1 - 1)
    for t in step.grads + step.state:
        if t.storage in last:
            last[t.storage] = end
    saved = _saved(ops, born, b0, b1) - {step.outputs[-1].storage}  # the loss: backward's seed reads only its shape
    by_layer: dict[str, int] = {}
    for s in saved:
        where = creator.get(s, "")
        by_layer[where] = by_layer.get(where, 0) + sizes[s]
    peak, at = _peak(born, last, sizes, end)
    base = step.param_bytes + step.buffer_bytes
    layers = {k: v for k, v in by_layer.items() if k} or by_layer
    heaviest = max(layers.items(), key=lambda kv: kv[1]) if layers else ("", 0)
    grads = sum(sizes.get(t.storage, t.nbytes) for t in step.grads)
    at_peak = peak_by_category(step, born, last, sizes, saved, at)
    notes = list(step.notes)
    return TrainingMemory(parameters=step.param_bytes, gradients=grads, optimizer_state=step.state_bytes,
                          saved_activations=sum(sizes[s] for s in saved), peak=base + peak, buffers=step.buffer_bytes,
                          step_counters=step.step_bytes, peak_phase=_phase(at, b0, b1),
                          heaviest_layer=heaviest[0], heaviest_layer_bytes=heaviest[1],
                          saved_by_layer=dict(sorted(by_layer.items(), key=lambda kv: -kv[1])), loss=loss,
                          optimizer=optimizer, notes=notes, peak_by_category=at_peak)


def peak_by_category(step: TrainingCapture, born: dict[int, int], last: dict[int, int], sizes: dict[int, int],
                     saved: set[int], at: int) -> dict[str, int]:
    """What is live at the peak (op ``at``; -1 before the first op), by category: parameters,
    buffers, gradients, optimizer state, saved activations still held, and the rest, temporaries
    (the op's own intermediates, activation gradients, the optimizer's scratch tensors); their sum
    is the peak."""
    grads = {t.storage for t in step.grads}
    state = {t.storage for t in step.state}
    end = len(step.ops)
    parts = {"parameters": step.param_bytes, "buffers": step.buffer_bytes, "gradients": 0, "optimizer_state": 0,
             "saved_activations": 0, "temporaries": 0}
    for s, b in born.items():
        if not b <= at <= min(max(last[s], 0), end) and not (b < 0 and at < 0):
            continue
        kind = ("gradients" if s in grads else "optimizer_state" if s in state
                else "saved_activations" if s in saved else "temporaries")
        parts[kind] += sizes.get(s, 0)
    return parts


def _sizes(step: TrainingCapture) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for t in step.graphs["forward"].inputs:
        sizes[t.storage] = max(sizes.get(t.storage, 0), t.nbytes)
    for op in step.ops:
        for t in op.outputs + tuple(op.inputs):
            sizes[t.storage] = max(sizes.get(t.storage, 0), t.nbytes)
    return sizes


def _saved(ops: list[OpRecord], born: dict[int, int], b0: int, b1: int) -> set[int]:
    """Storages created in forward (or given as inputs) and read by a backward op."""
    return {t.storage for op in ops[b0:b1] for t in op.inputs if t.kind in _COUNTED and born.get(t.storage, -1) < b0}


def _peak(born: dict[int, int], last: dict[int, int], sizes: dict[int, int], end: int) -> tuple[int, int]:
    """The peak of live activation bytes (at an op, its inputs and outputs both live) and where."""
    grow = [0] * (end + 1)
    shrink = [0] * (end + 1)
    live = 0
    for s, b in born.items():
        size = sizes.get(s, 0)  # a composite's inner temporary that no recorded op reads: not seen
        if b < 0:
            live += size
        else:
            grow[b] += size
        shrink[min(max(last[s], 0), end)] += size
    peak, at = live, -1
    for i in range(end):
        live += grow[i]
        if live > peak:
            peak, at = live, i
        live -= shrink[i]
    return peak, at


def _phase(index: int, b0: int, b1: int) -> str:
    return "forward" if index < b0 else "backward" if index < b1 else "optimizer"
