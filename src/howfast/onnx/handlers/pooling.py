"""Spatial ops: max and average pooling (local and global), Resize/Upsample, GridSample."""

from __future__ import annotations

from howfast.onnx.context import NodeContext, handles, spatial_list

# Record names by spatial rank (1-D, 2-D, 3-D), as PyTorch names its kernels.
MAX_POOL = {1: "aten.max_pool1d.default", 2: "aten.max_pool2d.default", 3: "aten.max_pool3d.default"}
MAX_POOL_WITH_INDICES = {
    1: "aten.max_pool1d_with_indices.default", 2: "aten.max_pool2d_with_indices.default", 3: "aten.max_pool3d_with_indices.default",
}
AVG_POOL = {1: "aten.avg_pool1d.default", 2: "aten.avg_pool2d.default", 3: "aten.avg_pool3d.default"}
ADAPTIVE_AVG_POOL = {1: "aten.adaptive_avg_pool1d.default", 2: "aten._adaptive_avg_pool2d.default", 3: "aten._adaptive_avg_pool3d.default"}
ADAPTIVE_MAX_POOL = {1: "aten.adaptive_max_pool1d.default", 2: "aten.adaptive_max_pool2d.default", 3: "aten.adaptive_max_pool3d.default"}
# (Resize mode, spatial rank) -> record name.
RESIZE = {
    ("nearest", 1): "aten.upsample_nearest1d.vec", ("nearest", 2): "aten.upsample_nearest2d.vec",
    ("nearest", 3): "aten.upsample_nearest3d.vec", ("linear", 1): "aten.upsample_linear1d.vec",
    ("linear", 2): "aten.upsample_bilinear2d.vec", ("linear", 3): "aten.upsample_trilinear3d.vec",
    ("bilinear", 2): "aten.upsample_bilinear2d.vec", ("cubic", 2): "aten.upsample_bicubic2d.vec",
}


@handles("MaxPool", "AveragePool")
def pool(n: NodeContext) -> None:
    x = n.req(0)
    spatial = len(x.shape) - 2
    kernel = [int(k) for k in n.attr("kernel_shape", [])]
    if spatial not in (1, 2, 3) or len(kernel) != spatial:
        n.unknown()
        return
    strides = spatial_list(n.attr("strides"), spatial, 1)
    pads = spatial_list(n.attr("pads"), 2 * spatial, 0)
    ceil_mode = bool(int(n.attr("ceil_mode", 0)))
    if n.op_type == "MaxPool":
        dilations = spatial_list(n.attr("dilations"), spatial, 1)
        indices = len([o for o in n.node.output if o]) > 1
        op = MAX_POOL_WITH_INDICES[spatial] if indices else MAX_POOL[spatial]
        n.emit(op, (x, kernel, strides, pads[:spatial], dilations, ceil_mode))
    else:
        include_pad = bool(int(n.attr("count_include_pad", 0)))
        n.emit(AVG_POOL[spatial], (x, kernel, strides, pads[:spatial], ceil_mode, include_pad))


@handles("GlobalAveragePool", "GlobalMaxPool")
def global_pool(n: NodeContext) -> None:
    x = n.req(0)
    spatial = len(x.shape) - 2
    average = n.op_type == "GlobalAveragePool"
    if spatial in (1, 2, 3):
        op = ADAPTIVE_AVG_POOL[spatial] if average else ADAPTIVE_MAX_POOL[spatial]
        n.emit(op, (x, [1] * spatial))
        return
    dims = list(range(2, len(x.shape)))
    n.emit("aten.mean.dim" if average else "aten.amax.default", (x, dims, True))


@handles("Resize", "Upsample")
def resize(n: NodeContext) -> None:
    x = n.req(0)
    spatial = len(x.shape) - 2
    mode = n.attr("mode", "nearest")
    op = RESIZE.get((mode, spatial))
    if op is None:
        n.unknown()
        return
    n.emit(op, (x, list(n.out_shape()[2:]), None))


@handles("GridSample")
def grid_sample(n: NodeContext) -> None:
    x = n.req(0)
    mode = n.attr("mode", "linear")
    code = {"bilinear": 0, "linear": 0, "nearest": 1, "bicubic": 2, "cubic": 2}.get(mode)
    if code is None or len(x.shape) not in (4, 5):
        n.unknown()
        return
    padding = {"zeros": 0, "border": 1, "reflection": 2}.get(n.attr("padding_mode", "zeros"), 0)
    op = "aten.grid_sampler_2d.default" if len(x.shape) == 4 else "aten.grid_sampler_3d.default"
    n.emit(op, (x, n.req(1), code, padding, bool(int(n.attr("align_corners", 0)))))
