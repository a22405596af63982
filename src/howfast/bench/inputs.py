"""A benchmark's inputs: resolved on the model's device, re-batched, resized for sweeps, described."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from howfast import units
from howfast.bench.checks import check_bench_device
from howfast.capture.inputs import resolve_inputs, tensors_in
from howfast.errors import BenchmarkError, InputSpecError, UsageError
from howfast.graph.inputs import parse_dtype
from howfast.graph.memory import shortfall


def batch_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The batch: the first dimension of the first tensor input (1 when there is none)."""
    for t in tensors_in((*args, *kwargs.values())):
        if t.dim() > 0:
            return int(t.shape[0])
    return 1


def _tile(t: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """``t`` with dimension ``dim`` made ``size`` long by repeating (or cutting) its slices; refused
    (InputSpecError, exit 4) before allocating when the result cannot fit on its device."""
    if t.shape[dim] == size:
        return t
    nbytes = t.numel() // t.shape[dim] * size * t.element_size() + size * 8  # the result and its index
    short = shortfall(nbytes, t.device)
    if short is not None:
        shape = "x".join(str(size if k == dim else d) for k, d in enumerate(t.shape))
        raise InputSpecError(f"an input of {shape} would allocate {units.nbytes(nbytes)} on {t.device}, {short}: "
                             "time a smaller batch or size")
    index = torch.arange(size, device=t.device) % t.shape[dim]
    return t.index_select(dim, index).contiguous()


def rebatch(args: tuple[Any, ...], kwargs: dict[str, Any], batch: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Every tensor input with its first dimension set to ``batch`` (its items repeated or cut)."""

    def one(v: Any) -> Any:
        if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] > 0:
            return _tile(v, 0, batch)
        return v

    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


def resize_dims(t: torch.Tensor) -> tuple[int, ...]:
    """The dimensions a size sweep replaces: the last two of a float input with 4+ dims (H, W),
    the last of a 3-dim float input (length), the last of an integer/bool input with 2+ dims
    (sequence length); none otherwise."""
    if t.dtype.is_floating_point or t.dtype.is_complex:
        if t.dim() >= 4:
            return (t.dim() - 2, t.dim() - 1)
        if t.dim() == 3:
            return (2,)
        return ()
    return (t.dim() - 1,) if t.dim() >= 2 else ()


def resize(args: tuple[Any, ...], kwargs: dict[str, Any], size: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Inputs with their spatial dims / sequence length set to ``size`` (values tiled or cut)."""
    changed = False

    def one(v: Any) -> Any:
        nonlocal changed
        if not isinstance(v, torch.Tensor):
            return v
        for dim in resize_dims(v):
            v = _tile(v, dim, size)
            changed = True
        return v

    out = tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}
    if not changed:
        raise UsageError("size sweep: no input has spatial dims (a float input with 3+ dims) or a sequence length "
                         "(an integer input with 2+ dims) to resize")
    return out


def shapes_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    def text(t: torch.Tensor) -> str:
        return "x".join(str(d) for d in t.shape) + ("" if t.dtype.is_floating_point else f":{str(t.dtype).removeprefix('torch.')}")

    named = [text(a) for a in args if isinstance(a, torch.Tensor)]
    named += [f"{k}={text(v)}" for k, v in kwargs.items() if isinstance(v, torch.Tensor)]
    return named


def model_device(model: nn.Module, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    for t in tensors_in((*args, *(kwargs or {}).values())):
        return t.device
    return torch.device("cpu")


def to_device(args: tuple[Any, ...], kwargs: dict[str, Any], device: torch.device) -> tuple[tuple[Any, ...], dict[str, Any]]:
    def one(v: Any) -> Any:
        return v.to(device) if isinstance(v, torch.Tensor) and v.device != device else v

    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


def prepare(
    model: nn.Module,
    inputs: Any,
    kwargs: dict[str, Any] | None,
    *,
    device: str | torch.device | None,
    dtype: torch.dtype | str | None,
    batch: int | None,
) -> tuple[tuple[Any, ...], dict[str, Any], torch.device]:
    """Resolve ``inputs`` (tensors or shapes, as ``howfast.analyze`` takes them) on the device."""
    if isinstance(dtype, str):
        dtype = parse_dtype(dtype)
    dev = check_bench_device(device if device is not None else model_device(model))
    if model_device(model).type == "meta":
        raise BenchmarkError("the model is on the meta device (no weights): build it on cpu or cuda to time it")
    if device is not None:
        model.to(dev)
    args, kw = resolve_inputs(model, inputs, kwargs=kwargs, dtype=dtype)
    args, kw = to_device(args, kw, dev)
    if batch is not None:
        args, kw = rebatch(args, kw, batch)
    return args, kw, dev


def dtype_text(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    for p in model.parameters():
        if p.dtype.is_floating_point:
            return str(p.dtype).removeprefix("torch.")
    for t in tensors_in((*args, *kwargs.values())):
        if t.dtype.is_floating_point:
            return str(t.dtype).removeprefix("torch.")
    return "float32"
