"""Normalisation layers: batch, layer, group, instance and RMS norm.

Batch norm in training costs 4 FLOPs per element (subtract mean, divide by std, gamma, beta), as
in the English write-up; the batch statistics are not counted there and not here. In eval mode the
running statistics and affine parameters fold into one scale and one shift per channel: 2 FLOPs
per element (and the whole layer folds into a preceding conv: see the fusion pass).

Layer and group norm compute their statistics every call: 3 FLOPs per element for them (an add
for the mean; a square and an add for the variance), 2 to normalise (subtract, divide) and 2 for
the affine (gamma, beta) when present: 7 per element with affine, 5 without. RMS norm: square,
add, multiply by the reciprocal root = 3 per element, + 1 with a weight.
"""

from __future__ import annotations

from howfast.capture.records import OpRecord
from howfast.conventions import (
    BATCHNORM_EVAL_FLOPS,
    BATCHNORM_TRAIN_FLOPS,
    NORM_AFFINE_FLOPS,
    NORM_APPLY_FLOPS,
    NORM_STATS_FLOPS,
    RMSNORM_FLOPS,
    Conventions,
)
from howfast.costs.formulas._util import arg, tensor
from howfast.costs.registry import Cost, cost


def batchnorm_flops(numel: int, training: bool, affine: bool) -> int:
    if training:
        return numel * (BATCHNORM_TRAIN_FLOPS if affine else BATCHNORM_TRAIN_FLOPS - NORM_AFFINE_FLOPS)
    return numel * BATCHNORM_EVAL_FLOPS


@cost("aten.native_batch_norm", "aten._native_batch_norm_legit", "aten._native_batch_norm_legit_functional",
      "aten.cudnn_batch_norm", "aten.miopen_batch_norm", "aten.batch_norm", "aten._batch_norm_impl_index")
def batch_norm(op: OpRecord, conv: Conventions) -> Cost:
    # (input, weight, bias, running_mean, running_var, training, momentum, eps)
    x, weight = tensor(op, 0, "input"), tensor(op, 1, "weight")
    training = bool(arg(op, 5, "training", False))
    if op.op.startswith("aten._native_batch_norm_legit") and len(op.args) == 6:
        training = bool(op.args[3])  # the overload without running stats: (input, w, b, training, momentum, eps)
    return Cost(flops=batchnorm_flops(x.numel, training, weight is not None), outputs_used=None if training else 1)


@cost("aten._native_batch_norm_legit_no_training", "aten._batch_norm_no_update")
def batch_norm_eval(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(flops=batchnorm_flops(tensor(op, 0, "input").numel, False, tensor(op, 1, "weight") is not None), outputs_used=1)


@cost("aten._batch_norm_with_update", "aten._batch_norm_with_update_functional")
def batch_norm_train(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(flops=batchnorm_flops(tensor(op, 0, "input").numel, True, tensor(op, 1, "weight") is not None))


def norm_flops(numel: int, affine: bool) -> int:
    per_element = NORM_STATS_FLOPS + NORM_APPLY_FLOPS + (NORM_AFFINE_FLOPS if affine else 0)
    return numel * per_element


@cost("aten.native_layer_norm", "aten.layer_norm")
def layer_norm(op: OpRecord, conv: Conventions) -> Cost:
    # (input, normalized_shape, weight, bias, eps)
    x, weight = tensor(op, 0, "input"), tensor(op, 2, "weight")
    return Cost(flops=norm_flops(x.numel, weight is not None))


@cost("aten.native_group_norm", "aten.group_norm", "aten.instance_norm")
def group_norm(op: OpRecord, conv: Conventions) -> Cost:
    x = tensor(op, 0, "input")
    weight = tensor(op, 1, "weight") if not op.op.startswith("aten.group_norm") else tensor(op, 2, "weight")
    return Cost(flops=norm_flops(x.numel, weight is not None))


@cost("aten._fused_rms_norm", "aten.rms_norm")
def rms_norm(op: OpRecord, conv: Conventions) -> Cost:
    # (input, normalized_shape, weight, eps)
    x, weight = tensor(op, 0, "input"), tensor(op, 2, "weight")
    return Cost(flops=x.numel * (RMSNORM_FLOPS + (1 if weight is not None else 0)))
