"""What a node handler works with: ``NodeContext`` (one node's inputs, attributes and ``emit``) and
the table of handlers, filled by ``@handles("Conv", ...)`` in the modules of ``howfast.onnx.handlers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from howfast.errors import BadFileError
from howfast.graph.records import TensorKind, TensorMeta
from howfast.onnx.nodes import attribute
from howfast.onnx.shapes import Shape, opset_version

if TYPE_CHECKING:
    from howfast.onnx.translate import Walker


class NodeContext:
    """One node being translated: its inputs as metas or constants, its attributes, and ``emit``."""

    def __init__(self, walker: Walker, node: Any, index: int, path: str) -> None:
        self.w = walker
        self.node = node
        self.index = index
        self.path = path
        self.op_type: str = node.op_type
        self.emitted = False

    # inputs
    def has(self, i: int) -> bool:
        return i < len(self.node.input) and bool(self.node.input[i])

    def x(self, i: int) -> TensorMeta | None:
        return self.w.metas[self.node.input[i]] if self.has(i) else None

    def req(self, i: int) -> TensorMeta:
        meta = self.x(i)
        if meta is None:
            raise BadFileError(f"{self.w.path}: node {self.node.name or self.op_type!r} ({self.op_type}) lacks its input {i}")
        return meta

    def value(self, i: int) -> np.ndarray | None:
        return self.w.values.get(self.node.input[i]) if self.has(i) else None

    def ints(self, i: int) -> list[int] | None:
        value = self.value(i)
        return None if value is None else [int(v) for v in np.asarray(value).reshape(-1)]

    def operand(self, i: int) -> Any:
        """A constant scalar as a Python number (as PyTorch passes ``x * 0.5``), else the tensor."""
        meta = self.req(i)
        value = self.value(i)
        if value is not None and meta.kind == TensorKind.CONSTANT and np.asarray(value).size == 1:
            scalar = np.asarray(value).reshape(-1)[0]
            return bool(scalar) if scalar.dtype == np.bool_ else (int(scalar) if scalar.dtype.kind in "iu" else float(scalar))
        return meta

    def attr(self, name: str, default: Any = None) -> Any:
        value = attribute(self.node, name, default)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return value

    def shape(self, i: int) -> Shape:
        return self.req(i).shape

    def out_shape(self, i: int = 0) -> Shape:
        shape = self.w.types.get(self.node.output[i], (None, 0))[0]
        if shape is None:
            raise BadFileError(self.w.unknown_shape(self.node.output[i]))
        return shape

    @property
    def opset(self) -> int:
        return opset_version(self.w.opsets, "")

    # outputs
    def out(self, i: int = 0) -> TensorMeta:
        name = self.node.output[i]
        if name in self.w.metas:
            return self.w.metas[name]
        return self.w.new_meta(name, TensorKind.ACTIVATION)

    def outs(self) -> list[TensorMeta]:
        return [self.out(i) for i in self.used_outputs()]

    def used_outputs(self) -> list[int]:
        """Indices of the outputs to record: all named ones except those nothing reads (no node, not a
        graph output) and that inference left without a shape (opset-9 Dropout's mask, say)."""
        return [i for i, name in enumerate(self.node.output) if name and not self.dropped(i)]

    def dropped(self, i: int) -> bool:
        name = self.node.output[i]
        return (self.w.types.get(name, (None, 0))[0] is None and name not in self.w.metas
                and not self.w.consumers.get(name) and name not in self.w.graph_outputs)

    def qparam(self, i: int) -> Any:
        """A quantization scale or zero point: a one-element value known here as a Python number (as
        PyTorch passes ``output_scale: float``, and as a scalar operand of arithmetic is passed), a
        computed or per-channel one as its tensor, None when the input is absent."""
        if not self.has(i):
            return None
        value = self.value(i)
        if value is not None and np.asarray(value).size == 1:
            scalar = np.asarray(value).reshape(-1)[0]
            return int(scalar) if scalar.dtype.kind in "iub" else float(scalar)
        return self.req(i)

    def new_out(self, i: int, shape: Shape, elem: int) -> TensorMeta:
        """Output ``i`` with a shape and element type the handler computed (an op outside the default
        domain, which ONNX shape inference does not know)."""
        return self.w.new_meta(self.node.output[i], TensorKind.ACTIVATION, shape, elem)

    def view_out(self, source: TensorMeta, i: int = 0) -> TensorMeta:
        return self.w.derive(self.node.output[i], source)

    def emit(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None, outputs: list[TensorMeta] | None = None,
             aliases: set[int] | None = None, module: str | None = None) -> None:
        outputs = self.outs() if outputs is None else outputs
        self.w.record(op, self.path if module is None else module, args, kwargs or {}, outputs, aliases or set())
        self.emitted = True

    def emit_view(self, op: str, args: tuple[Any, ...], source: TensorMeta, kwargs: dict[str, Any] | None = None) -> None:
        outputs = [self.view_out(source, i) for i in self.used_outputs()]
        self.emit(op, args, kwargs, outputs, set(range(len(outputs))))

    def unknown(self) -> None:
        domain = self.node.domain if self.node.domain not in ("", "ai.onnx") else ""
        name = f"onnx.{domain}.{self.op_type}" if domain else f"onnx.{self.op_type}"
        args = tuple(self.x(i) for i in range(len(self.node.input)))
        kwargs = {a.name: self.attr(a.name) for a in self.node.attribute if a.type in (1, 2, 3, 6, 7, 8)}
        self.emit(name, args, kwargs)

    def finish(self) -> None:
        """Every output gets a meta, even those no record wrote (so later nodes can read them), except
        the unread ones without a shape (``used_outputs``) and sequences (lists of metas)."""
        for i in self.used_outputs():
            name = self.node.output[i]
            if name not in self.w.metas and name not in self.w.sequences:
                self.out(i)


Handler = Callable[[NodeContext], None]
HANDLERS: dict[str, Handler] = {}
"""ONNX op type -> its handler: ``Conv`` for the default domain, ``<domain>.<OpType>`` for another
(``com.microsoft.QLinearAdd``). Filled by importing ``howfast.onnx.handlers``."""

DEFAULT_DOMAINS = ("", "ai.onnx")


def handler_key(domain: str, op_type: str) -> str:
    """The ``HANDLERS`` key of a node: its op type in the default domain, else ``domain.OpType``."""
    return op_type if domain in DEFAULT_DOMAINS else f"{domain}.{op_type}"


def handles(*op_types: str, domain: str = "") -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``op_types`` (of ``domain``)."""

    def register(fn: Handler) -> Handler:
        for op_type in op_types:
            HANDLERS[handler_key(domain, op_type)] = fn
        return fn

    return register


def spatial_list(values: Any, n: int, default: int) -> list[int]:
    """An ints attribute (strides, pads, dilations) as a list, ``n`` times ``default`` when absent."""
    if values is None or len(values) == 0:
        return [default] * n
    return [int(v) for v in values]
