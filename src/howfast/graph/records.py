"""Plain records for a captured graph: tensors, ops and the module tree they ran in.

Every front end (PyTorch dispatch capture, ONNX) produces these; every later stage (costs, passes,
report) reads only these. They hold metadata, never tensors, so a capture keeps no activations
alive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TensorKind(str, Enum):
    """What a tensor is to the model: its weights, its buffers, its inputs, or an activation."""

    PARAM = "param"
    BUFFER = "buffer"
    INPUT = "input"
    ACTIVATION = "activation"
    CONSTANT = "constant"


@dataclass(frozen=True, slots=True)
class TensorMeta:
    """Shape, dtype and identity of one tensor seen during capture.

    ``tid`` identifies the tensor object; ``storage`` identifies the memory it lives in, so views
    and in-place results share the ``storage`` of the tensor they alias.
    """

    tid: int
    storage: int
    shape: tuple[int, ...]
    dtype: str
    itemsize: int
    kind: TensorKind
    name: str = ""

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize

    @property
    def is_weight(self) -> bool:
        return self.kind in (TensorKind.PARAM, TensorKind.BUFFER)


@dataclass(slots=True)
class OpRecord:
    """One executed op: its name, where it ran, what it read and wrote, and its attributes.

    ``args`` keeps the op's positional arguments with tensors replaced by their ``TensorMeta`` and
    other values (ints, lists, floats, bools, None) as they were, so a formula can read strides,
    padding, groups or scale factors. ``aliases`` lists output positions that are views of (or
    in-place writes to) an input rather than new memory.
    """

    index: int
    op: str
    module: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outputs: tuple[TensorMeta, ...]
    aliases: frozenset[int] = frozenset()
    inplace: bool = False
    input_list: list[TensorMeta] | None = field(default=None, init=False, repr=False, compare=False)  # ``inputs``, once found

    @property
    def inputs(self) -> list[TensorMeta]:
        """Distinct tensor inputs, in argument order (each tensor once); found on first use (a record's
        arguments are not changed after it is made)."""
        return list(self.shared_inputs())

    def shared_inputs(self) -> list[TensorMeta]:
        """``inputs`` without the copy, for the passes that read every op's inputs and change none."""
        if self.input_list is None:
            seen: dict[int, TensorMeta] = {}
            for value in tensor_metas(self.args):
                seen.setdefault(value.tid, value)
            if self.kwargs:
                for value in tensor_metas(tuple(self.kwargs.values())):
                    seen.setdefault(value.tid, value)
            self.input_list = list(seen.values())
        return self.input_list

    @property
    def new_outputs(self) -> list[TensorMeta]:
        """Outputs that occupy new memory (not views of, or in-place writes to, an input)."""
        if not self.aliases:
            return list(self.outputs)
        return [t for i, t in enumerate(self.outputs) if i not in self.aliases]


def ancestors(path: str) -> list[str]:
    """Module paths from the root to ``path``: ``"a.b.c"`` -> ``["", "a", "a.b", "a.b.c"]``."""
    found = [""]
    if not path:
        return found
    dot = path.find(".")
    while dot >= 0:  # each prefix up to a dot: the parts joined, without splitting and joining them
        found.append(path[:dot])
        dot = path.find(".", dot + 1)
    found.append(path)
    return found


def tensor_metas(values: tuple[Any, ...] | list[Any]) -> list[TensorMeta]:
    """The ``TensorMeta``s in ``values``, nested lists and tuples included, in order."""
    found: list[TensorMeta] = []
    for value in values:
        kind = type(value)
        if kind is TensorMeta:
            found.append(value)
        elif kind in _SCALARS:
            continue
        elif isinstance(value, TensorMeta):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(tensor_metas(value))
    return found


_SCALARS = frozenset({int, float, bool, str, type(None)})  # what an op's arguments mostly hold beside tensors


@dataclass(slots=True)
class ModuleInfo:
    """A module of the model: its dotted path, class name and own (non-recursive) parameters."""

    path: str
    type: str
    depth: int
    params: int = 0
    param_bytes: int = 0
    calls: int = 0
    output_shapes: list[tuple[int, ...]] = field(default_factory=list)


@dataclass(slots=True)
class CapturedGraph:
    """Everything the capture saw: ops in execution order, the module tree, params and inputs."""

    model_name: str
    ops: list[OpRecord]
    modules: dict[str, ModuleInfo]
    inputs: list[TensorMeta]
    params: int
    param_bytes: int
    buffers: int
    buffer_bytes: int
    trainable_params: int
    used_params: int = 0
    used_param_bytes: int = 0
    outputs: list[TensorMeta] = field(default_factory=list)
    param_dtypes: dict[str, int] = field(default_factory=dict)
    param_dtype_bytes: dict[str, int] = field(default_factory=dict)
    quantization_bytes: int = 0  # stored scales and zero points: of quantized weights (PyTorch), of every tensor (ONNX)
    truncated_at: str | None = None
    notes: list[str] = field(default_factory=list)
