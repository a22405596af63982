"""One registry of per-op cost formulas.

A formula is a small pure function ``(op, conventions) -> Cost`` registered with ``@cost`` under
one or more op names (``"aten.convolution"``, ``"scaled_dot_product_attention"``). It returns what
only it can know — MACs, FLOPs and, where the op re-reads data, the write-up model's reads. What
every op shares (weights read once, outputs written once, the compulsory traffic of distinct
tensors) is derived from the op record in ``costs/evaluate.py``, so each formula stays short.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from howfast.graph.records import OpRecord, TensorMeta
from howfast.conventions import Conventions


class Access(NamedTuple):
    """``elements`` accesses of ``itemsize`` bytes each: one operand's share of a memory figure."""

    elements: int
    itemsize: int


def access(elements: int, tensor: TensorMeta) -> Access:
    """``elements`` accesses priced at ``tensor``'s item size (a bool mask 1 byte, an int64 index 8)."""
    return Access(elements, tensor.itemsize)


Count = int | Sequence[Access]
"""A memory override: a plain element count, or per-operand ``Access`` entries priced each at its
own item size. A plain count is priced at the item size of the op's first tensor of that kind (first
activation input, first weight, first written output), so it is exact only when those tensors share
a dtype; a formula whose operands differ in dtype gives ``Access`` entries."""


def elements_of(count: Count) -> int:
    """The elements of a ``Count``."""
    return count if isinstance(count, int) else sum(a.elements for a in count)


def bytes_of(count: Sequence[Access]) -> int:
    return sum(a.elements * a.itemsize for a in count)


@dataclass(slots=True)
class Cost:
    """What a formula knows about one op. ``None`` fields fall back to the shared rules.

    The shared rules, for both memory models: each activation input read once, each weight input
    read once, each written output (new tensors and in-place targets, not views) written once,
    every tensor priced at its own item size. A formula overrides them where its op differs:

    * ``input_reads``, ``weight_reads``, ``output_writes``: the write-up model's element accesses
      (a conv re-reads its input once per MAC window; an element-wise op reads a broadcast operand
      once per output).
    * ``compulsory_input``, ``compulsory_weights``, ``compulsory_output``: elements each distinct
      tensor contributes at least once (a gather reads only the rows it gathers; ``copy_`` does not
      read its destination; ``empty`` writes nothing).
    * Each of these six is a ``Count``: an int, or a sequence of ``Access(elements, itemsize)``, one
      per operand, where the operands differ in dtype (a gather's int64 indices and float32 rows,
      attention's bool mask).
    * ``outputs_used``: only the first n outputs are the op's result (an eval batch norm's saved
      statistics are empty on CPU and full-size on meta; a CPU log-sigmoid's buffer).
    """

    macs: int = 0
    flops: int = 0
    input_reads: Count | None = None
    weight_reads: Count | None = None
    output_writes: Count | None = None
    compulsory_input: Count | None = None
    compulsory_weights: Count | None = None
    compulsory_output: Count | None = None
    outputs_used: int | None = None


Formula = Callable[[OpRecord, Conventions], Cost]

FORMULAS: dict[str, Formula] = {}
FREE_OPS: set[str] = set()


def cost(*names: str) -> Callable[[Formula], Formula]:
    """Register ``formula`` for each op name. Names without an overload match every overload."""

    def register(formula: Formula) -> Formula:
        for name in names:
            if name in FORMULAS or name in FREE_OPS:
                raise ValueError(f"a cost formula for {name!r} is registered twice")
            FORMULAS[name] = formula
        return formula

    return register


def free(*names: str) -> None:
    """Declare shape-only ops (views, metadata queries): no FLOPs, no memory traffic."""
    for name in names:
        if name in FORMULAS:
            raise ValueError(f"{name!r} has a formula and cannot be free")
        FREE_OPS.add(name)


def _packet(name: str) -> str:
    # "aten.add.Tensor" -> "aten.add"; composite names have no dots and stay as they are.
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else name


def _candidates(name: str) -> tuple[str, ...]:
    # In-place variants ("aten.relu_") cost what their out-of-place op costs.
    packet = _packet(name)
    if packet.endswith("_") and not packet.endswith("__"):
        return (name, packet, packet[:-1])
    return (name, packet)


def lookup(name: str) -> Formula | None:
    """The formula for op ``name``: overload-specific, then any overload, then out-of-place."""
    _load_formulas()
    for candidate in _candidates(name):
        if candidate in FORMULAS:
            return FORMULAS[candidate]
    return None


def is_free(name: str) -> bool:
    _load_formulas()
    return any(candidate in FREE_OPS for candidate in _candidates(name))


_loaded = False


def _load_formulas() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from howfast.costs import formulas  # noqa: F401  (importing registers every formula)
