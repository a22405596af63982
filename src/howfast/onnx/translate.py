"""Translate an ONNX graph into the op records the PyTorch capture produces.

Each ONNX node becomes the aten-style record(s) PyTorch would have run for it, with arguments in
the aten schema's order, so the one cost registry counts both front ends with the same formulas:
``Conv`` -> ``aten.convolution`` (input, weight, bias, stride, padding, dilation, transposed,
output_padding, groups), ``Gemm`` -> ``aten.t`` views for ``transA``/``transB`` and
``aten.addmm``/``aten.mm``, ``MatMul`` -> ``aten.matmul`` (or ``aten.addmm`` when it is an
``nn.Linear``: a weight operand whose only consumer adds a 1-D bias), ``BatchNormalization`` ->
``aten._native_batch_norm_legit_no_training`` (training variant per ``training_mode``), and so
on: the table is ``HANDLERS`` below and ``docs/onnx.md`` lists it. A node with no translation is
recorded as ``onnx.<OpType>`` (``onnx.<domain>.<OpType>`` outside the default domain): it has no
formula, so the report lists it as uncounted, never as zero.

Tensors: initializers are weights (``PARAM``; ``BUFFER`` for batch-norm running statistics; a
``CONSTANT`` when every use is a shape, axes or index argument or a scalar operand of arithmetic,
or when it holds int32/int64/bool values not used as a quantized weight or a lookup table),
named after the initializer and counted once however many nodes read them. An ``Identity`` of an
initializer is a named copy of it (the PyTorch exporter merges initializers of equal *value* and
restores the original names with ``Identity`` nodes) and is a weight of its own. Graph inputs are
``INPUT``; node outputs ``ACTIVATION``; view-like ops (Reshape, Transpose, Squeeze, Slice...) give
outputs sharing their input's storage, as in the PyTorch capture. Nodes computing only from
constants and static shapes (``Shape`` -> ``Gather`` -> ``Concat`` chains, integer ``Range``s,
scalar arithmetic) are folded: their values are computed once here and they are not ops of the
model, as Python shape arithmetic is not an op of a PyTorch model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import count
from typing import Any

import numpy as np

from howfast.graph.records import OpRecord, TensorKind, TensorMeta
from howfast.errors import BadFileError
from howfast.onnx import dtypes
from howfast.onnx.names import metadata_scopes, module_path
from howfast.onnx.shapes import Shape, evaluate_node, infer_node, opset_version

# Inputs that are arguments, not data: shapes, axes, indices, bounds (op type -> input positions).
CONSTANT_SLOTS: dict[str, set[int]] = {
    "Reshape": {1}, "Expand": {1}, "Tile": {1}, "Slice": {1, 2, 3, 4}, "Squeeze": {1}, "Unsqueeze": {1},
    "ReduceMean": {1}, "ReduceSum": {1}, "ReduceMax": {1}, "ReduceMin": {1}, "ReduceProd": {1},
    "ReduceL1": {1}, "ReduceL2": {1}, "ReduceLogSum": {1}, "ReduceLogSumExp": {1}, "ReduceSumSquare": {1},
    "Pad": {1, 2, 3}, "Resize": {1, 2, 3}, "Upsample": {1}, "Split": {1}, "TopK": {1}, "Range": {0, 1, 2},
    "ConstantOfShape": {0}, "Clip": {1, 2}, "OneHot": {1, 2}, "Gather": {1}, "GatherElements": {1},
    "GatherND": {1}, "ScatterElements": {1}, "ScatterND": {1}, "Scatter": {1}, "CumSum": {1},
    "Dropout": {1, 2}, "Trilu": {1}, "Compress": {1}, "LSTM": {4}, "GRU": {4}, "RNN": {4},
    "NonMaxSuppression": {2, 3, 4}, "CenterCropPad": {1}, "EyeLike": set(), "Shape": {0}, "Size": {0},
}
QUANTIZED = {"QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "DequantizeLinear", "QuantizeLinear", "QGemm"}
ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "LessOrEqual",
    "Greater", "GreaterOrEqual", "Where", "And", "Or", "Xor", "Mod", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
}
NEVER_FOLD = {
    "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli",
    "If", "Loop", "Scan", "SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceAt",
    "SplitToSequence", "ConcatFromSequence", "SequenceLength", "SequenceErase", "Optional",
    "OptionalGetElement", "OptionalHasElement",
}
FOLD_INPUT_LIMIT = 100_000  # elements: larger constant computations are left as ops


class Walker:
    """Walks the graph once, in node order, producing ``TensorMeta``s and ``OpRecord``s."""

    def __init__(self, model: Any, types: dict[str, tuple[Shape | None, int]], values: dict[str, np.ndarray], path: Any) -> None:
        self.model = model
        self.graph = model.graph
        self.path = path
        self.opsets = list(model.opset_import)
        self.types = dict(types)
        self.values = dict(values)
        self.metas: dict[str, TensorMeta] = {}
        self.ops: list[OpRecord] = []
        self.ids = count(1)
        self.skip: set[int] = set()
        self.folded = 0
        self.unnamed: dict[str, int] = {}
        self.node_paths: list[str] = []
        self.recorded_types: list[tuple[str, str]] = []  # (module path, ONNX op type) of translated nodes
        self.consumers: dict[str, list[tuple[int, int]]] = {}
        for i, node in enumerate(self.graph.node):
            for slot, name in enumerate(node.input):
                if name:
                    self.consumers.setdefault(name, []).append((i, slot))
        self.graph_outputs = {o.name for o in self.graph.output}
        self.producers = {name: node for node in self.graph.node for name in node.output if name}
        self.weight_names: list[str] = []  # initializers and their named copies, in order
        self.kinds = self._classify_weights()

    # ------------------------------------------------------------------ tensors

    def new_meta(self, name: str, kind: TensorKind, shape: Shape | None = None, elem: int | None = None, label: str = "") -> TensorMeta:
        if shape is None or elem is None:
            known_shape, known_elem = self.types.get(name, (None, 0))
            shape = known_shape if shape is None else shape
            elem = known_elem if elem is None else elem
        if shape is None:
            raise BadFileError(self.unknown_shape(name))
        tid = next(self.ids)
        meta = TensorMeta(tid=tid, storage=tid, shape=tuple(int(s) for s in shape), dtype=dtypes.dtype_name(elem or 1),
                          itemsize=dtypes.itemsize(elem or 1), kind=kind, name=label)
        self.metas[name] = meta
        self.types[name] = (meta.shape, elem or 1)
        return meta

    def derive(self, name: str, source: TensorMeta, shape: Shape | None = None) -> TensorMeta:
        """A view of ``source`` (same storage and kind), shaped as ``name`` is inferred to be."""
        if shape is None:
            shape = self.types.get(name, (None, 0))[0]
        if shape is None:
            raise BadFileError(self.unknown_shape(name))
        tid = next(self.ids)
        meta = TensorMeta(tid=tid, storage=source.storage, shape=tuple(int(s) for s in shape), dtype=source.dtype,
                          itemsize=source.itemsize, kind=source.kind, name=source.name)
        if name:
            self.metas[name] = meta
            elem = self.types.get(name, (None, 0))[1]
            self.types[name] = (meta.shape, elem)
        return meta

    def unknown_shape(self, name: str) -> str:
        node = self.producers.get(name)
        where = ""
        if node is not None:
            op = f"{node.domain}.{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
            where = f", output of node {node.name or node.op_type!r} ({op})"
        return (f"{self.path}: the shape of {name!r}{where} cannot be determined statically (ONNX shape inference "
                "leaves it unknown: a data-dependent shape or an operator without inference); howfast needs static shapes")

    def view_meta(self, source: TensorMeta, shape: Shape) -> TensorMeta:
        """An unnamed view (a transposed Gemm operand, a slice of an RNN weight)."""
        tid = next(self.ids)
        return TensorMeta(tid=tid, storage=source.storage, shape=tuple(shape), dtype=source.dtype,
                          itemsize=source.itemsize, kind=source.kind, name=source.name)

    # ------------------------------------------------------------------ weights

    def _classify_weights(self) -> dict[str, TensorKind]:
        """PARAM, BUFFER or CONSTANT for every initializer and every Identity copy of one."""
        initializers = {t.name: t for t in self.graph.initializer}
        weights: dict[str, Any] = dict(initializers)
        for node in self.graph.node:  # Identity copies of weights, in order (chains allowed)
            if node.op_type == "Identity" and node.domain in ("", "ai.onnx") and len(node.input) == 1 and node.input[0] in weights and node.output:
                weights[node.output[0]] = weights[node.input[0]]
        self.copies = {name: t for name, t in weights.items() if name not in initializers}
        kinds: dict[str, TensorKind] = {}
        for name, tensor in weights.items():
            self.weight_names.append(name)
            kinds[name] = self._kind_from_uses(name, tensor)
        return kinds

    def _kind_from_uses(self, name: str, tensor: Any) -> TensorKind:
        uses = []
        for node_index, slot in self.consumers.get(name, []):
            node = self.graph.node[node_index]
            if node.op_type == "Identity" and node.output and node.output[0] in self.copies:
                continue
            uses.append((node.op_type, slot))
        numel = math.prod(int(d) for d in tensor.dims)
        if not uses:
            return TensorKind.PARAM if dtypes.is_float(tensor.data_type) or tensor.data_type in (2, 3) else TensorKind.CONSTANT
        if all(op == "BatchNormalization" and slot in (3, 4) for op, slot in uses):
            return TensorKind.BUFFER
        if tensor.data_type in dtypes.INDEX_TYPES or tensor.data_type == dtypes.BOOL:
            # shapes, indices, masks: weights only as quantized biases or a lookup table's rows
            if not any(op in QUANTIZED or (op == "Gather" and slot == 0) for op, slot in uses):
                return TensorKind.CONSTANT
        if all(slot in CONSTANT_SLOTS.get(op, ()) or (op in ELEMENTWISE and numel <= 1) for op, slot in uses):
            return TensorKind.CONSTANT
        return TensorKind.PARAM

    def register_weights_and_inputs(self, inputs: list[Any]) -> list[TensorMeta]:
        for tensor in self.graph.initializer:
            self.metas[tensor.name] = self.new_meta(tensor.name, self.kinds[tensor.name], tuple(int(d) for d in tensor.dims), tensor.data_type, tensor.name)
        input_metas = []
        for r in inputs:
            input_metas.append(self.new_meta(r.name, TensorKind.INPUT, r.shape, r.elem_type, r.name))
        return input_metas

    # ------------------------------------------------------------------ the walk

    def walk(self) -> None:
        for index, node in enumerate(self.graph.node):
            path = module_path(node.name, node.op_type, self.unnamed, metadata_scopes(node))
            self.node_paths.append(path)
            if index in self.skip:
                self.recorded_types.append((path, node.op_type))
                continue
            self._check_inputs(node)
            default_domain = node.domain in ("", "ai.onnx")
            if default_domain and node.op_type == "Constant":
                self._constant(node)
                continue
            if default_domain and node.op_type == "Identity" and node.output and node.output[0] in self.copies:
                self._weight_copy(node)
                continue
            self._fill_types(node)
            if default_domain and self._fold(node):
                continue
            handler = HANDLERS.get(node.op_type) if default_domain else None
            ctx = NodeContext(self, node, index, path)
            try:
                if handler is None:
                    ctx.unknown()
                else:
                    handler(ctx)
                ctx.finish()
                if ctx.emitted:
                    self.recorded_types.append((path, node.op_type))
            except BadFileError:
                raise
            except Exception as exc:  # a malformed node the checker let through
                raise BadFileError(f"{self.path}: cannot read node {node.name or node.op_type!r} ({node.op_type}): {type(exc).__name__}: {exc}") from exc

    def _check_inputs(self, node: Any) -> None:
        for name in node.input:
            if name and name not in self.metas:
                raise BadFileError(f"{self.path}: node {node.name or node.op_type!r} ({node.op_type}) reads {name!r}, which nothing before it defines")

    def _constant(self, node: Any) -> None:
        value = _constant_value(node)
        if value is None:  # sparse or string forms: ONNX's reference implementation decodes them
            results = evaluate_node(node, [], self.opsets)
            value = results[0] if results else None
        if value is None or not node.output:
            raise BadFileError(f"{self.path}: Constant node {node.name!r} has no readable value")
        elem = _elem_of(value)
        self.values[node.output[0]] = value
        self.new_meta(node.output[0], TensorKind.CONSTANT, tuple(value.shape), elem, node.output[0])

    def _weight_copy(self, node: Any) -> None:
        name = node.output[0]
        source = self.metas[node.input[0]]
        elem = self.types.get(node.input[0], (None, 1))[1]
        self.new_meta(name, self.kinds[name], source.shape, elem, name)
        if node.input[0] in self.values:
            self.values[name] = self.values[node.input[0]]

    def _fill_types(self, node: Any) -> None:
        missing = [o for o in node.output if o and self.types.get(o, (None, 0))[0] is None]
        if not missing:
            return
        for name, entry in infer_node(node, self.types, self.values, self.opsets).items():
            if entry[0] is not None or name not in self.types:
                self.types[name] = entry
        missing = [o for o in node.output if o and self.types.get(o, (None, 0))[0] is None]
        if missing and node.op_type not in NEVER_FOLD and self._inputs_known(node):
            results = evaluate_node(node, [self.values.get(n) if n else None for n in node.input], self.opsets)
            if results is not None:
                for name, value in zip([o for o in node.output], results):
                    if name and self.types.get(name, (None, 0))[0] is None:
                        self.types[name] = (tuple(value.shape), _elem_of(value))

    def _inputs_known(self, node: Any) -> bool:
        names = [n for n in node.input if n]
        if sum(int(np.asarray(self.values[n]).size) for n in names if n in self.values) > FOLD_INPUT_LIMIT:
            return False
        return all(n in self.values for n in names)

    def _fold(self, node: Any) -> bool:
        """Compute a node whose inputs are constants or static shapes; True if it was folded."""
        if node.op_type in NEVER_FOLD or not node.output:
            return False
        if node.op_type in ("Shape", "Size"):
            shape = self.types.get(node.input[0], (None, 0))[0] if node.input else None
            if shape is None:
                return False
            if node.op_type == "Size":
                value = np.array(math.prod(shape), dtype=np.int64)
            else:
                start, end = _attr(node, "start", 0), _attr(node, "end", None)
                value = np.array(shape[slice(start, end)], dtype=np.int64)
            self._store_folded(node, [value])
            return True
        if any(self.metas[n].is_weight for n in node.input if n):
            return False
        if not self._inputs_known(node):
            return False
        for name in node.output:  # only shape-like results: integer, boolean, or single numbers
            shape, elem = self.types.get(name, (None, 0)) if name else ((), 7)
            if shape is not None and elem and not dtypes.is_index_or_bool(elem) and math.prod(shape) > 1:
                return False
        results = evaluate_node(node, [self.values.get(n) if n else None for n in node.input], self.opsets)
        if results is None or len(results) < len([o for o in node.output if o]):
            return False
        if not all(r.dtype.kind in "iub" or r.size <= 1 for r in results):
            return False
        self._store_folded(node, results)
        return True

    def _store_folded(self, node: Any, results: list[np.ndarray]) -> None:
        for name, value in zip([o for o in node.output if o], results):
            self.values[name] = value
            self.new_meta(name, TensorKind.CONSTANT, tuple(value.shape), _elem_of(value), name)
        self.folded += 1

    def record(self, op: str, module: str, args: tuple, kwargs: dict, outputs: list[TensorMeta], aliases: set[int], inplace: bool = False) -> None:
        self.ops.append(OpRecord(index=len(self.ops), op=op, module=module, args=tuple(args), kwargs=dict(kwargs),
                                 outputs=tuple(outputs), aliases=frozenset(aliases), inplace=inplace))


def _constant_value(node: Any) -> np.ndarray | None:
    """The value of a Constant node in its common forms (a tensor, a number or a list of numbers)."""
    from onnx import numpy_helper

    if len(node.attribute) != 1:
        return None
    attribute = node.attribute[0]
    if attribute.name == "value" and attribute.HasField("t") and attribute.t.data_location != 1:
        return numpy_helper.to_array(attribute.t)
    simple = {"value_float": (attribute.f, np.float32), "value_int": (attribute.i, np.int64),
              "value_floats": (list(attribute.floats), np.float32), "value_ints": (list(attribute.ints), np.int64)}
    if attribute.name in simple:
        data, dtype = simple[attribute.name]
        return np.array(data, dtype=dtype)
    return None


def _elem_of(value: np.ndarray) -> int:
    from onnx import helper

    try:
        return int(helper.np_dtype_to_tensor_dtype(np.asarray(value).dtype))
    except Exception:
        return 1


def _attr(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


class NodeContext:
    """One node being translated: its inputs as metas or constants, its attributes, and ``emit``."""

    def __init__(self, walker: Walker, node: Any, index: int, path: str) -> None:
        self.w = walker
        self.node = node
        self.index = index
        self.path = path
        self.op_type = node.op_type
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
        value = _attr(self.node, name, default)
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
        return [self.out(i) for i, name in enumerate(self.node.output) if name]

    def view_out(self, source: TensorMeta, i: int = 0) -> TensorMeta:
        return self.w.derive(self.node.output[i], source)

    def emit(self, op: str, args: tuple, kwargs: dict | None = None, outputs: list[TensorMeta] | None = None,
             aliases: set[int] | None = None, module: str | None = None) -> None:
        outputs = self.outs() if outputs is None else outputs
        self.w.record(op, self.path if module is None else module, args, kwargs or {}, outputs, aliases or set())
        self.emitted = True

    def emit_view(self, op: str, args: tuple, source: TensorMeta, kwargs: dict | None = None) -> None:
        outputs = [self.view_out(source, i) for i, name in enumerate(self.node.output) if name]
        self.emit(op, args, kwargs, outputs, set(range(len(outputs))))

    def unknown(self) -> None:
        domain = self.node.domain if self.node.domain not in ("", "ai.onnx") else ""
        name = f"onnx.{domain}.{self.op_type}" if domain else f"onnx.{self.op_type}"
        args = tuple(self.x(i) for i in range(len(self.node.input)))
        kwargs = {a.name: self.attr(a.name) for a in self.node.attribute if a.type in (1, 2, 3, 6, 7, 8)}
        self.emit(name, args, kwargs)

    def finish(self) -> None:
        """Every output gets a meta, even those no record wrote (so later nodes can read them)."""
        for i, name in enumerate(self.node.output):
            if name and name not in self.w.metas:
                self.out(i)


# ---------------------------------------------------------------------------------- handlers

Handler = Callable[[NodeContext], None]
HANDLERS: dict[str, Handler] = {}


def handles(*op_types: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for op_type in op_types:
            HANDLERS[op_type] = fn
        return fn

    return register


def _spatial_list(values: Any, n: int, default: int) -> list[int]:
    if values is None or len(values) == 0:
        return [default] * n
    return [int(v) for v in values]


@handles("Conv", "ConvTranspose")
def conv(n: NodeContext) -> None:
    x, w = n.req(0), n.req(1)
    bias = n.x(2)
    spatial = max(len(w.shape) - 2, 0)
    strides = _spatial_list(n.attr("strides"), spatial, 1)
    dilations = _spatial_list(n.attr("dilations"), spatial, 1)
    pads = _spatial_list(n.attr("pads"), 2 * spatial, 0)
    begin, end = pads[:spatial], pads[spatial:]
    padding = begin if begin == end else pads
    transposed = n.op_type == "ConvTranspose"
    groups = int(n.attr("group", 1))
    expected = w.shape[0] if transposed else w.shape[1] * groups
    if len(x.shape) < 2 or len(w.shape) < 3 or groups < 1 or x.shape[1] != expected:
        raise BadFileError(f"{n.w.path}: node {n.node.name or n.op_type!r} ({n.op_type}): the input has "
                           f"{x.shape[1] if len(x.shape) > 1 else '?'} channels, the weight {tuple(w.shape)} with group {groups} expects {expected}")
    output_padding = _spatial_list(n.attr("output_padding"), spatial, 0) if transposed else [0] * spatial
    n.emit("aten.convolution.default", (x, w, bias, strides, padding, dilations, transposed, output_padding, groups),
           {"auto_pad": n.attr("auto_pad")} if n.attr("auto_pad", "NOTSET") not in ("NOTSET", None) else {})


def _transposed(n: NodeContext, meta: TensorMeta) -> TensorMeta:
    """``aten.t`` of a 2-D operand: a free view, recorded as PyTorch records it."""
    view = n.w.view_meta(meta, tuple(reversed(meta.shape)))
    n.w.record("aten.t.default", n.path, (meta,), {}, [view], {0})
    return view


@handles("Gemm")
def gemm(n: NodeContext) -> None:
    a, b, c = n.req(0), n.req(1), n.x(2)
    if int(n.attr("transA", 0)):
        a = _transposed(n, a)
    if int(n.attr("transB", 0)):
        b = _transposed(n, b)
    alpha, beta = float(n.attr("alpha", 1.0)), float(n.attr("beta", 1.0))
    if c is None:
        n.emit("aten.mm.default", (a, b), {"alpha": alpha} if alpha != 1.0 else {})
        return
    kwargs = {k: v for k, v in (("beta", beta), ("alpha", alpha)) if v != 1.0}
    n.emit("aten.addmm.default", (c, a, b), kwargs)


@handles("MatMul")
def matmul(n: NodeContext) -> None:
    a, b = n.req(0), n.req(1)
    fused = _linear_bias(n, b)
    if fused is not None:
        add_index, bias, add_output = fused
        n.w.skip.add(add_index)
        out = n.w.new_meta(add_output, TensorKind.ACTIVATION)
        n.emit("aten.addmm.default", (bias, a, b), outputs=[out])
        # The MatMul's own output is never materialised: it is the addmm's before the bias.
        return
    n.emit("aten.matmul.default", (a, b))


def _linear_bias(n: NodeContext, b: TensorMeta) -> tuple[int, TensorMeta, str] | None:
    """An ``nn.Linear``: MatMul by a 2-D weight whose only consumer adds a 1-D weight bias."""
    if not b.is_weight or len(b.shape) != 2:
        return None
    out_name = n.node.output[0]
    consumers = n.w.consumers.get(out_name, [])
    if len(consumers) != 1 or out_name in n.w.graph_outputs:
        return None
    add_index, _ = consumers[0]
    add = n.w.graph.node[add_index]
    if add.op_type != "Add" or add.domain not in ("", "ai.onnx") or len(add.input) != 2 or not add.output:
        return None
    other = add.input[1] if add.input[0] == out_name else add.input[0]
    bias = n.w.metas.get(other)
    if bias is None or not bias.is_weight or bias.shape != (b.shape[1],):
        return None
    return add_index, bias, add.output[0]


@handles("BatchNormalization")
def batch_norm(n: NodeContext) -> None:
    x, scale, bias, mean, var = (n.x(i) for i in range(5))
    eps = float(n.attr("epsilon", 1e-5))
    momentum = 1.0 - float(n.attr("momentum", 0.9))  # ONNX keeps this share of the old statistic
    training = bool(int(n.attr("training_mode", 0))) or len([o for o in n.node.output if o]) > 1 and n.opset < 14
    if training:
        n.emit("aten._native_batch_norm_legit.default", (x, scale, bias, mean, var, True, momentum, eps))
    else:
        n.emit("aten._native_batch_norm_legit_no_training.default", (x, scale, bias, mean, var, momentum, eps))


@handles("InstanceNormalization")
def instance_norm(n: NodeContext) -> None:
    # PyTorch runs instance norm as a training-mode batch norm over (1, N x C, ...) without stats.
    n.emit("aten._native_batch_norm_legit.no_stats", (n.req(0), n.x(1), n.x(2), True, 0.1, float(n.attr("epsilon", 1e-5))))


@handles("LayerNormalization")
def layer_norm(n: NodeContext) -> None:
    x = n.req(0)
    axis = int(n.attr("axis", -1)) % max(len(x.shape), 1)
    n.emit("aten.native_layer_norm.default", (x, list(x.shape[axis:]), n.x(1), n.x(2), float(n.attr("epsilon", 1e-5))))


@handles("GroupNormalization")
def group_norm(n: NodeContext) -> None:
    x = n.req(0)
    batch, channels = (x.shape + (1, 1))[:2]
    hw = math.prod(x.shape[2:])
    n.emit("aten.native_group_norm.default", (x, n.x(1), n.x(2), batch, channels, hw, int(n.attr("num_groups", 1)), float(n.attr("epsilon", 1e-5))))


@handles("RMSNormalization")
def rms_norm(n: NodeContext) -> None:
    x = n.req(0)
    axis = int(n.attr("axis", -1)) % max(len(x.shape), 1)
    n.emit("aten._fused_rms_norm.default", (x, list(x.shape[axis:]), n.x(1), float(n.attr("epsilon", 1e-5))))


# element-wise --------------------------------------------------------------------------------

UNARY = {
    "Relu": "aten.relu.default", "Sigmoid": "aten.sigmoid.default", "Tanh": "aten.tanh.default",
    "Exp": "aten.exp.default", "Log": "aten.log.default", "Sqrt": "aten.sqrt.default", "Neg": "aten.neg.default",
    "Abs": "aten.abs.default", "Reciprocal": "aten.reciprocal.default", "Sin": "aten.sin.default",
    "Cos": "aten.cos.default", "Tan": "aten.tan.default", "Asin": "aten.asin.default", "Acos": "aten.acos.default",
    "Atan": "aten.atan.default", "Sinh": "aten.sinh.default", "Cosh": "aten.cosh.default", "Erf": "aten.erf.default",
    "Floor": "aten.floor.default", "Ceil": "aten.ceil.default", "Round": "aten.round.default", "Sign": "aten.sign.default",
    "Not": "aten.logical_not.default", "IsNaN": "aten.isnan.default", "IsInf": "aten.isinf.default",
    "BitwiseNot": "aten.bitwise_not.default", "HardSwish": "aten.hardswish.default", "Softplus": "aten.softplus.default",
    "Mish": "aten.mish.default", "Selu": "aten.selu.default", "Elu": "aten.elu.default", "Celu": "aten.celu.default",
    "HardSigmoid": "aten.hardsigmoid.default", "ThresholdedRelu": "aten.threshold.default",
}
BINARY = {
    "Add": "aten.add.Tensor", "Sub": "aten.sub.Tensor", "Mul": "aten.mul.Tensor", "Div": "aten.div.Tensor",
    "Pow": "aten.pow.Tensor_Tensor", "Equal": "aten.eq.Tensor", "Less": "aten.lt.Tensor", "LessOrEqual": "aten.le.Tensor",
    "Greater": "aten.gt.Tensor", "GreaterOrEqual": "aten.ge.Tensor", "And": "aten.logical_and.default",
    "Or": "aten.logical_or.default", "Xor": "aten.logical_xor.default", "BitwiseAnd": "aten.bitwise_and.Tensor",
    "BitwiseOr": "aten.bitwise_or.Tensor", "BitwiseXor": "aten.bitwise_xor.Tensor",
}


@handles(*UNARY)
def unary(n: NodeContext) -> None:
    n.emit(UNARY[n.op_type], (n.req(0),))


@handles(*BINARY)
def binary(n: NodeContext) -> None:
    a, b = n.operand(0), n.operand(1)
    op = BINARY[n.op_type]
    if op == "aten.pow.Tensor_Tensor" and not isinstance(b, TensorMeta):
        op = "aten.pow.Tensor_Scalar"
    n.emit(op, (a, b))


@handles("Mod")
def mod(n: NodeContext) -> None:
    n.emit("aten.fmod.Tensor" if int(n.attr("fmod", 0)) else "aten.remainder.Tensor", (n.operand(0), n.operand(1)))


@handles("Sum", "Max", "Min", "Mean")
def variadic(n: NodeContext) -> None:
    op = {"Sum": "aten.add.Tensor", "Mean": "aten.add.Tensor", "Max": "aten.maximum.default", "Min": "aten.minimum.default"}[n.op_type]
    operands = [n.operand(i) for i in range(len(n.node.input)) if n.has(i)]
    if len(operands) == 1:
        n.emit("aten.clone.default", (operands[0],))
        return
    out = n.out(0)
    acc = operands[0]
    for i, other in enumerate(operands[1:]):
        last = i == len(operands) - 2 and n.op_type != "Mean"
        target = out if last else _fresh(n, out)
        n.w.record(op, n.path, (acc, other), {}, [target], set())
        acc = target
    if n.op_type == "Mean":
        n.w.record("aten.div.Tensor", n.path, (acc, len(operands)), {}, [out], set())
    n.emitted = True


def _fresh(n: NodeContext, like: TensorMeta) -> TensorMeta:
    tid = next(n.w.ids)
    return TensorMeta(tid=tid, storage=tid, shape=like.shape, dtype=like.dtype, itemsize=like.itemsize, kind=TensorKind.ACTIVATION)


@handles("Where")
def where(n: NodeContext) -> None:
    n.emit("aten.where.self", (n.operand(0), n.operand(1), n.operand(2)))


@handles("LeakyRelu")
def leaky_relu(n: NodeContext) -> None:
    n.emit("aten.leaky_relu.default", (n.req(0), float(n.attr("alpha", 0.01))))


@handles("PRelu")
def prelu(n: NodeContext) -> None:
    n.emit("aten._prelu_kernel.default", (n.req(0), n.req(1)))


@handles("Gelu")
def gelu(n: NodeContext) -> None:
    n.emit("aten.gelu.default", (n.req(0),), {"approximate": n.attr("approximate", "none")})


@handles("Clip")
def clip(n: NodeContext) -> None:
    x = n.req(0)
    if n.opset < 11:
        low, high = n.attr("min"), n.attr("max")
    else:
        low = n.operand(1) if n.has(1) else None
        high = n.operand(2) if n.has(2) else None
    if isinstance(low, TensorMeta) or isinstance(high, TensorMeta):
        n.emit("aten.clamp.Tensor", (x, low, high))
    elif low is not None and high is not None:
        n.emit("aten.hardtanh.default", (x, low, high))
    elif low is not None:
        n.emit("aten.clamp_min.default", (x, low))
    elif high is not None:
        n.emit("aten.clamp_max.default", (x, high))
    else:
        n.emit("aten.clone.default", (x,))


@handles("Softmax", "LogSoftmax")
def softmax(n: NodeContext) -> None:
    x = n.req(0)
    rank = max(len(x.shape), 1)
    op = "aten._softmax.default" if n.op_type == "Softmax" else "aten._log_softmax.default"
    if n.opset < 13:  # the input is coerced to 2-D at axis: rows x prod(shape[axis:])
        axis = int(n.attr("axis", 1)) % rank
        if axis != rank - 1:
            flat = n.w.view_meta(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))
            n.emit(op, (flat, 1, False))
            return
        n.emit(op, (x, axis, False))
        return
    n.emit(op, (x, int(n.attr("axis", -1)) % rank, False))


@handles("Cast", "CastLike")
def cast(n: NodeContext) -> None:
    elem = n.w.types.get(n.node.output[0], (None, 1))[1]
    n.emit("aten._to_copy.default", (n.req(0),), {"dtype": dtypes.dtype_name(elem)})


@handles("Dropout")
def dropout(n: NodeContext) -> None:
    x = n.req(0)
    ratio = n.value(1)
    p = float(np.asarray(ratio).reshape(-1)[0]) if ratio is not None else float(n.attr("ratio", 0.5))
    mode = n.value(2)
    training = bool(np.asarray(mode).reshape(-1)[0]) if mode is not None else (n.opset < 7 and not int(n.attr("is_test", 0)))
    if training:
        n.emit("dropout", (x,), {"p": p, "training": True})
        return
    outputs = [n.view_out(x, 0)] + [n.out(i) for i in range(1, len(n.node.output)) if n.node.output[i]]
    n.emit("dropout", (x,), {"p": p, "training": False}, outputs, {0})


# views and copies ----------------------------------------------------------------------------


@handles("Reshape")
def reshape(n: NodeContext) -> None:
    x = n.req(0)
    n.emit_view("aten.view.default", (x, list(n.out_shape())), x)


@handles("Flatten")
def flatten(n: NodeContext) -> None:
    x = n.req(0)
    n.emit_view("aten.view.default", (x, list(n.out_shape())), x)


@handles("Transpose")
def transpose(n: NodeContext) -> None:
    x = n.req(0)
    perm = n.attr("perm") or list(reversed(range(len(x.shape))))
    n.emit_view("aten.permute.default", (x, [int(p) for p in perm]), x)


@handles("Squeeze")
def squeeze(n: NodeContext) -> None:
    x = n.req(0)
    axes = n.ints(1) if n.opset >= 13 else n.attr("axes")
    n.emit_view("aten.squeeze.dims", (x, list(axes or [])), x)


@handles("Unsqueeze")
def unsqueeze(n: NodeContext) -> None:
    x = n.req(0)
    axes = n.ints(1) if n.opset >= 13 else n.attr("axes")
    n.emit_view("aten.unsqueeze.default", (x, list(axes or [])), x)


@handles("Identity")
def identity(n: NodeContext) -> None:
    x = n.req(0)
    n.emit_view("aten.alias.default", (x,), x)


@handles("Expand")
def expand(n: NodeContext) -> None:
    x = n.req(0)
    n.emit_view("aten.expand.default", (x, list(n.out_shape())), x)


@handles("Slice")
def slice_(n: NodeContext) -> None:
    x = n.req(0)
    if n.opset < 10:
        starts, ends, axes, steps = n.attr("starts"), n.attr("ends"), n.attr("axes"), None
    else:
        starts, ends, axes, steps = n.ints(1), n.ints(2), n.ints(3), n.ints(4)
    dim = int(axes[0]) if axes else 0
    start = int(starts[0]) if starts else None
    end = int(ends[0]) if ends else None
    step = int(steps[0]) if steps else 1
    n.emit_view("aten.slice.Tensor", (x, dim, start, end, step), x)


@handles("Split")
def split(n: NodeContext) -> None:
    x = n.req(0)
    axis = int(n.attr("axis", 0))
    sizes = [n.w.types.get(o, ((),))[0][axis] if n.w.types.get(o, (None,))[0] else 0 for o in n.node.output if o]
    n.emit_view("aten.split_with_sizes.default", (x, sizes, axis), x)


@handles("Gather")
def gather(n: NodeContext) -> None:
    data, indices = n.req(0), n.req(1)
    axis = int(n.attr("axis", 0)) % max(len(data.shape), 1)
    if data.is_weight and axis == 0 and indices.dtype.startswith(("int", "uint")):
        n.emit("aten.embedding.default", (data, indices))
        return
    index_value = n.value(1)
    if index_value is not None and np.asarray(index_value).ndim == 0:
        n.emit_view("aten.select.int", (data, axis, int(np.asarray(index_value))), data)
        return
    n.emit("aten.index_select.default", (data, axis, indices))


@handles("GatherElements")
def gather_elements(n: NodeContext) -> None:
    n.emit("aten.gather.default", (n.req(0), int(n.attr("axis", 0)), n.req(1)))


@handles("GatherND")
def gather_nd(n: NodeContext) -> None:
    n.emit("aten.index.Tensor", (n.req(0), [n.req(1)]))


@handles("ScatterElements", "Scatter")
def scatter(n: NodeContext) -> None:
    n.emit("aten.scatter.src", (n.req(0), int(n.attr("axis", 0)), n.req(1), n.req(2)))


@handles("ScatterND")
def scatter_nd(n: NodeContext) -> None:
    n.emit("aten.index_put.default", (n.req(0), [n.req(1)], n.req(2)))


@handles("Concat")
def concat(n: NodeContext) -> None:
    tensors = [n.req(i) for i in range(len(n.node.input)) if n.has(i)]
    n.emit("aten.cat.default", (tensors, int(n.attr("axis", 0))))


@handles("Tile")
def tile(n: NodeContext) -> None:
    n.emit("aten.repeat.default", (n.req(0), n.ints(1)))


@handles("Pad")
def pad(n: NodeContext) -> None:
    x = n.req(0)
    mode = n.attr("mode", "constant")
    pads = n.attr("pads") if n.opset < 11 else n.ints(1)
    spatial = max(len(x.shape) - 2, 1)
    if mode == "reflect" and spatial <= 3:
        n.emit(f"aten.reflection_pad{spatial}d.default", (x, pads))
    elif mode == "edge" and spatial <= 3:
        n.emit(f"aten.replication_pad{spatial}d.default", (x, pads))
    else:
        n.emit("aten.constant_pad_nd.default" if mode == "constant" else "aten.pad.default", (x, pads))


@handles("Trilu")
def trilu(n: NodeContext) -> None:
    k = n.ints(1)
    n.emit("aten.triu.default" if int(n.attr("upper", 1)) else "aten.tril.default", (n.req(0), k[0] if k else 0))


@handles("DepthToSpace", "SpaceToDepth")
def depth_to_space(n: NodeContext) -> None:
    op = "aten.pixel_shuffle.default" if n.op_type == "DepthToSpace" else "aten.pixel_unshuffle.default"
    n.emit(op, (n.req(0), int(n.attr("blocksize", 1))))


@handles("CumSum")
def cumsum(n: NodeContext) -> None:
    axis = n.ints(1)
    n.emit("aten.cumsum.default", (n.req(0), axis[0] if axis else 0))


# creation ------------------------------------------------------------------------------------


@handles("Range")
def range_(n: NodeContext) -> None:
    args = tuple(n.operand(i) for i in range(3))
    n.emit("aten.arange.start_step", args)


@handles("ConstantOfShape")
def constant_of_shape(n: NodeContext) -> None:
    n.emit("aten.full.default", (list(n.out_shape()), 0))


@handles("EyeLike")
def eye_like(n: NodeContext) -> None:
    n.emit("aten.eye.default", tuple(n.out_shape()))


@handles("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike")
def random(n: NodeContext) -> None:
    op = "aten.randn.default" if "Normal" in n.op_type else "aten.rand.default"
    n.emit(op, (list(n.out_shape()),))


# pooling and reductions ----------------------------------------------------------------------


@handles("MaxPool", "AveragePool")
def pool(n: NodeContext) -> None:
    x = n.req(0)
    spatial = len(x.shape) - 2
    kernel = [int(k) for k in n.attr("kernel_shape", [])]
    if spatial not in (1, 2, 3) or len(kernel) != spatial:
        n.unknown()
        return
    strides = _spatial_list(n.attr("strides"), spatial, 1)
    pads = _spatial_list(n.attr("pads"), 2 * spatial, 0)
    ceil_mode = bool(int(n.attr("ceil_mode", 0)))
    if n.op_type == "MaxPool":
        dilations = _spatial_list(n.attr("dilations"), spatial, 1)
        indices = len([o for o in n.node.output if o]) > 1
        op = f"aten.max_pool{spatial}d_with_indices.default" if indices else f"aten.max_pool{spatial}d.default"
        n.emit(op, (x, kernel, strides, pads[:spatial], dilations, ceil_mode))
    else:
        include_pad = bool(int(n.attr("count_include_pad", 0)))
        n.emit(f"aten.avg_pool{spatial}d.default", (x, kernel, strides, pads[:spatial], ceil_mode, include_pad))


@handles("GlobalAveragePool", "GlobalMaxPool")
def global_pool(n: NodeContext) -> None:
    x = n.req(0)
    spatial = len(x.shape) - 2
    average = n.op_type == "GlobalAveragePool"
    if spatial in (1, 2, 3):
        if average:
            op = {1: "aten.adaptive_avg_pool1d.default", 2: "aten._adaptive_avg_pool2d.default", 3: "aten._adaptive_avg_pool3d.default"}[spatial]
        else:
            op = f"aten.adaptive_max_pool{spatial}d.default"
        n.emit(op, (x, [1] * spatial))
        return
    dims = list(range(2, len(x.shape)))
    n.emit("aten.mean.dim" if average else "aten.amax.default", (x, dims, True))


REDUCTIONS = {
    "ReduceMean": "aten.mean.dim", "ReduceSum": "aten.sum.dim_IntList", "ReduceMax": "aten.amax.default",
    "ReduceMin": "aten.amin.default", "ReduceProd": "aten.prod.dim_int", "ReduceL2": "aten.linalg_vector_norm.default",
    "ReduceL1": "aten.linalg_vector_norm.default", "ReduceLogSumExp": "aten.logsumexp.default",
}


@handles(*REDUCTIONS)
def reduce(n: NodeContext) -> None:
    x = n.req(0)
    attr_axes = n.op_type == "ReduceSum" and n.opset < 13 or n.op_type != "ReduceSum" and n.opset < 18
    axes = n.attr("axes") if attr_axes else n.ints(1)
    keepdims = bool(int(n.attr("keepdims", 1)))
    if not axes:
        if int(n.attr("noop_with_empty_axes", 0)):
            n.emit_view("aten.alias.default", (x,), x)
            return
        axes = list(range(len(x.shape)))
    n.emit(REDUCTIONS[n.op_type], (x, [int(a) for a in axes], keepdims))


@handles("ArgMax", "ArgMin")
def arg_reduce(n: NodeContext) -> None:
    op = "aten.argmax.default" if n.op_type == "ArgMax" else "aten.argmin.default"
    n.emit(op, (n.req(0), int(n.attr("axis", 0)), bool(int(n.attr("keepdims", 1)))))


# resizing ------------------------------------------------------------------------------------


@handles("Resize", "Upsample")
def resize(n: NodeContext) -> None:
    x = n.req(0)
    spatial = len(x.shape) - 2
    mode = n.attr("mode", "nearest")
    names = {
        "nearest": {1: "upsample_nearest1d", 2: "upsample_nearest2d", 3: "upsample_nearest3d"},
        "linear": {1: "upsample_linear1d", 2: "upsample_bilinear2d", 3: "upsample_trilinear3d"},
        "bilinear": {2: "upsample_bilinear2d"},
        "cubic": {2: "upsample_bicubic2d"},
    }
    name = names.get(mode, {}).get(spatial)
    if name is None:
        n.unknown()
        return
    n.emit(f"aten.{name}.vec", (x, list(n.out_shape()[2:]), None))


# attention and recurrent layers --------------------------------------------------------------


@handles("Attention")
def attention(n: NodeContext) -> None:
    q, k, v = n.req(0), n.req(1), n.req(2)
    if len(q.shape) != 4 or len(k.shape) != 4 or len(v.shape) != 4 or any(n.has(i) for i in (4, 5)):
        n.unknown()
        return
    outputs = n.outs()
    n.emit("scaled_dot_product_attention", (q, k, v, n.x(3), 0.0, bool(int(n.attr("is_causal", 0)))), outputs=outputs)


@handles("LSTM", "GRU", "RNN")
def recurrent(n: NodeContext) -> None:
    """The composite record PyTorch makes for nn.LSTM/GRU/RNN, weights as its flat per-direction list.

    ONNX stacks the directions: W (D, G x H, I), R (D, G x H, H), B (D, 2 x G x H). PyTorch keeps
    per direction w_ih (G x H, I), w_hh (G x H, H), b_ih and b_hh (G x H); the formula reads only
    their shapes, so each is a view of the ONNX weight (its storage, counted once).
    """
    x, w, r, b = n.req(0), n.req(1), n.req(2), n.x(3)
    directions = w.shape[0]
    gates_hidden = w.shape[1]
    params: list[TensorMeta] = []
    for _ in range(directions):
        params.append(n.w.view_meta(w, (gates_hidden, w.shape[2])))
        params.append(n.w.view_meta(r, (gates_hidden, r.shape[2])))
        if b is not None:
            params.append(n.w.view_meta(b, (gates_hidden,)))
            params.append(n.w.view_meta(b, (gates_hidden,)))
    if n.op_type == "RNN":
        activations = [a.decode() if isinstance(a, bytes) else str(a) for a in (n.attr("activations") or ["Tanh"])]
        kind = "rnn_relu" if activations[0].lower() == "relu" else "rnn_tanh"
    else:
        kind = n.op_type.lower()
    hx = [t for t in (n.x(5), n.x(6)) if t is not None]
    batch_first = bool(int(n.attr("layout", 0)))
    n.emit(kind, (x, hx, params, b is not None, 1, 0.0, False, directions == 2, batch_first))


@handles("Einsum")
def einsum(n: NodeContext) -> None:
    # the record PyTorch's capture makes for torch.einsum: (equation, operands)
    operands = [n.req(i) for i in range(len(n.node.input)) if n.has(i)]
    n.emit("einsum", (str(n.attr("equation", "")), operands))


# sorting, shrinking, sampling ----------------------------------------------------------------


@handles("TopK")
def topk(n: NodeContext) -> None:
    x = n.req(0)
    k = n.ints(1) if n.opset >= 10 else [int(n.attr("k", 1))]
    if not k:  # a k computed at run time: the output shape is unknown anyway
        n.unknown()
        return
    axis = int(n.attr("axis", -1)) % max(len(x.shape), 1)
    n.emit("aten.topk.default", (x, k[0], axis, bool(int(n.attr("largest", 1))), bool(int(n.attr("sorted", 1)))))


@handles("Shrink")
def shrink(n: NodeContext) -> None:
    lambd, bias = float(n.attr("lambd", 0.5)), float(n.attr("bias", 0.0))
    if bias == 0.0:
        n.emit("aten.hardshrink.default", (n.req(0), lambd))
    elif bias == lambd:
        n.emit("aten.softshrink.default", (n.req(0), lambd))
    else:
        n.unknown()


@handles("GridSample")
def grid_sample(n: NodeContext) -> None:
    x = n.req(0)
    mode = n.attr("mode", "linear")
    code = {"bilinear": 0, "linear": 0, "nearest": 1, "bicubic": 2, "cubic": 2}.get(mode)
    if code is None or len(x.shape) not in (4, 5):
        n.unknown()
        return
    padding = {"zeros": 0, "border": 1, "reflection": 2}.get(n.attr("padding_mode", "zeros"), 0)
    op = "aten.grid_sampler_2d.default" if len(x.shape) == 4 else "aten.grid_sampler_3d.default"
    n.emit(op, (x, n.req(1), code, padding, bool(int(n.attr("align_corners", 0)))))
