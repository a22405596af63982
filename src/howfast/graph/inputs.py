"""Input specifications: ``1x3x224x224``, ``1x128:int64``, ``ids=1x128:int64`` -> tensors.

Float inputs are filled with standard normal values; integer inputs with zeros (a valid index for
any embedding), or ones for a keyword input whose name contains ``mask`` (an attention mask that
keeps every position; ``capture/inputs.py``); boolean inputs with True. On the ``meta`` device no memory is allocated.

Inputs are checked before they are made (``check_allocation``): a tensor PyTorch cannot address (over
``2**63 - 1`` bytes, or a dimension beyond int64) is refused on every device, and inputs larger than
the memory the device has free are refused with the figure and the hint ``--device meta``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import torch

from howfast import units
from howfast.errors import InputSpecError
from howfast.graph.memory import ADDRESSABLE_BYTES, shortfall

_DTYPES = {
    "float32": torch.float32, "float": torch.float32, "fp32": torch.float32, "f32": torch.float32,
    "float16": torch.float16, "half": torch.float16, "fp16": torch.float16, "f16": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float64": torch.float64, "double": torch.float64, "fp64": torch.float64,
    "int64": torch.int64, "long": torch.int64, "int32": torch.int32, "int": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}

_SPEC = re.compile(r"^(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)=)?(?P<shape>\d+(?:[x,]\d+)*)(?::(?P<dtype>[a-z0-9]+))?$")


@dataclass(frozen=True)
class InputSpec:
    """One model input: an optional keyword name, a shape and a dtype (None = the default)."""

    shape: tuple[int, ...]
    dtype: torch.dtype | None = None
    name: str | None = None

    def numel(self) -> int:
        return math.prod(self.shape)

    def nbytes(self, default_dtype: torch.dtype) -> int:
        """The bytes a tensor of this spec takes (floats in ``default_dtype`` unless the spec names one)."""
        return self.numel() * (self.dtype or default_dtype).itemsize

    def make(self, device: str | torch.device, default_dtype: torch.dtype) -> torch.Tensor:
        check_addressable(self, default_dtype)
        dtype = self.dtype or default_dtype
        if dtype.is_floating_point:
            return torch.randn(self.shape, dtype=dtype, device=device)
        if dtype == torch.bool:
            return torch.ones(self.shape, dtype=dtype, device=device)
        return torch.zeros(self.shape, dtype=dtype, device=device)

    def text(self) -> str:
        prefix = f"{self.name}=" if self.name else ""
        suffix = f":{dtype_name(self.dtype)}" if self.dtype else ""
        return prefix + "x".join(str(s) for s in self.shape) + suffix


def parse_dtype(text: str) -> torch.dtype:
    key = text.strip().lower().removeprefix("torch.")
    if key not in _DTYPES:
        raise InputSpecError(f"unknown dtype {text!r}; use one of: {', '.join(sorted(set(_DTYPES)))}")
    return _DTYPES[key]


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def parse_input(text: str) -> InputSpec:
    """Parse ``[name=]DxDxD[:dtype]``, e.g. ``1x3x224x224`` or ``ids=1x128:int64``."""
    match = _SPEC.match(text.strip())
    if not match:
        raise InputSpecError(
            f"malformed input {text!r}: expected a shape like 1x3x224x224, optionally with :dtype (1x128:int64) or name= (ids=1x128)"
        )
    parts = re.split(r"[x,]", match["shape"])
    if any(len(part.lstrip("0")) > 19 for part in parts):  # beyond int64 (and Python's int() digit limit)
        raise InputSpecError(f"input {_cut(text.strip())} has a dimension beyond int64: a PyTorch tensor's sizes are "
                             "int64, and it addresses at most 2^63 bytes, on any device (meta included)")
    shape = tuple(int(s) for s in parts)
    if any(s <= 0 for s in shape):
        raise InputSpecError(f"input {text!r} has a zero or negative dimension")
    dtype = parse_dtype(match["dtype"]) if match["dtype"] else None
    spec = InputSpec(shape=shape, dtype=dtype, name=match["name"])
    check_addressable(spec, spec.dtype or torch.uint8, named=False)  # a byte each until the dtype is known
    return spec


def parse_inputs(texts: list[str] | str) -> list[InputSpec]:
    if isinstance(texts, str):
        texts = [texts]
    specs = [parse_input(part) for text in texts for part in text.split() if part]
    if not specs:
        raise InputSpecError("no input shape given")
    check_unique_names(specs)
    return specs


def check_unique_names(specs: list[InputSpec]) -> None:
    """Refuse a keyword input given twice (``-i x=1x4 -i x=1x8``): one of them would be dropped."""
    seen: dict[str, InputSpec] = {}
    for spec in specs:
        if spec.name is None:
            continue
        if spec.name in seen:
            raise InputSpecError(f"keyword input {spec.name!r} is given twice ({seen[spec.name].text()} and {spec.text()}): "
                                 "give each keyword input once")
        seen[spec.name] = spec


def check_addressable(spec: InputSpec, default_dtype: torch.dtype, named: bool = True) -> None:
    """Refuse a spec whose tensor PyTorch cannot address on any device, meta included (sizes are int64);
    ``named``: say the default dtype in the message."""
    if spec.nbytes(default_dtype) > ADDRESSABLE_BYTES or any(s > ADDRESSABLE_BYTES for s in spec.shape):
        what = spec.text() if spec.dtype or not named else f"{spec.text()}:{dtype_name(default_dtype)}"
        numel = spec.numel()
        count = f"{numel:.3g}" if numel < 10**300 else f"about 10^{len(str(numel)) - 1}"
        raise InputSpecError(f"input {_cut(what)} has {count} elements: beyond the 2^63 bytes a PyTorch tensor "
                             "can address, on any device (meta included)")


def check_allocation(specs: list[InputSpec], device: str | torch.device, default_dtype: torch.dtype) -> None:
    """Refuse inputs that cannot be made on ``device``, before any is allocated: one PyTorch cannot
    address, or all of them together larger than the memory the device has free (nothing is refused on meta)."""
    for spec in specs:
        check_addressable(spec, default_dtype)
    sizes = [(spec.nbytes(default_dtype), i, spec) for i, spec in enumerate(specs)]
    total = sum(size for size, _, _ in sizes)
    short = shortfall(total, device)
    if short is None:
        return
    size, index, spec = max(sizes, key=lambda item: item[0])
    described = f"{spec.name or f'input{index}'} {_cut('x'.join(str(s) for s in spec.shape))} {dtype_name(spec.dtype or default_dtype)}"
    if len(specs) == 1:
        head = f"input {described} would allocate {units.nbytes(total)}"
    else:
        head = f"the {len(specs)} inputs would allocate {units.nbytes(total)} (the largest, {described}, {units.nbytes(size)})"
    raise InputSpecError(f"{head} on {device}, {short}: use --device meta to count it without allocating anything")


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def materialise(specs: list[InputSpec], device: str | torch.device, dtype: torch.dtype) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword tensors for ``specs``, refused before anything is allocated when they cannot fit."""
    check_unique_names(specs)
    check_allocation(specs, device, dtype)
    args = tuple(s.make(device, dtype) for s in specs if s.name is None)
    kwargs = {s.name: s.make(device, dtype) for s in specs if s.name is not None}
    return args, kwargs
