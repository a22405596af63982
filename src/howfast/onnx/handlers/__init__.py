"""The node handlers, one module per op family. Importing this package registers all of them in
``HANDLERS`` (ONNX op type -> handler), the table the walk looks node types up in."""

from howfast.onnx.context import HANDLERS
from howfast.onnx.handlers import (  # noqa: F401  (importing registers the handlers)
    contrib,
    data,
    elementwise,
    linear,
    lists,
    norm,
    pooling,
    quantized,
    reductions,
    sequence,
    views,
)

__all__ = ["HANDLERS"]
