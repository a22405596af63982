"""Concrete shapes for an ONNX model's inputs, from the model and the user's ``--input`` specs.

A graph input declares each dimension as a number, a named symbol (``dim_param``: ``batch``,
``sequence``) or nothing. Specs are matched by name (``--input ids=1x128``) or, without a name,
positionally in graph-input order; a symbol bound by one input (``batch`` = 2) also sizes the
other inputs that use it. A dimension still unknown afterwards is an error naming the input and
the dimension, with the option that fixes it. Graph inputs that are also initializers (models
saved with ``keep_initializers_as_inputs``) are weights, not inputs.

``--batch B`` (``batch_specs``) sizes the batch dimension — the first — of every input that
declares it symbolic (a named symbol sizes all the inputs using it), and sets the first dimension
of shapes given with ``--input``. A model whose inputs all fix their first dimension to another
size is refused: its graph was exported for that batch, and reporting it as batch B would be wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from howfast.errors import InputSpecError, UsageError
from howfast.graph.inputs import InputSpec, parse_dtype, parse_inputs
from howfast.onnx.dtypes import dtype_name

_SPEC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class GraphInput:
    """One model input: its name, declared dims (int, symbol name, or None) and element type."""

    name: str
    dims: tuple[int | str | None, ...]
    elem_type: int
    has_shape: bool = True


@dataclass(frozen=True)
class ResolvedInput:
    name: str
    shape: tuple[int, ...]
    elem_type: int


def graph_inputs(graph: Any) -> list[GraphInput]:
    """The graph's real inputs (not initializers), with their declared dims."""
    initializers = {t.name for t in graph.initializer}
    found = []
    for value in graph.input:
        if value.name in initializers:
            continue
        found.append(value_input(value))
    return found


def value_input(value: Any) -> GraphInput:
    ttype = value.type.tensor_type if value.type.HasField("tensor_type") else None
    if ttype is None:
        return GraphInput(value.name, (), 0, has_shape=False)
    if not ttype.HasField("shape"):
        return GraphInput(value.name, (), ttype.elem_type, has_shape=False)
    dims: list[int | str | None] = []
    for d in ttype.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return GraphInput(value.name, tuple(dims), ttype.elem_type)


def normalize_specs(inputs: Any) -> list[InputSpec]:
    """Turn the forms ``analyze`` accepts into ``InputSpec``s (a name, a shape, maybe a dtype).

    Accepted: None; ``"1x3x224x224"`` or ``"x=1x3x224x224 y=1x10:int64"``; a list of such strings;
    ``InputSpec``s; a tuple of ints (one shape); a list of shapes; a dict name -> shape (string,
    tuple, or an array/tensor, whose shape and dtype are used); arrays/tensors (their shapes).
    """
    if inputs is None:
        return []
    if isinstance(inputs, InputSpec):
        return [inputs]
    if isinstance(inputs, str):
        return parse_inputs(inputs) if inputs.strip() else []
    if isinstance(inputs, dict):
        return [_one_spec(value, str(name)) for name, value in inputs.items()]
    if isinstance(inputs, (tuple, list)):
        if not inputs:
            return []
        if all(isinstance(v, int) and not isinstance(v, bool) for v in inputs):
            return [_shape_spec(tuple(inputs), None)]
        specs: list[InputSpec] = []
        for value in inputs:
            if isinstance(value, str):
                specs.extend(parse_inputs(value))
            else:
                specs.append(_one_spec(value, None))
        return specs
    if hasattr(inputs, "shape"):
        return [_one_spec(inputs, None)]
    raise InputSpecError(f"cannot use {type(inputs).__name__} as ONNX model inputs: give shapes such as '1x3x224x224' or name=shape")


def _one_spec(value: Any, name: str | None) -> InputSpec:
    if isinstance(value, InputSpec):
        return InputSpec(value.shape, value.dtype, name or value.name)
    if isinstance(value, str):
        parsed = parse_inputs(value)
        if len(parsed) != 1:
            raise InputSpecError(f"input {name!r}: expected one shape, got {value!r}")
        return InputSpec(parsed[0].shape, parsed[0].dtype, name or parsed[0].name)
    if isinstance(value, (tuple, list)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return _shape_spec(tuple(value), name)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        dtype_text = str(value.dtype).removeprefix("torch.")
        try:
            dtype = parse_dtype(dtype_text)
        except InputSpecError:
            dtype = None
        return InputSpec(tuple(int(s) for s in value.shape), dtype, name)
    raise InputSpecError(f"cannot use {value!r} as the shape of an ONNX input")


def _shape_spec(shape: tuple[int, ...], name: str | None) -> InputSpec:
    if any(s <= 0 for s in shape):
        raise InputSpecError(f"input shape {'x'.join(map(str, shape))} has a zero or negative dimension")
    return InputSpec(shape=shape, name=name)


def resolve_inputs(declared: list[GraphInput], specs: Iterable[InputSpec]) -> list[ResolvedInput]:
    """Concrete shapes for every declared input, or an ``InputSpecError`` naming what is missing."""
    specs = list(specs)
    by_name = {d.name: d for d in declared}
    assigned: dict[str, InputSpec] = {}
    for spec in specs:
        if spec.name is not None:
            if spec.name not in by_name:
                names = ", ".join(repr(d.name) for d in declared) or "none"
                raise InputSpecError(f"the model has no input named {spec.name!r}; its inputs are: {names}")
            if spec.name in assigned:
                raise InputSpecError(f"input {spec.name!r} is given twice")
            assigned[spec.name] = spec
    positional = [s for s in specs if s.name is None]
    free = [d for d in declared if d.name not in assigned]
    if len(positional) > len(free):
        raise InputSpecError(
            f"{len(specs)} input shape(s) given but the model has {len(declared)} input(s): "
            + ", ".join(f"{d.name!r}" for d in declared)
        )
    for spec, target in zip(positional, free):
        assigned[target.name] = spec

    symbols: dict[str, int] = {}
    for d in declared:  # bind symbols from the given specs first, so other inputs can use them
        given = assigned.get(d.name)
        if given is not None:
            _check_spec(d, given, symbols)
    resolved = []
    for d in declared:
        given = assigned.get(d.name)
        if given is not None:
            resolved.append(ResolvedInput(d.name, tuple(given.shape), d.elem_type))
            continue
        if not d.has_shape:
            raise InputSpecError(f"input {d.name!r} declares no shape: give it with {_option(d, None)}")
        shape = []
        for i, dim in enumerate(d.dims):
            if isinstance(dim, int) and dim > 0:
                shape.append(dim)
            elif isinstance(dim, str) and dim in symbols:
                shape.append(symbols[dim])
            elif isinstance(dim, str):
                raise InputSpecError(f"input {d.name!r} dimension {i} ({dim!r}) is symbolic: give its size with {_option(d, symbols)}")
            else:
                raise InputSpecError(f"input {d.name!r} dimension {i} has no size in the model: give it with {_option(d, symbols)}")
        resolved.append(ResolvedInput(d.name, tuple(shape), d.elem_type))
    return resolved


def _check_spec(d: GraphInput, spec: InputSpec, symbols: dict[str, int]) -> None:
    shape = tuple(spec.shape)
    if d.has_shape and len(shape) != len(d.dims):
        raise InputSpecError(
            f"input {d.name!r} has {len(d.dims)} dimension(s) ({_dims_text(d.dims)}) but the shape given is {'x'.join(map(str, shape))}"
        )
    if spec.dtype is not None and d.elem_type:
        given = str(spec.dtype).removeprefix("torch.")
        if given != dtype_name(d.elem_type):
            raise InputSpecError(f"input {d.name!r} is {dtype_name(d.elem_type)} in the model, but {given} was given")
    for i, (dim, size) in enumerate(zip(d.dims, shape)):
        if isinstance(dim, int) and dim > 0 and dim != size:
            raise InputSpecError(f"input {d.name!r} dimension {i} is {dim} in the model, but {size} was given")
        if isinstance(dim, str):
            bound = symbols.setdefault(dim, size)
            if bound != size:
                raise InputSpecError(f"dimension {dim!r} is given as {bound} and as {size} (input {d.name!r} dimension {i})")


def _dims_text(dims: tuple[int | str | None, ...]) -> str:
    return "x".join(str(d) if d is not None else "?" for d in dims) or "scalar"


def _option(d: GraphInput, symbols: dict[str, int] | None) -> str:
    """``--input x=1x3x224x224`` with known dims filled in (1 for the unknown ones)."""
    example = []
    for dim in d.dims:
        if isinstance(dim, int) and dim > 0:
            example.append(dim)
        elif isinstance(dim, str) and symbols and dim in symbols:
            example.append(symbols[dim])
        else:
            example.append(1)
    shape = "x".join(map(str, example)) if example else "1"
    if _SPEC_NAME.match(d.name):
        return f"--input {d.name}={shape}"
    return f"--input {shape} (positional, in graph-input order)"


def batch_specs(declared: list[GraphInput], specs: list[InputSpec], batch: int, source: str = "the model") -> list[InputSpec]:
    """Specs that size every input with ``batch`` as its first dimension, where the model lets it.

    Given shapes get ``batch`` as their first dimension; an input without one gets it where its
    first dimension is symbolic (a named symbol also sizes the other inputs using it). When no
    input has a symbolic first dimension and one fixes it to another size, ``InputSpecError``.
    """
    if batch <= 0:
        raise UsageError(f"--batch must be positive, not {batch}")
    given = [InputSpec(shape=(batch,) + tuple(s.shape[1:]), dtype=s.dtype, name=s.name) if s.shape else s for s in specs]
    named = {s.name for s in given if s.name is not None}
    free = [d for d in declared if d.name not in named][len([s for s in given if s.name is None]):]
    symbolic = [d for d in free if d.has_shape and d.dims and not (isinstance(d.dims[0], int) and d.dims[0] > 0)]
    if not given and not symbolic:
        fixed = [d for d in free if d.has_shape and d.dims and d.dims[0] != batch]
        if fixed:
            shapes = ", ".join(f"{d.name} is {_dims_text(d.dims)}" for d in fixed)
            raise InputSpecError(f"--batch {batch} cannot be applied to {source}: no input has a symbolic first dimension "
                                 f"({shapes} in the file); export it with a dynamic batch dimension, or leave out --batch")
    symbols = {d.dims[0] for d in symbolic if isinstance(d.dims[0], str)}
    for d in symbolic:  # a spec for each input the batch sizes whole; others are left to resolve_inputs
        rest = d.dims[1:]
        if all((isinstance(x, int) and x > 0) or (isinstance(x, str) and x in symbols) for x in rest):
            shape = (batch,) + tuple(batch if isinstance(x, str) else int(x) for x in rest)  # type: ignore[arg-type]
            given.append(InputSpec(shape=shape, name=d.name))
    return given
