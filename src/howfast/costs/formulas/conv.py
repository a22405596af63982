"""Convolution (1d/2d/3d, any stride, padding, dilation, groups) and transposed convolution.

MACs of a convolution = N x Cout x prod(output spatial) x (Cin / groups) x prod(kernel): every
output element is a dot product over its (Cin/groups) x kernel window. Depthwise (groups = Cin)
and pointwise (1x1) are the same formula. A transposed convolution scatters every *input*
element through the kernel: MACs = N x Cin x prod(input spatial) x (Cout / groups) x prod(kernel).

Write-up reads: the input is read once per MAC (each output window re-reads its inputs), which is
the write-up's Hin x Win x Cin x K x K x Cout for stride 1 and 'same' padding, and
Hout x Wout x (Cin/groups) x K x K x Cout in general — stride s reads each input about K x K / s^2
times, not K x K. The ``conv_reads="input"`` convention takes the write-up's formula literally
instead (Hin x Win x Cin x K x K x Cout/groups, whatever the stride), which is how its case-study
figures were computed. Weights (and bias) are read once; the output is written once.
"""

from __future__ import annotations

from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, bias_flops, dot_flops, need, out, prod, tensor
from howfast.costs.registry import Cost, Fusion, OpClass, cost
from howfast.graph.records import OpRecord


def conv_class(x_shape: tuple[int, ...], w_shape: tuple[int, ...], transposed: bool) -> OpClass:
    """``dwconv`` when every group reads one input channel of several (the weight's second dimension,
    Cin / groups, is 1), ``pwconv`` for a 1x1 kernel, else ``conv``. Shapes are batched (N first)."""
    if not transposed and w_shape[1] == 1 and x_shape[1] > 1:
        return OpClass.DWCONV
    if prod(w_shape[2:]) == 1:
        return OpClass.PWCONV
    return OpClass.CONV


def conv_macs(x_shape: tuple[int, ...], w_shape: tuple[int, ...], y_shape: tuple[int, ...], transposed: bool) -> int:
    """MACs of one convolution, from input, weight and output shapes (batched, N first)."""
    kernel = prod(w_shape[2:])
    if transposed:
        # weight: (Cin, Cout/groups, *kernel); every input element meets Cout/groups x kernel weights.
        return x_shape[0] * x_shape[1] * prod(x_shape[2:]) * w_shape[1] * kernel
    # weight: (Cout, Cin/groups, *kernel); every output element is a dot product of that length.
    return y_shape[0] * y_shape[1] * prod(y_shape[2:]) * w_shape[1] * kernel


@cost("aten.convolution", "aten._convolution", "aten.conv1d", "aten.conv2d", "aten.conv3d",
      "aten.mkldnn_convolution", "aten.cudnn_convolution", "aten.conv_transpose1d",
      "aten.conv_transpose2d", "aten.conv_transpose3d", "aten._slow_conv2d_forward",
      "aten.thnn_conv2d", "aten.conv_depthwise3d", "aten._conv_depthwise2d", op_class=OpClass.CONV,
      fusion=Fusion.ANCHOR)
def convolution(op: OpRecord, conv: Conventions) -> Cost:
    x, w, bias = need(op, 0, "input"), need(op, 1, "weight"), tensor(op, 2, "bias")
    if op.op.startswith(("aten.convolution", "aten._convolution")):
        transposed = bool(arg(op, 6, "transposed", False))
    else:
        transposed = "transpose" in op.op
    y = out(op)
    x_shape, y_shape = _batched(x.shape, w.shape), _batched(y.shape, w.shape)
    # groups need no argument: the weight's second dimension is already Cin/groups (or Cout/groups).
    macs = conv_macs(x_shape, w.shape, y_shape, transposed)
    outputs = y.numel
    flops = dot_flops(macs, outputs, conv) + bias_flops(outputs, bias is not None, conv)
    reads = macs
    if conv.conv_reads == "input" and not transposed:
        # Hin x Win x Cin x K x K x (Cout / groups), with Cout / groups = Cout x (Cin / groups) / Cin
        reads = prod(x_shape) * prod(w.shape[2:]) * w.shape[0] * w.shape[1] // x_shape[1]
    return Cost(macs=macs, flops=flops, input_reads=reads, op_class=conv_class(x_shape, w.shape, transposed))


def _batched(shape: tuple[int, ...], w_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Unbatched conv inputs (C, H, W) get a batch of 1."""
    return (1,) + tuple(shape) if len(shape) == len(w_shape) - 1 else tuple(shape)
