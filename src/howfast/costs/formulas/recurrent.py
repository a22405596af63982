"""Recurrent layers (LSTM, GRU, Elman RNN), recorded whole at the function level.

Every weight matrix element is used once per time step per sequence, so with rows = time steps x
batch (or the packed rows): MACs = rows x sum over layers and directions of
numel(W_ih) + numel(W_hh) (+ numel(W_hr) for a projected LSTM). FLOPs add, per row and hidden
unit, the gate arithmetic:
  LSTM 30: 4 gate adds (ih + hh), 3 sigmoids (12), tanh (5), c = f*c + i*g (3), h = o*tanh(c) (6);
  GRU 21: 2 gate adds, 2 sigmoids (8), n = tanh(x_n + r*h_n) (7), h = (1-z)*n + z*h (4);
  RNN: add + tanh = 6 (tanh) or add + relu = 2 (relu);
plus 2 bias additions per gate row when the layer has biases and bias is counted.
Write-up reads: inputs and hidden states are read once per MAC; weights once.
"""

from __future__ import annotations

from howfast.conventions import Conventions
from howfast.costs.formulas._util import bias_flops, dot_flops, prod
from howfast.costs.registry import Cost, OpClass, cost
from howfast.graph.records import OpRecord, TensorMeta

_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
_UNIT_FLOPS = {"lstm": 30, "gru": 21, "rnn_tanh": 6, "rnn_relu": 2}


def _layout(op: OpRecord) -> tuple[TensorMeta, list[TensorMeta], bool, int, bool]:
    """(input, params, has_biases, num_layers, bidirectional) for both overloads."""
    a = op.args
    packed = isinstance(a[3], list)  # (data, batch_sizes, hx, params, has_biases, layers, dropout, train, bidir)
    if packed:
        return a[0], list(a[3]), bool(a[4]), int(a[5]), bool(a[8])
    return a[0], list(a[2]), bool(a[3]), int(a[4]), bool(a[7])  # (input, hx, params, has_biases, layers, dropout, train, bidir, batch_first)


@cost("lstm", "gru", "rnn_tanh", "rnn_relu", op_class=OpClass.GEMM)
def recurrent(op: OpRecord, conv: Conventions) -> Cost:
    kind = op.op
    x, params, has_biases, layers, bidirectional = _layout(op)
    rows = prod(x.shape[:-1])
    groups = layers * (2 if bidirectional else 1)
    size = len(params) // groups
    macs = flops = 0
    for g in range(groups):
        group = params[g * size:(g + 1) * size]
        w_ih, w_hh = group[0], group[1]
        projection = group[-1] if size in (3, 5) else None
        gate_rows = w_ih.shape[0]
        hidden = gate_rows // _GATES[kind]
        group_macs = rows * (w_ih.numel + w_hh.numel + (projection.numel if projection else 0))
        dot_outputs = rows * (2 * gate_rows + (projection.shape[0] if projection else 0))
        macs += group_macs
        flops += dot_flops(group_macs, dot_outputs, conv)
        flops += bias_flops(rows * 2 * gate_rows, has_biases, conv)
        flops += rows * hidden * _UNIT_FLOPS[kind]
    return Cost(macs=macs, flops=flops, input_reads=macs)
