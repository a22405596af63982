"""A model's inputs as the PyTorch capture runs them: tensors, or shapes made into tensors.

``resolve_inputs(model, inputs, kwargs=..., dtype=...)`` takes what ``howfast.analyze`` accepts —
a tensor, a tuple or list of tensors (positional arguments), a dict (keyword arguments), a shape
string (``"1x3x224x224"``, ``["1x128:int64"]``), ``InputSpec``s or shape tuples — and returns the
positional and keyword arguments to call the model with. Shapes become tensors on the model's
device (``meta`` allocates nothing), floats in ``dtype`` or the model's own float dtype.

Values of tensors made from shapes: floats standard normal; integers zeros (a valid index for any
embedding), except that an integer input whose name contains ``mask`` (``attention_mask``,
``decoder_attention_mask``) is all ones (keep every position: the usual meaning of a 1 in such a mask);
booleans True. ``filled_like`` gives the same values for an integer or boolean tensor, which is how a
meta capture gives its small integer and boolean inputs real values (``capture.shadow``).

Shapes are checked before any tensor is made (``graph.inputs.check_allocation``): inputs that cannot
fit in the memory the device has free are refused with the figure. A tuple-like value that is one
argument (a named tuple such as a ``PackedSequence``) stays one argument; a keyword given both as a
shape and in ``kwargs`` is refused.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from howfast.capture.tree import walk_modules
from howfast.errors import InputSpecError
from howfast.graph.inputs import InputSpec, check_allocation, check_unique_names, parse_inputs


def resolve_inputs(model: nn.Module, inputs: Any, *, kwargs: dict[str, Any] | None = None,
                   dtype: torch.dtype | None = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments for ``model`` from ``inputs`` and ``kwargs``."""
    if inputs is None:
        if not kwargs:
            raise InputSpecError("no inputs given: pass a tensor, a tuple of tensors, a dict, or a shape such as '1x3x224x224'")
        inputs = ()
    args, kw = _arguments(model, inputs, dtype)
    for name in kwargs or {}:
        if name in kw:
            raise InputSpecError(f"keyword input {name!r} is given twice (in the inputs and in kwargs): give it once")
    kw.update(kwargs or {})
    return args, kw


def _arguments(model: nn.Module, inputs: Any, dtype: torch.dtype | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(inputs, torch.Tensor) or is_one_argument(inputs):
        return (inputs,), {}
    if isinstance(inputs, dict):
        return _keywords(model, inputs, dtype)
    specs = as_specs(inputs)
    if specs is not None:
        check_unique_names(specs)
        device, default_dtype = model_device_dtype(model)
        check_allocation(specs, device, dtype or default_dtype)
        made = [(spec.name, _make(spec, spec.name or f"input{i}", device, dtype or default_dtype)) for i, spec in enumerate(specs)]
        return tuple(t for name, t in made if name is None), {name: t for name, t in made if name is not None}
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    return (inputs,), {}


def is_one_argument(value: Any) -> bool:
    """Whether a tuple-like ``value`` is one argument rather than several: a named tuple (a
    ``PackedSequence``, a ``collections.namedtuple``) is passed whole."""
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _keywords(model: nn.Module, inputs: dict[str, Any], dtype: torch.dtype | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Keyword inputs: a tensor (or any value) as it is; a shape (``"2x64:int64"``, ``(2, 64)``, an
    ``InputSpec``) made into a tensor as positional shapes are, all checked before any is made."""
    device, default_dtype = model_device_dtype(model)
    specs: dict[str, InputSpec] = {}
    for name, value in inputs.items():
        found = as_specs(value) if isinstance(value, (str, InputSpec, tuple)) and not is_one_argument(value) else None
        if found is None:
            continue
        if len(found) != 1:
            raise InputSpecError(f"keyword input {name!r} takes one shape, got {len(found)}")
        specs[name] = InputSpec(shape=found[0].shape, dtype=found[0].dtype, name=name)
    check_allocation(list(specs.values()), device, dtype or default_dtype)
    return (), {name: _make(specs[name], name, device, dtype or default_dtype) if name in specs else value
                for name, value in inputs.items()}


def is_mask_name(name: str) -> bool:
    """Whether an input called ``name`` is a mask whose integer form keeps a position with a 1."""
    return "mask" in name.lower()


def filled_like(tensor: torch.Tensor, name: str, device: str | torch.device = "cpu") -> torch.Tensor:
    """A tensor shaped like the integer or boolean ``tensor`` holding the values an input called
    ``name`` gets when made from a shape: True, ones for a mask, zeros otherwise."""
    fill = 1 if tensor.dtype == torch.bool or is_mask_name(name) else 0
    return torch.full(tuple(tensor.shape), fill, dtype=tensor.dtype, device=device)


def _make(spec: InputSpec, name: str, device: torch.device, default_dtype: torch.dtype) -> torch.Tensor:
    tensor = spec.make(device, default_dtype)
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex:
        return tensor
    return filled_like(tensor, name, device)


def as_specs(inputs: Any) -> list[InputSpec] | None:
    """Shape-like inputs as specs, or None when ``inputs`` are values to pass as they are."""
    if isinstance(inputs, InputSpec):
        return [inputs]
    if isinstance(inputs, str):
        return parse_inputs(inputs)
    if isinstance(inputs, (tuple, list)) and inputs and not is_one_argument(inputs):
        if all(isinstance(v, int) for v in inputs):
            return [InputSpec(shape=tuple(inputs))]
        if all(isinstance(v, str) for v in inputs):
            return parse_inputs(list(inputs))
        if all(isinstance(v, InputSpec) for v in inputs):
            return list(inputs)
        if all(isinstance(v, (tuple, list)) and v and all(isinstance(d, int) for d in v) for v in inputs):
            return [InputSpec(shape=tuple(v)) for v in inputs]
    return None


def tensors_in(value: Any) -> list[torch.Tensor]:
    """The tensors in ``value``: a tensor, or nested lists, tuples and dicts of them, in order (walked
    without recursion, and a container met again inside itself is skipped: nesting may be deep or cyclic)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if not isinstance(value, (list, tuple, dict)):
        return []
    found: list[torch.Tensor] = []
    stack = [(id(value), iter(_items(value)))]
    open_ids = {id(value)}  # the containers on the path to the current one
    while stack:
        container, items = stack[-1]
        for item in items:
            if isinstance(item, torch.Tensor):
                found.append(item)
            elif isinstance(item, (list, tuple, dict)) and id(item) not in open_ids:
                open_ids.add(id(item))
                stack.append((id(item), iter(_items(item))))
                break
        else:
            stack.pop()
            open_ids.discard(container)
    return found


def _items(container: list | tuple | dict) -> Any:
    return container.values() if isinstance(container, dict) else container


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where the model's weights live and their float dtype (float32 when it has none)."""
    modules = [module for _, module in walk_modules(model)]
    for module in modules:
        for p in module._parameters.values():
            if p is not None:
                return p.device, (p.dtype if p.dtype.is_floating_point else torch.float32)
    for module in modules:
        for b in module._buffers.values():
            if b is not None:
                return b.device, torch.float32
    return torch.device("cpu"), torch.float32
