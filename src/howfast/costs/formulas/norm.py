"""Normalisation layers: batch, layer, group, instance and RMS norm.

Batch norm in training costs 4 FLOPs per element (subtract mean, divide by std, gamma, beta), as
in the English write-up; the batch statistics are not counted there and not here. In eval mode the
running statistics and affine parameters fold into one scale and one shift per channel: 2 FLOPs
per element (and the whole layer folds into a preceding conv: see the fusion pass).

Layer and group norm compute their statistics every call: 3 FLOPs per element for them (an add
for the mean; a square and an add for the variance), 2 to normalise (subtract, divide) and 1 each
for gamma and beta when present: 7 per element with both, 5 with neither. RMS norm (recorded whole
at F.rms_norm, which CPU and meta otherwise decompose): square, add, multiply by the reciprocal
root = 3 per element, + 1 with a weight. Only the normalised tensor is the result (not the saved
mean and reciprocal std).
"""

from __future__ import annotations

from howfast.conventions import (
    BATCHNORM_EVAL_FLOPS,
    BATCHNORM_TRAIN_FLOPS,
    NORM_AFFINE_FLOPS,
    NORM_APPLY_FLOPS,
    NORM_STATS_FLOPS,
    RMSNORM_FLOPS,
    Conventions,
)
from howfast.costs.formulas._util import arg, need, tensor
from howfast.costs.registry import Cost, Fusion, OpClass, cost
from howfast.graph.records import OpRecord


def batchnorm_flops(numel: int, training: bool, affine: int) -> int:
    """``affine``: how many of gamma and beta are present (0, 1 or 2)."""
    if training:
        return numel * (BATCHNORM_TRAIN_FLOPS - NORM_AFFINE_FLOPS + affine)
    return numel * BATCHNORM_EVAL_FLOPS


def _affine(op: OpRecord, weight_index: int, bias_index: int) -> int:
    return (tensor(op, weight_index, "weight") is not None) + (tensor(op, bias_index, "bias") is not None)


@cost("aten.native_batch_norm", "aten._native_batch_norm_legit", "aten._native_batch_norm_legit_functional",
      "aten.cudnn_batch_norm", "aten.miopen_batch_norm", "aten.batch_norm", "aten._batch_norm_impl_index", op_class=OpClass.NORM)
def batch_norm(op: OpRecord, conv: Conventions) -> Cost:
    # (input, weight, bias, running_mean, running_var, training, momentum, eps)
    x = need(op, 0, "input")
    training = bool(arg(op, 5, "training", False))
    if op.op.startswith("aten._native_batch_norm_legit") and len(op.args) == 6:
        training = bool(op.args[3])  # the overload without running stats: (input, w, b, training, momentum, eps)
    return Cost(flops=batchnorm_flops(x.numel, training, _affine(op, 1, 2)), outputs_used=None if training else 1,
                fusion=Fusion.NONE if training else Fusion.BATCHNORM)


@cost("aten._native_batch_norm_legit_no_training", "aten._batch_norm_no_update", op_class=OpClass.NORM,
      fusion=Fusion.BATCHNORM)
def batch_norm_eval(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(flops=batchnorm_flops(need(op, 0, "input").numel, False, _affine(op, 1, 2)), outputs_used=1)


@cost("aten._batch_norm_with_update", "aten._batch_norm_with_update_functional", op_class=OpClass.NORM)
def batch_norm_train(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(flops=batchnorm_flops(need(op, 0, "input").numel, True, _affine(op, 1, 2)))


def norm_flops(numel: int, affine: int) -> int:
    """``affine``: how many of gamma and beta are present (0, 1 or 2), 1 FLOP per element each."""
    return numel * (NORM_STATS_FLOPS + NORM_APPLY_FLOPS + affine)


@cost("aten.native_layer_norm", "aten.layer_norm", op_class=OpClass.NORM)
def layer_norm(op: OpRecord, conv: Conventions) -> Cost:
    # (input, normalized_shape, weight, bias, eps)
    return Cost(flops=norm_flops(need(op, 0, "input").numel, _affine(op, 2, 3)), outputs_used=1)


@cost("aten.native_group_norm", "aten.group_norm", op_class=OpClass.NORM)
def group_norm(op: OpRecord, conv: Conventions) -> Cost:
    # native_group_norm(input, weight, bias, N, C, HxW, group, eps); group_norm(input, groups, weight, bias, eps)
    weight_index = 2 if op.op.startswith("aten.group_norm") else 1
    return Cost(flops=norm_flops(need(op, 0, "input").numel, _affine(op, weight_index, weight_index + 1)), outputs_used=1)


@cost("aten._fused_rms_norm", "aten.rms_norm", "rms_norm", op_class=OpClass.NORM)
def rms_norm(op: OpRecord, conv: Conventions) -> Cost:
    # (input, normalized_shape, weight, eps)
    x, weight = need(op, 0, "input"), tensor(op, 2, "weight")
    return Cost(flops=x.numel * (RMSNORM_FLOPS + (1 if weight is not None else 0)), outputs_used=1)
