"""ONNX data propagation, kept to the nodes it can afford.

``onnx.shape_inference.infer_shapes(data_prop=True)`` computes the values of shape arithmetic
(``Shape`` -> ``Gather`` -> ``Concat``) so that a ``Reshape`` to a computed shape gets a static
shape. It stores every value it propagates as a ``TensorShapeProto`` — one dimension (70-140
bytes) per element — for every 0-D or 1-D tensor that an op with a data propagator (``Add``,
``Sub``, ``Mul``, ``Cast``, ``Concat``, ``Gather``, ``Slice``, ``Squeeze``, ``Unsqueeze``,
``Shape``, ``Size``) reads or writes, whatever it holds: ``Cast(Range(0, 4e8))`` in a 112-byte
file asks for tens of gigabytes.

So inference runs twice. The first pass has no data propagation and gives every value whatever
static shape it can. A node is then *cut* from the second pass (``data_prop=True``) when its 0-D or
1-D inputs and outputs hold more than ``DATA_PROP_LIMIT`` elements, or a number unknown before
propagation, or when it holds a subgraph or calls a model-local function whose body has such an
op; the largest of the rest are cut until they hold ``DATA_PROP_BUDGET`` in all. A cut node's
outputs enter the second pass as graph inputs typed as the first pass left them, so their values
stay symbolic: the walk fills their shapes node by node with its own capped folding.
"""

from __future__ import annotations

from typing import Any

from howfast.onnx.limits import DATA_PROP_BUDGET, DATA_PROP_LIMIT, numel

Table = dict[str, tuple[tuple[int, ...] | None, int]]
UNBOUNDED = float("inf")


def cuts(graph: Any, table: Table, ranks: dict[str, int | None], opsets: list[Any], functions: dict[tuple[str, str], Any]) -> set[int]:
    """Indices of the nodes of ``graph`` to keep out of data propagation."""
    costs: dict[int, float] = {}
    for index, node in enumerate(graph.node):
        if _has_body(node, functions, opsets):
            costs[index] = UNBOUNDED
        elif _propagates(node, opsets):
            costs[index] = sum(_cost(name, table, ranks) for name in list(node.input) + list(node.output) if name)
    cut = {i for i, cost in costs.items() if cost > DATA_PROP_LIMIT}
    kept = sorted((cost, i) for i, cost in costs.items() if i not in cut)
    total = sum(cost for cost, _ in kept)
    while kept and total > DATA_PROP_BUDGET:  # the largest go first
        cost, index = kept.pop()
        cut.add(index)
        total -= cost
    return cut


def _cost(name: str, table: Table, ranks: dict[str, int | None]) -> float:
    """Elements data propagation would hold for the value ``name`` (0 for tensors of rank 2 or more)."""
    rank = ranks.get(name)
    if rank is None:
        return UNBOUNDED
    if rank >= 2:
        return 0
    shape = table.get(name, (None, 0))[0]
    return UNBOUNDED if shape is None else numel(shape)


def _propagates(node: Any, opsets: list[Any]) -> bool:
    from onnx import defs

    domain = node.domain or ""
    version = next((int(o.version) for o in opsets if (o.domain or "") in ({domain, "ai.onnx"} if domain == "" else {domain})), 0)
    try:
        return bool(defs.get_schema(node.op_type, version, domain).has_data_propagation_function)
    except Exception:  # no such op in this domain and version: inference does nothing with it
        return False


def _has_body(node: Any, functions: dict[tuple[str, str], Any], opsets: list[Any], depth: int = 0) -> bool:
    """True when ``node`` holds a subgraph or calls a local function with a propagating op inside."""
    bodies = [list(attr.g.node) for attr in node.attribute if attr.HasField("g")]
    bodies += [list(g.node) for attr in node.attribute for g in attr.graphs]
    function = functions.get((node.domain or "", node.op_type))
    if function is not None:
        bodies.append(list(function.node))
    if depth > 32:
        return bool(bodies)
    return any(_propagates(inner, opsets) or _has_body(inner, functions, opsets, depth + 1) for body in bodies for inner in body)


def without(skeleton: Any, cut: set[int], infos: dict[str, Any]) -> Any:
    """The skeleton without the ``cut`` nodes, their outputs graph inputs typed as ``infos`` gives them."""
    from onnx import helper

    graph = skeleton.graph
    defined = {value.name for value in graph.input}
    inputs = list(graph.input)
    for index in sorted(cut):
        for name in graph.node[index].output:
            if name and name not in defined:
                defined.add(name)
                inputs.append(infos[name] if name in infos else helper.make_empty_tensor_value_info(name))
    nodes = [node for i, node in enumerate(graph.node) if i not in cut]
    reduced = helper.make_graph(nodes, graph.name or "graph", inputs, list(graph.output),
                                initializer=list(graph.initializer), value_info=list(graph.value_info))
    reduced.sparse_initializer.extend(graph.sparse_initializer)
    model = helper.make_model(reduced, opset_imports=list(skeleton.opset_import))
    model.ir_version = skeleton.ir_version
    model.functions.extend(skeleton.functions)
    return model


def ranks_of(values: list[Any]) -> dict[str, int | None]:
    """Value name -> rank of its tensor type (None when it has no tensor type or no shape)."""
    found: dict[str, int | None] = {}
    for value in values:
        kind = value.type
        rank = len(kind.tensor_type.shape.dim) if kind.HasField("tensor_type") and kind.tensor_type.HasField("shape") else None
        if found.get(value.name) is None:
            found[value.name] = rank
    return found
