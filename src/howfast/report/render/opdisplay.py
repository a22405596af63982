"""Op names as people know them, for chart labels: ``aten.native_batch_norm.default`` -> ``batch norm``.

One table (``FRIENDLY``) maps an op's *base* to its friendly name. The base is the op name without
its namespace, overload and in-place mark: ``aten.relu_.default`` -> ``relu``,
``aten._softmax.default`` -> ``softmax``, ``onnx.BatchNormalization`` -> ``batch_normalization``
(ONNX op types are CamelCase; a custom domain, ``onnx.com.microsoft.FusedConv``, is dropped too).
A base not in the table is looked up again without variant suffixes (``_with_indices``,
``_legit_no_training``) and without a dimension suffix (``max_pool2d`` -> ``max_pool``); failing
that, the base itself is the name, with underscores as spaces.

``aten_label`` is the exact name shown beside the friendly one (in hovers): the op without its
``.default`` overload, ``aten.relu_.default`` -> ``aten.relu_``, ``aten.empty.memory_format`` as is.
"""

from __future__ import annotations

import re

NAMESPACES = ("aten", "prims", "quantized", "torchvision", "onnx")
VARIANT_SUFFIXES = ("_with_indices", "_legit_no_training", "_legit_functional", "_legit", "_no_training", "_functional", "_kernel", "_for_cpu")

FRIENDLY: dict[str, str] = {
    # convolution and matrix products
    "convolution": "conv", "conv": "conv", "cudnn_convolution": "conv", "mkldnn_convolution": "conv",
    "convolution_overrideable": "conv", "conv_transpose": "transposed conv", "convolution_transpose": "transposed conv",
    "q_linear_conv": "quantized conv", "conv_integer": "integer conv",
    "addmm": "linear", "linear": "linear", "gemm": "linear",
    "mm": "matmul", "matmul": "matmul", "mat_mul": "matmul", "mv": "matvec", "dot": "dot product",
    "bmm": "batched matmul", "baddbmm": "batched matmul", "addbmm": "batched matmul", "einsum": "einsum",
    # normalisation
    "native_batch_norm": "batch norm", "batch_norm": "batch norm", "cudnn_batch_norm": "batch norm",
    "batch_normalization": "batch norm",
    "native_layer_norm": "layer norm", "layer_norm": "layer norm", "layer_normalization": "layer norm",
    "native_group_norm": "group norm", "group_norm": "group norm", "group_normalization": "group norm",
    "instance_norm": "instance norm", "instance_normalization": "instance norm",
    "rms_norm": "RMS norm", "fused_rms_norm": "RMS norm", "rms_normalization": "RMS norm",
    # activations
    "relu": "ReLU", "relu6": "ReLU6", "gelu": "GELU", "silu": "SiLU", "sigmoid": "sigmoid", "tanh": "tanh",
    "hardtanh": "hardtanh", "hardswish": "hard swish", "hard_swish": "hard swish", "hardsigmoid": "hard sigmoid",
    "hard_sigmoid": "hard sigmoid", "leaky_relu": "leaky ReLU", "elu": "ELU", "selu": "SELU", "celu": "CELU",
    "prelu": "PReLU", "p_relu": "PReLU", "mish": "mish", "softplus": "softplus", "glu": "GLU",
    # elementwise arithmetic
    "add": "add", "sub": "sub", "rsub": "sub", "mul": "mul", "div": "div", "neg": "neg", "pow": "power",
    "sqrt": "sqrt", "rsqrt": "reciprocal sqrt", "reciprocal": "reciprocal", "exp": "exp", "log": "log",
    "abs": "abs", "erf": "erf", "clamp": "clamp", "clamp_min": "clamp", "clamp_max": "clamp", "clip": "clamp",
    "where": "where", "masked_fill": "masked fill",
    # softmax and reductions
    "softmax": "softmax", "safe_softmax": "softmax", "log_softmax": "log softmax",
    "mean": "mean", "sum": "sum", "amax": "max", "amin": "min", "var_mean": "variance and mean", "var": "variance",
    "reduce_mean": "mean", "reduce_sum": "sum", "reduce_max": "max", "reduce_min": "min",
    # pooling and resampling
    "max_pool": "max pool", "avg_pool": "avg pool", "average_pool": "avg pool",
    "adaptive_avg_pool": "adaptive avg pool", "adaptive_max_pool": "adaptive max pool",
    "global_average_pool": "global avg pool", "global_max_pool": "global max pool",
    "upsample_nearest": "upsample (nearest)", "upsample_bilinear": "upsample (bilinear)", "upsample_bicubic": "upsample (bicubic)",
    "resize": "resize", "upsample": "upsample",
    # attention and lookups
    "scaled_dot_product_attention": "attention (SDPA)", "scaled_dot_product_flash_attention": "attention (SDPA)",
    "scaled_dot_product_efficient_attention": "attention (SDPA)", "scaled_dot_product_cudnn_attention": "attention (SDPA)",
    "flash_attention": "attention (SDPA)", "embedding": "embedding", "index_select": "index select", "gather": "gather",
    # memory, layout and copies
    "empty": "empty (allocation)", "empty_strided": "empty (allocation)", "zeros": "zeros", "ones": "ones",
    "full": "fill", "fill": "fill", "zero": "fill", "copy": "copy", "clone": "copy", "to_copy": "copy / cast",
    "cast": "cast", "view": "view", "reshape": "reshape", "unsafe_view": "view", "permute": "permute",
    "transpose": "transpose", "t": "transpose", "expand": "expand", "squeeze": "squeeze", "unsqueeze": "unsqueeze",
    "flatten": "flatten", "cat": "concat", "concat": "concat", "stack": "stack", "split": "split",
    "split_with_sizes": "split", "slice": "slice", "select": "select", "narrow": "narrow",
    "constant_pad_nd": "pad", "pad": "pad", "native_dropout": "dropout", "dropout": "dropout",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_DIMS = re.compile(r"(?<=[a-z])[1-3]d$")


def snake(camel: str) -> str:
    """``BatchNormalization`` -> ``batch_normalization``, ``MatMul`` -> ``mat_mul``; snake case stays."""
    return _CAMEL.sub("_", camel).lower()


def base(name: str) -> str:
    """The op's name without namespace, overload and in-place mark: ``aten.relu_.default`` -> ``relu``.

    ONNX op types (``onnx.Conv``, ``onnx.com.microsoft.FusedConv``) become snake case: ``conv``,
    ``fused_conv``. A dunder (``aten.__and__.Tensor``) loses its underscores: ``and``.
    """
    parts = name.split(".")
    if parts[0] == "onnx" and len(parts) > 1:
        return snake(parts[-1])
    stem = parts[1] if len(parts) > 1 and parts[0] in NAMESPACES else name
    return stem.strip("_") or stem


def friendly(name: str) -> str:
    """The name people know the op by (``FRIENDLY``), else its base with underscores as spaces."""
    key = base(name)
    for candidate in candidates(key):
        if candidate in FRIENDLY:
            return FRIENDLY[candidate]
    return key.replace("_", " ")


def candidates(key: str) -> list[str]:
    """The forms of ``key`` looked up, in order: as is, without a variant suffix, without a dimension suffix."""
    forms = [key]
    for suffix in VARIANT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            forms.append(key[: -len(suffix)])
            break
    forms.extend(_DIMS.sub("", form) for form in list(forms) if _DIMS.search(form))
    return forms


def aten_label(name: str) -> str:
    """The exact op name for a hover: without a ``.default`` overload (``aten.relu_.default`` -> ``aten.relu_``)."""
    return name.removesuffix(".default")
