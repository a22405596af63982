"""A watch on the memory a model factory allocates, so that a build too large for the machine is
stopped before the allocation that would not fit, not after the allocator or the kernel gives up.

``AllocationBudget(limit)`` is a dispatch mode for the duration of a build: every tensor factory op
(``empty``, ``zeros``, ``ones``, ``full``, ``rand``/``randn``/``randint``, their ``new_*`` and
``*_like`` forms: how parameters and buffers are made) adds the bytes it is about to allocate to a
running total, and raises ``OverBudget`` before the op runs once that total would pass ``limit``.
The total is an upper bound (a temporary freed during the build still counts), so it refuses no
build that fits when every factory tensor is kept, the usual case for weights. It watches the
build of a factory that cannot be built on meta (``capture.loader``), on the cpu before the model
is moved to meta.

The capture reads aten schemas here too: ``schema_alias_info`` says which outputs of an op alias
(view, or write into) which argument, so that they share its storage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# Factory ops with an explicit size, and those sized like a tensor argument.
_SIZED = frozenset({"empty", "empty_strided", "zeros", "ones", "full", "rand", "randn", "randint", "new_empty",
                    "new_empty_strided", "new_zeros", "new_ones", "new_full"})
_LIKE = frozenset({"empty_like", "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "randint_like"})


class OverBudget(Exception):
    """A build would allocate more than its budget; ``needed`` bytes so far with the op that passed it."""

    def __init__(self, needed: int, limit: int) -> None:
        super().__init__(f"the build would allocate more than {limit} bytes ({needed} with its next tensor)")
        self.needed = needed
        self.limit = limit


class AllocationBudget(TorchDispatchMode):
    """Counts the bytes of the tensors factory ops make, and stops the build before it passes ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.allocated = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        size = factory_bytes(func, args, kwargs)
        if size:
            if self.allocated + size > self.limit:
                raise OverBudget(self.allocated + size, self.limit)
            self.allocated += size
        return func(*args, **kwargs)


def factory_bytes(func: Any, args: tuple, kwargs: dict) -> int:
    """The bytes the factory op ``func`` is about to allocate; 0 for any other op."""
    schema = getattr(func, "_schema", None)
    name = schema.name.removeprefix("aten::") if schema is not None else ""
    like = args[0] if args and isinstance(args[0], torch.Tensor) else None
    if name in _LIKE and like is not None:
        numel = like.numel()
    elif name in _SIZED:
        position = 1 if name.startswith("new_") else 0
        size = kwargs.get("size", args[position] if len(args) > position else None)
        if name == "randint" and len(args) > 1 and not isinstance(size, (list, tuple)):
            size = args[-1]  # randint(high, size) and randint(low, high, size)
        if not isinstance(size, (list, tuple)):
            return 0
        numel = math.prod(int(s) for s in size)
    else:
        return 0
    dtype = kwargs.get("dtype") or (like.dtype if like is not None else None)
    if dtype is None:
        dtype = torch.int64 if name == "randint" else torch.get_default_dtype()
    return numel * dtype.itemsize


# ---------------------------------------------------------------------------------------------- aliases


@dataclass(frozen=True, slots=True)
class AliasInfo:
    """Which outputs of an aten op alias an input (views, in-place and out= results)."""

    aliased_outputs: tuple[int | None, ...]  # for each output, the index of the aliased argument
    inplace: bool
    views: bool = False  # whether any output aliases an argument (else every output is new memory)


# Views whose schema does not say so (no alias annotation, for autograd's sake): their outputs
# share the storage of their first argument. `_unsafe_view` follows the clone of a reshape that
# must copy; `unsafe_split*` are split without autograd's view checks.
UNANNOTATED_VIEWS = frozenset({"aten::_unsafe_view", "aten::unsafe_split", "aten::unsafe_split_with_sizes"})


def schema_alias_info(func: Any) -> AliasInfo:
    """Which outputs of the aten op ``func`` alias which of its arguments, from its schema."""
    schema = getattr(func, "_schema", None)
    if schema is None:
        return AliasInfo((), False)
    if schema.name in UNANNOTATED_VIEWS:
        return AliasInfo((0,), False, views=True)
    arg_sets: dict[str, int] = {}
    wildcard: list[int] = []  # arguments whose alias set joins the wildcard: `Tensor(a -> *) self`
    for i, arg in enumerate(schema.arguments):
        info = arg.alias_info
        if info is not None:
            for s in info.before_set:
                arg_sets.setdefault(s, i)
            if "*" in info.after_set and info.before_set:
                wildcard.append(i)
    aliased: list[int | None] = []
    inplace = False
    for ret in schema.returns:
        info = ret.alias_info
        index = None
        if info is not None:
            inplace = inplace or info.is_write
            for s in info.before_set:
                if s in arg_sets:
                    index = arg_sets[s]
                    break
            if index is None and not info.before_set and len(wildcard) == 1:
                # A list of views, `-> Tensor(a)[]` (unbind, split, split_with_sizes, chunk,
                # tensor_split): Python sees the list's annotation with empty sets (the element's
                # `(a)` is not exposed); the elements alias the argument that went to the wildcard.
                index = wildcard[0]
        aliased.append(index)
    return AliasInfo(tuple(aliased), inplace, views=any(index is not None for index in aliased))
