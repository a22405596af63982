"""Driving a causal language model's own KV cache, whatever its family.

One convention covers the zoo's decoders and Hugging Face's causal LMs: ``forward`` takes the
token ids (positionally, or as ``input_ids``), ``past_key_values`` and ``use_cache``, and returns
the cache it grew — as the second item of a tuple (the zoo) or as ``.past_key_values`` (an HF
``ModelOutput``). The cache itself is whatever the model makes: a tuple of ``(key, value)`` pairs
per layer, or an HF ``Cache`` object whose ``layers`` hold the tensors. Its size is read from
those tensors, so grouped-query attention, sliding windows and any cache dtype are right by
construction. A model whose ``forward`` takes no ``past_key_values`` has no cache to drive
(``NoCacheError``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from howfast.errors import ModelRunError, UsageError, first_line


class NoCacheError(UsageError):
    """The model's forward has no KV-cache arguments."""


@dataclass(frozen=True, slots=True)
class CacheCall:
    """How to call one model for a generation step: where its token ids go."""

    ids_keyword: str | None  # None: the first positional argument
    family: str  # "hf" (a ModelOutput with past_key_values) or "tuple" (logits, cache)

    def arguments(self, ids: torch.Tensor, past: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Positional and keyword arguments of one step on ``ids`` after the cache ``past`` (None: empty)."""
        kwargs: dict[str, Any] = {"use_cache": True}
        if past is not None:
            kwargs["past_key_values"] = past
        if self.ids_keyword is not None:
            return (), {self.ids_keyword: ids, **kwargs}
        return (ids,), kwargs


def cache_call(model: nn.Module) -> CacheCall:
    """How ``model`` takes a cache; ``NoCacheError`` names what its forward lacks."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError) as exc:
        raise NoCacheError(f"cannot read the signature of {type(model).__name__}.forward: {first_line(exc)}") from exc
    missing = [name for name in ("past_key_values", "use_cache") if name not in parameters]
    if missing:
        raise NoCacheError(f"{type(model).__name__}.forward takes no {' or '.join(missing)}: howfast llm drives the "
                           "model's own KV cache (forward(ids, past_key_values=..., use_cache=True) returning the "
                           "cache, as Hugging Face causal LMs and the zoo's decoders do)")
    family = "hf" if "input_ids" in parameters else "tuple"
    return CacheCall(ids_keyword="input_ids" if family == "hf" else None, family=family)


def cache_of(output: Any) -> Any:
    """The cache a step returned: ``output.past_key_values`` or the second item of a tuple."""
    past = getattr(output, "past_key_values", None)
    if past is None and isinstance(output, (tuple, list)) and len(output) >= 2:
        past = output[1]
    if past is None:
        raise NoCacheError("the model returned no cache with use_cache=True (no past_key_values and no (logits, cache) tuple)")
    return past


def logits_of(output: Any) -> torch.Tensor:
    """The logits of a step's output (``.logits``, or the first item of a tuple)."""
    logits = getattr(output, "logits", None)
    if logits is None and isinstance(output, (tuple, list)):
        logits = output[0]
    if not isinstance(logits, torch.Tensor):
        raise ModelRunError("the model's output has no logits tensor")
    return logits


def cache_layers(cache: Any) -> list[list[torch.Tensor]]:
    """The tensors of each layer of a cache: HF ``Cache.layers`` (or ``key_cache``/``value_cache``
    lists), or a tuple of per-layer tuples."""
    layers = getattr(cache, "layers", None)
    if isinstance(layers, (list, tuple)):
        return [[v for v in vars(layer).values() if isinstance(v, torch.Tensor) and v.dim() >= 3] for layer in layers]
    keys, values = getattr(cache, "key_cache", None), getattr(cache, "value_cache", None)
    if isinstance(keys, list) and isinstance(values, list):
        return [[k, v] for k, v in zip(keys, values, strict=True)]
    if isinstance(cache, (list, tuple)):
        return [_tensors(layer) for layer in cache]
    raise NoCacheError(f"cannot read the tensors of a {type(cache).__name__} cache (no layers, key_cache or per-layer tuples)")


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def layer_bytes(cache: Any) -> list[int]:
    """Bytes each layer of the cache holds."""
    return [sum(t.numel() * t.element_size() for t in tensors) for tensors in cache_layers(cache)]


def cache_dtype(cache: Any) -> torch.dtype | None:
    """The dtype of the cache's tensors (the first one's)."""
    for tensors in cache_layers(cache):
        for t in tensors:
            return t.dtype
    return None


def token_ids(batch: int, length: int, device: torch.device) -> torch.Tensor:
    """Token ids of shape (batch, length): zeros (a valid id in every vocabulary; the cost does not
    depend on which ids are given)."""
    return torch.zeros(batch, length, dtype=torch.int64, device=device)


def run_step(model: nn.Module, call: CacheCall, ids: torch.Tensor, past: Any) -> Any:
    """One uncaptured step of the model on ``ids`` after ``past``; its output."""
    args, kwargs = call.arguments(ids, past)
    try:
        with torch.no_grad():
            return model(*args, **kwargs)
    except Exception as exc:
        raise ModelRunError(f"{type(model).__name__} failed on a generation step of {tuple(ids.shape)} tokens: "
                            f"{type(exc).__name__}: {first_line(exc)}") from exc


def build_cache(model: nn.Module, call: CacheCall, batch: int, length: int, device: torch.device) -> Any:
    """The model's own cache after ``length`` tokens of each of ``batch`` sequences (None for 0)."""
    if length <= 0:
        return None
    return cache_of(run_step(model, call, token_ids(batch, length, device), None))
