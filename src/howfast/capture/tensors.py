"""The capture's table of the tensors it has seen: each tensor's ``TensorMeta`` (its stable id, its
storage's id, shape, dtype), keyed by the tensor object without keeping it alive."""

from __future__ import annotations

import weakref
from itertools import count

import torch

from howfast.graph.records import TensorKind, TensorMeta


class TensorIds:
    """``TensorMeta`` by tensor object, keyed by ``id`` beside a weak reference to the tensor: a dead
    tensor's entry never answers for a new tensor given its id (``WeakIdKeyDictionary``'s contract,
    without the reference object it makes for every lookup)."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: dict[int, tuple[weakref.ref, TensorMeta]] = {}

    def get(self, tensor: torch.Tensor) -> TensorMeta | None:
        entry = self.entries.get(id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else None

    def __setitem__(self, tensor: torch.Tensor, meta: TensorMeta) -> None:
        self.entries[id(tensor)] = (weakref.ref(tensor), meta)


class TensorTable:
    """Gives every tensor seen a stable id and a storage id, without keeping it alive."""

    def __init__(self) -> None:
        self._metas = TensorIds()
        self._ids = count(1)
        self._dtypes: dict[torch.dtype, tuple[str, int]] = {}  # dtype -> (name, item size)

    def register(self, tensor: torch.Tensor, kind: TensorKind, name: str = "", storage: int | None = None) -> TensorMeta:
        tid = next(self._ids)
        dtype = self._dtypes.get(tensor.dtype)
        if dtype is None:
            dtype = self._dtypes[tensor.dtype] = (str(tensor.dtype).removeprefix("torch."), tensor.element_size())
        meta = TensorMeta(tid, tid if storage is None else storage, tuple(tensor.shape), dtype[0], dtype[1], kind, name)
        self._metas.entries[id(tensor)] = (weakref.ref(tensor), meta)  # TensorIds.__setitem__, inlined
        return meta

    def lookup(self, tensor: torch.Tensor) -> TensorMeta:
        entry = self._metas.entries.get(id(tensor))  # TensorIds.get, inlined: the hottest call of a capture
        meta = entry[1] if entry is not None and entry[0]() is tensor else None
        if meta is None or meta.shape != tensor.shape:
            # A tensor made outside the capture (a plain attribute, a constant) or resized in place.
            kind = meta.kind if meta is not None else TensorKind.CONSTANT
            storage = meta.storage if meta is not None else None
            meta = self.register(tensor, kind, meta.name if meta else "", storage)
        return meta

    def derive(self, tensor: torch.Tensor, source: TensorMeta) -> TensorMeta:
        """Register ``tensor`` as sharing ``source``'s storage (a view or in-place result)."""
        existing = self._metas.get(tensor)
        if existing is not None and existing.storage == source.storage and existing.shape == tensor.shape:
            return existing
        kind = source.kind if source.kind != TensorKind.INPUT else TensorKind.INPUT
        return self.register(tensor, kind, source.name, storage=source.storage)
