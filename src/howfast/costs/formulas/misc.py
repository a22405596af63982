"""Sorting, losses, sampling and other ops common models use. Documented choices, one per op.

* sort / argsort / msort over rows of n: n x ceil(log2 n) comparisons per row (a comparison sort);
  topk(k): n x ceil(log2 k) per row (a heap of k); kthvalue / median: n per row (selection).
* cummax / cummin: n - 1 comparisons per row. aminmax: 2 (n - 1) per output pair.
* bucketize / searchsorted: ceil(log2 boundaries) comparisons per element.
* Losses (per element of the input): mse 3 (subtract, square, add); l1 3 (subtract, abs, add);
  smooth_l1 / huber 5; binary cross entropy with logits 7 (max, neg-abs, exp, log1p, mul, sub,
  add), binary cross entropy 6; nll: 1 add per picked element (the gather is free), + 1 divide
  for the mean; with class weights + 1 multiply per picked element, and the mean's divisor is
  the sum of the picked weights (+ 1 add per picked element).
* hardshrink / softshrink: 2 (compare, select; softshrink also subtracts: 3).
* weight norm: g * v / ||v||: 2 per element of v for the norm (square, add), 1 root per row,
  2 per element to scale (divide, multiply).
* grid_sample: per output, bilinear 9 FLOPs reading 4 inputs, nearest 0 reading 1, bicubic 35
  reading 16 (as interpolate).
* cdist (p=2): per pair and dimension 3 (subtract, square, add), + 1 root per pair.
* FFTs of n points: 5 n log2 n / 2 for a real FFT (the classic radix-2 count, halved), 5 n log2 n
  complex; n is the real signal's length (irfft's output, rfft's input).
* unique (sort-based): the sort's n x ceil(log2 n) over the n flattened elements, + n - 1
  comparisons of neighbours to find where the value changes; unique along a dim: the same over
  its m slices, w element compares per slice compare: w x (m ceil(log2 m) + m - 1);
  unique_consecutive: the neighbour compares only (n - 1, or w x (m - 1) along a dim).
* multinomial: a running sum of each row of n weights (n - 1 adds, as cumsum), then a binary
  search of it per sample drawn (ceil(log2 n) comparisons, as searchsorted); the random numbers
  are not counted (as rand).
"""

from __future__ import annotations

import math

from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, need, out_numel, prod, tensor
from howfast.costs.registry import Cost, OpClass, access, cost
from howfast.graph import opnames
from howfast.graph.records import OpRecord


def _rows(op: OpRecord, dim_index: int = 1) -> tuple[int, int]:
    x = need(op, 0, "self")
    dim = arg(op, dim_index, "dim", -1)
    dim = -1 if not isinstance(dim, int) else dim
    n = x.shape[dim] if x.shape else 1
    return (x.numel // n if n else 0), n


def _log2(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 0


@cost("aten.sort", "aten.argsort", "aten.msort", op_class=OpClass.ELEMENTWISE)
def sort(op: OpRecord, conv: Conventions) -> Cost:
    rows, n = _rows(op)
    return Cost(flops=rows * n * _log2(n))


@cost("aten.topk", op_class=OpClass.ELEMENTWISE)
def topk(op: OpRecord, conv: Conventions) -> Cost:
    x = need(op, 0, "self")
    k = int(arg(op, 1, "k"))
    dim = int(arg(op, 2, "dim", -1))
    n = x.shape[dim] if x.shape else 1
    return Cost(flops=(x.numel // n if n else 0) * n * _log2(k))


@cost("aten.kthvalue", "aten.median", "aten.nanmedian", "aten.mode", op_class=OpClass.REDUCE)
def select_kth(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(flops=need(op, 0, "self").numel)


@cost("aten.cummax", "aten.cummin", op_class=OpClass.REDUCE)
def running_extreme(op: OpRecord, conv: Conventions) -> Cost:
    rows, n = _rows(op)
    return Cost(flops=rows * max(n - 1, 0))


@cost("aten.aminmax", op_class=OpClass.REDUCE)
def aminmax(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(flops=2 * max(need(op, 0, "self").numel - out_numel(op), 0))


@cost("aten.bucketize", "aten.searchsorted", op_class=OpClass.ELEMENTWISE)
def bucketize(op: OpRecord, conv: Conventions) -> Cost:
    values = tensor(op, 1, "self") if op.op.startswith("aten.searchsorted") else tensor(op, 0, "self")
    boundaries = tensor(op, 0, "sorted_sequence") if op.op.startswith("aten.searchsorted") else tensor(op, 1, "boundaries")
    n = values.numel if values is not None else out_numel(op)
    return Cost(flops=n * _log2(boundaries.shape[-1] if boundaries is not None and boundaries.shape else 1))


_LOSS_FLOPS = {"aten.mse_loss": 3, "aten.l1_loss": 3, "aten.smooth_l1_loss": 5, "aten.huber_loss": 5,
               "aten.binary_cross_entropy_with_logits": 7, "aten.binary_cross_entropy": 6}


@cost(*_LOSS_FLOPS, op_class=OpClass.ELEMENTWISE)
def elementwise_loss(op: OpRecord, conv: Conventions) -> Cost:
    family = opnames.packet(op.op)
    return Cost(flops=_LOSS_FLOPS[family] * need(op, 0, "self").numel)


@cost("aten.nll_loss_forward", "aten.nll_loss2d_forward", "aten.nll_loss", "aten.nll_loss_nd", op_class=OpClass.ELEMENTWISE)
def nll_loss(op: OpRecord, conv: Conventions) -> Cost:
    """(self, target, weight, reduction, ignore_index): loss_i = -w[t_i] x[i, t_i].

    1 FLOP per target (the pick is free), + 1 multiply per target by its class weight when a
    ``weight`` is given; the mean divides once, by the number of targets, or with weights by their
    sum (1 add per target). Reads the picked values (at the input's item size), the targets (int64:
    8 bytes) and the picked class weights (one per target, at the weight's item size; as weights
    when the weight is a parameter or buffer, e.g. of nn.CrossEntropyLoss).
    """
    x, target, weight = need(op, 0, "self"), tensor(op, 1, "target"), tensor(op, 2, "weight")
    picked = target.numel if target is not None else 1
    mean = int(arg(op, 3, "reduction", 1) or 0) == 1
    reads = [access(picked, x)] + ([access(target.numel, target)] if target is not None else [])
    flops = picked + (1 if mean else 0)
    result = Cost(input_reads=reads, compulsory_input=reads, outputs_used=1)
    if weight is not None:
        flops += picked + (picked if mean else 0)  # w[t_i] x[i, t_i]; the mean's sum of w[t_i]
        weights = [access(picked, weight)]
        if weight.is_weight:
            result.weight_reads = result.compulsory_weights = weights
        else:
            result.input_reads = result.compulsory_input = reads + weights
    result.flops = flops
    return result


@cost("aten.hardshrink", op_class=OpClass.ELEMENTWISE)
def hardshrink(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(flops=2 * out_numel(op))


@cost("aten.softshrink", op_class=OpClass.ELEMENTWISE)
def softshrink(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(flops=3 * out_numel(op))


@cost("aten._weight_norm_interface", "aten._weight_norm", op_class=OpClass.NORM)
def weight_norm(op: OpRecord, conv: Conventions) -> Cost:
    v = need(op, 0, "v")
    rows = v.shape[0] if v.shape else 1
    return Cost(flops=4 * v.numel + rows, outputs_used=1)


_GRID = {0: (9, 4), 1: (0, 1), 2: (35, 16)}  # interpolation mode: bilinear, nearest, bicubic


@cost("aten.grid_sampler_2d", "aten.grid_sampler_3d", "aten.grid_sampler", op_class=OpClass.DATA)
def grid_sample(op: OpRecord, conv: Conventions) -> Cost:
    mode = int(arg(op, 2, "interpolation_mode", 0) or 0)
    flops, reads = _GRID.get(mode, _GRID[0])
    outputs = out_numel(op)
    grid = tensor(op, 1, "grid")
    return Cost(flops=flops * outputs, input_reads=reads * outputs + (grid.numel if grid is not None else 0))


@cost("aten._cdist_forward", "aten.cdist", op_class=OpClass.ELEMENTWISE)
def cdist(op: OpRecord, conv: Conventions) -> Cost:
    x1 = need(op, 0, "x1")
    pairs = out_numel(op)
    return Cost(flops=pairs * (3 * x1.shape[-1] + 1))


@cost("aten._fft_r2c", "aten._fft_c2r", "aten._fft_c2c", op_class=OpClass.ELEMENTWISE)
def fft(op: OpRecord, conv: Conventions) -> Cost:
    # The transform length is the real side's: the input of r2c, the output of c2r (whose input
    # holds the half spectrum).
    x = op.outputs[0] if "c2r" in op.op else need(op, 0, "self")
    dims = arg(op, 1, "dim", [-1])
    points = prod(x.shape[d] for d in dims) if x.shape else 1
    transforms = x.numel // points if points else 0
    per = 5 * points * _log2(points)
    return Cost(flops=transforms * (per // 2 if "c2c" not in op.op else per))



@cost("aten._unique2", "aten._unique", op_class=OpClass.ELEMENTWISE)
def unique(op: OpRecord, conv: Conventions) -> Cost:
    """torch.unique: sort the n flattened elements, then compare each with its neighbour."""
    n = need(op, 0, "self").numel
    return Cost(flops=n * _log2(n) + max(n - 1, 0))


def _slices(op: OpRecord, dim: int) -> tuple[int, int]:
    """(m, w): the m slices of ``self`` along ``dim``, of w elements each."""
    x = need(op, 0, "self")
    m = x.shape[dim] if x.shape else 1
    return m, (x.numel // m if m else 0)


@cost("aten.unique_dim", op_class=OpClass.ELEMENTWISE)
def unique_dim(op: OpRecord, conv: Conventions) -> Cost:
    """torch.unique(x, dim=d): sort the m slices along d, then compare each with its neighbour.

    A comparison of two slices compares their w elements (lexicographically; all w counted), so
    the unique formula on m items costs w each: w x (m x ceil(log2 m) + m - 1). The kernel always
    returns the inverse (m int64) and the counts, whether asked for or not: the shared rules write
    them.
    """
    m, w = _slices(op, int(arg(op, 1, "dim")))
    return Cost(flops=w * (m * _log2(m) + max(m - 1, 0)))


@cost("aten.unique_consecutive", "aten.unique_dim_consecutive", op_class=OpClass.ELEMENTWISE)
def unique_consecutive(op: OpRecord, conv: Conventions) -> Cost:
    """torch.unique_consecutive: no sort, only the neighbour compares: n - 1 over the n flattened
    elements, or w x (m - 1) for the m slices of w elements along ``dim``."""
    dim = arg(op, 1, "dim") if op.op.startswith("aten.unique_dim_consecutive") else arg(op, 3, "dim")
    if dim is None:
        return Cost(flops=max(need(op, 0, "self").numel - 1, 0))
    m, w = _slices(op, int(dim))
    return Cost(flops=w * max(m - 1, 0))


@cost("aten.multinomial", op_class=OpClass.ELEMENTWISE)
def multinomial(op: OpRecord, conv: Conventions) -> Cost:
    """Rows of n weights: a running sum per row, a binary search of it per sample drawn."""
    weights = need(op, 0, "self")
    n = weights.shape[-1] if weights.shape else 1
    rows = weights.numel // n if n else 0
    return Cost(flops=rows * max(n - 1, 0) + out_numel(op) * _log2(n))
