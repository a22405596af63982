"""Cost formulas, one module per op family. Importing this package registers all of them."""

from howfast.costs.formulas import (  # noqa: F401
    activations,
    attention,
    conv,
    data,
    elementwise,
    matmul,
    misc,
    norm,
    pooling,
    recurrent,
)
