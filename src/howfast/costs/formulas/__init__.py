"""Cost formulas, one module per op family. Importing this package registers all of them."""

from howfast.costs.formulas import (  # noqa: F401
    activations,
    attention,
    backward,
    backward_pointwise,
    conv,
    data,
    elementwise,
    foreach,
    matmul,
    misc,
    norm,
    pooling,
    quantized,
    quantized_pointwise,
    recurrent,
)
