"""One registry of what howfast knows about each op: its cost formula, roofline class and fusion role.

A formula is a small pure function ``(op, conventions) -> Cost`` registered with ``@cost`` under
one or more op names (``"aten.convolution"``, ``"scaled_dot_product_attention"``), together with
the op's ``OpClass`` (which efficiency and overhead of a calibrated device it runs at) and its
``Fusion`` role (whether it fuses into the op that feeds it). It returns what only it can know —
MACs, FLOPs and, where the op re-reads data, the write-up model's reads; a formula whose class or
role depends on the call (a convolution with groups = channels is depthwise; a batch norm folds
only in eval mode) says so in its ``Cost``. What every op shares (weights read once, outputs
written once, the compulsory traffic of distinct tensors) is derived from the op record in
``costs/evaluate.py``, so each formula stays short. Registering a name twice, or a name that is
also declared free, fails at import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import NamedTuple

from howfast.conventions import Conventions
from howfast.graph import opnames
from howfast.graph.records import OpRecord, TensorMeta


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


class OpClass(str, Enum):
    """What kind of kernel an op runs: the roofline prices each class with its own efficiency and
    per-op overhead on a calibrated device (``docs/roofline.md``, "Op classes")."""

    GEMM = "gemm"  # matrix products (linear, matmul, bmm, einsum, recurrent layers)
    CONV = "conv"  # dense convolutions
    PWCONV = "pwconv"  # 1x1 (pointwise) convolutions
    DWCONV = "dwconv"  # depthwise convolutions (one input channel per group)
    INT8_GEMM = "int8_gemm"  # integer matrix products (quantized linear): a profile's int8 peak
    INT8_CONV = "int8_conv"  # integer convolutions (quantized conv): a profile's int8 peak
    FP8_GEMM = "fp8_gemm"  # fp8 matrix products (_scaled_mm): a profile's fp8 peak
    ATTENTION = "attention"  # scaled dot-product and multi-head attention
    POOL = "pool"  # max, average, adaptive pooling
    REDUCE = "reduce"  # sums, means, variances, norms, scans, extremes
    NORM = "norm"  # batch, layer, group, RMS norm
    ELEMENTWISE = "elementwise"  # per-element arithmetic and comparisons (and sorts, losses, FFTs)
    ACTIVATION = "activation"  # transcendental per-element functions (exp, GELU, SiLU, softmax)
    DATA = "data"  # data movement: copies, casts, concatenation, padding, gathers, scatters, creation
    VIEW = "view"  # shape-only ops: no arithmetic, no memory traffic
    UNKNOWN = "unknown"  # no formula: uncounted


class Fusion(str, Enum):
    """How an op joins a fused kernel (``passes/fusion.py``)."""

    NONE = "none"  # runs as its own kernel
    EPILOGUE = "epilogue"  # element-wise: fuses into the op that produces its input
    ANCHOR = "anchor"  # convolution or linear: a batch norm reading its output folds into its weights
    BATCHNORM = "batchnorm"  # eval batch norm: folds into an anchor, else fuses as an epilogue


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
    * ``op_class``, ``fusion``: this call's class and fusion role, where they differ from the
      registration's (a depthwise convolution; a batch norm in eval mode).
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
    op_class: OpClass | None = None
    fusion: Fusion | None = None


Formula = Callable[[OpRecord, Conventions], Cost]


@dataclass(frozen=True, slots=True)
class Registration:
    """An op name's formula (None for a free, shape-only op), class and fusion role."""

    formula: Formula | None
    op_class: OpClass
    fusion: Fusion = Fusion.NONE


REGISTRY: dict[str, Registration] = {}


def cost(*names: str, op_class: OpClass, fusion: Fusion = Fusion.NONE) -> Callable[[Formula], Formula]:
    """Register ``formula`` for each op name, with the ops' class and fusion role.

    A name without an overload (``"aten.add"``) matches every overload; an in-place variant
    (``aten.add_``) uses its out-of-place registration unless it has its own.
    """
    if not isinstance(op_class, OpClass) or not isinstance(fusion, Fusion):
        raise TypeError(f"op_class must be an OpClass and fusion a Fusion (registering {names})")

    def register(formula: Formula) -> Formula:
        for name in names:
            _add(name, Registration(formula, op_class, fusion))
        return formula

    return register


def free(*names: str) -> None:
    """Declare shape-only ops (views, metadata queries): no FLOPs, no memory traffic."""
    for name in names:
        _add(name, Registration(None, OpClass.VIEW))


def _add(name: str, registration: Registration) -> None:
    if name in REGISTRY:
        raise ValueError(f"op {name!r} is registered twice")
    REGISTRY[name] = registration
    lookup_cache_clear()


def _candidates(name: str) -> tuple[str, ...]:
    # In-place variants ("aten.relu_") cost what their out-of-place op costs.
    packet = opnames.packet(name)
    if opnames.is_inplace(packet):
        return (name, packet, packet[:-1])
    return (name, packet)


@cache
def registration(name: str) -> Registration | None:
    """What is registered for op ``name``: overload-specific, then any overload, then out-of-place."""
    _load_formulas()
    for candidate in _candidates(name):
        found = REGISTRY.get(candidate)
        if found is not None:
            return found
    return None


def lookup_cache_clear() -> None:
    """Forget cached lookups (after a registration made once formulas were loaded)."""
    if "registration" in globals():
        registration.cache_clear()


def lookup(name: str) -> Formula | None:
    """The formula for op ``name``, or None (no formula, or a free op)."""
    found = registration(name)
    return found.formula if found is not None else None


_loaded = False


def _load_formulas() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from howfast.costs import formulas  # noqa: F401  (importing registers every formula)
