"""Named counting conventions, printed with every report.

Two write-ups disagree on small points (a dot product of length n is ``2n`` FLOPs for PyTorch and
most papers, ``2n-1`` for the English write-up), so every choice that changes a number is a named
field here and every output says which one it used. ``docs/conventions.md`` explains each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

FlopsConvention = Literal["2mac", "exact"]
MemoryModel = Literal["writeup", "compulsory"]
ConvReads = Literal["window", "input"]

# FLOPs per output element of element-wise functions. Special functions (exp, log, erf, tanh's core
# exp) count 1, as the English write-up does when it counts sigmoid as "negate, exp, add, div" = 4.
ELEMENTWISE_FLOPS: dict[str, int] = {
    "relu": 1,  # max(x, 0) — write-up
    "sigmoid": 4,  # negate, exp, add, div — write-up
    "tanh": 5,  # exp, exp^-1, sub, add, div — write-up
    "hardtanh": 2,  # max(min(x, hi), lo); ReLU6 is hardtanh(0, 6)
    "leaky_relu": 2,  # multiply, max
    "elu": 4,  # compare, exp, sub, multiply
    "gelu": 5,  # x * 0.5 * (1 + erf(x / sqrt 2)): div, erf, add, mul, mul
    "gelu_tanh": 13,  # x^3 (2), *c, +x, *sqrt(2/pi), tanh (5), +1, *x, *0.5
    "silu": 5,  # x * sigmoid(x)
    "hardswish": 5,  # x * relu6(x + 3) / 6: add, clamp (2), mul, div
    "hardsigmoid": 4,  # relu6(x + 3) / 6: add, clamp (2), div
    "mish": 9,  # x * tanh(softplus(x)): softplus (3), tanh (5), mul
    "softplus": 3,  # log(1 + exp(x))
    "unary": 1,  # exp, log, sqrt, rsqrt, neg, abs, reciprocal, sin, cos, erf, pow by scalar...
    "binary": 1,  # add, sub, mul, div, pow, maximum, where... per output element
}

# Normalisation FLOPs per element (see docs/conventions.md for the derivation of each).
BATCHNORM_TRAIN_FLOPS = 4  # subtract mean, divide by std, scale by gamma, add beta — write-up
BATCHNORM_EVAL_FLOPS = 2  # y = x * a + b with a, b folded per channel from the running stats
NORM_STATS_FLOPS = 3  # layer/group norm statistics: add for mean, square and add for variance
NORM_APPLY_FLOPS = 2  # subtract mean, divide by std
NORM_AFFINE_FLOPS = 2  # gamma multiply, beta add (1 each, when present)
RMSNORM_FLOPS = 3  # square, add (mean of squares), multiply by rsqrt; + 1 with a weight


@dataclass(frozen=True)
class Conventions:
    """How counts are made. Defaults follow PyTorch and most papers; see ``exact()``.

    * ``flops``: ``"2mac"`` counts a dot product of length n as 2n FLOPs (FLOPs = 2 x MACs);
      ``"exact"`` counts n multiplications and n-1 additions, 2n-1 (the English write-up).
    * ``count_bias``: a bias addition adds 1 FLOP per output element (never a MAC), so a fused
      ``addmm`` costs the same as ``mm`` followed by ``add``.
    * ``conv_reads``: how the write-up model counts a convolution's input reads. ``"window"``: each
      output window reads its inputs once (= MACs): Hout x Wout x (Cin/groups) x K x K x Cout.
      ``"input"``: the write-up's formula taken literally, Hin x Win x Cin x K x K x Cout/groups,
      which ignores the stride (4x the windows of a stride-2 layer). They agree at stride 1.
    * ``memory_model``: which memory model the table's "accesses" column and the roofline use.
      Both are always computed: ``writeup`` (the Chinese write-up's accounting, in which a conv
      input is read once per MAC window and weights once) and ``compulsory`` (each distinct tensor
      an op touches read or written once: the lower bound).
    """

    flops: FlopsConvention = "2mac"
    count_bias: bool = True
    memory_model: MemoryModel = "compulsory"
    conv_reads: ConvReads = "window"

    @classmethod
    def exact(cls) -> Conventions:
        """The English write-up's counting: 2n-1 FLOPs per dot product, +1 per output for bias."""
        return cls(flops="exact", count_bias=True)

    def describe(self) -> dict[str, str]:
        """Human sentences for every convention, printed under each report."""
        dot = "2n (FLOPs = 2 x MACs)" if self.flops == "2mac" else "2n-1 (n multiplies, n-1 adds)"
        return {
            "macs": "one multiply-accumulate of a dot product (conv, linear, matmul, attention, RNN); bias is never a MAC",
            "flops": f"dot product of length n = {dot}; element-wise ops per docs/conventions.md "
            "(ReLU 1, sigmoid 4, tanh 5, BN 4 train / 2 eval, softmax 3n-1 per row, max pool = outputs, avg pool = (k+1) x outputs)",
            "bias": "bias adds 1 FLOP per output" if self.count_bias else "bias additions not counted",
            "memory_model": f"{self.memory_model} (write-up accesses: conv/matmul input read once per MAC, weights once, output once; "
            "compulsory: each distinct tensor read/written once per op, views free)",
            "conv_reads": "write-up conv input reads: once per output window (Hout x Wout x Cin/g x K x K x Cout)"
            if self.conv_reads == "window"
            else "write-up conv input reads taken literally: Hin x Win x Cin x K x K x Cout/g, whatever the stride",
        }

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
