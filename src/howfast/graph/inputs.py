"""Input specifications: ``1x3x224x224``, ``1x128:int64``, ``ids=1x128:int64`` -> tensors.

Float inputs are filled with standard normal values; integer inputs with zeros (a valid index for
any embedding), or ones for a keyword input whose name contains ``mask`` (an attention mask that
keeps every position; ``capture/inputs.py``); boolean inputs with True. On the ``meta`` device no memory is allocated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from howfast.errors import InputSpecError

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

    def make(self, device: str | torch.device, default_dtype: torch.dtype) -> torch.Tensor:
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
    shape = tuple(int(s) for s in re.split(r"[x,]", match["shape"]))
    if any(s <= 0 for s in shape):
        raise InputSpecError(f"input {text!r} has a zero or negative dimension")
    dtype = parse_dtype(match["dtype"]) if match["dtype"] else None
    return InputSpec(shape=shape, dtype=dtype, name=match["name"])


def parse_inputs(texts: list[str] | str) -> list[InputSpec]:
    if isinstance(texts, str):
        texts = [texts]
    specs = [parse_input(part) for text in texts for part in text.split() if part]
    if not specs:
        raise InputSpecError("no input shape given")
    return specs


def materialise(specs: list[InputSpec], device: str | torch.device, dtype: torch.dtype) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword tensors for ``specs``."""
    args = tuple(s.make(device, dtype) for s in specs if s.name is None)
    kwargs = {s.name: s.make(device, dtype) for s in specs if s.name is not None}
    return args, kwargs
