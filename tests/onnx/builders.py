"""Tiny ONNX graphs built with ``onnx.helper`` for hand-derived tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import onnx
from onnx import TensorProto, helper, numpy_helper

F = TensorProto.FLOAT


def value(name: str, shape: list[Any] | None, elem: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def weight(name: str, shape: tuple[int, ...], seed: int = 0, dtype: Any = np.float32) -> onnx.TensorProto:
    rng = np.random.default_rng(seed + len(name))
    return numpy_helper.from_array(rng.standard_normal(shape).astype(dtype), name)


def const(name: str, data: Any) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(data), name)


def model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
          initializers: list[onnx.TensorProto] = (), opset: int = 17, extra_opsets: dict[str, int] | None = None) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8
    return m


def save(m: onnx.ModelProto, path: Path) -> Path:
    onnx.save(m, str(path))
    return path


def single(tmp_path: Path, node: onnx.NodeProto, inputs, outputs, initializers=(), opset: int = 17, name: str = "m.onnx") -> Path:
    return save(model([node], inputs, outputs, initializers, opset), tmp_path / name)
