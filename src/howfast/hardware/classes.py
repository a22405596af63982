"""Op classes of the roofline pass and the figures a profile may hold per class (``[classes.<class>]``).

Split from ``profiles.py`` (which re-exports every name here): a sourced ``Figure``, the class
names, the class a class without figures falls back to, and ``ClassFigures``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Op classes of the roofline pass (declared with each op's formula, ``costs.registry.OpClass``, plus
# ``gemv``, a matrix product below the ridge point); a profile may give each an efficiency (fraction
# of the roofline attained) and a fixed per-op overhead, usually measured by ``howfast calibrate``.
OP_CLASSES = ("gemm", "gemv", "conv", "conv_im2col", "pwconv", "dwconv", "int8_gemm", "int8_conv", "fp8_gemm", "attention", "pool", "reduce",
              "norm", "elementwise", "activation", "data", "unknown")
# A class with no figures of its own in a profile is priced at another's: data movement and ops
# without a formula stream memory as element-wise ops do.
CLASS_FALLBACK = {"data": "elementwise", "unknown": "elementwise"}
# The figures a ``[classes.<class>]`` table may hold, in the order they are written.
CLASS_FIGURE_KEYS = ("efficiency", "overhead_s", "weight_s_per_byte", "window_s_per_read", "max_rows", "max_input_elements")
# Figures that may be 0 (a fitted cost term that explains nothing, an overhead of nothing).
CLASS_ZERO_KEYS = ("overhead_s", "weight_s_per_byte", "window_s_per_read")


@dataclass(frozen=True)
class Figure:
    """One number of a profile and where it comes from."""

    value: float
    source: str


@dataclass(frozen=True)
class ClassFigures:
    """Efficiency (fraction of the roofline time an op class attains) and fixed overhead of one op class."""

    efficiency: Figure | None = None
    overhead_s: Figure | None = None
    weight_s_per_byte: Figure | None = None  # per-call cost of preparing weights (re-layout/packing), s per byte
    # pool: s per window element read (the write-up model's input reads: k x k per output of a k x k window)
    window_s_per_read: Figure | None = None
    max_rows: Figure | None = None  # gemv: the most rows a matrix product runs as weight streaming (measured)
    # conv_im2col: the most input elements of a batch-1 convolution PyTorch's CPU dispatch runs on its
    # native im2col + GEMM path rather than oneDNN (``roofline.conv_path``)
    max_input_elements: Figure | None = None

    def items(self) -> dict[str, Figure]:
        """The figures present, by key (``CLASS_FIGURE_KEYS`` order)."""
        found = {key: getattr(self, key) for key in CLASS_FIGURE_KEYS}
        return {key: fig for key, fig in found.items() if fig is not None}
