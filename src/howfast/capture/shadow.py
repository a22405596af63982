"""Real values for the small integer and boolean tensors of a meta capture ("shadows").

A meta tensor has a shape and a dtype but no data, so a model that *reads* a value refuses to run
on the meta device: ``bool(t)``, ``t.item()``, ``int(t)``, ``t.tolist()``, ``torch.equal``,
``torch.nonzero``, boolean indexing. Hugging Face models do it while building their attention mask
(``(mask.sum() == mask.numel())`` to skip an all-ones padding mask, ``mask.all()``, ``torch.all(mask
== 1)``), so a causal LM given an ``attention_mask`` could not be analysed on meta.

``Shadows`` keeps, beside such meta tensors, a real CPU tensor holding their values, computed op by op
as the capture's dispatch mode sees them:

* **seeds**: each integer or boolean input of at most ``SHADOW_MAX_ELEMENTS`` elements (token ids,
  attention masks, position ids). A meta input gets the values a shape would make
  (``inputs.filled_like``: zeros, ones for a ``*mask*`` name, True); a CPU input given to a meta
  model is moved to meta and keeps its own values as its shadow (a real padded mask is honoured);
* **propagation**: an op whose meta tensor arguments all have shadows (other arguments being
  Python values or real tensors) and whose meta results are all integer or boolean, of at most
  ``SHADOW_MAX_ELEMENTS`` elements, is run a second time on the shadows (``device=meta`` read as
  cpu), and its results keep the real values. Factories (``arange``, ``full``) have no tensor
  arguments and qualify; random ones (``randint``, ``bernoulli``) do not, so the global RNG is left
  alone. No float tensor has a shadow — weights, float inputs, activations, and floats computed
  from shadowed integers (rotary tables from positions) alike: they stay shape-only, and no float
  work is repeated on the CPU;
* **reads**: ``aten._local_scalar_dense`` (what ``item``, ``bool``, ``int`` and ``__index__`` run)
  on a meta tensor with a shadow returns the shadow's value; an op that the meta device refuses
  (``nonzero``, ``equal``, ``index`` by a boolean mask, a copy to the CPU for ``tolist``) is run on the
  shadows instead and its tensor results come back as meta tensors with shadows (a copy to a real
  device comes back real); ``x[mask]`` of a meta ``x`` without values indexes ``x`` by the mask's
  positions, so its result has the shape a real run gives it.

The meta side of every op runs exactly as before and the dispatch mode records it exactly as before:
the second runs on shadows happen inside the mode's handler, where the mode is off, so they are
never recorded, and the op list and costs are those of a CPU run of the same model with the same
input values (but for layouts the meta kernels choose otherwise: docs/huggingface.md). A write
into a meta tensor that cannot be repeated on its shadow (the written value has none) forgets the
shadows of every tensor sharing its storage, so a stale value is never read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.utils.weak import WeakIdKeyDictionary

from howfast.capture.inputs import filled_like, tensors_in

# A shadow is kept for meta tensors of at most this many elements (8 MiB as int64): enough for the
# ids, masks and positions of any batch of prompts, and never a weight or an activation of size.
SHADOW_MAX_ELEMENTS = 1 << 20

_LOCAL_SCALAR = torch.ops.aten._local_scalar_dense.default
_INDEX = torch.ops.aten.index.Tensor
_CPU = torch.device("cpu")
_SEEDED = torch.Tag.nondeterministic_seeded  # random ops: never repeated on the shadows


def takes_values(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` is of the kind that has real values in a meta capture: integer or
    boolean, at most ``SHADOW_MAX_ELEMENTS`` elements."""
    return not (tensor.dtype.is_floating_point or tensor.dtype.is_complex) and tensor.numel() <= SHADOW_MAX_ELEMENTS


def _all_take_values(tensors: list[torch.Tensor]) -> bool:
    """``all(takes_values(t) for t in tensors)``, without a generator: asked of every meta op's results."""
    for tensor in tensors:
        dtype = tensor.dtype
        if dtype.is_floating_point or dtype.is_complex or tensor.numel() > SHADOW_MAX_ELEMENTS:
            return False
    return True


def is_meta_capture(model: torch.nn.Module, args: tuple, kwargs: dict, weights: Iterable[torch.Tensor] | None = None) -> bool:
    """Whether the run involves the meta device: a meta parameter, buffer or input tensor (``weights``:
    the model's parameters and buffers, when the caller has them)."""
    if weights is not None:
        if any(t.is_meta for t in weights):
            return True
    elif any(p.is_meta for p in model.parameters()) or any(b.is_meta for b in model.buffers()):
        return True
    return any(t.is_meta for t in tensors_in([list(args), kwargs]))


class Shadows:
    """Real CPU values of small meta tensors, keyed weakly by the meta tensor."""

    def __init__(self) -> None:
        self._values: WeakIdKeyDictionary = WeakIdKeyDictionary()  # meta tensor -> (value, storage, generation)
        self._generations: dict[int, int] = {}  # storage -> generation, bumped when a write is lost
        self._written: dict[Any, tuple[tuple[int, str], ...]] = {}

    # --- seeds -------------------------------------------------------------------------------------

    def seed_inputs(self, model: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The model's arguments with their small integer and boolean tensors seeded: meta ones get
        the values a shape makes, real ones (when the model is on meta) become meta with theirs."""
        to_meta = any(p.is_meta for p in model.parameters()) or any(b.is_meta for b in model.buffers())
        new_args = tuple(self._seeded(v, f"input{i}", to_meta) for i, v in enumerate(args))
        return new_args, {k: self._seeded(v, k, to_meta) for k, v in kwargs.items()}

    def _seeded(self, value: Any, name: str, to_meta: bool) -> Any:
        if type(value) in (list, tuple):
            return type(value)(self._seeded(v, name, to_meta) for v in value)
        if type(value) is dict:
            return {k: self._seeded(v, name, to_meta) for k, v in value.items()}
        if type(value) is not torch.Tensor or not takes_values(value):
            return value
        if value.is_meta:
            self.seed(value, filled_like(value, name))
        elif to_meta and value.device == _CPU:
            twin = _meta_twin(value)
            self.seed(twin, value.detach().clone())  # a copy: writes into the input never reach the caller's tensor
            return twin
        return value

    def value(self, tensor: torch.Tensor) -> torch.Tensor | None:
        """The real values of a meta tensor, or None when it has none (or they went stale)."""
        entry = self._values.get(tensor)
        if entry is None:
            return None
        value, key, generation = entry
        return value if self._generations.get(key, 0) == generation else None

    # --- the dispatch mode's call ---------------------------------------------------------------------

    def call(self, func: Any, args: tuple, kwargs: dict) -> Any:
        """``func(*args, **kwargs)`` as the meta device runs it, with the shadows kept up to date and
        read where the meta device cannot answer."""
        if func is _LOCAL_SCALAR and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            value = self.value(args[0])
            if value is None:
                raise RuntimeError(f"Tensor.item() cannot be called on meta tensors: on the meta device only integer and boolean "
                                   f"tensors of at most {SHADOW_MAX_ELEMENTS:,} elements computed from the inputs have values "
                                   "(docs/huggingface.md)")
            return func(value)
        try:
            out = func(*args, **kwargs)
        except Exception:
            real = None if self._written_args(func, args, kwargs) else self._on_shadows(func, args, kwargs, fallback=True)
            if real is not None:
                return self._from_real(kwargs, real)
            indexed = self._index_by_mask(func, args, kwargs)
            if indexed is None:
                raise
            return indexed
        self._follow(func, args, kwargs, out)
        return out

    def _index_by_mask(self, func: Any, args: tuple, kwargs: dict) -> Any:
        """``x[mask]`` for a meta ``x`` without values and a ``mask`` with them: the mask's positions
        (``nonzero``) index ``x`` instead, so the result has the shape a real run gives it."""
        if func is not _INDEX or len(args) != 2 or kwargs:
            return None
        positions: list[torch.Tensor | None] = []
        for index in args[1]:
            if isinstance(index, torch.Tensor) and index.is_meta and index.dtype in (torch.bool, torch.uint8):
                value = self.value(index)
                if value is None:
                    return None
                for along in value.nonzero().unbind(1):
                    twin = _meta_twin(along)
                    self.seed(twin, along)
                    positions.append(twin)
            else:
                positions.append(index)
        return func(args[0], positions)

    def _follow(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        """Repeat ``func`` on the shadows and keep the results of its small meta outputs."""
        outs = [out] if isinstance(out, torch.Tensor) else tensors_in(out)
        metas = [t for t in outs if t.is_meta]
        if not metas:
            return
        real = None
        # The dtype test first: most results are float activations, which never have values.
        if _all_take_values(metas) and _SEEDED not in getattr(func, "tags", ()):
            real = self._on_shadows(func, args, kwargs, fallback=False)
        if real is None:
            if self._values:
                for written in self._written_args(func, args, kwargs):
                    self._forget(written)
            return
        for meta, value in zip(outs, tensors_in(real)):
            if meta.is_meta and value.shape == meta.shape and value.dtype == meta.dtype:
                self.seed(meta, value)

    def seed(self, meta: torch.Tensor, value: torch.Tensor) -> None:
        """Give the meta tensor ``meta`` the real values ``value`` (same shape and dtype). A shadow has
        its meta tensor's strides, so that ``as_strided`` reads the same elements on both: a fresh
        result laid out otherwise is copied into that layout; a view laid out otherwise is not kept
        (a copy would no longer see the writes into its base)."""
        if value.stride() != meta.stride():
            if value._base is not None:
                return
            value = torch.empty_strided(tuple(meta.shape), tuple(meta.stride()), dtype=value.dtype).copy_(value)
        key = _storage(meta)
        self._values[meta] = (value, key, self._generations.get(key, 0))

    def _on_shadows(self, func: Any, args: tuple, kwargs: dict, *, fallback: bool) -> Any:
        """``func`` run on the shadows of its meta arguments, or None when one has none or it fails
        (or, for a ``fallback``, when it has no meta argument)."""
        values: dict[int, torch.Tensor] = {}
        pending = [*args, *kwargs.values()]
        while pending:  # the common case, a meta activation without a shadow, stops at the first one
            item = pending.pop()
            if isinstance(item, torch.Tensor):
                if item.is_meta:
                    value = self.value(item)
                    if value is None:
                        return None
                    values[id(item)] = value
            elif isinstance(item, (list, tuple)):
                pending.extend(item)
        if fallback and not values:
            return None
        try:
            return func(*_on_cpu(args, values), **_on_cpu(kwargs, values))
        except Exception:  # the op needs a value that has no shadow, or refuses the CPU: no values
            return None

    def _from_real(self, kwargs: dict, real: Any) -> Any:
        """The results of an op the meta device refused, computed on shadows: meta tensors with
        shadows, or the real tensors themselves when the op moves its result off meta."""
        device = kwargs.get("device")
        if device is not None and torch.device(device).type != "meta":
            return real
        if isinstance(real, torch.Tensor):
            twin = _meta_twin(real)
            if takes_values(real):
                self.seed(twin, real)
            return twin
        if isinstance(real, (list, tuple)):
            return type(real)(self._from_real(kwargs, v) for v in real)
        return real

    def _forget(self, tensor: torch.Tensor) -> None:
        """Invalidate the shadows of every tensor sharing ``tensor``'s storage."""
        if tensor.is_meta:
            key = _storage(tensor)
            self._generations[key] = self._generations.get(key, 0) + 1

    def _written_args(self, func: Any, args: tuple, kwargs: dict) -> list[torch.Tensor]:
        """The tensor arguments ``func`` writes into (in-place and ``out=`` ops)."""
        spots = self._written.get(func)
        if spots is None:
            schema = getattr(func, "_schema", None)
            arguments = schema.arguments if schema is not None else []
            spots = self._written[func] = tuple((i, a.name) for i, a in enumerate(arguments)
                                                if a.alias_info is not None and a.alias_info.is_write)
        found = []
        for index, name in spots:
            value = args[index] if index < len(args) else kwargs.get(name)
            found += tensors_in(value)
        return found


def _storage(tensor: torch.Tensor) -> int:
    """An id of ``tensor``'s storage, shared by its views (the tensor's own id if it has none)."""
    try:
        return int(tensor.untyped_storage()._cdata)
    except (RuntimeError, NotImplementedError):  # a tensor kind without a storage (sparse, nested)
        return id(tensor)


def _meta_twin(tensor: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(tuple(tensor.shape), tuple(tensor.stride()), dtype=tensor.dtype, device="meta")


def _on_cpu(value: Any, values: dict[int, torch.Tensor]) -> Any:
    """``value`` with each meta tensor replaced by its shadow and the meta device by the CPU."""
    if isinstance(value, torch.Tensor):
        return values.get(id(value), value) if value.is_meta else value
    if isinstance(value, torch.device):
        return _CPU if value.type == "meta" else value
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(v, values) for v in value)
    if isinstance(value, dict):
        return {k: _on_cpu(v, values) for k, v in value.items()}
    return value
