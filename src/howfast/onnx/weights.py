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

Quantized graphs (``docs/onnx.md``, "Quantized graphs"): an initializer read only as a scale or a
zero point (``QPARAM_SLOTS``: the ``x_scale``, ``x_zero_point`` ... inputs of QuantizeLinear,
DequantizeLinear, QLinearConv, QGemm, QLinearAdd...; or a weight's scale that ONNX Runtime's
dynamic quantization multiplies with a ``DynamicQuantizeLinear`` scale) is a ``CONSTANT``, never a
parameter, and is listed in ``Weights.qparams``: the capture prices them as the model's
"scales and zero points" figure (``quantization_bytes``). The int8/uint8 weights and int32 biases
those ops read are ``PARAM``s at their stored widths.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
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
# Inputs that are quantization scales and zero points (op type -> input positions); QLinearConcat's
# are (y_scale, y_zero_point) then (x_scale, x_zero_point) after each of its inputs (``qparam_slot``).
QPARAM_SLOTS: dict[str, set[int]] = {
    "QuantizeLinear": {1, 2}, "DequantizeLinear": {1, 2}, "QLinearConv": {1, 2, 4, 5, 6, 7},
    "QLinearMatMul": {1, 2, 4, 5, 6, 7}, "ConvInteger": {2, 3}, "MatMulInteger": {2, 3},
    "QGemm": {1, 2, 4, 5, 7, 8}, "QLinearAdd": {1, 2, 4, 5, 6, 7}, "QLinearMul": {1, 2, 4, 5, 6, 7},
    "QLinearGlobalAveragePool": {1, 2, 3, 4}, "QLinearAveragePool": {1, 2, 3, 4}, "QLinearSigmoid": {1, 2, 3, 4},
    "QLinearLeakyRelu": {1, 2, 3, 4}, "QLinearSoftmax": {1, 2, 3, 4}, "DynamicQuantizeMatMul": {2, 3},
    "MatMulIntegerToFloat": {2, 3, 4, 5},
}
QUANTIZED = set(QPARAM_SLOTS) | {"QLinearConcat"}
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
    qparams: list[str] = field(default_factory=list)  # initializers read only as scales and zero points


def classify_weights(graph: Any, consumers: Consumers, buffers: frozenset[str] = frozenset()) -> Weights:
    """PARAM, BUFFER or CONSTANT for every initializer and every Identity copy of one; ``buffers``
    names the module buffers (``declared_buffers``)."""
    initializers = {t.name: t for t in graph.initializer}
    weights = with_copies(graph, initializers)
    copies = {name: t for name, t in weights.items() if name not in initializers}
    scales = dynamic_scales(graph)
    qparams = [name for name in initializers if is_qparam(graph, consumers, name, scales)]
    kinds = {name: kind_from_uses(graph, consumers, copies, name, tensor) for name, tensor in weights.items()}
    for name, kind in kinds.items():
        if kind == TensorKind.PARAM and (name in buffers or BUFFER_NAMES.search(name)):
            kinds[name] = TensorKind.BUFFER
    kinds.update(dict.fromkeys(qparams, TensorKind.CONSTANT))
    return Weights(kinds=kinds, copies=copies, names=list(weights), qparams=qparams)


def qparam_slot(op_type: str, slot: int) -> bool:
    """True when input ``slot`` of an ``op_type`` node is a quantization scale or zero point."""
    if op_type == "QLinearConcat":  # y_scale, y_zero_point, then (x, x_scale, x_zero_point) per input
        return slot < 2 or (slot - 2) % 3 != 0
    return slot in QPARAM_SLOTS.get(op_type, ())


def is_qparam(graph: Any, consumers: Consumers, name: str, scales: set[str]) -> bool:
    """An initializer read only as a scale or zero point: at a quantization parameter slot, or as the
    weight's scale ONNX Runtime's dynamic quantization multiplies with an activation's scale (a ``Mul``
    whose other operand is a ``DynamicQuantizeLinear`` scale output)."""
    uses = consumers.get(name, [])
    if not uses:
        return False
    for node_index, slot in uses:
        node = graph.node[node_index]
        if qparam_slot(node.op_type, slot):
            continue
        if node.op_type == "Mul" and len(node.input) == 2 and node.input[1 - slot] in scales:
            continue
        return False
    return True


def dynamic_scales(graph: Any) -> set[str]:
    """The scale outputs (output 1) of the graph's ``DynamicQuantizeLinear`` nodes."""
    return {node.output[1] for node in graph.node if node.op_type == "DynamicQuantizeLinear" and len(node.output) > 1 and node.output[1]}


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
