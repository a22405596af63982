"""Attention and recurrent layers (LSTM, GRU, RNN) as the composite records PyTorch makes for them."""

from __future__ import annotations

from howfast.graph.records import TensorMeta
from howfast.onnx.context import NodeContext, handles

# The composite records of PyTorch's nn.LSTM and nn.GRU (an RNN's depends on its activation).
RECURRENT = {"LSTM": "lstm", "GRU": "gru"}


@handles("Attention")
def attention(n: NodeContext) -> None:
    q, k, v = n.req(0), n.req(1), n.req(2)
    if len(q.shape) != 4 or len(k.shape) != 4 or len(v.shape) != 4 or any(n.has(i) for i in (4, 5)):
        n.unknown()
        return
    outputs = n.outs()
    n.emit("scaled_dot_product_attention", (q, k, v, n.x(3), 0.0, bool(int(n.attr("is_causal", 0)))), outputs=outputs)


@handles("LSTM", "GRU", "RNN")
def recurrent(n: NodeContext) -> None:
    """The composite record PyTorch makes for nn.LSTM/GRU/RNN, weights as its flat per-direction list.

    ONNX stacks the directions: W (D, G x H, I), R (D, G x H, H), B (D, 2 x G x H). PyTorch keeps
    per direction w_ih (G x H, I), w_hh (G x H, H), b_ih and b_hh (G x H); the formula reads only
    their shapes, so each is a view of the ONNX weight (its storage, counted once).
    """
    x, w, r, b = n.req(0), n.req(1), n.req(2), n.x(3)
    directions = w.shape[0]
    gates_hidden = w.shape[1]
    params: list[TensorMeta] = []
    for _ in range(directions):
        params.append(n.w.view_meta(w, (gates_hidden, w.shape[2])))
        params.append(n.w.view_meta(r, (gates_hidden, r.shape[2])))
        if b is not None:
            params.append(n.w.view_meta(b, (gates_hidden,)))
            params.append(n.w.view_meta(b, (gates_hidden,)))
    if n.op_type == "RNN":
        activations = [a.decode() if isinstance(a, bytes) else str(a) for a in (n.attr("activations") or ["Tanh"])]
        kind = "rnn_relu" if activations[0].lower() == "relu" else "rnn_tanh"
    else:
        kind = RECURRENT[n.op_type]
    hx = [t for t in (n.x(5), n.x(6)) if t is not None]
    batch_first = bool(int(n.attr("layout", 0)))
    n.emit(kind, (x, hx, params, b is not None, 1, 0.0, False, directions == 2, batch_first))
