"""Pooling and reductions.

Max pooling costs 1 FLOP per output and average pooling (k + 1) per output, k = prod(kernel),
as in the English write-up (k for the window's sum, 1 for the division).
Adaptive pooling uses the exact windows PyTorch uses (start = floor(i*In/Out),
end = ceil((i+1)*In/Out)), so its FLOPs are sum(window sizes) + outputs for average and outputs
for max, and global average pooling of HxW is (HxW + 1) per output, as a fixed kernel of HxW.
Write-up reads: each window is read, so prod(kernel) x outputs (sum of windows when adaptive).
Fractional max pooling is max pooling with pseudo-random window starts: 1 FLOP per output, its
prod(kernel) windows read, plus its random samples. Max unpooling moves data only: it reads the
values and their indices and writes its (zero-filled) output.

Reductions over n elements per output: sum/amax/amin/argmax/prod n-1 per output; mean n (n-1 adds
and a divide); var/std 3 per input element (subtract the mean, square, add) plus the mean's n and
one divide (and a square root for std) per output. Histograms (histc, bincount): 1 per input element.
"""

from __future__ import annotations

from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, need, out_numel, prod, tensor
from howfast.costs.registry import Cost, OpClass, access, cost
from howfast.graph.records import OpRecord


def _kernel(op: OpRecord, spatial: int) -> int:
    kernel = arg(op, 1, "kernel_size")
    if isinstance(kernel, int):
        kernel = [kernel] * spatial
    kernel = list(kernel)
    if len(kernel) == 1:
        kernel = kernel * spatial
    return prod(kernel)


def _spatial(op: OpRecord) -> int:
    return int(op.op.split("pool")[1][0]) if "pool" in op.op else 2


@cost("aten.max_pool1d", "aten.max_pool2d", "aten.max_pool3d", "aten.max_pool2d_with_indices",
      "aten.max_pool3d_with_indices", "aten.max_pool1d_with_indices", "aten.mkldnn_max_pool2d", op_class=OpClass.POOL)
def max_pool(op: OpRecord, conv: Conventions) -> Cost:
    outputs = out_numel(op)
    k = _kernel(op, _spatial(op))
    return Cost(flops=outputs, input_reads=k * outputs, output_writes=outputs)


@cost("aten.fractional_max_pool2d", "aten.fractional_max_pool3d", op_class=OpClass.POOL)
def fractional_max_pool(op: OpRecord, conv: Conventions) -> Cost:
    """(self, kernel_size, output_size, random_samples): a max pool whose windows start at
    pseudo-random offsets; each output reads its window, the N x C x dims random samples once."""
    outputs = out_numel(op)
    samples = tensor(op, 3, "random_samples")
    reads = _kernel(op, _spatial(op)) * outputs + (samples.numel if samples is not None else 0)
    return Cost(flops=outputs, input_reads=reads, output_writes=outputs)


@cost("aten.max_unpool2d", "aten.max_unpool3d", op_class=OpClass.POOL)
def max_unpool(op: OpRecord, conv: Conventions) -> Cost:
    """(self, indices, output_size...): values scattered into a zero-filled output. No FLOPs; the
    values and the int64 indices are read once (each at its own item size), the output written."""
    return Cost(input_reads=[access(t.numel, t) for t in op.inputs if not t.is_weight])


@cost("aten.avg_pool1d", "aten.avg_pool2d", "aten.avg_pool3d", op_class=OpClass.POOL)
def avg_pool(op: OpRecord, conv: Conventions) -> Cost:
    outputs = out_numel(op)
    k = _kernel(op, _spatial(op))
    return Cost(flops=(k + 1) * outputs, input_reads=k * outputs)


def adaptive_window_sum(in_size: int, out_size: int) -> int:
    """Sum of the window lengths adaptive pooling uses along one dimension."""
    total = 0
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        total += end - start
    return total


def adaptive_reads(op: OpRecord) -> int:
    x = need(op, 0, "self")
    y = op.outputs[0]
    dims = _spatial(op)
    per_channel = 1
    for i in range(1, dims + 1):
        per_channel *= adaptive_window_sum(x.shape[-i], y.shape[-i])
    channels = prod(y.shape[:-dims])
    return channels * per_channel


@cost("aten._adaptive_avg_pool2d", "aten.adaptive_avg_pool2d", "aten._adaptive_avg_pool3d",
      "aten.adaptive_avg_pool3d", "aten.adaptive_avg_pool1d", "aten.mkldnn_adaptive_avg_pool2d", op_class=OpClass.POOL)
def adaptive_avg_pool(op: OpRecord, conv: Conventions) -> Cost:
    reads = adaptive_reads(op)
    return Cost(flops=reads + out_numel(op), input_reads=reads)


@cost("aten.adaptive_max_pool2d", "aten.adaptive_max_pool3d", "aten.adaptive_max_pool1d", op_class=OpClass.POOL)
def adaptive_max_pool(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(flops=out_numel(op), input_reads=adaptive_reads(op), output_writes=out_numel(op))


def _reduced(op: OpRecord) -> tuple[int, int]:
    """(input elements, output elements) of a reduction."""
    return need(op, 0, "self").numel, out_numel(op)


@cost("aten.sum", "aten.amax", "aten.amin", "aten.max", "aten.min", "aten.argmax", "aten.argmin",
      "aten.prod", "aten.any", "aten.all", "aten.nansum", op_class=OpClass.REDUCE)
@cost("aten.logsumexp", op_class=OpClass.ACTIVATION)  # exp per element: priced as a transcendental
def fold_reduction(op: OpRecord, conv: Conventions) -> Cost:
    n_in, n_out = _reduced(op)
    flops = n_in - n_out if not op.op.startswith("aten.logsumexp") else 2 * n_in
    return Cost(flops=flops)


@cost("aten.mean", "aten.nanmean", op_class=OpClass.REDUCE)
def mean(op: OpRecord, conv: Conventions) -> Cost:
    # Counted like the write-up's average pool, (k + 1) per output: global average pooling runs as
    # a mean on CPU and as an adaptive pool elsewhere, and both must give the same number.
    n_in, n_out = _reduced(op)
    return Cost(flops=n_in + n_out)


@cost("aten.var", "aten.std", "aten.var_mean", "aten.std_mean", op_class=OpClass.REDUCE)
def variance(op: OpRecord, conv: Conventions) -> Cost:
    n_in, n_out = _reduced(op)
    flops = n_in + 3 * n_in + n_out + (n_out if "std" in op.op else 0)
    return Cost(flops=flops)


@cost("aten.linalg_vector_norm", "aten.norm", op_class=OpClass.REDUCE)
def vector_norm(op: OpRecord, conv: Conventions) -> Cost:
    n_in, n_out = _reduced(op)
    return Cost(flops=2 * n_in + n_out)  # square and add per element, one root per output


@cost("aten.cumsum", "aten.cumprod", op_class=OpClass.REDUCE)
def scan(op: OpRecord, conv: Conventions) -> Cost:
    """A running sum over rows of n elements: n - 1 adds per row."""
    x = need(op, 0, "self")
    dim = int(arg(op, 1, "dim", -1))
    n = x.shape[dim] if x.shape else 1
    return Cost(flops=x.numel - (x.numel // n if n else 0))


@cost("aten.histc", "aten.bincount", op_class=OpClass.REDUCE)
def histogram(op: OpRecord, conv: Conventions) -> Cost:
    """A histogram of the input (``histc`` into ``bins`` equal bins, ``bincount`` of int values): one
    bin update per input element (an add; ``bincount``'s optional weight is the value added). No MACs;
    the shared rules read the input (and weights) and write the bins."""
    return Cost(flops=need(op, 0, "self").numel)
