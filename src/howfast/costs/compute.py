"""What kind of arithmetic an op's MACs are: the report's MACs by compute type.

An integer kernel (the ``int8_gemm`` and ``int8_conv`` classes: quantized convolutions and
products, 8-bit activations times 8-bit weights accumulated in int32) computes in ``int8``; an fp8
product (``fp8_gemm``) in ``fp8``; every other op in the dtype of its first input (``fp32``,
``bf16``, ``fp16``), which is also what a weight-only product computes in: its int8 or int4
weights are dequantized to the activations' type inside the kernel.
"""

from __future__ import annotations

from howfast.costs.registry import OpClass
from howfast.graph.records import OpRecord

_CLASS_COMPUTE = {OpClass.INT8_GEMM: "int8", OpClass.INT8_CONV: "int8", OpClass.FP8_GEMM: "fp8"}
_SHORT = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64",
          "float8_e4m3fn": "fp8", "float8_e5m2": "fp8", "float8_e4m3fnuz": "fp8", "float8_e5m2fnuz": "fp8",
          "qint8": "int8", "quint8": "int8", "int8": "int8", "uint8": "int8"}


def short_dtype(dtype: str) -> str:
    """``"float32"`` -> ``"fp32"``, ``"bfloat16"`` -> ``"bf16"``, ``"qint8"`` -> ``"int8"``; others unchanged."""
    name = dtype.removeprefix("torch.")
    return _SHORT.get(name, name)


def compute_type(op_class: OpClass, record: OpRecord) -> str:
    """The arithmetic of one op's MACs (see the module docstring)."""
    fixed = _CLASS_COMPUTE.get(op_class)
    if fixed is not None:
        return fixed
    inputs = record.inputs
    return short_dtype(inputs[0].dtype) if inputs else "fp32"
