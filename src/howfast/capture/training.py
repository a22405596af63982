"""Capture one training step — forward, loss, ``backward()`` and an optimizer step — as three graphs.

The same recorder as a forward capture (``torch_capture``: a dispatch mode for every aten op, a
function mode for the composite functions, global module hooks for the module stack) stays on while
``loss.backward()`` and ``optimizer.step()`` run, so the ops autograd and the optimizer dispatch are
recorded too, each with its phase (``forward`` — the loss included —, ``backward``, ``optimizer``).
``profiler.*`` ops (``record_function`` markers the optimizers emit) are dropped.

**Which module a backward op belongs to.** No module hook fires during backward, so the forward
leaves a map: after every call the function mode sees (every torch function and tensor method), it
walks the autograd nodes of the call's outputs (``grad_fn`` and its ``next_functions``) that no
earlier call claimed, and claims them for the module executing then (the innermost one on the
stack); an ``AccumulateGrad`` node is claimed for the module that owns its parameter. Each claimed
node gets a pre-hook (``Node.register_prehook``) that makes its module current when the engine runs
it, so the ops it dispatches are attributed to the module whose forward they differentiate. Limits:
ops the engine runs between nodes (summing the gradients of a tensor used twice, the seed
``ones_like`` of the loss) count in the module of the node that ran last (the seed in the model);
nodes created inside C++ (a whole composite function's inner graph) belong to the module of the call
that returned them; a custom ``autograd.Function``'s Python ``backward`` is one node.

**Activation checkpointing** (``checkpoint``: module paths). Each named module's ``forward`` is
replaced, on the model given (``analyze_training`` gives a deep copy), by one that runs the original
through ``torch.utils.checkpoint.checkpoint(..., use_reentrant=False)``, and put back after. Its
recomputation runs inside backward, when a backward node first unpacks a tensor the checkpointed
forward saved: the module hooks fire again then, so while a module is on the stack in backward the
ops count in that module (not in the node running) and are marked as recomputed
(``TrainingCapture.recomputed``); ``ModuleInfo.calls`` counts forward calls only. PyTorch stops the
recomputation (early stop, by raising through the modules' forwards) as soon as every saved tensor is
recomputed, so the stack is cut back when the recomputation returns or raises, and when the next node
starts. The recomputation runs under the function mode again (backward runs inside the mode's handler
of ``loss.backward``, where it is off), so a composite function is recorded whole as in forward; one
the early stop interrupts is recorded as the inner ops that ran.

**Tensor identity.** Autograd unpacks a saved output as a new tensor object sharing the output's
storage, so the tensor table here also knows every storage by its ``StorageImpl`` and gives such a
tensor its storage's id: a forward activation read in backward is recognised as the same memory.

The model is left as it was: parameter values (the optimizer step writes them), ``.grad`` (set to
None for the step, restored after), ``requires_grad`` flags, buffers and training flags are restored;
the optimizer is made here and discarded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.utils.checkpoint
from torch import nn

from howfast.capture.inputs import tensors_in
from howfast.capture.modules import ModuleStack, scripted_notes
from howfast.capture.shadow import Shadows, is_meta_capture
from howfast.capture.torch_capture import (
    COMPOSITE_FUNCTIONS,
    DispatchInterceptor,
    FunctionInterceptor,
    Recorder,
    TensorTable,
    build_graph,
    register_inputs,
    register_weights,
    run_error_message,
)
from howfast.capture.tree import set_training, unique_tensors, unwrap, walk_modules
from howfast.dynamo_free import refs_without_dynamo
from howfast.errors import HowfastError, ModelRunError
from howfast.graph.records import CapturedGraph, OpRecord, TensorKind, TensorMeta

PHASES = ("forward", "backward", "optimizer")


@dataclass(slots=True)
class TrainingCapture:
    """The step's graphs, one per phase, and what the step left behind (gradients, optimizer state).

    ``ops`` is the whole step in execution order (``bounds``: where backward and the optimizer start);
    ``graphs`` the phases' graphs, their ops re-indexed from 0. ``grads`` and ``state`` are the
    ``.grad`` tensors and the optimizer's state tensors after the step (``state_bytes`` as
    ``opt.state`` holds them, step counters included: ``step_bytes``).
    """

    graphs: dict[str, CapturedGraph]
    ops: list[OpRecord]
    bounds: tuple[int, int]
    grads: list[TensorMeta]
    state: list[TensorMeta]
    state_bytes: int
    step_bytes: int
    param_bytes: int
    buffer_bytes: int
    outputs: list[TensorMeta] = field(default_factory=list)
    made_in: dict[int, tuple[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    recomputed: set[int] = field(default_factory=set)  # indices in ``ops`` of forward ops re-run in backward


class _StepTensors(TensorTable):
    """The tensor table, also keyed by storage: a new tensor object on a known storage shares its id."""

    def __init__(self) -> None:
        super().__init__()
        self.storages: dict[int, TensorMeta] = {}
        self.composite: dict[int, TensorMeta] | None = None  # storages made inside the composite running
        self.made_in: dict[int, tuple[str, int]] = {}  # storage -> (module, op index) of those

    def register(self, tensor: torch.Tensor, kind: TensorKind, name: str = "", storage: int | None = None) -> TensorMeta:
        key = storage_key(tensor)
        if storage is None and key is not None and self.composite is not None and key in self.composite:
            storage = self.composite[key].storage  # a composite's result viewing memory its inner ops made
        meta = super().register(tensor, kind, name, storage)
        if key is not None:
            self.storages[key] = meta
            if self.composite is not None:
                self.composite.setdefault(key, meta)
        return meta

    def lookup(self, tensor: torch.Tensor) -> TensorMeta:
        if self._metas.get(tensor) is None:
            key = storage_key(tensor)
            source = self.storages.get(key) if key is not None else None
            if source is not None:
                return self.derive(tensor, source)
        return super().lookup(tensor)


def storage_key(tensor: torch.Tensor) -> int | None:
    """The address of ``tensor``'s ``StorageImpl`` (shared by its views), or None without one."""
    try:
        return int(tensor.untyped_storage()._cdata)
    except (RuntimeError, NotImplementedError, AttributeError, TypeError):
        return None


class _StepModules(ModuleStack):
    """The module stack, with the module of the autograd node running (``override``) during backward,
    unless a module's forward runs again then (a checkpoint's recomputation: ``recomputing``)."""

    override: str | None = None

    @property
    def current(self) -> str:
        return self.override if self.override is not None and len(self.stack) == 1 else self.stack[-1]

    @property
    def recomputing(self) -> bool:
        return self.override is not None and len(self.stack) > 1

    def pre_hook(self, module: nn.Module, args: Any) -> None:
        path = self.paths.get(id(module)) if self.override is not None else None
        before = self.calls.get(path, 0) if path is not None else 0
        super().pre_hook(module, args)
        if path is not None:  # a recomputation is not a call of the forward
            if before:
                self.calls[path] = before
            else:
                self.calls.pop(path, None)

    def truncate(self, depth: int) -> None:
        """Cut the stack back to ``depth`` entries (a recomputation stopped by raising through it)."""
        del self.stack[max(depth, 1):]
        del self.stack_args[max(depth, 1):]

    def enter(self, path: str, args: Any) -> None:
        """Put ``path`` on the stack: a checkpointed module recomputing (its own hooks do not fire)."""
        self.stack.append(path)
        self.stack_args.append(args)


class _StepRecorder(Recorder):
    def __init__(self, tensors: TensorTable, modules: _StepModules) -> None:
        super().__init__(tensors, modules)
        self.step_modules = modules
        self.recomputed: set[int] = set()
        self.stash: list[OpRecord] | None = None  # the inner ops of a composite function recomputing

    def keep_stash(self) -> None:
        """Record the inner ops of the composite function that was recomputing: it stopped inside (the
        recomputation's early stop), so they are what ran."""
        for op in self.stash or []:
            self.recomputed.add(len(self.ops))
            self.ops.append(dataclasses.replace(op, index=len(self.ops)))

    def record(self, name: str, args: tuple, kwargs: dict, margs: tuple, mkwargs: dict, out: Any, alias: Any) -> None:
        if not name.startswith("profiler."):  # record_function markers (``Optimizer.step#AdamW.step``)
            before = len(self.ops)
            super().record(name, args, kwargs, margs, mkwargs, out, alias)
            if self.step_modules.recomputing and not self.suppress:
                self.recomputed.update(range(before, len(self.ops)))


class _InnerOps(DispatchInterceptor):
    """The dispatch mode; inside a composite function (recorded whole) the tensors its inner ops make
    are registered though the ops are not recorded, so the ones autograd saves (SDPA's logsumexp) are
    known memory when backward reads them."""

    def __init__(self, recorder: _StepRecorder, shadows: Shadows | None, tensors: _StepTensors) -> None:
        super().__init__(recorder, shadows)
        self.step = recorder
        self.tensors = tensors

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        rec = self.recorder
        if not rec.suppress:
            return super().__torch_dispatch__(func, types, args, kwargs)
        kwargs = kwargs or {}
        margs, mkwargs = rec.convert(args), {k: rec.convert(v) for k, v in kwargs.items()}
        out = self.call(func, args, kwargs)
        rec.record(rec.aten_name(func), args, kwargs, margs, mkwargs, out, rec.alias_info(func))
        op = rec.ops.pop()
        if self.step.stash is not None:
            self.step.stash.append(op)
        for t in op.new_outputs:
            self.tensors.made_in.setdefault(t.storage, (rec.modules.current, len(rec.ops)))
        return out


class _NodeClaims(FunctionInterceptor):
    """The function mode, claiming the autograd nodes each call made for the module it ran in."""

    def __init__(self, recorder: _StepRecorder, modules: _StepModules, owners: dict[int, str], tensors: _StepTensors) -> None:
        super().__init__(recorder)
        self.step = recorder
        self.modules = modules
        self.tensors = tensors
        self.owners = owners  # id(parameter) -> the module path that holds it
        self.claims: dict[Any, str] = {}
        self.handles: list[Any] = []
        self.active = True

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        outer = COMPOSITE_FUNCTIONS.get(func) is not None and not self.recorder.suppress
        recomputing = outer and self.modules.recomputing
        if outer:
            self.tensors.composite = {}
        if recomputing:
            self.step.stash = []
        try:
            out = super().__torch_function__(func, types, args, kwargs)
        except Exception:
            if recomputing:
                self.step.keep_stash()
            raise
        finally:
            if outer:
                self.tensors.composite = None
            if recomputing:
                self.step.stash = None
        if self.active and torch.is_grad_enabled():
            self.claim(out)
        return out

    def claim(self, out: Any) -> None:
        path = self.modules.current
        todo = [t.grad_fn for t in tensors_in(out) if isinstance(t, torch.Tensor) and t.grad_fn is not None]
        while todo:
            node = todo.pop()
            if node is None or node in self.claims:
                continue
            variable = getattr(node, "variable", None) if type(node).__name__ == "AccumulateGrad" else None
            owner = self.owners.get(id(variable), path) if variable is not None else path
            self.claims[node] = owner
            self.handles.append(node.register_prehook(self._enter(owner)))
            todo.extend(n for n, _ in node.next_functions if n is not None)

    def _enter(self, path: str) -> Callable[[Any], None]:
        def hook(grad_outputs: Any) -> None:
            self.modules.override = path
            self.modules.truncate(1)  # no forward runs when a node starts: what is left was stopped early

        return hook

    def release(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.claims.clear()


def capture_training(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
                     loss_fn: Callable[[Any], torch.Tensor],
                     make_optimizer: Callable[[list[torch.Tensor]], torch.optim.Optimizer] | None = None, *,
                     model_name: str | None = None, checkpoint: Sequence[str] = ()) -> TrainingCapture:
    """Run one training step of ``model`` (in training mode) and capture it phase by phase.

    ``loss_fn`` turns the model's output into the scalar loss (it may raise a ``HowfastError``);
    ``make_optimizer`` builds the optimizer over the parameters that require grad (None: no step);
    ``checkpoint``: the paths of the modules to run under activation checkpointing (their ``forward``
    is replaced for the step and put back after: give a copy of the user's model).
    """
    kwargs = kwargs or {}
    model = unwrap(model)
    tensors = _StepTensors()
    modules = _StepModules(model, None)
    modules.lookup = tensors.lookup
    shadows = Shadows() if is_meta_capture(model, args, kwargs) else None
    if shadows is not None:
        args, kwargs = shadows.seed_inputs(model, args, kwargs)
    register_weights(model, tensors)
    input_metas = register_inputs(args, kwargs, tensors)
    recorder = _StepRecorder(tensors, modules)
    owners = _owners(model)
    claims = _NodeClaims(recorder, modules, owners, tensors)
    saved = _Saved(model)
    bounds = [0, 0]
    result: dict[str, Any] = {}
    try:
        set_training(model, True)
        with checkpointed(model, checkpoint, modules, claims), modules.installed(), claims, _InnerOps(recorder, shadows, tensors), \
                refs_without_dynamo() if shadows is not None else nullcontext():
            with torch.enable_grad():
                try:
                    output = model(*args, **kwargs)
                except Exception as exc:
                    raise ModelRunError(run_error_message(exc, modules, args, kwargs)) from exc
                loss = loss_fn(output)
            claims.active = False
            result["outputs"] = [tensors.lookup(t) for t in tensors_in(output)] + [tensors.lookup(loss)]
            del output
            bounds[0] = len(recorder.ops)
            modules.override = ""
            modules.truncate(1)  # what a forward that raised and was caught left on the stack
            loss.backward()
            modules.override = None
            claims.release()
            del loss
            bounds[1] = len(recorder.ops)
            optimizer = None
            if make_optimizer is not None:
                optimizer = make_optimizer([p for p in _params(model) if p.requires_grad])
                optimizer.step()
            result["grads"] = [tensors.lookup(p.grad) for p in _params(model) if p.grad is not None]
            result["state"], result["state_bytes"], result["step_bytes"] = _state(optimizer, tensors)
    except HowfastError:
        raise
    except Exception as exc:
        raise ModelRunError(f"the training step failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    finally:
        claims.release()
        saved.restore()
    base = build_graph(model, model_name, recorder, modules, input_metas, None)
    graphs = _split(base, recorder.ops, (bounds[0], bounds[1]), result["outputs"], result["grads"])
    notes = scripted_notes(model)
    for graph in graphs.values():
        graph.notes = list(notes)
    return TrainingCapture(graphs=graphs, ops=recorder.ops, bounds=(bounds[0], bounds[1]), grads=result["grads"],
                           state=result["state"], state_bytes=result["state_bytes"], step_bytes=result["step_bytes"],
                           param_bytes=base.param_bytes, buffer_bytes=base.buffer_bytes, outputs=result["outputs"],
                           made_in=dict(tensors.made_in), notes=notes, recomputed=set(recorder.recomputed))


@contextmanager
def checkpointed(model: nn.Module, paths: Sequence[str], modules: _StepModules, claims: _NodeClaims) -> Iterator[None]:
    """The modules at ``paths`` run under ``torch.utils.checkpoint.checkpoint(..., use_reentrant=False)``
    while the block runs: an instance ``forward`` set on each, and removed (or the one it replaced put
    back) after. The recomputation runs under the function mode (``claims``) as the forward did."""
    found = dict(walk_modules(model, remove_duplicate=False))
    replaced: list[tuple[nn.Module, Any]] = []
    try:
        for path in paths:
            module = found[path]
            replaced.append((module, module.__dict__.get("forward", _NONE)))
            module.forward = _checkpointed_forward(path, module.forward, modules, claims)
        yield
    finally:
        for module, before in reversed(replaced):
            if before is _NONE:
                del module.forward
            else:
                module.forward = before


_NONE = object()


def _checkpointed_forward(path: str, forward: Callable[..., Any], modules: _StepModules,
                          claims: _NodeClaims) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        if modules.override is None:  # the forward: the module's hooks put it on the stack
            return forward(*args, **kwargs)
        depth = len(modules.stack)  # the recomputation, from backward: its own hooks do not fire
        modules.enter(path, args)
        try:
            with claims:  # backward runs inside the mode's handler of ``loss.backward``: the mode is off
                return forward(*args, **kwargs)
        finally:
            modules.truncate(depth)

    def checkpointed_forward(*args: Any, **kwargs: Any) -> Any:
        return torch.utils.checkpoint.checkpoint(run, *args, use_reentrant=False, **kwargs)

    return checkpointed_forward


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p for _, p in unique_tensors(model, "parameters")]


def _owners(model: nn.Module) -> dict[int, str]:
    owners: dict[int, str] = {}
    for path, module in walk_modules(model, remove_duplicate=False):
        for p in module._parameters.values():
            if p is not None:
                owners.setdefault(id(p), path)
    return owners


def _state(optimizer: torch.optim.Optimizer | None, tensors: _StepTensors) -> tuple[list[TensorMeta], int, int]:
    """The optimizer's state tensors (each storage once), their bytes, and the bytes of the step counters."""
    if optimizer is None:
        return [], 0, 0
    metas: dict[int, TensorMeta] = {}
    total = steps = 0
    seen: set[int] = set()
    for state in optimizer.state.values():
        for key, value in state.items():
            if not isinstance(value, torch.Tensor) or id(value) in seen:
                continue
            seen.add(id(value))
            nbytes = value.numel() * value.element_size()
            total += nbytes
            if key == "step":
                steps += nbytes
            meta = tensors.lookup(value)
            metas.setdefault(meta.storage, meta)
    return list(metas.values()), total, steps


def _split(base: CapturedGraph, ops: list[OpRecord], bounds: tuple[int, int], outputs: list[TensorMeta],
           grads: list[TensorMeta]) -> dict[str, CapturedGraph]:
    """One graph per phase, ops re-indexed from 0. Forward: the activations backward reads stay live to
    its end (its outputs); backward: they are its inputs, the gradients its outputs."""
    spans = {"forward": ops[:bounds[0]], "backward": ops[bounds[0]:bounds[1]], "optimizer": ops[bounds[1]:]}
    made = {s for op in spans["forward"] for t in op.new_outputs for s in (t.storage,)} | {t.storage for t in base.inputs}
    carried: dict[int, TensorMeta] = {}
    for op in spans["backward"]:
        for t in op.inputs:
            if t.storage in made and not t.is_weight:
                carried.setdefault(t.storage, t)
    handed = list(carried.values())
    graphs: dict[str, CapturedGraph] = {}
    for name, span in spans.items():
        graph = dataclasses.replace(base, ops=[dataclasses.replace(op, index=i) for i, op in enumerate(span)])
        graph.modules = {path: dataclasses.replace(info) for path, info in base.modules.items()}
        if name == "forward":
            graph.outputs = outputs + handed
        elif name == "backward":
            graph.inputs, graph.outputs = base.inputs + handed, list(grads)
        else:
            graph.inputs, graph.outputs = list(grads), []
        graphs[name] = graph
    return graphs


class _Saved:
    """What the step changes on the model, restored by ``restore``: parameter values, ``.grad`` (None
    during the step), ``requires_grad``, buffers (batch-norm statistics) and training flags."""

    def __init__(self, model: nn.Module) -> None:
        self.params = _params(model)
        self.values = [p.detach().clone() if p.device.type != "meta" else None for p in self.params]
        self.grads = [p.grad for p in self.params]
        self.flags = [p.requires_grad for p in self.params]
        self.buffers = [(b, b.detach().clone()) for _, b in unique_tensors(model, "buffers") if b.device.type != "meta"]
        self.modes = [(m, m.training) for _, m in walk_modules(model)]
        for p in self.params:
            p.grad = None

    def restore(self) -> None:
        with torch.no_grad():
            for p, value, grad, flag in zip(self.params, self.values, self.grads, self.flags, strict=True):
                if value is not None:
                    p.copy_(value)
                p.grad = grad
                p.requires_grad_(flag)
            for buffer, copy in self.buffers:
                buffer.copy_(copy)
        for module, mode in self.modes:
            module.training = mode


__all__ = ["PHASES", "TrainingCapture", "capture_training", "storage_key"]
