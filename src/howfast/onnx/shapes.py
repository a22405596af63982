"""Static shapes for every value of an ONNX graph.

1. A *skeleton* of the model is built: the graph with its inputs fixed to the resolved shapes and
   its large initializers replaced by typed graph inputs (their shapes are all inference needs),
   so checking and inference never copy the weights and models over 2 GB work too.
2. ``onnx.shape_inference.infer_shapes(strict_mode=True)`` and ``onnx.checker.check_model`` run
   on it; any failure is a ``BadFileError`` quoting ONNX's message, which names the node. When
   values are left without static shapes, inference runs again with ``data_prop=True`` on the
   nodes whose propagated values stay small (``onnx/dataprop.py``: ONNX stores a propagated value
   as one shape dimension per element).
3. Values the whole-graph pass left without a static shape (a Reshape whose target shape is
   computed from ``Shape`` -> ``Gather`` -> ``Concat``, say) are filled in node by node while
   the graph is walked: ``infer_node_outputs`` with the constant inputs known so far, or, when
   every input is a known constant, by evaluating the node with ONNX's reference implementation
   (``onnx.reference``) on those small constants.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from howfast.errors import BadFileError, first_line
from howfast.onnx.inputs import ResolvedInput

Shape = tuple[int, ...]


def build_skeleton(model: Any, resolved: list[ResolvedInput], keep: set[str]) -> Any:
    """The model without large initializer data, with inputs fixed to ``resolved`` shapes.

    ``keep`` names the initializers whose data stays (small ones whose values we read).
    """
    from onnx import helper

    graph = model.graph
    shapes = {r.name: r for r in resolved}
    inputs = []
    seen = set()
    initializer_names = {t.name for t in graph.initializer}
    for value in graph.input:
        seen.add(value.name)
        if value.name in shapes:
            r = shapes[value.name]
            inputs.append(helper.make_tensor_value_info(value.name, r.elem_type, list(r.shape)))
        elif value.name in initializer_names and value.name not in keep:
            continue  # re-added below from the initializer's own dims
        else:
            inputs.append(value)
    initializers = []
    for tensor in graph.initializer:
        if tensor.name in keep:
            initializers.append(tensor)
        else:
            inputs.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    skeleton_graph = helper.make_graph(
        list(graph.node), graph.name or "graph", inputs, list(graph.output),
        initializer=initializers, value_info=list(graph.value_info),
    )
    for sparse in graph.sparse_initializer:
        skeleton_graph.sparse_initializer.append(sparse)
    skeleton = helper.make_model(skeleton_graph, opset_imports=list(model.opset_import))
    skeleton.ir_version = model.ir_version
    for function in model.functions:
        skeleton.functions.append(function)
    return skeleton


def check_and_infer(skeleton: Any, path: Any) -> dict[str, tuple[Shape | None, int]]:
    """Validate the skeleton and infer shapes; returns value name -> (static shape or None, elem type).

    Inference runs without data propagation first; when values are left without a static shape,
    it runs again with data propagation, on the nodes it can afford (``onnx/dataprop.py``).
    """
    import onnx
    from howfast.onnx import dataprop

    inferred = _infer(skeleton, path, data_prop=False)
    try:  # after inference, so graph outputs declared without a shape have one
        onnx.checker.check_model(inferred)
    except Exception as exc:
        raise BadFileError(f"{path} is not a valid ONNX model: {first_line(exc, 400)}") from exc
    values = _values(inferred.graph)
    table = _table(values, inferred.graph)
    if all(table.get(name, (None, 0))[0] is not None for node in skeleton.graph.node for name in node.output if name):
        return table  # every value static: nothing for data propagation to add
    functions = {(f.domain or "", f.name): f for f in skeleton.functions}
    ranks = dataprop.ranks_of(values)
    ranks.update({t.name: len(t.dims) for t in inferred.graph.initializer})
    cut = dataprop.cuts(skeleton.graph, table, ranks, list(skeleton.opset_import), functions)
    second = dataprop.without(skeleton, cut, {v.name: v for v in values}) if cut else skeleton
    propagated = _table(_values(_infer(second, path, data_prop=True).graph), inferred.graph)
    for name, entry in propagated.items():
        if entry[0] is not None or name not in table:
            table[name] = entry
    return table


def _infer(model: Any, path: Any, data_prop: bool) -> Any:
    from onnx import shape_inference

    try:
        return shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=data_prop)
    except Exception as exc:
        raise BadFileError(f"{path}: shape inference failed: {first_line(exc, 400)}") from exc


def _values(graph: Any) -> list[Any]:
    return list(graph.input) + list(graph.value_info) + list(graph.output)


def _table(values: list[Any], graph: Any) -> dict[str, tuple[Shape | None, int]]:
    table: dict[str, tuple[Shape | None, int]] = {}
    for value in values:
        entry = type_entry(value.type)
        if entry is not None and (value.name not in table or table[value.name][0] is None):
            table[value.name] = entry
    for tensor in graph.initializer:  # the small initializers kept in the skeleton
        table.setdefault(tensor.name, (tuple(int(d) for d in tensor.dims), int(tensor.data_type)))
    return table


def type_entry(type_proto: Any) -> tuple[Shape | None, int] | None:
    """(static shape or None, elem type) of a tensor TypeProto; None for non-tensor types."""
    if not type_proto.HasField("tensor_type"):
        return None
    ttype = type_proto.tensor_type
    if not ttype.HasField("shape"):
        return None, ttype.elem_type
    dims = []
    for d in ttype.shape.dim:
        if not d.HasField("dim_value") or d.dim_value < 0:
            return None, ttype.elem_type
        dims.append(int(d.dim_value))
    return tuple(dims), ttype.elem_type


def infer_node(node: Any, types: dict[str, tuple[Shape | None, int]], values: dict[str, np.ndarray], opsets: list[Any]) -> dict[str, tuple[Shape | None, int]]:
    """Output types of one node from its input types and the constant inputs known so far."""
    from onnx import defs, helper, numpy_helper, shape_inference

    version = _opset_version(opsets, node.domain)
    try:
        schema = defs.get_schema(node.op_type, version, node.domain)
    except Exception:
        return {}
    input_types = {}
    input_data = {}
    for name in node.input:
        if not name or name not in types:
            continue
        shape, elem = types[name]
        input_types[name] = helper.make_tensor_type_proto(elem, list(shape) if shape is not None else None)
        if name in values:
            try:
                input_data[name] = numpy_helper.from_array(np.asarray(values[name]), name)
            except Exception:
                pass
    try:
        outputs = shape_inference.infer_node_outputs(schema, node, input_types, input_data, opset_imports=list(opsets))
    except Exception:
        return {}
    found = {}
    for name, type_proto in outputs.items():
        entry = type_entry(type_proto)
        if entry is not None:
            found[name] = entry
    return found


def evaluate_node(node: Any, inputs: list[np.ndarray | None], opsets: list[Any]) -> list[np.ndarray] | None:
    """Run one node on constant inputs with ONNX's reference implementation (None if it cannot)."""
    from onnx.reference import ReferenceEvaluator

    from onnx import helper

    graph_inputs = []
    feeds = {}
    for name, value in zip(node.input, inputs):
        if not name:
            continue
        if value is None:
            return None
        array = np.asarray(value)
        try:
            elem = helper.np_dtype_to_tensor_dtype(array.dtype)
        except Exception:
            return None
        graph_inputs.append(helper.make_tensor_value_info(name, elem, list(array.shape)))
        feeds[name] = array
    outputs = [helper.make_empty_tensor_value_info(name) for name in node.output if name]
    try:
        graph = helper.make_graph([node], "fold", _unique(graph_inputs), outputs)
        model = helper.make_model(graph, opset_imports=list(opsets))
        results = ReferenceEvaluator(model).run(None, feeds)
    except Exception:
        return None
    return [np.asarray(r) for r in results]


def _unique(values: list[Any]) -> list[Any]:
    seen = set()
    unique = []
    for v in values:
        if v.name not in seen:
            seen.add(v.name)
            unique.append(v)
    return unique


def _opset_version(opsets: list[Any], domain: str) -> int:
    domain = domain or ""
    for opset in opsets:
        if (opset.domain or "") in (domain, "ai.onnx" if domain == "" else domain):
            return int(opset.version)
    return 1


def opset_version(opsets: list[Any], domain: str = "") -> int:
    return _opset_version(opsets, domain)

