"""Normalization layers: batch, instance, layer, group and RMS normalization."""

from __future__ import annotations

import math

from howfast.onnx.context import NodeContext, handles


@handles("BatchNormalization")
def batch_norm(n: NodeContext) -> None:
    x, scale, bias, mean, var = (n.x(i) for i in range(5))
    eps = float(n.attr("epsilon", 1e-5))
    momentum = 1.0 - float(n.attr("momentum", 0.9))  # ONNX keeps this share of the old statistic
    training = bool(int(n.attr("training_mode", 0))) or len([o for o in n.node.output if o]) > 1 and n.opset < 14
    if training:
        n.emit("aten._native_batch_norm_legit.default", (x, scale, bias, mean, var, True, momentum, eps))
    else:
        n.emit("aten._native_batch_norm_legit_no_training.default", (x, scale, bias, mean, var, momentum, eps))


@handles("InstanceNormalization")
def instance_norm(n: NodeContext) -> None:
    # PyTorch runs instance norm as a training-mode batch norm over (1, N x C, ...) without stats.
    n.emit("aten._native_batch_norm_legit.no_stats", (n.req(0), n.x(1), n.x(2), True, 0.1, float(n.attr("epsilon", 1e-5))))


@handles("LayerNormalization")
def layer_norm(n: NodeContext) -> None:
    x = n.req(0)
    axis = int(n.attr("axis", -1)) % max(len(x.shape), 1)
    n.emit("aten.native_layer_norm.default", (x, list(x.shape[axis:]), n.x(1), n.x(2), float(n.attr("epsilon", 1e-5))))


@handles("GroupNormalization")
def group_norm(n: NodeContext) -> None:
    x = n.req(0)
    batch, channels = (x.shape + (1, 1))[:2]
    hw = math.prod(x.shape[2:])
    n.emit("aten.native_group_norm.default", (x, n.x(1), n.x(2), batch, channels, hw, int(n.attr("num_groups", 1)), float(n.attr("epsilon", 1e-5))))


@handles("RMSNormalization")
def rms_norm(n: NodeContext) -> None:
    x = n.req(0)
    axis = int(n.attr("axis", -1)) % max(len(x.shape), 1)
    n.emit("aten._fused_rms_norm.default", (x, list(x.shape[axis:]), n.x(1), float(n.attr("epsilon", 1e-5))))
