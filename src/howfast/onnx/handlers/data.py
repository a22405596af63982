"""Indexing and data movement (gathers, scatters, Concat, Tile, Pad...) and tensor creation (Range,
ConstantOfShape, EyeLike, random)."""

from __future__ import annotations

import numpy as np

from howfast.onnx.context import NodeContext, handles


@handles("Gather")
def gather(n: NodeContext) -> None:
    data, indices = n.req(0), n.req(1)
    axis = int(n.attr("axis", 0)) % max(len(data.shape), 1)
    if data.is_weight and axis == 0 and indices.dtype.startswith(("int", "uint")):
        n.emit("aten.embedding.default", (data, indices))
        return
    index_value = n.value(1)
    if index_value is not None and np.asarray(index_value).ndim == 0:
        n.emit_view("aten.select.int", (data, axis, int(np.asarray(index_value))), data)
        return
    n.emit("aten.index_select.default", (data, axis, indices))


@handles("GatherElements")
def gather_elements(n: NodeContext) -> None:
    n.emit("aten.gather.default", (n.req(0), int(n.attr("axis", 0)), n.req(1)))


@handles("GatherND")
def gather_nd(n: NodeContext) -> None:
    n.emit("aten.index.Tensor", (n.req(0), [n.req(1)]))


@handles("ScatterElements", "Scatter")
def scatter(n: NodeContext) -> None:
    n.emit("aten.scatter.src", (n.req(0), int(n.attr("axis", 0)), n.req(1), n.req(2)))


@handles("ScatterND")
def scatter_nd(n: NodeContext) -> None:
    n.emit("aten.index_put.default", (n.req(0), [n.req(1)], n.req(2)))


@handles("Concat")
def concat(n: NodeContext) -> None:
    tensors = [n.req(i) for i in range(len(n.node.input)) if n.has(i)]
    n.emit("aten.cat.default", (tensors, int(n.attr("axis", 0))))


@handles("Tile")
def tile(n: NodeContext) -> None:
    n.emit("aten.repeat.default", (n.req(0), n.ints(1)))


# Record names by spatial rank, as PyTorch names its kernels.
REFLECTION_PAD = {1: "aten.reflection_pad1d.default", 2: "aten.reflection_pad2d.default", 3: "aten.reflection_pad3d.default"}
REPLICATION_PAD = {1: "aten.replication_pad1d.default", 2: "aten.replication_pad2d.default", 3: "aten.replication_pad3d.default"}


@handles("Pad")
def pad(n: NodeContext) -> None:
    x = n.req(0)
    mode = n.attr("mode", "constant")
    pads = n.attr("pads") if n.opset < 11 else n.ints(1)
    spatial = max(len(x.shape) - 2, 1)
    if mode == "reflect" and spatial in REFLECTION_PAD:
        n.emit(REFLECTION_PAD[spatial], (x, pads))
    elif mode == "edge" and spatial in REPLICATION_PAD:
        n.emit(REPLICATION_PAD[spatial], (x, pads))
    else:
        n.emit("aten.constant_pad_nd.default" if mode == "constant" else "aten.pad.default", (x, pads))


@handles("Trilu")
def trilu(n: NodeContext) -> None:
    k = n.ints(1)
    n.emit("aten.triu.default" if int(n.attr("upper", 1)) else "aten.tril.default", (n.req(0), k[0] if k else 0))


@handles("DepthToSpace", "SpaceToDepth")
def depth_to_space(n: NodeContext) -> None:
    op = "aten.pixel_shuffle.default" if n.op_type == "DepthToSpace" else "aten.pixel_unshuffle.default"
    n.emit(op, (n.req(0), int(n.attr("blocksize", 1))))


@handles("CumSum")
def cumsum(n: NodeContext) -> None:
    axis = n.ints(1)
    n.emit("aten.cumsum.default", (n.req(0), axis[0] if axis else 0))


@handles("Range")
def range_(n: NodeContext) -> None:
    args = tuple(n.operand(i) for i in range(3))
    n.emit("aten.arange.start_step", args)


@handles("ConstantOfShape")
def constant_of_shape(n: NodeContext) -> None:
    n.emit("aten.full.default", (list(n.out_shape()), 0))


@handles("EyeLike")
def eye_like(n: NodeContext) -> None:
    n.emit("aten.eye.default", tuple(n.out_shape()))


@handles("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike")
def random(n: NodeContext) -> None:
    op = "aten.randn.default" if "Normal" in n.op_type else "aten.rand.default"
    n.emit(op, (list(n.out_shape()),))
