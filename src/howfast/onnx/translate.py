"""Translate an ONNX graph into the op records the PyTorch capture produces: the ``Walker``.

Each ONNX node becomes the aten-style record(s) PyTorch would have run for it, with arguments in
the aten schema's order, so the one cost registry counts both front ends with the same formulas:
``Conv`` -> ``aten.convolution`` (input, weight, bias, stride, padding, dilation, transposed,
output_padding, groups), ``Gemm`` -> ``aten.t`` views for ``transA``/``transB`` and
``aten.addmm``/``aten.mm``, ``MatMul`` -> ``aten.matmul`` (or ``aten.addmm`` when it is an
``nn.Linear``: a weight operand whose only consumer adds a 1-D bias), ``BatchNormalization`` ->
``aten._native_batch_norm_legit_no_training`` (training variant per ``training_mode``), and so
on: the handlers are the modules of ``howfast.onnx.handlers``, one per op family, registered in
``howfast.onnx.context.HANDLERS``, and ``docs/onnx.md`` lists them. Quantized nodes (QLinearConv,
QuantizeLinear...; ONNX Runtime's ``com.microsoft`` QGemm, QLinearAdd..., keyed ``domain.OpType``)
become the PyTorch quantized records (``handlers/quantized.py``, ``handlers/contrib.py``). A node
with no translation is recorded as ``onnx.<OpType>`` (``onnx.<domain>.<OpType>`` outside the
default domain): it has no formula, so the report lists it as uncounted, never as zero.

Tensors: initializers are weights (``PARAM``; ``BUFFER`` for batch-norm running statistics; a
``CONSTANT`` when every use is a shape, axes or index argument or a scalar operand of arithmetic,
or when it holds int32/int64/bool values not used as a quantized weight or a lookup table),
named after the initializer and counted once however many nodes read them. An ``Identity`` of an
initializer is a named copy of it (the PyTorch exporter merges initializers of equal *value* and
restores the original names with ``Identity`` nodes) and is a weight of its own; ``weights.py``
classifies them. Graph inputs are ``INPUT``; node outputs ``ACTIVATION``; view-like ops (Reshape,
Transpose, Squeeze, Slice...) give outputs sharing their input's storage, as in the PyTorch
capture. Nodes computing only from constants and static shapes (``Shape`` -> ``Gather`` ->
``Concat`` chains, integer ``Range``s, scalar arithmetic) are folded: their values are computed
once here and they are not ops of the model, as Python shape arithmetic is not an op of a
PyTorch model.
"""

from __future__ import annotations

import math
from itertools import count
from typing import Any

import numpy as np

from howfast.errors import BadFileError
from howfast.graph.records import OpRecord, TensorKind, TensorMeta
from howfast.onnx import dtypes
from howfast.onnx.context import Handler, NodeContext, handler_key
from howfast.onnx.handlers import HANDLERS
from howfast.onnx.limits import CONSTANT_LIMIT, FOLD_BUDGET, numel
from howfast.onnx.names import metadata_scopes, module_path
from howfast.onnx.nodes import attribute, constant_value, elem_of
from howfast.onnx.shapes import Shape, evaluate_node, infer_node
from howfast.onnx.weights import classify_weights, declared_buffers

NEVER_FOLD = {
    "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli",
    "If", "Loop", "Scan", "SequenceConstruct", "SequenceEmpty", "SequenceInsert", "SequenceAt",
    "SplitToSequence", "ConcatFromSequence", "SequenceLength", "SequenceErase", "Optional",
    "OptionalGetElement", "OptionalHasElement",
}
FOLD_INPUT_LIMIT = CONSTANT_LIMIT  # elements: larger constant computations are left as ops
# Ops evaluated to learn an output shape that inference left unknown: their outputs are no larger
# than their inputs (an op whose output size is set by its values, Range, Tile, Expand,
# ConstantOfShape, Pad..., is never evaluated for its shape: inference reads its constant inputs).
EVALUATED_FOR_SHAPE = {
    "NonZero", "Unique", "Compress", "TopK", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Slice", "Split",
    "Transpose", "Identity", "Cast", "CastLike", "Concat", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceMean",
    "ReduceProd", "ArgMax", "ArgMin", "Shape", "Size",
}


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
        self.folded_elements = 0  # of all folded values, capped at FOLD_BUDGET
        self.sequences: dict[str, list[TensorMeta]] = {}  # ONNX sequence values: lists of tensors
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
        weights = classify_weights(self.graph, self.consumers, declared_buffers(model))
        self.weight_names: list[str] = weights.names  # initializers and their named copies, in order
        self.copies: dict[str, Any] = weights.copies  # Identity copy name -> the initializer it copies
        self.kinds: dict[str, TensorKind] = weights.kinds
        self.qparams: list[str] = weights.qparams  # initializers read only as scales and zero points

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

    # ------------------------------------------------------------------ weights and inputs

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
            if index in self.skip:  # the Add of an nn.Linear, recorded with its MatMul
                self.recorded_types.append((path, node.op_type))
                continue
            self._check_inputs(node)
            self._visit(node, index, path)

    def _visit(self, node: Any, index: int, path: str) -> None:
        """A Constant, a named weight copy, a folded node, or a node translated into records."""
        default_domain = node.domain in ("", "ai.onnx")
        if default_domain and node.op_type == "Constant":
            self._constant(node)
            return
        if default_domain and node.op_type == "Identity" and node.output and node.output[0] in self.copies:
            self._weight_copy(node)
            return
        self.fill_types(node)
        if default_domain and self._fold(node):
            return
        self._translate(node, index, path, HANDLERS.get(handler_key(node.domain, node.op_type)))

    def _translate(self, node: Any, index: int, path: str, handler: Handler | None) -> None:
        """Run the node's handler (an ``onnx.<OpType>`` record when it has none)."""
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
            if name and name not in self.metas and name not in self.sequences:
                raise BadFileError(f"{self.path}: node {node.name or node.op_type!r} ({node.op_type}) reads {name!r}, which nothing before it defines")

    def _constant(self, node: Any) -> None:
        if not node.output:
            raise BadFileError(f"{self.path}: Constant node {node.name!r} has no output")
        name = node.output[0]
        value = constant_value(node)  # its data is in the file: no larger than the file
        declared = self.types.get(name, (None, 0))
        if value is None and (_external(node) or declared[0] is None or numel(declared[0]) > CONSTANT_LIMIT):
            # data outside the file, or a sparse constant that would decode to more than the cap: the
            # shape is all analysis needs, the value stays symbolic
            if declared[0] is None:
                raise BadFileError(f"{self.path}: Constant node {node.name!r} has no readable value")
            self.new_meta(name, TensorKind.CONSTANT, declared[0], declared[1], name)
            return
        if value is None:  # sparse or string forms: ONNX's reference implementation decodes them
            results = evaluate_node(node, [], self.opsets)
            value = results[0] if results else None
        if value is None:
            raise BadFileError(f"{self.path}: Constant node {node.name!r} has no readable value")
        if value.size <= CONSTANT_LIMIT:  # larger ones are data, never a shape argument
            self.values[name] = value
        self.new_meta(name, TensorKind.CONSTANT, tuple(value.shape), elem_of(value), name)

    def _weight_copy(self, node: Any) -> None:
        name = node.output[0]
        source = self.metas[node.input[0]]
        elem = self.types.get(node.input[0], (None, 1))[1]
        self.new_meta(name, self.kinds[name], source.shape, elem, name)
        if node.input[0] in self.values:
            self.values[name] = self.values[node.input[0]]

    def fill_types(self, node: Any) -> None:
        """Output types of ``node`` that whole-graph inference left unknown, from the values known so far."""
        missing = [o for o in node.output if o and self.types.get(o, (None, 0))[0] is None]
        if not missing:
            return
        for name, entry in infer_node(node, self.types, self.values, self.opsets).items():
            if entry[0] is not None or name not in self.types:
                self.types[name] = entry
        missing = [o for o in node.output if o and self.types.get(o, (None, 0))[0] is None]
        if missing and node.op_type in EVALUATED_FOR_SHAPE and node.domain in ("", "ai.onnx") and self._inputs_known(node):
            results = evaluate_node(node, [self.values.get(n) if n else None for n in node.input], self.opsets)
            if results is not None:
                for name, value in zip([o for o in node.output], results):
                    if name and self.types.get(name, (None, 0))[0] is None:
                        self.types[name] = (tuple(value.shape), elem_of(value))

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
            return self._fold_shape(node)
        if any(self.metas[n].is_weight for n in node.input if n):
            return False
        if not self._inputs_known(node):
            return False
        size = 0
        for name in node.output:  # only shape-like results: integer, boolean, or single numbers, of known size
            shape, elem = self.types.get(name, (None, 0)) if name else ((), 7)
            if shape is None or numel(shape) > CONSTANT_LIMIT:
                return False  # never computed: a value of unknown or large size stays symbolic
            if elem and not dtypes.is_index_or_bool(elem) and numel(shape) > 1:
                return False
            size += numel(shape)
        if self.folded_elements + size > FOLD_BUDGET:
            return False
        results = evaluate_node(node, [self.values.get(n) if n else None for n in node.input], self.opsets)
        if results is None or len(results) < len([o for o in node.output if o]):
            return False
        if not all(r.dtype.kind in "iub" or r.size <= 1 for r in results):
            return False
        self._store_folded(node, results)
        return True

    def _fold_shape(self, node: Any) -> bool:
        """A Shape or Size of a statically shaped value: its value, from the shape."""
        shape = self.types.get(node.input[0], (None, 0))[0] if node.input else None
        if shape is None:
            return False
        if node.op_type == "Size":
            value = np.array(math.prod(shape), dtype=np.int64)
        else:
            start, end = attribute(node, "start", 0), attribute(node, "end", None)
            value = np.array(shape[slice(start, end)], dtype=np.int64)
        self._store_folded(node, [value])
        return True

    def _store_folded(self, node: Any, results: list[np.ndarray]) -> None:
        for name, value in zip([o for o in node.output if o], results):
            self.values[name] = value
            self.folded_elements += int(value.size)
            self.new_meta(name, TensorKind.CONSTANT, tuple(value.shape), elem_of(value), name)
        self.folded += 1

    def record(self, op: str, module: str, args: tuple[Any, ...], kwargs: dict[str, Any], outputs: list[TensorMeta], aliases: set[int],
               inplace: bool = False) -> None:
        self.ops.append(OpRecord(index=len(self.ops), op=op, module=module, args=tuple(args), kwargs=dict(kwargs),
                                 outputs=tuple(outputs), aliases=frozenset(aliases), inplace=inplace))


def _external(node: Any) -> bool:
    """True when a Constant's tensor keeps its data outside the file (external data)."""
    return any(attr.HasField("t") and attr.t.data_location == 1 for attr in node.attribute)
