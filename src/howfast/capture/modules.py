"""Which module the model is executing in, for attributing each op, and the module tree it reports.

``ModuleStack`` keeps the stack of module paths through global forward hooks. The hooks are global
(they fire for every module call in the process), so the stack belongs to the thread that captures:
calls from any other thread — a second analysis of the same model, or the model run beside the
analysis — are ignored, as the dispatch and function modes (thread-local in PyTorch) already ignore
their ops.

With a global hook registered, PyTorch calls every module through one more Python frame
(``Module._call_impl`` runs an inner function), so a capture would run out of recursion depth on a
tree shallower than PyTorch alone runs; ``recursion_headroom`` raises the limit by that much while a
capture runs (shared by concurrent captures, restored by the last).

``module_infos`` lists the tree (``capture.tree``: compile wrappers transparent, TorchScript class
names) with the calls, output shapes and parameters of each module; ``scripted_notes`` says where
TorchScript hides the submodules' calls, so that per-layer attribution there is not silently missing.
The messages of a failed run (``run_error_message``, and for ``until``) name the module it was in.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from howfast.capture.inputs import tensors_in
from howfast.capture.tree import ModelTree, is_scripted, type_name, walk_modules
from howfast.errors import first_line
from howfast.graph.records import ModuleInfo, TensorMeta, ancestors


class StopCapture(Exception):
    """Raised after the module named by ``until`` finishes, to end the run early."""


class ModuleStack:
    """Tracks the module path the capturing thread is executing in, via global forward hooks."""

    def __init__(self, model: nn.Module, until: str | None, tree: ModelTree | None = None) -> None:
        self.thread = threading.get_ident()
        self.paths: dict[int, str] = {}
        self.walked = tree.every if tree is not None else list(walk_modules(model, remove_duplicate=False))
        for name, module in self.walked:
            self.paths.setdefault(id(module), name)
        self.stack: list[str] = [""]
        self.stack_args: list[Any] = [()]  # inputs of each module on the stack, for error messages
        self.until = until
        self.calls: dict[str, int] = {}
        self.output_shapes: dict[str, list[tuple[int, ...]]] = {}
        self.reached_until = False
        self.until_outputs: list[TensorMeta] = []
        self.lookup: Any = None  # the tensor table's lookup, for the outputs of ``until``

    def type_at(self, path: str) -> str:
        """The class name of the module at ``path`` (for a failed run's message only: not looked up before)."""
        for name, module in self.walked:
            if name == path:
                return type_name(module)
        return "?"

    @property
    def current(self) -> str:
        return self.stack[-1]

    def pre_hook(self, module: nn.Module, args: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        path = self.paths.get(id(module))
        if path is not None:
            self.stack.append(path)
            self.stack_args.append(args)
            self.calls[path] = self.calls.get(path, 0) + 1

    def post_hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        path = self.paths.get(id(module))
        stack = self.stack
        if path is None or (stack[-1] != path and path not in stack[1:]) or len(stack) == 1:
            return
        while stack.pop() != path:  # a submodule raised and the model caught it
            self.stack_args.pop()
        self.stack_args.pop()
        self.output_shapes[path] = [tuple(output.shape)] if isinstance(output, torch.Tensor) else [tuple(t.shape) for t in tensors_in(output)]
        if self.until is not None and path == self.until and not self.reached_until:
            self.reached_until = True
            self.until_outputs = [self.lookup(t) for t in tensors_in(output)]
            raise StopCapture(path)

    @contextmanager
    def installed(self) -> Iterator[None]:
        pre = nn.modules.module.register_module_forward_pre_hook(self.pre_hook)
        # No always_call: if a forward raises, the stack keeps the failing module for the message.
        post = nn.modules.module.register_module_forward_hook(self.post_hook)
        try:
            with recursion_headroom():
                yield
        finally:
            pre.remove()
            post.remove()


_headroom_lock = threading.Lock()
_headroom: dict[str, int] = {"users": 0, "saved": 0}


@contextmanager
def recursion_headroom() -> Iterator[None]:
    """Python's recursion limit raised while a capture runs, for the frame PyTorch adds to each module
    call once a hook is registered (a third more than the limit, since a module call takes about four
    frames, and a margin for the modes' own frames)."""
    with _headroom_lock:
        if _headroom["users"] == 0:
            _headroom["saved"] = sys.getrecursionlimit()
            sys.setrecursionlimit(_headroom["saved"] + _headroom["saved"] // 3 + 64)
        _headroom["users"] += 1
    try:
        yield
    finally:
        with _headroom_lock:
            _headroom["users"] -= 1
            if _headroom["users"] == 0:
                sys.setrecursionlimit(_headroom["saved"])


def module_infos(model: nn.Module, modules: ModuleStack, tree: ModelTree | None = None) -> dict[str, ModuleInfo]:
    """The module table, from ``tree`` (the model's tree walked after the run) when given."""
    tree = tree if tree is not None else ModelTree(model)
    infos: dict[str, ModuleInfo] = {}
    calls, shapes = modules.calls, modules.output_shapes
    for path, module in tree.unique:
        infos[path] = ModuleInfo(path=path, type=type_name(module), depth=0 if path == "" else path.count(".") + 1,
                                 calls=calls.get(path, 0), output_shapes=shapes.get(path, []))
    # A module's params: those it or its submodules hold, each once (a tied weight counts in
    # every module that holds it, and once in their common ancestors).
    owned = [(owner, [p for p in module._parameters.values() if p is not None])
             for owner, module in tree.every if module._parameters]
    owned = [(owner, params) for owner, params in owned if params]
    for path, (count, nbytes) in _held(owned).items():
        if path in infos:
            infos[path].params = count
            infos[path].param_bytes = nbytes
    return infos


def _held(owned: Sequence[tuple[str, Sequence[torch.Tensor]]]) -> dict[str, tuple[int, int]]:
    """(elements, bytes) of the distinct parameters each path and its descendants hold, from each
    holder's path and own parameters. When no parameter has two holders, a sum per holder; else a
    set per path, so that a tied weight counts once where its holders meet."""
    ids = [id(p) for _, params in owned for p in params]
    sums: dict[str, list[int]] = {}
    if len(ids) == len(set(ids)):
        for owner, params in owned:
            count = sum(p.numel() for p in params)
            nbytes = sum(p.numel() * p.element_size() for p in params)
            for path in ancestors(owner):
                total = sums.setdefault(path, [0, 0])
                total[0] += count
                total[1] += nbytes
        return {path: (total[0], total[1]) for path, total in sums.items()}
    held: dict[str, dict[int, torch.Tensor]] = {}
    for owner, params in owned:
        for path in ancestors(owner):
            bucket = held.setdefault(path, {})
            for p in params:
                bucket[id(p)] = p
    return {path: (sum(p.numel() for p in params.values()), sum(p.numel() * p.element_size() for p in params.values()))
            for path, params in held.items()}


def scripted_notes(model: nn.Module, tree: ModelTree | None = None) -> list[str]:
    """One note for each outermost TorchScript module that has submodules: their calls are not seen."""
    notes: list[str] = []
    scripted: list[str] = []
    for path, module in (tree.unique if tree is not None else walk_modules(model)):
        if not is_scripted(module) or not module._modules or any(path == s or path.startswith(f"{s}.") for s in scripted):
            continue
        scripted.append(path)
        where = "the model" if path == "" else f"module {path!r}"
        notes.append(f"{where} is TorchScript ({type_name(module)}): its submodules run in the TorchScript interpreter, which "
                     "no hook sees, so per-layer attribution is unavailable inside it; its ops count in "
                     f"{'the model' if path == '' else repr(path)} as a whole (the totals are complete): analyse the "
                     "module before torch.jit.script/trace for its layers")
    return notes


# ---------------------------------------------------------------------------------------------- messages


def run_error_message(exc: Exception, modules: ModuleStack, args: tuple, kwargs: dict) -> str:
    where = modules.current
    if where:
        path = where if len(where) <= 160 else f"...{where[-157:]}"  # a deep tree's path, its innermost part
        where = f"{path} ({modules.type_at(where)})"
        shapes = ", ".join(shape_text(v) for v in modules.stack_args[-1])
    else:
        where = "<model>"
        shapes = ", ".join(shape_text(v) for v in list(args) + list(kwargs.values()))
    return f"the model failed in module {where} with inputs ({shapes}): {type(exc).__name__}: {first_line(exc)}"


def shape_text(value: Any) -> str:
    tensors = tensors_in(value)
    if not tensors:
        return repr(value)
    return ", ".join("x".join(str(s) for s in t.shape) + f":{str(t.dtype).removeprefix('torch.')}" for t in tensors)


def never_ran_message(until: str, modules: ModuleStack) -> str:
    ran = [path for path in modules.calls if path]
    shown = ", ".join(ran[:8]) + (f" and {len(ran) - 8} more" if len(ran) > 8 else "")
    return (f"layer {until!r} never ran: the model has it but its forward did not call it, so there is nothing to stop "
            f"after (the layers that ran: {shown or 'none'})")


def unknown_layer_message(name: str, paths: list[str]) -> str:
    import difflib

    near = difflib.get_close_matches(name, [p for p in paths if p], n=5, cutoff=0.4)
    hint = f"; nearest: {', '.join(near)}" if near else ""
    return f"no layer named {name!r} in the model{hint}"
