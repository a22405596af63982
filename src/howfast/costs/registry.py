"""One registry of per-op cost formulas.

A formula is a small pure function ``(op, conventions) -> Cost`` registered with ``@cost`` under
one or more op names (``"aten.convolution"``, ``"scaled_dot_product_attention"``). It returns what
only it can know — MACs, FLOPs and, where the op re-reads data, the write-up model's reads. What
every op shares (weights read once, outputs written once, the compulsory traffic of distinct
tensors) is derived from the op record in ``costs/evaluate.py``, so each formula stays short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from howfast.capture.records import OpRecord
from howfast.conventions import Conventions


@dataclass(slots=True)
class Cost:
    """What a formula knows about one op. ``None`` fields fall back to the shared rule.

    ``input_reads``, ``weight_reads`` and ``output_writes`` are element accesses under the
    write-up's memory model. The shared rules: each activation input read once, each weight
    input read once, each written output written once. ``compulsory_weight_reads`` overrides the
    compulsory model's weight elements for ops that touch only part of a weight (embedding).
    ``outputs_used`` limits the written outputs to the first n (an eval batch norm's saved
    statistics are empty on CPU and full-size on meta: they are not part of its result).
    """

    macs: int = 0
    flops: int = 0
    input_reads: int | None = None
    weight_reads: int | None = None
    output_writes: int | None = None
    compulsory_weight_reads: int | None = None
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
