"""Reading ONNX node protos: attribute values, the value of a ``Constant``, a numpy value's element type.

``onnx`` is imported inside the functions, so importing this module does not need it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def attribute(node: Any, name: str, default: Any) -> Any:
    """The value of ``node``'s attribute ``name`` (as ``onnx.helper`` decodes it), else ``default``."""
    from onnx import helper

    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def constant_value(node: Any) -> np.ndarray | None:
    """The value of a Constant node in its common forms (a tensor, a number or a list of numbers)."""
    from onnx import numpy_helper

    if len(node.attribute) != 1:
        return None
    attr = node.attribute[0]
    if attr.name == "value" and attr.HasField("t") and attr.t.data_location != 1:
        return numpy_helper.to_array(attr.t)
    simple = {"value_float": (attr.f, np.float32), "value_int": (attr.i, np.int64),
              "value_floats": (list(attr.floats), np.float32), "value_ints": (list(attr.ints), np.int64)}
    if attr.name in simple:
        data, dtype = simple[attr.name]
        return np.array(data, dtype=dtype)
    return None


def elem_of(value: np.ndarray) -> int:
    """The ONNX element type of a numpy value (float32, 1, when numpy's dtype has none)."""
    from onnx import helper

    try:
        return int(helper.np_dtype_to_tensor_dtype(np.asarray(value).dtype))
    except Exception:
        return 1
