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
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from howfast.errors import InputSpecError
from howfast.graph.inputs import InputSpec, parse_inputs


def resolve_inputs(model: nn.Module, inputs: Any, *, kwargs: dict[str, Any] | None = None,
                   dtype: torch.dtype | None = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments for ``model`` from ``inputs`` and ``kwargs``."""
    if inputs is None:
        if not kwargs:
            raise InputSpecError("no inputs given: pass a tensor, a tuple of tensors, a dict, or a shape such as '1x3x224x224'")
        inputs = ()
    args, kw = _arguments(model, inputs, dtype)
    kw.update(kwargs or {})
    return args, kw


def _arguments(model: nn.Module, inputs: Any, dtype: torch.dtype | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(inputs, torch.Tensor):
        return (inputs,), {}
    if isinstance(inputs, dict):
        return (), {name: _keyword_value(model, name, value, dtype) for name, value in inputs.items()}
    specs = as_specs(inputs)
    if specs is not None:
        device, default_dtype = model_device_dtype(model)
        made = [(spec.name, _make(spec, spec.name or f"input{i}", device, dtype or default_dtype)) for i, spec in enumerate(specs)]
        return tuple(t for name, t in made if name is None), {name: t for name, t in made if name is not None}
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    return (inputs,), {}


def _keyword_value(model: nn.Module, name: str, value: Any, dtype: torch.dtype | None) -> Any:
    """A keyword input: a tensor (or any value) as it is; a shape (``"2x64:int64"``, ``(2, 64)``, an
    ``InputSpec``) made into a tensor as positional shapes are."""
    specs = as_specs(value) if isinstance(value, (str, InputSpec, tuple)) else None
    if specs is None:
        return value
    if len(specs) != 1:
        raise InputSpecError(f"keyword input {name!r} takes one shape, got {len(specs)}")
    device, default_dtype = model_device_dtype(model)
    return _make(InputSpec(shape=specs[0].shape, dtype=specs[0].dtype, name=name), name, device, dtype or default_dtype)


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
    if isinstance(inputs, (tuple, list)) and inputs:
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
    """The tensors in ``value``: a tensor, or nested lists, tuples and dicts of them, in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v)]
    return []


def model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where the model's weights live and their float dtype (float32 when it has none)."""
    for p in model.parameters():
        return p.device, (p.dtype if p.dtype.is_floating_point else torch.float32)
    for b in model.buffers():
        return b.device, torch.float32
    return torch.device("cpu"), torch.float32
