"""Backward kernels that work element by element or row by row: activations, softmax, losses,
dropout, pooling, embedding and the gradients of views.

A backward op takes its forward op's class and fusion role (an activation's backward is an
epilogue of the op that produces its grad_output, and transcendental when its derivative is).
Activation backward FLOPs per element, the multiply by grad_output included (``BACKWARD_FLOPS``):
ReLU (``threshold_backward``) 1 (select dy where x > t); ReLU6 (``hardtanh_backward``) 2 (two
compares and a select); leaky ReLU 2 (compare, multiply, select); ELU 4 from its result (compare,
add, 2 multiplies), 5 from its input (+ exp); GELU 11 (cdf 0.5 (1 + erf(x / sqrt 2)) 4, pdf
exp(-x^2 / 2) / sqrt(2 pi) 4, dy (cdf + x pdf) 3); GELU-tanh 22 (x^2, x^3, the inner polynomial 3,
tanh 5, 0.5 x, 1 + t, 0.5 (1 + t), 1 - t^2 2, its derivative 3, combine 3, x dy); SiLU 9
(sigmoid 4, dy s (1 + x (1 - s)) 5); sigmoid 3 (dy y (1 - y)) and tanh 3 (dy (1 - y^2)) from their
results; hardswish 5 (2 compares, x / 3 + 0.5, x dy); hardsigmoid 3 (2 compares, dy / 6); softplus
6 (x beta, exp, compare, z / (z + 1), x dy); Mish 18 (softplus 3, tanh 5, sigmoid 4, dy (t + x s
(1 - t^2)) 6).

Softmax backward over rows of n: dx = y (dy - sum(dy y)): n multiplies and n - 1 adds for the sum,
a subtract and a multiply per element: 4n - 1 per row. Log-softmax backward: dx = dy - exp(y)
sum(dy): n - 1 adds, exp, multiply, subtract: 4n - 1 per row.

Losses (per element of the input; a grad_output that is one scalar is folded into the per-element
factor, one with an element per input costs one more multiply each): mse 2 (x - t, times 2 g / N);
smooth L1 and Huber 5 (subtract, abs, compare, the branch's divide or sign, times the factor);
binary cross entropy 6 ((x - t) / max(x (1 - x), eps): subtract, 1 - x, multiply, clamp, divide,
times the factor), + 1 with a weight. nll_loss backward writes the (negated, weighted) grad_output
at each target's position of a zero-filled grad_input: 1 per target when grad_output has one
element per target (reduction 'none'), + 1 per target with class weights, and the scalar
-g / total_weight once (2, 'mean') or -g (1, 'sum'); it reads grad_output, the targets, the picked
class weights and total_weight, never the input (shape only), and writes all of grad_input.

Pooling backward, mirroring the forward counts: max pooling adds each grad_output element at its
argmax (1 per grad_output element), reading grad_output and the indices once each; average pooling
divides each grad_output element once and adds it to the k positions of its window ((k + 1) per
grad_output element, write-up reads k per element); adaptive average pooling likewise over
PyTorch's windows (sum of window sizes + grad_output elements). None reads the forward input,
which they take for its shape; each writes the whole grad_input.

Embedding backward adds every grad_output row to its index's row of a zero-filled weight gradient:
1 per grad_output element (+ 1 per index to count them and 1 per element to divide when
``scale_grad_by_freq``). Dropout backward: dy x mask x scale, 2 per element. ``select_backward``
and ``slice_backward`` copy grad_output into a zero-filled tensor of the input's shape: no FLOPs.
"""

from __future__ import annotations

from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, need, prod, tensor
from howfast.costs.formulas.elementwise import elementwise_cost
from howfast.costs.formulas.pooling import adaptive_window_sum
from howfast.costs.registry import Access, Cost, Formula, Fusion, OpClass, access, cost
from howfast.graph import opnames
from howfast.graph.records import OpRecord

BACKWARD_FLOPS: dict[str, int] = {
    "threshold": 1, "hardtanh": 2, "leaky_relu": 2, "elu_result": 4, "elu": 5, "gelu": 11, "gelu_tanh": 22,
    "silu": 9, "sigmoid": 3, "tanh": 3, "hardswish": 5, "hardsigmoid": 3, "softplus": 6, "mish": 18,
}
LOSS_BACKWARD_FLOPS: dict[str, int] = {
    "aten.mse_loss_backward": 2, "aten.smooth_l1_loss_backward": 5, "aten.huber_loss_backward": 5,
    "aten.binary_cross_entropy_backward": 6,
}


def _per_element(key: str) -> Formula:
    def formula(op: OpRecord, conv: Conventions) -> Cost:
        return elementwise_cost(op, BACKWARD_FLOPS[key])

    formula.__name__ = f"{key}_backward"
    formula.__doc__ = f"{BACKWARD_FLOPS[key]} FLOPs per element ({key} backward)."
    return formula


for _name, _class in (("threshold", OpClass.ELEMENTWISE), ("hardtanh", OpClass.ELEMENTWISE), ("leaky_relu", OpClass.ELEMENTWISE),
                      ("silu", OpClass.ACTIVATION), ("sigmoid", OpClass.ELEMENTWISE), ("tanh", OpClass.ELEMENTWISE),
                      ("hardswish", OpClass.ELEMENTWISE), ("hardsigmoid", OpClass.ELEMENTWISE), ("softplus", OpClass.ACTIVATION),
                      ("mish", OpClass.ACTIVATION)):
    cost(f"aten.{_name}_backward", op_class=_class, fusion=Fusion.EPILOGUE)(_per_element(_name))


@cost("aten.gelu_backward", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)
def gelu_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, self, approximate='none'|'tanh')."""
    return elementwise_cost(op, BACKWARD_FLOPS["gelu_tanh" if arg(op, 2, "approximate", "none") == "tanh" else "gelu"])


@cost("aten.elu_backward", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)
def elu_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, alpha, scale, input_scale, is_result, self_or_result)."""
    return elementwise_cost(op, BACKWARD_FLOPS["elu_result" if arg(op, 4, "is_result", False) else "elu"])


def _rows(op: OpRecord) -> tuple[int, int]:
    y = need(op, 1, "output")
    dim = int(arg(op, 2, "dim", -1))
    n = y.shape[dim] if y.shape else 1
    return (y.numel // n if n else 0), n


@cost("aten._softmax_backward_data", "aten._log_softmax_backward_data", op_class=OpClass.ACTIVATION)
def softmax_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, output, dim, input_dtype): 4n - 1 per row of n; each operand read once."""
    rows, n = _rows(op)
    return Cost(flops=rows * (4 * n - 1) if n else 0)


@cost(*LOSS_BACKWARD_FLOPS, op_class=OpClass.ELEMENTWISE)
def loss_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, self, target, ...): per element of self, + 1 when grad_output is not a scalar,
    + 1 for binary cross entropy's weight."""
    g = need(op, 0, "grad_output")
    family = opnames.packet(op.op)
    per_element = LOSS_BACKWARD_FLOPS[family] + (g.numel > 1)
    if family == "aten.binary_cross_entropy_backward" and tensor(op, 3, "weight") is not None:
        per_element += 1
    return elementwise_cost(op, per_element)


@cost("aten.nll_loss_backward", "aten.nll_loss2d_backward", op_class=OpClass.ELEMENTWISE)
def nll_loss_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, self, target, weight, reduction, ignore_index, total_weight)."""
    g, target, weight, total = need(op, 0, "grad_output"), need(op, 2, "target"), tensor(op, 3, "weight"), tensor(op, 6, "total_weight")
    reduction = int(arg(op, 4, "reduction", 1) or 0)
    picked = target.numel
    flops = picked * ((reduction == 0) + (weight is not None)) + {0: 0, 1: 2, 2: 1}.get(reduction, 0)
    reads: list[Access] = [access(g.numel, g), access(picked, target)] + ([access(total.numel, total)] if total is not None else [])
    result = Cost(flops=flops, input_reads=reads, compulsory_input=reads)
    if weight is not None:
        weights = [access(picked, weight)]
        if weight.is_weight:
            result.weight_reads = result.compulsory_weights = weights
        else:
            result.input_reads = result.compulsory_input = reads + weights
    return result


@cost("aten.native_dropout_backward", op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)
def dropout_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, mask, scale): 2 per element; the bool mask read at 1 byte."""
    return elementwise_cost(op, 2)


def _grad_output_only(op: OpRecord, writeup: int) -> Cost:
    """A pooling backward that reads grad_output (``writeup`` times in the write-up model, once in the
    compulsory one) and the int64 indices when it has them, never the forward input."""
    gy = need(op, 0, "grad_output")
    indices = tensor(op, 7, "indices") if "max_pool" in op.op and "adaptive" not in op.op else tensor(op, 2, "indices")
    extra = [access(indices.numel, indices)] if indices is not None else []
    return Cost(input_reads=[access(writeup, gy), *extra], compulsory_input=[access(gy.numel, gy), *extra])


@cost("aten.max_pool2d_with_indices_backward", "aten.max_pool3d_with_indices_backward",
      "aten.adaptive_max_pool2d_backward", "aten.adaptive_max_pool3d_backward", op_class=OpClass.POOL)
def max_pool_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, self, ..., indices): 1 add per grad_output element at its argmax."""
    gy = need(op, 0, "grad_output")
    result = _grad_output_only(op, gy.numel)
    result.flops = gy.numel
    return result


@cost("aten.avg_pool2d_backward", "aten.avg_pool3d_backward", op_class=OpClass.POOL)
def avg_pool_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, self, kernel_size, ...): (k + 1) per grad_output element; write-up reads k each."""
    gy = need(op, 0, "grad_output")
    spatial = 3 if "3d" in op.op else 2
    kernel = arg(op, 2, "kernel_size")
    sizes = [kernel] * spatial if isinstance(kernel, int) else list(kernel) * (spatial if len(kernel) == 1 else 1)
    k = prod(sizes)
    result = _grad_output_only(op, k * gy.numel)
    result.flops = (k + 1) * gy.numel
    return result


@cost("aten._adaptive_avg_pool2d_backward", "aten._adaptive_avg_pool3d_backward", op_class=OpClass.POOL)
def adaptive_avg_pool_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, self): sum of PyTorch's window sizes + grad_output elements."""
    gy, x = need(op, 0, "grad_output"), need(op, 1, "self")
    dims = 3 if "3d" in op.op else 2
    windows = prod(gy.shape[:-dims]) * prod(adaptive_window_sum(x.shape[-i], gy.shape[-i]) for i in range(1, dims + 1))
    result = _grad_output_only(op, windows)
    result.flops = windows + gy.numel
    return result


@cost("aten.embedding_dense_backward", op_class=OpClass.DATA)
def embedding_dense_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, indices, num_weights, padding_idx, scale_grad_by_freq): reads grad_output and
    the indices once each (shared rules), writes the whole num_weights x D gradient."""
    gy, indices = need(op, 0, "grad_output"), need(op, 1, "indices")
    scaled = bool(arg(op, 4, "scale_grad_by_freq", False))
    return Cost(flops=gy.numel + ((indices.numel + gy.numel) if scaled else 0))


@cost("aten.select_backward", "aten.slice_backward", op_class=OpClass.DATA)
def view_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, input_sizes, ...): a copy into zeros; shared rules read grad_output, write the gradient."""
    return Cost()
