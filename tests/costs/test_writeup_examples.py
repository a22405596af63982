"""Every worked number of the two write-ups in shared/mission/, derived by hand there.

The Chinese write-up (after Hollemans, "How fast is my model?") gives MACC counts and memory
accesses; the English one gives per-layer FLOP formulas as PyTorch hooks, copied here verbatim as
the reference each of our counts is compared with.
"""

from __future__ import annotations

import torch
from torch import nn

from howfast import Conventions
from tests.conftest import analyze_quiet


def macs(model: nn.Module, shape: str) -> int:
    return analyze_quiet(model, shape).totals.macs


def writeup_memory(model: nn.Module, shape: str) -> dict[str, int]:
    return analyze_quiet(model, shape).totals.memory["writeup"]


# --- MACCs (Chinese write-up) ---------------------------------------------------------------


def test_regular_3x3_conv_64_to_128_on_112x112_same_padding():
    assert macs(nn.Conv2d(64, 128, 3, padding=1, bias=False), "1x64x112x112") == 3 * 3 * 64 * 112 * 112 * 128 == 924_844_032


def test_depthwise_3x3_on_112x112x64():
    assert macs(nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), "1x64x112x112") == 7_225_344


def test_pointwise_64_to_128_on_112x112():
    assert macs(nn.Conv2d(64, 128, 1, bias=False), "1x64x112x112") == 102_760_448


def test_depthwise_separable_is_the_sum():
    block = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), nn.Conv2d(64, 128, 1, bias=False))
    assert macs(block, "1x64x112x112") == 109_985_792
    # Cin x Hout x Wout x (K x K + Cout)
    assert 64 * 112 * 112 * (3 * 3 + 128) == 109_985_792


def test_mobilenet_v2_expansion_block():
    expansion = 6
    c_exp = 64 * expansion
    block = nn.Sequential(
        nn.Conv2d(64, c_exp, 1, bias=False),
        nn.Conv2d(c_exp, c_exp, 3, padding=1, groups=c_exp, bias=False),
        nn.Conv2d(c_exp, 128, 1, bias=False),
    )
    assert macs(block, "1x64x112x112") == (3 * 3 + 128 + 64) * (64 * 6) * 112 * 112 == 968_196_096


def test_fully_connected_is_i_times_j():
    assert macs(nn.Linear(1024, 1000), "1x1024") == 1024 * 1000


# --- Memory accesses (Chinese write-up) -------------------------------------------------------


def test_memory_accesses_of_3x3_conv_256_to_512_on_28x28():
    m = writeup_memory(nn.Conv2d(256, 512, 3, padding=1), "1x256x28x28")
    assert m["input"] == 28 * 28 * 256 * 3 * 3 * 512 == 924_844_032
    assert m["output"] == 28 * 28 * 512 == 401_408
    assert m["weights"] == 3 * 3 * 256 * 512 + 512 == 1_180_160
    assert m["elements"] == 926_425_600


def test_memory_accesses_of_depthwise_3x3_on_28x28x256():
    m = writeup_memory(nn.Conv2d(256, 256, 3, padding=1, groups=256), "1x256x28x28")
    assert (m["input"], m["output"], m["weights"]) == (1_806_336, 200_704, 2_560)
    assert m["elements"] == 2_009_600


def test_memory_accesses_of_pointwise_256_to_512():
    m = writeup_memory(nn.Conv2d(256, 512, 1), "1x256x28x28")
    assert (m["input"], m["output"], m["weights"]) == (102_760_448, 401_408, 131_584)
    assert m["elements"] == 103_293_440


def test_depthwise_separable_accesses_total():
    block = nn.Sequential(nn.Conv2d(256, 256, 3, padding=1, groups=256), nn.Conv2d(256, 512, 1))
    assert writeup_memory(block, "1x256x28x28")["elements"] == 105_303_040


def test_relu_on_28x28x512_accesses():
    m = writeup_memory(nn.ReLU(), "1x512x28x28")
    assert (m["input"], m["output"], m["elements"]) == (401_408, 401_408, 802_816)


def test_strided_conv_reads_each_window_once():
    # Stride 2 on 224x224x3 with 32 filters (the write-up's first layer): 112x112x32 outputs are
    # written (401,408), and each output window of 3x3x3 inputs is read once: 3x3x3 x 112x112x32.
    m = writeup_memory(nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False), "1x3x224x224")
    assert m["output"] == 112 * 112 * 32 == 401_408
    assert m["input"] == 3 * 3 * 3 * 112 * 112 * 32


# --- FLOP formulas (English write-up), their hooks verbatim -----------------------------------


def _linear_flops(module, inp, out):
    mul = module.in_features
    add = module.in_features - 1
    return (mul + add) * out.numel()


def _relu_flops(module, inp, out):
    return inp.numel()


def _tanh_flops(module, inp, out):
    return 5 * inp.numel()


def _sigmoid_flops(module, inp, out):
    return 4 * inp.numel()


def _maxpool_flops(module, inp, out):
    return out.numel()


def _avgpool_flops(module, inp, out):
    kernel_ops = torch.prod(torch.Tensor([module.kernel_size]))
    return int((kernel_ops + 1) * out.numel())


def _bn_flops(module, inp, out):
    return 4 * inp.numel()


def _softmax_flops(module, inp, out):
    batch_size, nfeatures = inp.size()
    return batch_size * (3 * nfeatures - 1)


def _convNd_flops(module, inp, out):
    kernel_ops = module.weight.size()[2:].numel()
    bias_ops = 1 if module.bias is not None else 0
    return out.nelement() * (module.in_channels // module.groups * kernel_ops + bias_ops)


def _reference(hook, module, x):
    out = module(x)
    return hook(module, x, out)


EXACT_NO_BIAS = Conventions(flops="exact", count_bias=False)


def test_linear_flops_equal_2n_minus_1_per_output():
    layer = nn.Linear(64, 10)
    x = torch.randn(3, 64)
    assert analyze_quiet(layer, x, conventions=EXACT_NO_BIAS).totals.flops == _reference(_linear_flops, layer, x) == (2 * 64 - 1) * 30


def test_default_convention_is_2n_per_dot_product_plus_bias():
    layer = nn.Linear(64, 10)
    r = analyze_quiet(layer, "3x64")
    assert r.totals.macs == 64 * 30
    assert r.totals.flops == 2 * 64 * 30 + 30


def test_exact_convention_with_bias_is_2n_per_output():
    r = analyze_quiet(nn.Linear(64, 10), "3x64", conventions=Conventions.exact())
    assert r.totals.flops == (2 * 64 - 1 + 1) * 30


def test_activation_flops_match_the_writeup():
    x = torch.randn(2, 3, 5)
    for module, hook in ((nn.ReLU(), _relu_flops), (nn.Tanh(), _tanh_flops), (nn.Sigmoid(), _sigmoid_flops)):
        assert analyze_quiet(module, x).totals.flops == _reference(hook, module, x)


def test_pooling_flops_match_the_writeup():
    x = torch.randn(1, 4, 8, 8)
    pool = nn.MaxPool2d(2)
    assert analyze_quiet(pool, x).totals.flops == _reference(_maxpool_flops, pool, x) == 4 * 4 * 4
    # The write-up's hook takes prod(kernel_size) as given: with an int size 2 on a 2-D pool it
    # would count k = 2, not the 2x2 = 4 elements each window sums. A tuple size makes it exact.
    avg = nn.AvgPool2d((2, 2))
    assert analyze_quiet(avg, x).totals.flops == _reference(_avgpool_flops, avg, x) == (4 + 1) * 64
    assert analyze_quiet(nn.AvgPool2d(2), x).totals.flops == (4 + 1) * 64


def test_batchnorm_training_flops_match_the_writeup():
    bn = nn.BatchNorm2d(4).train()
    x = torch.randn(2, 4, 3, 3)
    report = analyze_quiet(bn, x, train=True)  # training mode on purpose (said, so no warning)
    batchnorm_ops = [o for o in report.ops if "batch_norm" in o.op]
    assert sum(o.flops for o in batchnorm_ops) == _reference(_bn_flops, bn, x) == 4 * 72


def test_batchnorm_eval_is_a_scale_and_shift():
    bn = nn.BatchNorm2d(4).eval()
    assert analyze_quiet(bn, "2x4x3x3").totals.flops == 2 * 72


def test_softmax_flops_match_the_writeup():
    softmax = nn.Softmax(dim=1)
    x = torch.randn(3, 10)
    assert analyze_quiet(softmax, x).totals.flops == _reference(_softmax_flops, softmax, x) == 3 * 29


def test_dropout_is_p_times_input_in_training_and_zero_in_eval():
    x = torch.randn(4, 25)
    assert analyze_quiet(nn.Dropout(0.2).train(), x, train=True).totals.flops == 20
    assert analyze_quiet(nn.Dropout(0.2).eval(), x).totals.flops == 0


def test_writeup_conv_hook_counts_macs_plus_bias():
    # The write-up's "_convNd_flops" counts one op per multiply-accumulate (+1 per output for
    # bias): it is our MAC count plus the bias additions, for regular, depthwise and pointwise.
    x = torch.randn(1, 8, 10, 10)
    for conv in (nn.Conv2d(8, 16, 3, padding=1), nn.Conv2d(8, 8, 3, groups=8), nn.Conv2d(8, 16, 1, bias=False)):
        report = analyze_quiet(conv, x)
        out = conv(x)
        bias = out.numel() if conv.bias is not None else 0
        assert report.totals.macs + bias == _reference(_convNd_flops, conv, x)
