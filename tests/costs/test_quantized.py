"""Quantized PyTorch models (torch.ao.quantization: eager static, FX static, dynamic), weight-only
int8 / int4 products and fp8 ``_scaled_mm``: MACs equal to the float model's, weights at their real
widths, nothing uncounted (docs/quantized.md). Expected figures are derived by hand from shapes."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

import howfast
from howfast.hardware.profiles import get_profile
from howfast.hardware.roofline import roofline
from howfast.zoo.registry import build

tq = pytest.importorskip("torch.ao.quantization")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx


class Small(nn.Module):
    """QuantStub -> conv+BN+ReLU (fused) -> quantized add -> max pool -> linear -> DeQuantStub."""

    def __init__(self) -> None:
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.add = torch.ao.nn.quantized.FloatFunctional()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 3 * 3, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn(self.conv(self.quant(x))))
        y = self.pool(self.add.add(y, y))
        return self.dequant(self.fc(torch.flatten(y, 1)))


def _eager_quantized() -> nn.Module:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Small().eval()
        model.qconfig = tq.get_default_qconfig("x86")
        tq.fuse_modules(model, [["conv", "bn", "relu"]], inplace=True)
        prepared = tq.prepare(model)
        for _ in range(3):
            prepared(torch.randn(2, 3, 8, 8))
        return tq.convert(prepared)


def _analyze(model: nn.Module, *inputs: torch.Tensor) -> howfast.Report:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return howfast.analyze(model, *inputs)


def test_eager_static_quantized_model_counted_exactly() -> None:
    q = _eager_quantized()
    report = _analyze(q, torch.randn(2, 3, 8, 8))
    # conv: 2 x 8 x 6 x 6 outputs x (3 x 3 x 3); linear: 2 x 10 x 72
    conv_macs, fc_macs = 2 * 8 * 6 * 6 * 27, 2 * 10 * 72
    assert report.totals.macs == conv_macs + fc_macs == 16_992
    assert not report.uncounted_ops
    # BN folded into the conv: conv weight 216 + bias 8, linear 720 + 10 (the float model's 970 less BN's 2 x 8)
    assert report.totals.params == 216 + 8 + 720 + 10 == 954
    assert report.model.param_dtypes == {"qint8": 936, "float32": 18}
    assert report.totals.param_bytes == 936 * 1 + 18 * 4
    # per-channel weights: a float64 scale and an int64 zero point per output channel (8 + 10)
    assert report.model.quantization_bytes == (8 + 10) * 16
    assert report.totals.macs_by_compute == {"int8": 16_992}
    ops = {row.op.rsplit(".", 1)[0]: row for row in report.ops}
    assert ops["aten.quantize_per_tensor"].flops == 4 * 2 * 3 * 8 * 8
    assert ops["aten.quantize_per_tensor"].bytes_written == 2 * 3 * 8 * 8  # quint8: 1 byte each
    assert ops["aten.dequantize"].flops == 2 * 20
    # dot products 2 per MAC, bias 1 per output, requantize 4 + ReLU 1 per output
    assert ops["quantized.conv2d_relu"].flops == 2 * conv_macs + 576 + 576 * 5
    assert ops["quantized.conv2d_relu"].op_class == "int8_conv"
    assert ops["quantized.linear"].op_class == "int8_gemm"
    # the conv reads its int8 weight (216 B) and fp32 bias (32 B) once
    assert ops["quantized.conv2d_relu"].traffic("compulsory")["weights_bytes"] == 216 + 8 * 4
    # the quantized add: 1 op, 2 dequantizes of 2 ops, a requantize of 4, per output
    assert ops["quantized.add"].flops == 576 * (1 + 4 + 4)
    layers = {row.name: row for row in report.layers}
    assert layers["conv"].params == 224 and layers["fc"].params == 730


def test_analysis_leaves_the_quantized_model_unchanged() -> None:
    q = _eager_quantized()
    before = copy.deepcopy(q.state_dict())
    _analyze(q, torch.randn(2, 3, 8, 8))
    after = q.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value.dequantize() if value.is_quantized else value,
                               after[key].dequantize() if after[key].is_quantized else after[key])


def _fx_quantized(name: str, size: int) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = build(name).eval()
    x = torch.randn(1, 3, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(model), tq.get_default_qconfig_mapping("x86"), (x,))
        for _ in range(2):
            prepared(torch.randn(1, 3, size, size))
        return model, convert_fx(prepared), x


@pytest.mark.slow
def test_fx_quantized_resnet18_macs_params_and_bytes() -> None:
    model, q, x = _fx_quantized("resnet18", 224)
    report = _analyze(q, x)
    assert report.totals.macs == 1_814_073_344 == _analyze(model, x).totals.macs
    assert not report.uncounted_ops
    bn = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    channels = sum(m.num_features for m in bn)
    assert channels == 64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512 == 4_800
    # folding: each BN's weight and bias (2C) become its bias-free conv's bias (C)
    assert report.totals.params == 11_689_512 - channels == 11_684_712
    int8 = 11_689_512 - 2 * channels - 1000  # every conv and fc weight; the fc bias (1000) stays float
    assert report.model.param_dtypes == {"qint8": int8, "float32": channels + 1000}
    assert report.totals.param_bytes == int8 + 4 * (channels + 1000)
    assert report.model.quantization_bytes == 16 * (channels + 1000)  # one scale and zero point per output channel


@pytest.mark.slow
def test_fx_quantized_mobilenet_v2_macs_equal_float() -> None:
    model, q, x = _fx_quantized("mobilenet_v2", 96)
    report, float_report = _analyze(q, x), _analyze(model, x)
    assert report.totals.macs == float_report.totals.macs
    assert not report.uncounted_ops
    channels = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert report.totals.params == float_report.totals.params - channels


def test_dynamic_quantized_linear_stack() -> None:
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    report = _analyze(q, torch.randn(4, 64))
    assert report.totals.macs == 4 * (64 * 128 + 128 * 10) == 37_888
    assert report.totals.params == 64 * 128 + 128 + 128 * 10 + 10 == 9_610
    assert report.totals.param_bytes == (64 * 128 + 128 * 10) + 4 * (128 + 10)
    assert report.model.quantization_bytes == 2 * 16  # per-tensor: one float64 scale, one int64 zero point each
    assert not report.uncounted_ops
    first = report.ops[0]
    assert first.op.startswith("quantized.linear_dynamic")
    # range (2) and quantize (4) per input element, 2 per MAC, rescale 1 and bias 1 per output
    assert first.flops == 4 * 64 * 6 + 2 * 4 * 64 * 128 + 4 * 128 * 2


class WeightOnly(nn.Module):
    """int8 weight-only and int4 weight-only products, as the aten kernels torchao's CPU path calls."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("w8", torch.randint(-128, 127, (32, 64), dtype=torch.int8))
        self.register_buffer("s8", torch.rand(32))
        w = torch.randint(0, 16, (48, 32), dtype=torch.int32)
        self.register_buffer("w4", torch._convert_weight_to_int4pack_for_cpu(w, 1))
        self.register_buffer("sz", torch.rand(32 // 32, 48, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch._weight_int8pack_mm(x, self.w8, self.s8)
        return torch._weight_int4pack_mm_for_cpu(y[:, :32].contiguous(), self.w4, 32, self.sz)


def test_weight_only_int8_and_int4_products() -> None:
    report = _analyze(WeightOnly(), torch.randn(4, 64))
    ops = {row.op.rsplit(".", 1)[0]: row for row in report.ops}
    int8, int4 = ops["aten._weight_int8pack_mm"], ops["aten._weight_int4pack_mm_for_cpu"]
    assert int8.macs == 4 * 32 * 64 and int4.macs == 4 * 48 * 32
    assert int8.traffic("compulsory")["weights_bytes"] == 32 * 64 + 32 * 4  # int8 weight + fp32 scales
    assert int4.traffic("compulsory")["weights_bytes"] == 48 * 32 // 2 + 48 * 2 * 4  # packed nibbles + scales/zeros
    assert int8.op_class == int4.op_class == "gemm"  # dequantized inside: float compute
    assert not report.uncounted_ops


def test_fp8_scaled_mm() -> None:
    class Fp8(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("w", torch.randn(16, 8).to(torch.float8_e4m3fn))

        def forward(self, a: torch.Tensor) -> torch.Tensor:
            one = torch.tensor(1.0)
            return torch._scaled_mm(a, self.w.t(), one, one, out_dtype=torch.float32)

    report = _analyze(Fp8(), torch.randn(4, 8).to(torch.float8_e4m3fn))
    row = next(r for r in report.ops if r.op.startswith("aten._scaled_mm"))
    assert row.macs == 4 * 8 * 16 and row.op_class == "fp8_gemm"
    assert row.flops == 2 * 4 * 8 * 16 + 4 * 16
    assert row.traffic("compulsory")["weights_bytes"] == 16 * 8  # 1 byte each
    assert report.totals.macs_by_compute == {"fp8": 512}


def test_integer_classes_use_the_int8_peak() -> None:
    q = _eager_quantized()
    report = roofline(_analyze(q, torch.randn(2, 3, 8, 8)), "t4")
    t4 = get_profile("t4")
    assert report.roofline is not None
    conv = next(op for op in report.roofline.ops if op.op_class == "int8_conv")
    row = next(r for r in report.ops if r.index == conv.index)
    assert conv.roof_s == pytest.approx(max(row.flops / t4.peak("int8"), conv.bytes / t4.bandwidth_bytes_per_s))


def test_a_profile_without_int8_says_so() -> None:
    report = roofline(_analyze(_eager_quantized(), torch.randn(2, 3, 8, 8)), "raspberry_pi4")
    assert report.roofline is not None
    assert any("no peak figure for int8" in note for note in report.roofline.notes)
