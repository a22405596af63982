"""Matrix products and convolutions: Conv/ConvTranspose, Gemm, MatMul (an ``nn.Linear`` when a bias Add
follows), Einsum."""

from __future__ import annotations

from howfast.errors import BadFileError
from howfast.graph.records import TensorKind, TensorMeta
from howfast.onnx.context import NodeContext, handles, spatial_list


@handles("Conv", "ConvTranspose")
def conv(n: NodeContext) -> None:
    x, w = n.req(0), n.req(1)
    bias = n.x(2)
    spatial = max(len(w.shape) - 2, 0)
    strides = spatial_list(n.attr("strides"), spatial, 1)
    dilations = spatial_list(n.attr("dilations"), spatial, 1)
    pads = spatial_list(n.attr("pads"), 2 * spatial, 0)
    begin, end = pads[:spatial], pads[spatial:]
    padding = begin if begin == end else pads
    transposed = n.op_type == "ConvTranspose"
    groups = int(n.attr("group", 1))
    expected = w.shape[0] if transposed else w.shape[1] * groups
    if len(x.shape) < 2 or len(w.shape) < 3 or groups < 1 or x.shape[1] != expected:
        raise BadFileError(f"{n.w.path}: node {n.node.name or n.op_type!r} ({n.op_type}): the input has "
                           f"{x.shape[1] if len(x.shape) > 1 else '?'} channels, the weight {tuple(w.shape)} with group {groups} expects {expected}")
    output_padding = spatial_list(n.attr("output_padding"), spatial, 0) if transposed else [0] * spatial
    n.emit("aten.convolution.default", (x, w, bias, strides, padding, dilations, transposed, output_padding, groups),
           {"auto_pad": n.attr("auto_pad")} if n.attr("auto_pad", "NOTSET") not in ("NOTSET", None) else {})


def _transposed(n: NodeContext, meta: TensorMeta) -> TensorMeta:
    """``aten.t`` of a 2-D operand: a free view, recorded as PyTorch records it."""
    view = n.w.view_meta(meta, tuple(reversed(meta.shape)))
    n.w.record("aten.t.default", n.path, (meta,), {}, [view], {0})
    return view


@handles("Gemm")
def gemm(n: NodeContext) -> None:
    a, b, c = n.req(0), n.req(1), n.x(2)
    if int(n.attr("transA", 0)):
        a = _transposed(n, a)
    if int(n.attr("transB", 0)):
        b = _transposed(n, b)
    alpha, beta = float(n.attr("alpha", 1.0)), float(n.attr("beta", 1.0))
    if c is None:
        n.emit("aten.mm.default", (a, b), {"alpha": alpha} if alpha != 1.0 else {})
        return
    kwargs = {k: v for k, v in (("beta", beta), ("alpha", alpha)) if v != 1.0}
    n.emit("aten.addmm.default", (c, a, b), kwargs)


@handles("MatMul")
def matmul(n: NodeContext) -> None:
    a, b = n.req(0), n.req(1)
    fused = _linear_bias(n, b)
    if fused is not None:
        add_index, bias, add_output = fused
        n.w.skip.add(add_index)
        # the Add is never visited: infer its output here (whole-graph inference may have left it
        # symbolic, after a Pad by a computed amount); x @ W + b has the product's shape
        n.w.fill_types(n.w.graph.node[add_index])
        shape = n.w.types.get(add_output, (None, 0))[0]
        out = n.w.new_meta(add_output, TensorKind.ACTIVATION, shape if shape is not None else n.out_shape(0))
        n.emit("aten.addmm.default", (bias, a, b), outputs=[out])
        # The MatMul's own output is never materialised: it is the addmm's before the bias.
        return
    n.emit("aten.matmul.default", (a, b))


def _linear_bias(n: NodeContext, b: TensorMeta) -> tuple[int, TensorMeta, str] | None:
    """An ``nn.Linear``: MatMul by a 2-D weight whose only consumer adds a 1-D weight bias."""
    if not b.is_weight or len(b.shape) != 2:
        return None
    out_name = n.node.output[0]
    consumers = n.w.consumers.get(out_name, [])
    if len(consumers) != 1 or out_name in n.w.graph_outputs:
        return None
    add_index, _ = consumers[0]
    add = n.w.graph.node[add_index]
    if add.op_type != "Add" or add.domain not in ("", "ai.onnx") or len(add.input) != 2 or not add.output:
        return None
    other = add.input[1] if add.input[0] == out_name else add.input[0]
    bias = n.w.metas.get(other)
    if bias is None or not bias.is_weight or bias.shape != (b.shape[1],):
        return None
    return add_index, bias, add.output[0]


@handles("Einsum")
def einsum(n: NodeContext) -> None:
    # the record PyTorch's capture makes for torch.einsum: (equation, operands)
    operands = [n.req(i) for i in range(len(n.node.input)) if n.has(i)]
    n.emit("einsum", (str(n.attr("equation", "")), operands))
