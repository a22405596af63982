"""A model's module tree as the capture names it, walked without recursion.

* ``walk_modules(model)`` gives ``(path, module)`` in the order of ``nn.Module.named_modules``, with an
  explicit stack instead of nested generators: a tree as deep as PyTorch can run is walked whatever
  Python's recursion limit, and a cycle (a module registered under one of its own descendants, such
  as a back-reference to a parent) is cut where it closes, so every path is finite. With
  ``remove_duplicate=False`` a shared module is listed at every path it has, as ``named_modules``
  does, except through a cycle.
* ``torch.compile`` wrappers are transparent: an ``OptimizedModule`` is not listed, its original
  module (``_orig_mod``) takes the wrapper's path, so ``net._orig_mod.conv`` is ``net.conv`` and a
  compiled model has the tree of the model it compiled.
* ``type_name``: the class name, or a TorchScript module's ``original_name`` (``Conv2d``, not
  ``RecursiveScriptModule``); ``is_scripted`` tells TorchScript modules, whose submodules run inside
  the TorchScript interpreter where no Python hook sees them.
* ``set_training``: ``model.train(mode)``, or on a cyclic tree (where ``train`` would recurse for
  ever) every module's flag directly.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

import torch
from torch import nn


def unwrap(module: nn.Module) -> nn.Module:
    """The module a ``torch.compile`` wrapper compiled (the module itself when it is no wrapper)."""
    while _is_compiled(module):
        inner = module._orig_mod
        assert isinstance(inner, nn.Module)  # _is_compiled checked it
        module = inner
    return module


def _wrapper_type() -> type | None:
    """``OptimizedModule``, the class of ``torch.compile``'s wrappers, once dynamo is loaded (a compiled
    module means it was); None before."""
    dynamo = sys.modules.get("torch._dynamo.eval_frame")
    wrapper = getattr(dynamo, "OptimizedModule", None) if dynamo is not None else None
    return wrapper if isinstance(wrapper, type) else None


def _is_compiled(module: nn.Module) -> bool:
    wrapper = _wrapper_type()
    return wrapper is not None and isinstance(module, wrapper) and isinstance(getattr(module, "_orig_mod", None), nn.Module)


def walk_modules(model: nn.Module, remove_duplicate: bool = True) -> Iterator[tuple[str, nn.Module]]:
    """``(path, module)`` for ``model`` and every submodule, pre-order, as ``named_modules`` lists them."""
    seen: set[int] = set()
    root = unwrap(model)
    wrapper = _wrapper_type()  # looked up once: a child that is no wrapper needs no ``unwrap``
    if remove_duplicate:
        seen.add(id(root))
    yield "", root
    stack = [("", iter(root._modules.items()))]
    open_ids = [id(root)]  # the modules on the path to the current one
    while stack:
        prefix, children = stack[-1]
        for name, child in children:
            if child is None:
                continue
            if wrapper is not None and isinstance(child, wrapper):
                child = unwrap(child)
            key = id(child)
            if key in open_ids or (remove_duplicate and key in seen):
                continue
            seen.add(key)
            path = f"{prefix}.{name}" if prefix else name
            yield path, child
            if child._modules:
                stack.append((path, iter(child._modules.items())))
                open_ids.append(key)
                break
        else:
            stack.pop()
            open_ids.pop()


def has_cycle(model: nn.Module) -> bool:
    """Whether a module of ``model`` is registered under one of its own descendants."""
    stack = [(unwrap(model), iter(unwrap(model)._modules.values()))]
    open_ids = {id(stack[0][0])}
    done: set[int] = set()
    while stack:
        module, children = stack[-1]
        for child in children:
            if child is None:
                continue
            child = unwrap(child)
            if id(child) in open_ids:
                return True
            if id(child) in done:
                continue
            open_ids.add(id(child))
            stack.append((child, iter(child._modules.values())))
            break
        else:
            stack.pop()
            open_ids.discard(id(module))
            done.add(id(module))
    return False


class ModelTree:
    """A model's tree walked once, for the several readers of one capture (the module stack, the
    weights, the packed weights, the training flags, the module table): ``every`` path as
    ``walk_modules(model, remove_duplicate=False)`` lists them, ``unique`` each module once at its first
    path, as ``walk_modules(model)`` lists them (a shared module's subtree, skipped there, holds only
    modules already listed), and the parameters and buffers as ``unique_tensors`` names them.

    A snapshot: a tree that the run changes (a lazy module's new parameters) is walked again after it."""

    __slots__ = ("every", "unique", "_tensors")

    def __init__(self, model: nn.Module) -> None:
        self.every = list(walk_modules(model, remove_duplicate=False))
        seen: set[int] = set()
        self.unique: list[tuple[str, nn.Module]] = []
        for path, module in self.every:
            if id(module) not in seen:
                seen.add(id(module))
                self.unique.append((path, module))
        self._tensors: dict[str, list[tuple[str, torch.Tensor]]] = {}

    def tensors(self, kind: str) -> list[tuple[str, torch.Tensor]]:
        """``unique_tensors(model, kind)``, found once (a new list each call)."""
        found = self._tensors.get(kind)
        if found is None:
            found = self._tensors[kind] = named_tensors(self.unique, kind)
        return list(found)


def unique_tensors(model: nn.Module, kind: str) -> list[tuple[str, torch.Tensor]]:
    """``(dotted name, tensor)`` of every parameter (``kind="parameters"``) or buffer
    (``"buffers"``) of ``model``, each once, named as ``named_parameters`` names them."""
    return named_tensors(walk_modules(model), kind)


def named_tensors(modules: Iterable[tuple[str, nn.Module]], kind: str) -> list[tuple[str, torch.Tensor]]:
    """``unique_tensors`` of the modules ``walk_modules`` lists (``modules``)."""
    seen: set[int] = set()
    found: list[tuple[str, torch.Tensor]] = []
    for path, module in modules:
        table = module._parameters if kind == "parameters" else module._buffers
        if not table:  # most modules (activations, containers) hold none of their own
            continue
        for name, tensor in table.items():
            if tensor is None or id(tensor) in seen:
                continue
            seen.add(id(tensor))
            found.append((f"{path}.{name}" if path else name, tensor))
    return found


def is_scripted(module: nn.Module) -> bool:
    """Whether ``module`` is a TorchScript module (``torch.jit.script`` or ``torch.jit.trace``)."""
    return isinstance(module, torch.jit.ScriptModule)


def type_name(module: nn.Module) -> str:
    """The module's class name; for a TorchScript module, the name of the class it was made from."""
    if is_scripted(module):
        original = getattr(module, "original_name", None)
        if isinstance(original, str) and original:
            return original
    return type(module).__name__


def set_training(model: nn.Module, mode: bool) -> None:
    """``model.train(mode)``; on a cyclic tree, where that recursion never ends, each module's flag."""
    if has_cycle(model):
        for _, module in walk_modules(model):
            module.training = mode
        return
    model.train(mode)
