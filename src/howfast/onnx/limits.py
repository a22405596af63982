"""How large a value the ONNX front end computes, so a file of a few bytes cannot ask for gigabytes.

A graph describes sizes, it does not store them: ``ConstantOfShape([20000, 20000])`` or
``Range(0, 4e8)`` fit in about 100 bytes and describe gigabytes. Analysis needs shapes, and values
only for shape arithmetic (a ``Reshape`` target, a ``Slice`` bound), which are small. So:

* a node is *folded* (evaluated once, its value kept) only when each output holds at most
  ``CONSTANT_LIMIT`` elements and all folded values together stay under ``FOLD_BUDGET``; a larger
  one stays an op of the model with a symbolic value (``aten.full`` of 20000 x 20000 is counted,
  never allocated);
* a ``Constant`` larger than ``CONSTANT_LIMIT`` (or a sparse one that would decode to more) keeps
  its shape and no value;
* ONNX's data propagation (``infer_shapes(data_prop=True)``) stores one shape dimension (some
  70-140 bytes) per element of every 0-D or 1-D value a propagating op (``Add``, ``Cast``,
  ``Concat``, ``Gather``...) reads or writes; nodes whose such values exceed ``DATA_PROP_LIMIT``
  elements, or whose sizes are unknown before propagation, are left out of it
  (``onnx/dataprop.py``), and all the others together stay under ``DATA_PROP_BUDGET``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

CONSTANT_LIMIT = 100_000  # elements of one value that is folded or evaluated (800 KB of int64)
FOLD_BUDGET = 5_000_000  # elements of all folded values together
DATA_PROP_LIMIT = 100_000  # elements of the 0-D/1-D values of one node that ONNX data propagation sees
DATA_PROP_BUDGET = 500_000  # ... of all the nodes it sees together


def numel(shape: Iterable[int]) -> int:
    """Elements of a static shape."""
    return math.prod(int(d) for d in shape)
