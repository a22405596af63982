"""Cost formulas of the ops autograd runs in backward and of the optimizers' multi-tensor updates.

The capture sees the forward only, so these tests record the real ops themselves: a small dispatch
mode turns every aten call of a forward + ``backward()`` (or an optimizer step) into the same
``OpRecord``s the capture makes (parameters marked as weights), and ``costs.evaluate`` prices them.
Every expected figure is derived by hand in the comment beside it (docs/formulas.md, "Backward
ops"; float32 = 4 bytes, int64 = 8, bool = 1), never copied from the tool's output; the model
totals are compared with ``torch.utils.flop_counter.FlopCounterMode`` on the same run.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count
from torch.utils.weak import WeakIdKeyDictionary

from howfast.conventions import Conventions
from howfast.costs.evaluate import OpCost, evaluate_op
from howfast.costs.registry import OpClass, registration
from howfast.graph import opnames
from howfast.graph.records import OpRecord, TensorKind, TensorMeta
from howfast.zoo import build

aten = torch.ops.aten


class Recorder(TorchDispatchMode):
    """Every aten call as an ``OpRecord`` (tensors as ``TensorMeta``; ``weights`` as parameters)."""

    def __init__(self, weights: list[torch.Tensor] | None = None) -> None:
        super().__init__()
        self.weights = {id(w) for w in weights or []}
        self.tids: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.ops: list[OpRecord] = []

    def meta(self, t: torch.Tensor) -> TensorMeta:
        tid = self.tids.get(t)
        if tid is None:
            tid = self.tids[t] = len(self.ops) * 1000 + len(self.tids) + 1
        kind = TensorKind.PARAM if id(t) in self.weights else TensorKind.ACTIVATION
        return TensorMeta(tid, tid, tuple(t.shape), str(t.dtype).removeprefix("torch."), t.element_size(), kind)

    def convert(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return self.meta(value)
        if isinstance(value, list):
            return [self.convert(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.convert(v) for v in value)
        return value if isinstance(value, (int, float, bool, str)) or value is None else str(value)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        margs, mkwargs = self.convert(args), {k: self.convert(v) for k, v in kwargs.items()}
        out = func(*args, **kwargs)
        flat = [out] if isinstance(out, torch.Tensor) else list(out) if isinstance(out, (tuple, list)) else []
        outputs = tuple(self.meta(t) for t in flat if isinstance(t, torch.Tensor))
        inplace = opnames.is_inplace(opnames.packet(str(func)))
        aliases = frozenset({0}) if inplace and outputs else frozenset()
        self.ops.append(OpRecord(len(self.ops), str(func), "", margs, mkwargs, outputs, aliases, inplace))
        return out


def record(fn: Callable[[], Any], weights: list[torch.Tensor] | None = None) -> list[OpRecord]:
    recorder = Recorder(weights)
    with recorder:
        fn()
    return recorder.ops


def costs(ops: list[OpRecord], prefix: str, conventions: Conventions | None = None) -> list[OpCost]:
    return [evaluate_op(op, conventions or Conventions()) for op in ops if op.op.startswith(prefix)]


def one(ops: list[OpRecord], prefix: str, conventions: Conventions | None = None) -> OpCost:
    found = costs(ops, prefix, conventions)
    assert len(found) == 1, [op.op for op in ops]
    assert found[0].counted and not found[0].free
    return found[0]


def traffic(c: OpCost, model: str) -> tuple[int, int, int]:
    t = c.writeup if model == "writeup" else c.compulsory
    return t.input, t.weights, t.output


# ---------------------------------------------------------------- convolution_backward

CONV_MASKS = [(a, b, c) for a in (False, True) for b in (False, True) for c in (False, True) if a or b or c]


@pytest.mark.parametrize("mask", CONV_MASKS)
def test_convolution_backward_counts_each_gradient_it_computes(mask):
    # Conv2d(3, 4, 3) with bias on 1x3x5x5: output 1x4x3x3 (36); forward MACs 4 x 9 x 3 x 3 x 3 = 972.
    # grad_input and grad_weight are 972 MACs each; grad_bias sums the 36 grad_output elements.
    x, w, gy = torch.randn(1, 3, 5, 5), torch.randn(4, 3, 3, 3), torch.randn(1, 4, 3, 3)
    ops = record(lambda: aten.convolution_backward(gy, x, w, [4], [1, 1], [0, 0], [1, 1], False, [0, 0], 1, list(mask)), [w])
    c = one(ops, "aten.convolution_backward")
    gi, gw, gb = mask
    assert c.macs == 972 * (gi + gw)
    assert c.flops == 2 * 972 * (gi + gw) + 36 * gb
    exact = one(ops, "aten.convolution_backward", Conventions.exact())
    assert exact.flops == gi * (1944 - 75) + gw * (1944 - 108) + 36 * gb  # 2 x MACs - elements of each gradient
    assert c.op_class is OpClass.CONV
    # write-up: grad_input reads grad_output once per MAC (972) and the weight (108) once; grad_weight
    # reads the input once per MAC (972) and grad_output once (36); grad_bias grad_output once (36).
    # Written: 75 (grad_input), 108 (grad_weight), 4 (grad_bias).
    written = 75 * gi + 108 * gw + 4 * gb
    assert traffic(c, "writeup") == (972 * gi + 1008 * gw + 36 * gb, 108 * gi, written)
    # compulsory: grad_output (36) always, the input (75) only for grad_weight, the weight only for grad_input
    assert traffic(c, "compulsory") == (36 + 75 * gw, 108 * gi, written)
    assert c.compulsory.bytes == 4 * (36 + 75 * gw + 108 * gi + written)



def test_exact_convolution_backward_counts_only_gradient_elements_a_window_reaches():
    # Conv2d(2, 1, 1, stride=2) on 1x2x4x4: output 1x1x2x2, forward 1 x 4 x 2 = 8 MACs. grad_input has
    # 32 elements but only the 8 under a window get a term: exact 2 x 8 - 8 = 8 (not 16 - 32 < 0).
    # grad_weight: 2 elements, dot products of length 4: 2 x 8 - 2 = 14.
    x, w, gy = torch.randn(1, 2, 4, 4), torch.randn(1, 2, 1, 1), torch.randn(1, 1, 2, 2)
    ops = record(lambda: aten.convolution_backward(gy, x, w, None, [2, 2], [0, 0], [1, 1], False, [0, 0], 1, [True, True, False]), [w])
    c = one(ops, "aten.convolution_backward", Conventions.exact())
    assert (c.macs, c.flops, c.op_class) == (16, 8 + 14, OpClass.PWCONV)

def test_transposed_and_depthwise_convolution_backward():
    # ConvTranspose2d(4, 6, 2, stride=2) on 1x4x3x3: forward MACs 4 x 9 x 6 x 4 = 864; both gradients 1,728.
    t = nn.ConvTranspose2d(4, 6, 2, stride=2, bias=False)
    x = torch.randn(1, 4, 3, 3, requires_grad=True)
    c = one(record(lambda: t(x).sum().backward(), list(t.parameters())), "aten.convolution_backward")
    assert (c.macs, c.flops) == (1728, 3456)
    # depthwise Conv2d(4, 4, 3, padding=1, groups=4) on 1x4x5x5: forward 4 x 25 x 9 = 900 MACs;
    # grad_input and grad_weight 900 each: 1,800, a dwconv.
    d = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)
    x = torch.randn(1, 4, 5, 5, requires_grad=True)
    c = one(record(lambda: d(x).sum().backward(), list(d.parameters())), "aten.convolution_backward")
    assert (c.macs, c.op_class) == (1800, OpClass.DWCONV)


def test_flop_counter_counts_a_grouped_weight_gradient_groups_times():
    # FlopCounterMode's conv_backward_flop computes grad_weight as conv(input^T, grad_output^T), whose
    # channel product ignores groups: for the depthwise conv above (900 forward MACs, groups 4) it
    # counts grad_weight as 4 x 900 MACs. howfast counts the forward's 900 (what the kernel multiplies).
    d = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)
    x = torch.randn(1, 4, 5, 5, requires_grad=True)
    y = d(x)
    with FlopCounterMode(display=False) as counter:
        y.sum().backward()
    assert counter.get_total_flops() == 2 * (900 + 4 * 900)


# ---------------------------------------------------------------- norms

def test_batch_norm_backward():
    # 2x3x4x4 = 96 elements. Training, all three gradients: sum(dy) 1 + sum(dy x^) 4 + grad_input 4 = 9.
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    bn = nn.BatchNorm2d(3).train()
    assert one(record(lambda: bn(x).sum().backward(), list(bn.parameters())), "aten.native_batch_norm_backward").flops == 96 * 9
    # training, no affine: grad_input still needs both sums: 9
    plain = nn.BatchNorm2d(3, affine=False).train()
    assert one(record(lambda: plain(x).sum().backward()), "aten.native_batch_norm_backward").flops == 96 * 9
    # training, input frozen (output_mask [False, True, True]): sum(dy x^) 4 + sum(dy) 1 = 5
    frozen = torch.randn(2, 3, 4, 4)
    c = one(record(lambda: bn(frozen).sum().backward(), list(bn.parameters())), "aten.native_batch_norm_backward")
    assert (c.flops, c.op_class) == (96 * 5, OpClass.NORM)
    # eval (running statistics): grad_input dy x k 1 + grad_weight 4 + grad_bias 1 = 6; without affine 1
    bn.eval()
    plain.eval()
    assert one(record(lambda: bn(x).sum().backward(), list(bn.parameters())), "aten.native_batch_norm_backward").flops == 96 * 6
    assert one(record(lambda: plain(x).sum().backward()), "aten.native_batch_norm_backward").flops == 96 * 1


def test_layer_and_group_norm_backward():
    # LayerNorm(5) on 2x3x5 = 30 elements: x^ 2 + grad_input 7 + 1 (weight) + grad_weight 2 + grad_bias 1 = 13
    x = torch.randn(2, 3, 5, requires_grad=True)
    ln = nn.LayerNorm(5)
    assert one(record(lambda: ln(x).sum().backward(), list(ln.parameters())), "aten.native_layer_norm_backward").flops == 30 * 13
    # without affine: x^ 2 + grad_input 7 = 9
    plain = nn.LayerNorm(5, elementwise_affine=False)
    assert one(record(lambda: plain(x).sum().backward()), "aten.native_layer_norm_backward").flops == 30 * 9
    # input frozen: x^ 2 + grad_weight 2 + grad_bias 1 = 5
    frozen = torch.randn(2, 3, 5)
    assert one(record(lambda: ln(frozen).sum().backward(), list(ln.parameters())), "aten.native_layer_norm_backward").flops == 30 * 5
    # GroupNorm(1, 3) on 1x3x5x5 = 75: with affine 13, without 9
    x = torch.randn(1, 3, 5, 5, requires_grad=True)
    gn = nn.GroupNorm(1, 3)
    assert one(record(lambda: gn(x).sum().backward(), list(gn.parameters())), "aten.native_group_norm_backward").flops == 75 * 13
    gplain = nn.GroupNorm(1, 3, affine=False)
    assert one(record(lambda: gplain(x).sum().backward()), "aten.native_group_norm_backward").flops == 75 * 9


def test_fused_rms_norm_backward():
    # No CPU kernel: recorded on meta. 2x3x5 = 30 elements with a weight, both gradients:
    # x^ 1 + grad_input 5 + 1 + grad_weight 2 = 9; grad_input only: 7; without a weight: 6.
    x, gy, rstd, w = (torch.empty(s, device="meta") for s in ((2, 3, 5), (2, 3, 5), (2, 3, 1), (5,)))
    both = record(lambda: aten._fused_rms_norm_backward(gy, x, [5], rstd, w, [True, True]), [w])
    assert one(both, "aten._fused_rms_norm_backward").flops == 30 * 9
    dx = record(lambda: aten._fused_rms_norm_backward(gy, x, [5], rstd, w, [True, False]), [w])
    assert one(dx, "aten._fused_rms_norm_backward").flops == 30 * 7
    bare = record(lambda: aten._fused_rms_norm_backward(gy, x, [5], rstd, None, [True, False]))
    assert one(bare, "aten._fused_rms_norm_backward").flops == 30 * 6


# ---------------------------------------------------------------- attention

def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kwargs: Any) -> OpCost:
    return one(record(lambda: F.scaled_dot_product_attention(q, k, v, **kwargs).sum().backward()),
               "aten._scaled_dot_product_flash_attention_for_cpu_backward")


def test_sdpa_backward():
    # q, k, v 1x2x4x8: b = 2 heads, L = S = 4, E = Ev = 8: 32 scores. Five products of 32 x 8 = 256
    # MACs each (scores again, dP, dV, dQ, dK): 1,280 MACs = FlopCounterMode's 2,560 / 2.
    q, k, v = (torch.randn(1, 2, 4, 8, requires_grad=True) for _ in range(3))
    c = _sdpa(q, k, v)
    assert c.macs == 1280 and c.op_class is OpClass.ATTENTION
    assert sdpa_backward_flop_count((1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8)) == 2 * 1280
    # FLOPs: 2,560 + 6 per score (192) + D = rowsum(dO * O): 8 rows x (2 x 8 - 1) = 120 -> 2,872
    assert c.flops == 2560 + 192 + 120
    # causal: + 1 per score (the select) = 2,904; a float mask the same
    assert _sdpa(q, k, v, is_causal=True).flops == 2872 + 32
    masked = _sdpa(q, k, v, attn_mask=torch.zeros(4, 4))
    assert masked.flops == 2872 + 32
    # write-up reads: Q per MAC of Q K^T 256, K 64, scores 32, lse 8, dO per MAC 256, V 64, P per MAC
    # 256, dO 64, dO and O for D 128, P and dP 64, dS per MAC twice 512, K 64, Q 64 = 1,832;
    # writes: scores, P, dP, dS (4 x 32) + D 8 + dQ, dK, dV (3 x 64) = 328.
    assert traffic(c, "writeup") == (1832, 0, 328)
    # compulsory: grad_out, q, k, v, out (5 x 64) + logsumexp 8 read; dQ, dK, dV written
    assert traffic(c, "compulsory") == (328, 0, 192)
    assert traffic(masked, "writeup")[0] == 1832 + 32  # the 4x4 mask read once per score
    assert traffic(masked, "compulsory")[0] == 328 + 16


def test_sdpa_backward_grouped_query_attention():
    # q 1x4x4x8 (4 heads), k, v 1x2x4x8 (2 heads): b = 4 query heads, 64 scores, 5 x 64 x 8 = 2,560 MACs.
    # FLOPs 5,120 + 6 x 64 + 16 rows x 15 + the head sums: dK and dV each 4 x 4 x 8 = 128 summed into
    # 64: 64 + 64 adds -> 5,120 + 384 + 240 + 128 = 5,872.
    q = torch.randn(1, 4, 4, 8, requires_grad=True)
    k, v = (torch.randn(1, 2, 4, 8, requires_grad=True) for _ in range(2))
    c = _sdpa(q, k, v, enable_gqa=True)
    assert (c.macs, c.flops) == (2560, 5872)
    assert sdpa_backward_flop_count((1, 4, 4, 8), (1, 4, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8)) == 2 * 2560


# ---------------------------------------------------------------- element-wise, softmax, losses

ACTIVATIONS = [
    (F.relu, "aten.threshold_backward", 1, OpClass.ELEMENTWISE),
    (F.relu6, "aten.hardtanh_backward", 2, OpClass.ELEMENTWISE),
    (F.leaky_relu, "aten.leaky_relu_backward", 2, OpClass.ELEMENTWISE),
    (F.elu, "aten.elu_backward", 5, OpClass.ACTIVATION),
    (F.gelu, "aten.gelu_backward", 11, OpClass.ACTIVATION),
    (lambda x: F.gelu(x, approximate="tanh"), "aten.gelu_backward", 22, OpClass.ACTIVATION),
    (F.silu, "aten.silu_backward", 9, OpClass.ACTIVATION),
    (torch.sigmoid, "aten.sigmoid_backward", 3, OpClass.ELEMENTWISE),
    (torch.tanh, "aten.tanh_backward", 3, OpClass.ELEMENTWISE),
    (F.hardswish, "aten.hardswish_backward", 5, OpClass.ELEMENTWISE),
    (F.hardsigmoid, "aten.hardsigmoid_backward", 3, OpClass.ELEMENTWISE),
    (F.softplus, "aten.softplus_backward", 6, OpClass.ACTIVATION),
    (F.mish, "aten.mish_backward", 18, OpClass.ACTIVATION),
]


@pytest.mark.parametrize(("fn", "name", "per_element", "op_class"), ACTIVATIONS)
def test_activation_backward(fn, name, per_element, op_class):
    # 2x3x5 = 30 elements; grad_output and the input (or result) each read once per element, 30 written
    x = torch.randn(2, 3, 5, requires_grad=True)
    c = one(record(lambda: fn(x).sum().backward()), name)
    assert (c.flops, c.op_class) == (30 * per_element, op_class)
    assert traffic(c, "writeup") == (60, 0, 30)


def test_elu_backward_from_its_result():
    # the in-place ELU saves its result: compare, add, 2 multiplies = 4 per element
    x = torch.randn(2, 3, 5, requires_grad=True)
    assert one(record(lambda: F.elu(x * 1.0, inplace=True).sum().backward()), "aten.elu_backward").flops == 30 * 4


def test_softmax_backward():
    # 4 rows of 10: 4 x (4 x 10 - 1) = 156, for softmax and log-softmax; both operands read once
    x = torch.randn(4, 10, requires_grad=True)
    c = one(record(lambda: F.softmax(x, -1).sum().backward()), "aten._softmax_backward_data")
    assert c.flops == 156 and traffic(c, "writeup") == (80, 0, 40)
    assert one(record(lambda: F.log_softmax(x, -1).sum().backward()), "aten._log_softmax_backward_data").flops == 156


def test_loss_backward():
    # 4x5 = 20 elements against a target; a scalar grad_output folds into the factor
    x, t = torch.randn(4, 5, requires_grad=True), torch.randn(4, 5)
    c = one(record(lambda: F.mse_loss(x, t).backward()), "aten.mse_loss_backward")
    assert c.flops == 20 * 2
    assert traffic(c, "writeup") == (1 + 20 + 20, 0, 20)  # the scalar grad once, x and t once per element
    # reduction 'none': grad_output has an element per input, 1 more multiply each
    assert one(record(lambda: F.mse_loss(x, t, reduction="none").sum().backward()), "aten.mse_loss_backward").flops == 20 * 3
    assert one(record(lambda: F.smooth_l1_loss(x, t).backward()), "aten.smooth_l1_loss_backward").flops == 20 * 5
    assert one(record(lambda: F.huber_loss(x, t).backward()), "aten.huber_loss_backward").flops == 20 * 5
    p, target = torch.rand(4, 5, requires_grad=True), torch.rand(4, 5)
    assert one(record(lambda: F.binary_cross_entropy(p, target).backward()), "aten.binary_cross_entropy_backward").flops == 20 * 6
    weighted = record(lambda: F.binary_cross_entropy(p, target, weight=torch.ones(4, 5)).backward())
    assert one(weighted, "aten.binary_cross_entropy_backward").flops == 20 * 7


def test_nll_loss_backward():
    # cross entropy on 4x5 with 4 targets, mean: -g / total_weight once (2), nothing per target; reads
    # the scalar grad (4 B), 4 int64 targets (32 B) and total_weight (4 B), never the input; writes all 20
    x, target = torch.randn(4, 5, requires_grad=True), torch.tensor([0, 2, 4, 1])
    c = one(record(lambda: F.cross_entropy(x, target).backward()), "aten.nll_loss_backward")
    assert c.flops == 2
    assert (c.compulsory.input, c.compulsory.input_bytes) == (6, 40)
    assert (c.compulsory.output, c.compulsory.output_bytes) == (20, 80)
    assert (c.writeup.input, c.writeup.input_bytes) == (6, 40)
    # with class weights: 1 multiply per target: 4 + 2; the 4 picked weights read (16 B)
    w = record(lambda: F.cross_entropy(x, target, weight=torch.ones(5)).backward())
    c = one(w, "aten.nll_loss_backward")
    assert (c.flops, c.compulsory.input, c.compulsory.input_bytes) == (6, 10, 56)
    assert one(record(lambda: F.cross_entropy(x, target, reduction="sum").backward()), "aten.nll_loss_backward").flops == 1
    # 'none': -g_i per target
    assert one(record(lambda: F.cross_entropy(x, target, reduction="none").sum().backward()), "aten.nll_loss_backward").flops == 4


def test_dropout_backward_reads_the_bool_mask_at_one_byte():
    # dy x mask x scale on 2x3: 2 per element; reads 6 float32 + 6 bool = 30 bytes
    gy, mask = torch.randn(2, 3), torch.rand(2, 3) > 0.5
    c = one(record(lambda: aten.native_dropout_backward(gy, mask, 2.0)), "aten.native_dropout_backward")
    assert c.flops == 12 and (c.writeup.input, c.writeup.input_bytes) == (12, 30)


# ---------------------------------------------------------------- pooling, embedding, views

def test_pooling_backward():
    x = torch.randn(1, 2, 4, 4, requires_grad=True)
    # MaxPool2d(2): 8 grad_output elements, 1 add each at its argmax; reads them (32 B) and the 8 int64
    # indices (64 B), not the input; writes the 32-element grad_input (128 B)
    c = one(record(lambda: F.max_pool2d(x, 2).sum().backward()), "aten.max_pool2d_with_indices_backward")
    assert c.flops == 8 and c.op_class is OpClass.POOL
    assert (c.compulsory.input, c.compulsory.input_bytes, c.compulsory.output_bytes) == (16, 96, 128)
    assert (c.writeup.input, c.writeup.input_bytes) == (16, 96)
    # AvgPool2d(2): (4 + 1) x 8 = 40; write-up reads grad_output once per window element (32), compulsory 8
    c = one(record(lambda: F.avg_pool2d(x, 2).sum().backward()), "aten.avg_pool2d_backward")
    assert (c.flops, c.writeup.input, c.compulsory.input, c.compulsory.output) == (40, 32, 8, 32)
    # adaptive max pool to 2x2: 8 adds, grad_output and indices read
    c = one(record(lambda: F.adaptive_max_pool2d(x, 2).sum().backward()), "aten.adaptive_max_pool2d_backward")
    assert (c.flops, c.compulsory.input_bytes) == (8, 96)
    # AdaptiveAvgPool2d((3, 3)) on 1x8x7x7: windows 3, 3, 3 per dimension: 8 x 81 + 72 = 720 (= forward)
    y = torch.randn(1, 8, 7, 7, requires_grad=True)
    c = one(record(lambda: F.adaptive_avg_pool2d(y, 3).sum().backward()), "aten._adaptive_avg_pool2d_backward")
    assert (c.flops, c.writeup.input, c.compulsory.input, c.compulsory.output) == (720, 648, 72, 392)


def test_embedding_backward():
    # Embedding(10, 4), 2x3 ids: 24 grad_output elements added into a zero-filled 10x4 gradient; reads
    # grad_output (96 B) and 6 int64 ids (48 B); writes 40 (160 B)
    emb = nn.Embedding(10, 4)
    ids = torch.tensor([[1, 2, 2], [0, 9, 1]])
    c = one(record(lambda: emb(ids).sum().backward(), list(emb.parameters())), "aten.embedding_dense_backward")
    assert (c.flops, c.op_class) == (24, OpClass.DATA)
    assert (c.compulsory.input_bytes, c.compulsory.output, c.compulsory.output_bytes) == (144, 40, 160)
    # scale_grad_by_freq: + 6 counts + 24 divides
    scaled = nn.Embedding(10, 4, scale_grad_by_freq=True)
    assert one(record(lambda: scaled(ids).sum().backward(), list(scaled.parameters())), "aten.embedding_dense_backward").flops == 54


def test_view_backward_copies_into_zeros():
    # x[1] of 3x4: reads the 4-element grad, writes the 12-element gradient, no FLOPs; x[:, 1:3]: 6 read
    x = torch.randn(3, 4, requires_grad=True)
    c = one(record(lambda: x[1].sum().backward()), "aten.select_backward")
    assert (c.flops, traffic(c, "compulsory")) == (0, (4, 0, 12))
    c = one(record(lambda: x[:, 1:3].sum().backward()), "aten.slice_backward")
    assert (c.flops, traffic(c, "compulsory")) == (0, (6, 0, 12))


# ---------------------------------------------------------------- multi-tensor (_foreach_) ops

def test_foreach_ops_cost_their_per_tensor_op_on_each_element():
    # two parameters of 2x3 and 4 (10 elements), float32
    a, b = nn.Parameter(torch.randn(2, 3)), nn.Parameter(torch.randn(4))
    g, h = torch.randn(2, 3), torch.randn(4)
    with torch.no_grad():
        ops = record(lambda: torch._foreach_add_([a, b], [g, h], alpha=-0.1), [a, b])
    c = one(ops, "aten._foreach_add_.List")
    # add_ on each: 6 + 4 FLOPs; each parameter read (as weights) and written, each gradient read
    assert (c.flops, c.op_class) == (10, OpClass.ELEMENTWISE)
    assert traffic(c, "writeup") == (10, 10, 10) and traffic(c, "compulsory") == (10, 10, 10)
    assert (c.compulsory.bytes, c.writeup.bytes) == (120, 120)
    # out-of-place sqrt: 10 FLOPs, writes the two new tensors
    c = one(record(lambda: torch._foreach_sqrt([g.abs(), h.abs()])), "aten._foreach_sqrt")
    assert (c.flops, traffic(c, "compulsory")) == (10, (10, 0, 10))
    # addcdiv_ with a list of scalars (Adam): 3 per element; t1 and t2 each read
    m, v = [torch.zeros(2, 3), torch.zeros(4)], [torch.ones(2, 3), torch.ones(4)]
    c = one(record(lambda: torch._foreach_addcdiv_(m, [g, h], v, [0.1, 0.2])), "aten._foreach_addcdiv_.ScalarList")
    assert (c.flops, traffic(c, "compulsory")) == (30, (30, 0, 10))
    # addcmul_(v, g, g): g read once per element (one distinct tensor), as addcmul_(v, g, g)
    c = one(record(lambda: torch._foreach_addcmul_(v, [g, h], [g, h], value=0.5)), "aten._foreach_addcmul_.Scalar")
    assert (c.flops, traffic(c, "compulsory")) == (30, (20, 0, 10))
    # a 0-d tensor added to each (Adam's step counters): read once per list position
    steps = [torch.zeros(()), torch.zeros(())]
    c = one(record(lambda: aten._foreach_add_.Tensor(steps, torch.tensor(1.0), alpha=1.0)), "aten._foreach_add_.Tensor")
    assert (c.flops, traffic(c, "compulsory")) == (2, (4, 0, 2))
    # lerp_ 3, mul_ 1, div_ by a list of scalars 1, per element
    assert one(record(lambda: torch._foreach_lerp_(m, [g, h], 0.1)), "aten._foreach_lerp_").flops == 30
    assert one(record(lambda: torch._foreach_mul_(m, 0.9)), "aten._foreach_mul_").flops == 10
    assert one(record(lambda: torch._foreach_div_(m, [2.0, 3.0])), "aten._foreach_div_").flops == 10



def _summed(cs: list[OpCost]) -> tuple[int, ...]:
    return tuple(sum(v) for v in zip(*((c.macs, c.flops, c.writeup.input, c.writeup.weights, c.writeup.output, c.writeup.bytes,
                                        c.compulsory.input, c.compulsory.weights, c.compulsory.output, c.compulsory.bytes)
                                       for c in cs)))


FOREACH_VS_LOOP = [  # (the _foreach_ call, the same work as per-tensor calls) on params ps, tensors ts, us
    (lambda ps, ts, us: torch._foreach_add_(ps, ts, alpha=-0.1), lambda ps, ts, us: [p.add_(t, alpha=-0.1) for p, t in zip(ps, ts)]),
    (lambda ps, ts, us: torch._foreach_addcmul_(us, ts, ts, value=0.5), lambda ps, ts, us: [u.addcmul_(t, t, value=0.5) for u, t in zip(us, ts)]),
    (lambda ps, ts, us: torch._foreach_addcdiv_(ps, ts, us, [0.1, 0.2]),
     lambda ps, ts, us: [p.addcdiv_(t, u, value=v) for p, t, u, v in zip(ps, ts, us, (0.1, 0.2))]),
    (lambda ps, ts, us: torch._foreach_lerp_(us, ts, 0.1), lambda ps, ts, us: [u.lerp_(t, 0.1) for u, t in zip(us, ts)]),
    (lambda ps, ts, us: torch._foreach_sqrt(us), lambda ps, ts, us: [u.sqrt() for u in us]),
    (lambda ps, ts, us: torch._foreach_mul_(ps, 0.9), lambda ps, ts, us: [p.mul_(0.9) for p in ps]),
    (lambda ps, ts, us: torch._foreach_copy_(us, ts), lambda ps, ts, us: [u.copy_(t) for u, t in zip(us, ts)]),
    (lambda ps, ts, us: torch._foreach_norm(ts), lambda ps, ts, us: [torch.linalg.vector_norm(t) for t in ts]),
]


@pytest.mark.parametrize(("multi", "loop"), FOREACH_VS_LOOP)
def test_foreach_costs_what_its_per_tensor_loop_costs(multi, loop):
    # MACs, FLOPs and every memory figure, in elements and bytes: the sum over the list of the
    # per-tensor op (a float16 element keeps its 2-byte size)
    ps = [nn.Parameter(torch.randn(2, 3)), nn.Parameter(torch.randn(4, dtype=torch.float16))]
    ts = [torch.randn(2, 3), torch.randn(4, dtype=torch.float16)]
    us = [torch.rand(2, 3) + 1, torch.rand(4, dtype=torch.float16) + 1]
    with torch.no_grad():
        many = [evaluate_op(op, Conventions()) for op in record(lambda: multi(ps, ts, us), ps)]
        each = [evaluate_op(op, Conventions()) for op in record(lambda: loop(ps, ts, us), ps)]
    assert [c.op for c in many if c.op.startswith("aten._foreach")] == [many[0].op]
    assert all(c.counted for c in many + each)
    assert _summed(many) == _summed(each)

def test_foreach_norm_is_a_reduction_per_tensor():
    # clip_grad_norm_'s _foreach_norm of 2x3 and 4: 2 x 6 + 1 and 2 x 4 + 1 = 22, a reduction
    c = one(record(lambda: torch._foreach_norm([torch.randn(2, 3), torch.randn(4)])), "aten._foreach_norm")
    assert (c.flops, c.op_class) == (22, OpClass.REDUCE)


def _gpt2() -> nn.Module:
    return build("gpt2", {"layers": 2, "d_model": 64, "heads": 2, "vocab": 100}).train()


def _optimizer_step(make: Callable[[list[nn.Parameter]], torch.optim.Optimizer]) -> tuple[list[OpRecord], int, int]:
    """The ops of an optimizer's second step on gpt2 (its state exists by then), the parameter count
    and the number of parameter tensors."""
    model = _gpt2()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make(params)
    ids = torch.randint(0, 100, (2, 16))
    for _ in range(2):
        model(ids).sum().backward()
        if opt.state:
            ops = record(opt.step, params)
        else:
            opt.step()
    return ops, sum(p.numel() for p in params), len(params)


OPTIMIZERS = [  # (name, factory, FLOPs per parameter element, FLOPs per parameter tensor)
    ("sgd_momentum", lambda p, fe: torch.optim.SGD(p, lr=0.1, momentum=0.9, foreach=fe), 3, 0),
    ("adam", lambda p, fe: torch.optim.Adam(p, foreach=fe), 13, 1),
    ("adamw", lambda p, fe: torch.optim.AdamW(p, foreach=fe), 14, 1),
]


@pytest.mark.parametrize(("name", "make", "per_element", "per_tensor"), OPTIMIZERS)
@pytest.mark.parametrize("foreach", [True, False])
def test_optimizer_step_flops(name, make, per_element, per_tensor, foreach):
    # SGD with momentum: buf = buf x m + g, p -= lr x buf: mul, add, add = 3 per element.
    # Adam: step += 1 (1 per tensor); m.lerp_(g) 3; v x b2 1 + addcmul(g, g) 3; sqrt 1, / bias
    # correction 1, + eps 1; p.addcdiv_(m, denom) 3 = 13 per element. AdamW: + p x (1 - lr wd) 1 = 14.
    ops, n, tensors = _optimizer_step(lambda p: make(p, foreach))
    counted = [evaluate_op(op, Conventions()) for op in ops if not op.op.startswith("profiler.")]
    assert all(c.counted for c in counted)
    assert sum(c.flops for c in counted) == per_element * n + per_tensor * tensors
    if foreach:
        assert {c.op_class for c in counted if not c.free} == {OpClass.ELEMENTWISE}


# ---------------------------------------------------------------- whole models

def _loss(output: Any, kind: str) -> torch.Tensor:
    y = output[0] if isinstance(output, (tuple, list)) else output
    if kind == "sum":
        return y.sum()
    if kind == "mse":
        return F.mse_loss(y, torch.zeros_like(y))
    logits = y.reshape(-1, y.shape[-1])
    return F.cross_entropy(logits, torch.arange(logits.shape[0]) % logits.shape[-1])


# small inputs: the ops a model runs do not depend on the input size
MODELS: dict[str, tuple[Callable[[], nn.Module], Callable[[], torch.Tensor]]] = {
    "resnet18": (lambda: build("resnet18"), lambda: torch.randn(2, 3, 32, 32)),
    "vit_tiny": (lambda: build("vit_tiny", {"img_size": 32}), lambda: torch.randn(2, 3, 32, 32)),
    "gpt2": (_gpt2, lambda: torch.randint(0, 100, (2, 8))),
    "mobilenet_v2": (lambda: build("mobilenet_v2"), lambda: torch.randn(2, 3, 32, 32)),
    "llama": (lambda: build("llama", {"layers": 1, "d_model": 64, "heads": 2, "kv_heads": 1, "ffn": 128, "vocab": 100}),
              lambda: torch.randint(0, 100, (2, 8))),
}


def test_every_op_of_a_training_step_has_a_registration():
    # forward, each loss and backward of every model, then SGD (momentum), Adam and AdamW steps with
    # and without foreach. The profiler's record_function markers of optimizer.step are no ops.
    seen: dict[str, set[str]] = collections.defaultdict(set)
    for name, (make, inputs) in MODELS.items():
        model, x = make().train(), inputs()

        def step() -> None:  # the three losses of one output, summed: one backward runs all their ops
            out = model(x)
            sum(_loss(out, kind) for kind in ("sum", "mse", "cross_entropy")).backward()

        for op in record(step, list(model.parameters())):
            seen[op.op].add(name)
    for name, make, _, _ in OPTIMIZERS:
        for foreach in (True, False):
            for op in _optimizer_step(lambda p: make(p, foreach))[0]:
                seen[op.op].add(f"{name}/foreach={foreach}")
    missing = {op: sorted(where) for op, where in seen.items() if registration(op) is None and not op.startswith("profiler.")}
    assert missing == {}
    assert {"aten.convolution_backward.default", "aten._scaled_dot_product_flash_attention_for_cpu_backward.default",
            "aten._foreach_addcdiv_.ScalarList", "aten.embedding_dense_backward.default"} <= set(seen)


def test_mlp_backward_counts_only_the_gradients_autograd_computes():
    # 8 -> 16 -> 16 -> 4, no bias, batch 4: forward 512, 1,024, 256 MACs. Backward: the first layer
    # has no input gradient (its input needs none): 512; the others grad_input + grad_weight: 2 x
    # 1,024 + 2 x 256. A frozen middle layer computes grad_input only (1 x 1,024).
    mlp = nn.Sequential(nn.Linear(8, 16, bias=False), nn.ReLU(), nn.Linear(16, 16, bias=False), nn.ReLU(),
                        nn.Linear(16, 4, bias=False))
    x = torch.randn(4, 8)
    y = mlp(x)
    backward = [op for op in record(lambda: y.sum().backward(), list(mlp.parameters())) if op.op.startswith("aten.mm")]
    assert sum(evaluate_op(op, Conventions()).macs for op in backward) == 512 + 2 * 1024 + 2 * 256
    mlp[2].weight.requires_grad_(False)
    y = mlp(x)
    backward = [op for op in record(lambda: y.sum().backward(), list(mlp.parameters())) if op.op.startswith("aten.mm")]
    assert sum(evaluate_op(op, Conventions()).macs for op in backward) == 512 + 1024 + 2 * 256


# FlopCounterMode has no formula for the CPU flash kernels (it counts CPU SDPA as 0): it is given
# torch's own sdpa_flop_count / sdpa_backward_flop_count for them.
CPU_SDPA = {
    aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *a, out_shape=None, **kw: sdpa_flop_count(q, k, v),
    aten._scaled_dot_product_flash_attention_for_cpu_backward:
        lambda g, q, k, v, *a, out_shape=None, **kw: sdpa_backward_flop_count(g, q, k, v),
}
PRODUCTS = ("aten.convolution.", "aten.convolution_backward.", "aten.mm.", "aten.addmm.", "aten.bmm.", "aten.baddbmm.",
            "aten._scaled_dot_product_flash_attention_for_cpu.", "aten._scaled_dot_product_flash_attention_for_cpu_backward.")


# Expected totals by hand (FLOPs = 2 x MACs):
# resnet18, 2x3x64x64: every feature map is 2/7 of its 224x224 size, so its convolutions are
#   (4/49) x 1,813,561,344 = 148,045,824 MACs per image (docs/formulas.md section 14, less the fc's
#   512,000): 296,091,648 for 2. Backward: 2 x that, less conv1's grad_input (its input needs none:
#   2 x 64 x 32 x 32 x 3 x 49 = 19,267,584): 572,915,712. fc: 1,024,000 forward (addmm), 2,048,000
#   backward (mm). 2 x (296,091,648 + 572,915,712 + 1,024,000 + 2,048,000) = 1,744,158,720.
# vit_tiny, 2x3x224x224: patch conv 2 x 192 x 196 x 768 = 57,802,752 forward and again for its weight
#   gradient; per block on 394 rows 394 x 192 x (576 + 192 + 768 + 768) = 174,292,992, x 12 +
#   head 2 x 192 x 1000 = 2,091,899,904 forward (addmm), twice that backward (mm); attention on 6
#   batch x heads of 197 x 197 with E = 64: 6 x 197^2 x 128 = 29,805,312 forward and
#   6 x 197^2 x 320 = 74,513,280 backward per block, x 12. 2 x (2 x 57,802,752 + 3 x 2,091,899,904
#   + 12 x 104,318,592) = 15,286,256,640.
# gpt2 (2 layers, d 64, 2 heads, vocab 100), 2x16 ids = 32 rows: linears 32 x 64 x (192 + 64 + 256
#   + 256) = 1,572,864 per layer, 3,145,728 forward (addmm), twice backward (mm); the tied lm_head
#   32 x 64 x 100 = 204,800 forward and twice backward (mm); attention on 4 of 16 x 16 with E = 32:
#   65,536 forward, 163,840 backward per layer. 2 x (3 x 3,145,728 + 3 x 204,800 + 2 x 229,376)
#   = 21,020,672.
@pytest.mark.parametrize(("name", "make", "inputs", "loss", "expected"), [
    ("resnet18", lambda: build("resnet18"), lambda: torch.randn(2, 3, 64, 64), "sum", 1_744_158_720),
    ("vit_tiny", lambda: build("vit_tiny"), lambda: torch.randn(2, 3, 224, 224), "cross_entropy", 15_286_256_640),
    ("gpt2", _gpt2, lambda: torch.randint(0, 100, (2, 16)), "cross_entropy", 21_020_672),
])
def test_forward_and_backward_products_equal_flop_counter_mode(name, make, inputs, loss, expected):
    model, x = make().train(), inputs()
    counter = FlopCounterMode(display=False, custom_mapping=CPU_SDPA)
    recorder = Recorder(list(model.parameters()))
    with counter, recorder:  # one run: the recorder sees each op, then passes it to the counter
        _loss(model(x), loss).backward()
    ours: collections.Counter[str] = collections.Counter()
    for op in recorder.ops:
        if op.op.startswith(PRODUCTS):
            ours["aten." + op.op.split(".")[1]] += 2 * evaluate_op(op, Conventions()).macs
    theirs = {str(k): v for k, v in counter.get_flop_counts()["Global"].items()}
    assert dict(ours) == theirs
    assert sum(ours.values()) == counter.get_total_flops() == expected
