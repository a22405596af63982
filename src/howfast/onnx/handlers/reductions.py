"""Reductions along axes: Reduce*, ArgMax/ArgMin, CumSum, TopK."""

from __future__ import annotations

from howfast.onnx.context import NodeContext, handles

REDUCTIONS = {
    "ReduceMean": "aten.mean.dim", "ReduceSum": "aten.sum.dim_IntList", "ReduceMax": "aten.amax.default",
    "ReduceMin": "aten.amin.default", "ReduceProd": "aten.prod.dim_int", "ReduceL2": "aten.linalg_vector_norm.default",
    "ReduceL1": "aten.linalg_vector_norm.default", "ReduceLogSumExp": "aten.logsumexp.default",
}


@handles(*REDUCTIONS)
def reduce(n: NodeContext) -> None:
    x = n.req(0)
    attr_axes = n.op_type == "ReduceSum" and n.opset < 13 or n.op_type != "ReduceSum" and n.opset < 18
    axes = n.attr("axes") if attr_axes else n.ints(1)
    keepdims = bool(int(n.attr("keepdims", 1)))
    if not axes:
        if int(n.attr("noop_with_empty_axes", 0)):
            n.emit_view("aten.alias.default", (x,), x)
            return
        axes = list(range(len(x.shape)))
    n.emit(REDUCTIONS[n.op_type], (x, [int(a) for a in axes], keepdims))


@handles("ArgMax", "ArgMin")
def arg_reduce(n: NodeContext) -> None:
    op = "aten.argmax.default" if n.op_type == "ArgMax" else "aten.argmin.default"
    n.emit(op, (n.req(0), int(n.attr("axis", 0)), bool(int(n.attr("keepdims", 1)))))


@handles("CumSum")
def cumsum(n: NodeContext) -> None:
    axis = n.ints(1)
    n.emit("aten.cumsum.default", (n.req(0), axis[0] if axis else 0))


@handles("TopK")
def topk(n: NodeContext) -> None:
    x = n.req(0)
    k = n.ints(1) if n.opset >= 10 else [int(n.attr("k", 1))]
    if not k:  # a k computed at run time: the output shape is unknown anyway
        n.unknown()
        return
    axis = int(n.attr("axis", -1)) % max(len(x.shape), 1)
    n.emit("aten.topk.default", (x, k[0], axis, bool(int(n.attr("largest", 1))), bool(int(n.attr("sorted", 1)))))
