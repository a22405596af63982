"""Views: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Identity, Expand, Slice, Split share their
input's storage, as in the PyTorch capture."""

from __future__ import annotations

from howfast.onnx.context import NodeContext, handles


@handles("Reshape")
def reshape(n: NodeContext) -> None:
    x = n.req(0)
    n.emit_view("aten.view.default", (x, list(n.out_shape())), x)


@handles("Flatten")
def flatten(n: NodeContext) -> None:
    x = n.req(0)
    n.emit_view("aten.view.default", (x, list(n.out_shape())), x)


@handles("Transpose")
def transpose(n: NodeContext) -> None:
    x = n.req(0)
    perm = n.attr("perm") or list(reversed(range(len(x.shape))))
    n.emit_view("aten.permute.default", (x, [int(p) for p in perm]), x)


@handles("Squeeze")
def squeeze(n: NodeContext) -> None:
    x = n.req(0)
    axes = n.ints(1) if n.opset >= 13 else n.attr("axes")
    n.emit_view("aten.squeeze.dims", (x, list(axes or [])), x)


@handles("Unsqueeze")
def unsqueeze(n: NodeContext) -> None:
    x = n.req(0)
    axes = n.ints(1) if n.opset >= 13 else n.attr("axes")
    n.emit_view("aten.unsqueeze.default", (x, list(axes or [])), x)


@handles("Identity")
def identity(n: NodeContext) -> None:
    x = n.req(0)
    n.emit_view("aten.alias.default", (x,), x)


@handles("Expand")
def expand(n: NodeContext) -> None:
    x = n.req(0)
    n.emit_view("aten.expand.default", (x, list(n.out_shape())), x)


@handles("Slice")
def slice_(n: NodeContext) -> None:
    x = n.req(0)
    if n.opset < 10:
        starts, ends, axes, steps = n.attr("starts"), n.attr("ends"), n.attr("axes"), None
    else:
        starts, ends, axes, steps = n.ints(1), n.ints(2), n.ints(3), n.ints(4)
    dim = int(axes[0]) if axes else 0
    start = int(starts[0]) if starts else None
    end = int(ends[0]) if ends else None
    step = int(steps[0]) if steps else 1
    n.emit_view("aten.slice.Tensor", (x, dim, start, end, step), x)


@handles("Split")
def split(n: NodeContext) -> None:
    x = n.req(0)
    axis = int(n.attr("axis", 0))
    sizes = [_split_size(n, o, axis) for o in n.node.output if o]
    n.emit_view("aten.split_with_sizes.default", (x, sizes, axis), x)


def _split_size(n: NodeContext, name: str, axis: int) -> int:
    """The size along ``axis`` of the Split output ``name`` (0 when its shape is unknown or scalar)."""
    shape = n.w.types.get(name, (None, 0))[0]
    return shape[axis] if shape else 0
