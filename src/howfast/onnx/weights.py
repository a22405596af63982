"""Which initializers are weights: ``PARAM``, ``BUFFER`` or ``CONSTANT``, by how the graph uses them.

An initializer is a ``PARAM`` when a layer reads it as data, a ``BUFFER`` when it is read only as
BatchNormalization running statistics, and a ``CONSTANT`` when every use is a shape, axes or index
argument or a scalar operand of arithmetic, or when it holds int32/int64/bool values not used as a
quantized weight or a lookup table. An ``Identity`` of an initializer is a named copy of it (the
PyTorch exporter merges initializers of equal value and restores the original names with
``Identity`` nodes) and is classified by its own uses.

A PyTorch *buffer* read as data (the rotary-embedding ``inv_freq`` of Hugging Face's Llama, a
non-persistent buffer) looks like a parameter from its uses; it is a ``BUFFER`` when the file says
so: ``howfast export`` lists the module's buffers in the model's metadata (``howfast.buffers``, a
JSON list of names), and an initializer named ``inv_freq`` (``model.rotary_emb.inv_freq``, as
Hugging Face names it) is one in any file.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from howfast.graph.records import TensorKind
from howfast.onnx import dtypes

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

BUFFERS_KEY = "howfast.buffers"  # model metadata: the JSON list of initializers that are module buffers
BUFFER_NAMES = re.compile(r"(?:^|[./_:])inv_freq$")  # Hugging Face rotary embeddings (register_buffer)

Consumers = dict[str, list[tuple[int, int]]]
"""Value name -> (node index, input slot) of every node reading it."""


@dataclass(frozen=True)
class Weights:
    """The weights of a graph: initializers and their ``Identity`` copies."""

    kinds: dict[str, TensorKind]  # PARAM, BUFFER or CONSTANT for every weight
    copies: dict[str, Any]  # copy name -> the initializer (TensorProto) it copies
    names: list[str]  # initializers, then their copies, in order


def classify_weights(graph: Any, consumers: Consumers, buffers: frozenset[str] = frozenset()) -> Weights:
    """PARAM, BUFFER or CONSTANT for every initializer and every Identity copy of one; ``buffers``
    names the module buffers (``declared_buffers``)."""
    initializers = {t.name: t for t in graph.initializer}
    weights = with_copies(graph, initializers)
    copies = {name: t for name, t in weights.items() if name not in initializers}
    kinds = {name: kind_from_uses(graph, consumers, copies, name, tensor) for name, tensor in weights.items()}
    for name, kind in kinds.items():
        if kind == TensorKind.PARAM and (name in buffers or BUFFER_NAMES.search(name)):
            kinds[name] = TensorKind.BUFFER
    return Weights(kinds=kinds, copies=copies, names=list(weights))


def declared_buffers(model: Any) -> frozenset[str]:
    """The initializers the model's metadata lists as module buffers (``howfast export`` writes it)."""
    for prop in model.metadata_props:
        if prop.key == BUFFERS_KEY:
            try:
                names = json.loads(prop.value)
            except ValueError:
                return frozenset()
            return frozenset(n for n in names if isinstance(n, str)) if isinstance(names, list) else frozenset()
    return frozenset()


def with_copies(graph: Any, initializers: dict[str, Any]) -> dict[str, Any]:
    """The initializers and the Identity copies of them, in order (chains of copies allowed)."""
    weights: dict[str, Any] = dict(initializers)
    for node in graph.node:
        if is_weight_copy(node, weights):
            weights[node.output[0]] = weights[node.input[0]]
    return weights


def is_weight_copy(node: Any, weights: dict[str, Any]) -> bool:
    return (node.op_type == "Identity" and node.domain in ("", "ai.onnx") and len(node.input) == 1
            and node.input[0] in weights and bool(node.output))


def kind_from_uses(graph: Any, consumers: Consumers, copies: dict[str, Any], name: str, tensor: Any) -> TensorKind:
    """The kind of weight ``name`` (holding ``tensor``) from the (op type, slot) of its uses."""
    uses = []
    for node_index, slot in consumers.get(name, []):
        node = graph.node[node_index]
        if node.op_type == "Identity" and node.output and node.output[0] in copies:
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
