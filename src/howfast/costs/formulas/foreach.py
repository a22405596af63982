"""Multi-tensor (``_foreach_*``) ops, which optimizers run in one call over every parameter.

``_foreach_X(list, ...)`` costs what ``X`` costs on each element of its lists, summed: the record
is split into one per-tensor record per list position (each tensor list, and each list of scalars
of the same length, gives its i-th element; other arguments pass unchanged; a per-element
``scalars`` tensor of ``_foreach_addcmul/addcdiv.Tensor`` gives one value each), the per-tensor
formula costs it, and the memory each part touches (write-up and compulsory, at every tensor's own
item size) is summed as the shared rules would count it for that per-tensor op. An in-place form
(``_foreach_add_``) returns nothing: each element's target is the tensor it writes. The class is
the per-tensor op's (element-wise for every optimizer update; ``_foreach_norm`` a reduction,
``_foreach_mm`` a matrix product); a multi-tensor kernel fuses with nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from howfast.conventions import Conventions
from howfast.costs.registry import Access, Cost, Count, OpClass, access, cost, registration
from howfast.graph import opnames
from howfast.graph.records import OpRecord, TensorMeta

# Per-tensor ops whose _foreach_ forms exist (out-of-place and in-place, unless noted).
_PER_TENSOR = (
    "abs", "acos", "add", "addcdiv", "addcmul", "asin", "atan", "ceil", "clamp_max", "clamp_min", "copy", "cos",
    "cosh", "div", "erf", "erfc", "exp", "expm1", "floor", "frac", "lerp", "log", "log10", "log1p", "log2",
    "maximum", "minimum", "mul", "neg", "pow", "reciprocal", "round", "rsqrt", "sigmoid", "sign", "sin", "sinh",
    "sqrt", "sub", "tan", "tanh", "trunc",
)
_OUT_OF_PLACE_ONLY = ("clone", "max", "norm", "mm")
_IN_PLACE_ONLY = ("zero",)
FOREACH_OPS = (
    tuple(f"aten._foreach_{name}" for name in _PER_TENSOR + _OUT_OF_PLACE_ONLY)
    + tuple(f"aten._foreach_{name}_" for name in _PER_TENSOR + _IN_PLACE_ONLY)
)


def per_tensor_name(name: str) -> str:
    """``aten._foreach_addcmul_.Scalar`` -> ``aten.addcmul_``."""
    return "aten." + opnames.packet(name).removeprefix("aten._foreach_")


def _length(op: OpRecord) -> int:
    for value in op.args:
        if isinstance(value, (list, tuple)) and value and isinstance(value[0], TensorMeta):
            return len(value)
    return 0


def _element(value: Any, i: int, n: int) -> Any:
    return value[i] if isinstance(value, (list, tuple)) and len(value) == n else value


def split(op: OpRecord) -> list[OpRecord]:
    """One per-tensor record for each list position of the ``_foreach_`` record ``op``."""
    n = _length(op)
    name = per_tensor_name(op.op)
    inplace = opnames.is_inplace(name)
    outputs = list(op.outputs)
    packet = opnames.packet(op.op)
    per_element_tensor = packet.rstrip("_").endswith(("_addcmul", "_addcdiv")) and op.op.endswith(".Tensor")
    records = []
    for i in range(n):
        args = [_element(v, i, n) for v in op.args]
        if per_element_tensor and len(args) > 3 and isinstance(args[3], TensorMeta):
            s = args[3]  # one value of the 1-D `scalars` tensor per list position
            args[3] = TensorMeta(s.tid, s.storage, (), s.dtype, s.itemsize, s.kind, s.name)
        kwargs = {k: _element(v, i, n) for k, v in op.kwargs.items()}
        if inplace:
            target = args[0]
            result, aliases = ((target,), frozenset({0})) if isinstance(target, TensorMeta) else ((), frozenset())
        else:
            result = (outputs[i],) if i < len(outputs) else ()
            aliases = frozenset({0}) if i in op.aliases else frozenset()
        records.append(OpRecord(op.index, name, op.module, tuple(args), kwargs, result, aliases, inplace))
    return records


def _written(op: OpRecord, outputs_used: int | None) -> list[TensorMeta]:
    outputs = list(op.outputs[:outputs_used])
    fresh = outputs if op.inplace else [t for i, t in enumerate(outputs) if i not in op.aliases]
    return list({t.tid: t for t in fresh}.values())


def _accesses(count: Count | None, tensors: Sequence[TensorMeta], default_itemsize: int) -> list[Access]:
    """A part of the shared rules' traffic as ``Access`` entries (``evaluate._priced``'s pricing)."""
    if count is None:
        return [access(t.numel, t) for t in tensors]
    if isinstance(count, int):
        return [Access(count, tensors[0].itemsize if tensors else default_itemsize)]
    return list(count)


def _traffic(record: OpRecord, part: Cost) -> tuple[list[Access], ...]:
    """(write-up in, weights, out, compulsory in, weights, out) of one per-tensor record."""
    written = _written(record, part.outputs_used)
    activations = [t for t in record.inputs if not t.is_weight]
    weights = [t for t in record.inputs if t.is_weight]
    out_size = written[0].itemsize if written else 4
    return (
        _accesses(part.input_reads, activations, out_size), _accesses(part.weight_reads, weights, 4),
        _accesses(part.output_writes, written, 4), _accesses(part.compulsory_input, activations, 4),
        _accesses(part.compulsory_weights, weights, 4), _accesses(part.compulsory_output, written, 4),
    )


@cost(*FOREACH_OPS, op_class=OpClass.ELEMENTWISE)
def foreach(op: OpRecord, conv: Conventions) -> Cost:
    """The per-tensor op's cost on each list position, summed (module docstring)."""
    found = registration(per_tensor_name(op.op))
    total = Cost(input_reads=[], weight_reads=[], output_writes=[], compulsory_input=[], compulsory_weights=[],
                 compulsory_output=[], op_class=found.op_class if found is not None else None)
    if found is None or found.formula is None:
        return total
    parts: list[list[Access]] = [[] for _ in range(6)]
    for record in split(op):
        part = found.formula(record, conv)
        total.macs += part.macs
        total.flops += part.flops
        for into, more in zip(parts, _traffic(record, part)):
            into.extend(more)
    (total.input_reads, total.weight_reads, total.output_writes,
     total.compulsory_input, total.compulsory_weights, total.compulsory_output) = parts
    return total
