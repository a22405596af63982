"""ONNX element types as the dtype names and item sizes the rest of howfast uses (``float32``, 4)."""

from __future__ import annotations

# TensorProto.DataType value -> (name as torch spells it, bytes per element).
# Sub-byte types (int4, uint4, float4) are given 1 byte per element: the records hold whole bytes.
_TYPES: dict[int, tuple[str, int]] = {
    1: ("float32", 4),
    2: ("uint8", 1),
    3: ("int8", 1),
    4: ("uint16", 2),
    5: ("int16", 2),
    6: ("int32", 4),
    7: ("int64", 8),
    8: ("string", 8),
    9: ("bool", 1),
    10: ("float16", 2),
    11: ("float64", 8),
    12: ("uint32", 4),
    13: ("uint64", 8),
    14: ("complex64", 8),
    15: ("complex128", 16),
    16: ("bfloat16", 2),
    17: ("float8_e4m3fn", 1),
    18: ("float8_e4m3fnuz", 1),
    19: ("float8_e5m2", 1),
    20: ("float8_e5m2fnuz", 1),
    21: ("uint4", 1),
    22: ("int4", 1),
    23: ("float4_e2m1", 1),
    24: ("float8_e8m0", 1),
    25: ("uint2", 1),
    26: ("int2", 1),
}

INTEGER_TYPES = {2, 3, 4, 5, 6, 7, 12, 13, 21, 22, 25, 26}
INDEX_TYPES = {6, 7}  # int32 and int64: shapes, axes and indices
BOOL = 9
INT64 = 7


def dtype_name(elem_type: int) -> str:
    return _TYPES.get(elem_type, (f"onnx_type_{elem_type}", 1))[0]


def elem_type_of(name: str) -> int:
    """The ONNX element type of a dtype name (``float32`` -> 1; 1 for a name it does not know)."""
    return next((elem for elem, (known, _) in _TYPES.items() if known == name), 1)


def itemsize(elem_type: int) -> int:
    return _TYPES.get(elem_type, ("", 1))[1]


def itemsize_of(elem_type: int) -> int | None:
    """Bytes per element, or None for types whose size howfast does not know (or sub-byte types)."""
    if elem_type in (21, 22, 23, 25, 26) or elem_type not in _TYPES or elem_type == 8:
        return None
    return _TYPES[elem_type][1]


def is_float(elem_type: int) -> bool:
    return elem_type in (1, 10, 11, 16, 17, 18, 19, 20, 23, 24)


def is_index_or_bool(elem_type: int) -> bool:
    """Integer (any width) or boolean: the types of shapes, indices and masks."""
    return elem_type in INTEGER_TYPES or elem_type == BOOL
