"""Backward kernels of the products and norms autograd runs: convolution, attention, normalisation.

* ``convolution_backward``: each gradient it computes (``output_mask``: grad_input, grad_weight,
  grad_bias) is a convolution of its own. grad_input (a transposed convolution of grad_output with
  the weight) and grad_weight (a convolution of the input with grad_output) each cost the forward
  convolution's MACs; grad_bias is a sum of grad_output over the batch and spatial positions, 1 FLOP
  per grad_output element. FLOPs: dot(MACs, elements of that gradient) each (``exact``: at most
  MACs of them, since a stride above the kernel leaves grad_input elements with no term), +
  grad_bias's additions. Write-up reads: grad_input reads grad_output once per MAC and the weight
  once; grad_weight reads the input once per MAC and grad_output once; grad_bias reads grad_output
  once. Compulsory: grad_output, the input only when grad_weight is computed, the weight only when
  grad_input is.
* SDPA backward (every fused kernel): five products, as ``FlopCounterMode``'s ``sdpa_backward_flop``
  counts them: the scores recomputed (Q K^T, L x S x E), dP = dO V^T (L x S x Ev), dV = P^T dO
  (S x L x Ev), dQ = dS K (L x S x E), dK = dS^T Q (S x L x E), per batch x query head. Element-wise,
  per score: P = exp(scores x scale [+ mask] - logsumexp) 3 (+ 1 per mask or causal select), dS =
  P (dP - D) x scale 3; D = rowsum(dO * O), Ev multiplies and Ev - 1 adds per row; dropout p x
  scores; grouped-query attention sums the query heads' dK and dV into each key/value head.
* Norm backward, FLOPs per element of the input (x^ = the normalised input):
  batch norm, training: sum(dy) 1, sum(dy x^) 4 (x^ = (x - mean) x invstd: 2, multiply, add),
  grad_input = k (dy - mean(dy) - x^ mean(dy x^)) 4 (k = gamma x invstd per channel): 9 with all
  three gradients; each reduction only when a gradient needs it. Eval (running statistics):
  grad_input = dy x k 1, grad_weight = sum(dy x^) 4, grad_bias = sum(dy) 1.
  Layer and group norm: x^ 2; grad_input 7 (+ 1 for g = dy x gamma with a weight: sum(g) 1,
  sum(g x^) 2, rstd (g - mean(g) - x^ mean(g x^)) 4); grad_weight sum(dy x^) 2; grad_bias sum(dy) 1.
  RMS norm: x^ = x x rstd 1; grad_input 5 (+ 1 with a weight: sum(g x^) 2, rstd (g - x^ mean(g x^))
  3); grad_weight 2. Per-channel and per-row scalars (means of the sums, gamma x invstd) are not
  counted, as the forward norms leave out their statistics' per-row work.
"""

from __future__ import annotations

from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, dot_flops, need, prod, tensor
from howfast.costs.formulas.conv import conv_class, conv_macs
from howfast.costs.registry import Access, Cost, OpClass, access, cost
from howfast.graph.records import OpRecord, TensorMeta

# FLOPs per input element of each part of a norm's backward (docstring above).
BN_SUM_DY = 1
BN_SUM_DY_XHAT = 4
BN_GRAD_INPUT_TRAIN = 4
BN_GRAD_INPUT_EVAL = 1
LN_XHAT = 2
LN_GRAD_INPUT = 7  # + 1 with a weight
LN_GRAD_WEIGHT = 2
LN_GRAD_BIAS = 1
RMS_XHAT = 1
RMS_GRAD_INPUT = 5  # + 1 with a weight
RMS_GRAD_WEIGHT = 2
SDPA_BACKWARD_PER_SCORE = 6  # recompute P (3) and dS (3); + 1 per mask or causal select


def output_mask(op: OpRecord, index: int, name: str, count: int) -> tuple[bool, ...]:
    """The op's ``output_mask`` (which gradients it computes); all of them when it has none."""
    mask = arg(op, index, name)
    if not isinstance(mask, (list, tuple)):
        return (True,) * count
    return tuple(bool(m) for m in mask) + (False,) * (count - len(mask))


def _batched(shape: tuple[int, ...], w_shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1,) + tuple(shape) if len(shape) == len(w_shape) - 1 else tuple(shape)


@cost("aten.convolution_backward", op_class=OpClass.CONV)
def convolution_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed,
    output_padding, groups, output_mask)."""
    gy, x, w = need(op, 0, "grad_output"), need(op, 1, "input"), need(op, 2, "weight")
    transposed = bool(arg(op, 7, "transposed", False))
    grad_input, grad_weight, grad_bias = output_mask(op, 10, "output_mask", 3)
    x_shape, y_shape = _batched(x.shape, w.shape), _batched(gy.shape, w.shape)
    forward = conv_macs(x_shape, w.shape, y_shape, transposed)
    macs = forward * (grad_input + grad_weight)
    # exact: 2 x MACs - the gradient's elements that receive a term (a stride above the kernel leaves
    # grad_input elements no output window covers: at most MACs of them are dot products)
    flops = ((dot_flops(forward, min(x.numel, forward), conv) if grad_input else 0)
             + (dot_flops(forward, min(w.numel, forward), conv) if grad_weight else 0) + (gy.numel if grad_bias else 0))
    reads = ([access(forward, gy)] if grad_input else []) + ([access(forward, x), access(gy.numel, gy)] if grad_weight else []) \
        + ([access(gy.numel, gy)] if grad_bias else [])
    compulsory = [access(gy.numel, gy)] + ([access(x.numel, x)] if grad_weight else [])
    weights = [access(w.numel, w)] if grad_input else []
    result = Cost(macs=macs, flops=flops, input_reads=reads, compulsory_input=compulsory,
                  op_class=conv_class(x_shape, w.shape, transposed))
    if w.is_weight:
        result.weight_reads = result.compulsory_weights = weights
    else:  # a weight that is not a parameter (a functional conv) is an activation operand
        result.input_reads = reads + weights
        result.compulsory_input = compulsory + weights
    return result


def attention_backward_cost(gy: TensorMeta, q: TensorMeta, k: TensorMeta, v: TensorMeta, lse: TensorMeta | None,
                            mask: TensorMeta | None, dropout_p: float, causal: bool, conv: Conventions) -> Cost:
    """Cost of the backward of softmax(q k^T x scale + mask) v, from the kernel's operand shapes."""
    b = prod(q.shape[:-2])
    length, source, e, ev = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    scores = b * length * source
    macs_e, macs_ev = scores * e, scores * ev  # each product of width E (Q K^T, dQ, dK) or Ev (dP, dV)
    masks = 1 if mask is not None or causal else 0
    # grouped-query attention: b query heads' dK, dV summed into each key/value head
    head_sums = max(b * source * e - k.numel, 0) + max(b * source * ev - v.numel, 0)
    flops = (
        dot_flops(macs_e, scores, conv)  # scores recomputed
        + dot_flops(macs_ev, scores, conv)  # dP = dO V^T
        + dot_flops(macs_ev, b * source * ev, conv)  # dV = P^T dO
        + dot_flops(macs_e, b * length * e, conv)  # dQ = dS K
        + dot_flops(macs_e, b * source * e, conv)  # dK = dS^T Q
        + scores * (SDPA_BACKWARD_PER_SCORE + masks)
        + b * length * (2 * ev - 1)  # D = rowsum(dO * O)
        + round(dropout_p * scores)
        + head_sums
    )
    rows = b * length
    reads: list[Access] = [
        access(macs_e, q), access(k.numel, k),  # Q once per MAC of the recomputed Q K^T, K once
        access(scores, q), *([access(scores, mask)] if mask is not None else []),  # the scores (and mask) for P
        *([access(lse.numel, lse)] if lse is not None else []),
        access(macs_ev, gy), access(v.numel, v),  # dO once per MAC of dO V^T, V once
        access(macs_ev, q), access(gy.numel, gy),  # P once per MAC of P^T dO, dO once
        access(2 * rows * ev, gy),  # dO and O for D
        access(2 * scores, q),  # P and dP for dS
        access(2 * macs_e, q), access(k.numel, k), access(q.numel, q),  # dS once per MAC of dS K and dS^T Q
    ]
    writes = 4 * scores + rows + q.numel + k.numel + v.numel  # scores, P, dP, dS, D; dQ, dK, dV
    return Cost(macs=3 * macs_e + 2 * macs_ev, flops=flops, input_reads=reads, output_writes=writes)


# Operand positions per kernel: (grad_out, query, key, value, logsumexp, mask, dropout_p, is_causal).
_SDPA_BACKWARD = {
    "aten._scaled_dot_product_flash_attention_for_cpu_backward": (0, 1, 2, 3, 5, None, 6, 7),
    "aten._scaled_dot_product_flash_attention_backward": (0, 1, 2, 3, 5, None, 10, 11),
    "aten._scaled_dot_product_efficient_attention_backward": (0, 1, 2, 3, 6, 4, 9, 11),
    "aten._scaled_dot_product_cudnn_attention_backward": (0, 1, 2, 3, 5, 8, 13, 14),
    "aten._scaled_dot_product_fused_attention_overrideable_backward": (0, 1, 2, 3, 7, 4, 12, 13),
}


@cost(*_SDPA_BACKWARD, op_class=OpClass.ATTENTION)
def sdpa_backward(op: OpRecord, conv: Conventions) -> Cost:
    """Any fused SDPA kernel's backward: ``attention_backward_cost`` from its operands."""
    i_gy, i_q, i_k, i_v, i_lse, i_mask, i_p, i_causal = _SDPA_BACKWARD[".".join(op.op.split(".")[:2])]
    mask = tensor(op, i_mask) if i_mask is not None else op.kwargs.get("attn_mask")
    return attention_backward_cost(need(op, i_gy), need(op, i_q), need(op, i_k), need(op, i_v), tensor(op, i_lse),
                                   mask if isinstance(mask, TensorMeta) else None, float(arg(op, i_p, "dropout_p", 0.0) or 0.0),
                                   bool(arg(op, i_causal, "is_causal", False)), conv)


def batchnorm_backward_flops(numel: int, training: bool, mask: tuple[bool, ...]) -> int:
    grad_input, grad_weight, grad_bias = mask[:3]
    per_element = ((BN_SUM_DY if grad_bias or (training and grad_input) else 0)
                   + (BN_SUM_DY_XHAT if grad_weight or (training and grad_input) else 0)
                   + ((BN_GRAD_INPUT_TRAIN if training else BN_GRAD_INPUT_EVAL) if grad_input else 0))
    return numel * per_element


@cost("aten.native_batch_norm_backward", "aten.batch_norm_backward", op_class=OpClass.NORM)
def batch_norm_backward(op: OpRecord, conv: Conventions) -> Cost:
    """native_batch_norm_backward(grad_out, input, weight, running_mean, running_var, save_mean,
    save_invstd, train, eps, output_mask); batch_norm_backward(..., update, eps, output_mask, reserve)."""
    x = need(op, 1, "input")
    training = bool(arg(op, 7, "update" if op.op.startswith("aten.batch_norm_backward") else "train", True))
    return Cost(flops=batchnorm_backward_flops(x.numel, training, output_mask(op, 9, "output_mask", 3)))


@cost("aten.cudnn_batch_norm_backward", "aten.miopen_batch_norm_backward", op_class=OpClass.NORM)
def cudnn_batch_norm_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(input, grad_output, weight, ...): training statistics, all three gradients."""
    return Cost(flops=batchnorm_backward_flops(need(op, 0, "input").numel, True, (True, True, True)))


def layer_norm_backward_flops(numel: int, has_weight: bool, mask: tuple[bool, ...]) -> int:
    grad_input, grad_weight, grad_bias = mask[:3]
    per_element = ((LN_XHAT if grad_input or grad_weight else 0) + ((LN_GRAD_INPUT + has_weight) if grad_input else 0)
                   + (LN_GRAD_WEIGHT if grad_weight else 0) + (LN_GRAD_BIAS if grad_bias else 0))
    return numel * per_element


@cost("aten.native_layer_norm_backward", op_class=OpClass.NORM)
def layer_norm_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_out, input, normalized_shape, mean, rstd, weight, bias, output_mask)."""
    x = need(op, 1, "input")
    return Cost(flops=layer_norm_backward_flops(x.numel, tensor(op, 5, "weight") is not None, output_mask(op, 7, "output_mask", 3)))


@cost("aten.native_group_norm_backward", op_class=OpClass.NORM)
def group_norm_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_out, input, mean, rstd, weight, N, C, HxW, group, output_mask): as layer norm."""
    x = need(op, 1, "input")
    return Cost(flops=layer_norm_backward_flops(x.numel, tensor(op, 4, "weight") is not None, output_mask(op, 9, "output_mask", 3)))


@cost("aten._fused_rms_norm_backward", op_class=OpClass.NORM)
def rms_norm_backward(op: OpRecord, conv: Conventions) -> Cost:
    """(grad_out, input, normalized_shape, rstd, weight, output_mask[2])."""
    x, weight = need(op, 1, "input"), tensor(op, 4, "weight")
    grad_input, grad_weight = output_mask(op, 5, "output_mask", 2)[:2]
    per_element = ((RMS_XHAT if grad_input or grad_weight else 0) + ((RMS_GRAD_INPUT + (weight is not None)) if grad_input else 0)
                   + (RMS_GRAD_WEIGHT if grad_weight else 0))
    return Cost(flops=x.numel * per_element)
