"""Eager-mode static post-training quantization of the zoo's own models (``quantizable=True``: stubs,
FloatFunctional sums, ``fuse_model()``), and the quantized activations, norms and products that
``torch.ao.nn.quantized`` modules call (costs/formulas/quantized_pointwise.py). Expected figures are
derived by hand from the shapes and docs/formulas.md, "Quantized ops"."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import nn

import howfast
from howfast.zoo.registry import build

tq = pytest.importorskip("torch.ao.quantization")
nnq = torch.ao.nn.quantized

DEQUANTIZE, REQUANTIZE = 2, 4


def _analyze(model: nn.Module, *inputs: torch.Tensor) -> howfast.Report:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return howfast.analyze(model, inputs if len(inputs) > 1 else inputs[0])


def _eager_ptq(name: str, size: int) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    """The float zoo model and its eager static PTQ (x86 qconfig, 2 random calibration batches)."""
    torch.manual_seed(0)
    float_model = build(name).eval()
    model = build(name, {"quantizable": True}).eval()
    model.load_state_dict(float_model.state_dict())
    x = torch.randn(1, 3, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.allclose(model(x), float_model(x), atol=1e-5)  # the quantizable form computes the same
        model.fuse_model()
        model.qconfig = tq.get_default_qconfig("x86")
        prepared = tq.prepare(model)
        for _ in range(2):
            prepared(torch.randn(1, 3, size, size))
        return float_model, tq.convert(prepared), x


def _bn_channels(model: nn.Module) -> int:
    return sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))


@pytest.mark.slow
def test_eager_ptq_of_the_zoo_resnet18_counts_the_float_macs_and_folded_params() -> None:
    float_model, q, x = _eager_ptq("resnet18", 224)
    report = _analyze(q, x)
    assert report.totals.macs == 1_814_073_344 == _analyze(float_model, x).totals.macs
    assert not report.uncounted_ops and report.coverage.uncounted == 0
    channels = _bn_channels(float_model)
    assert channels == 64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512 == 4_800
    # conv + BN fused: each BN's weight and bias (2C) become the bias-free conv's bias (C)
    assert report.totals.params == 11_689_512 - channels == 11_684_712
    int8 = 11_689_512 - 2 * channels - 1000  # every conv and fc weight; the biases stay fp32
    assert report.model.param_dtypes == {"qint8": int8, "float32": channels + 1000}
    assert report.totals.param_bytes == int8 * 1 + (channels + 1000) * 4
    assert report.model.quantization_bytes == 16 * (channels + 1000)  # a scale and zero point per output channel
    ops = {row.op.rsplit(".", 1)[0] for row in report.ops}
    assert {"quantized.conv2d_relu", "quantized.conv2d", "quantized.add_relu", "quantized.linear"} <= ops


@pytest.mark.slow
def test_eager_ptq_of_the_zoo_mobilenet_v2_keeps_relu6_and_counts_everything() -> None:
    float_model, q, x = _eager_ptq("mobilenet_v2", 96)
    report, float_report = _analyze(q, x), _analyze(float_model, x)
    assert report.totals.macs == float_report.totals.macs
    assert not report.uncounted_ops and report.coverage.uncounted == 0
    assert report.totals.params == float_report.totals.params - _bn_channels(float_model)
    relu6 = [row for row in report.ops if row.op.startswith("quantized.relu6")]
    # one quantized ReLU6 per ReLU6 module of the float model (eager mode fuses conv + BN, not ReLU6)
    assert len(relu6) == sum(1 for m in float_model.modules() if isinstance(m, nn.ReLU6))
    first = relu6[0]  # after the stem: 32 x 48 x 48 outputs, clamped on the integers (2 per element)
    assert first.flops == 2 * 32 * 48 * 48
    assert first.bytes_read == first.bytes_written == 32 * 48 * 48  # quint8, 1 byte each


def _quantized(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.quantize_per_tensor(torch.randn(shape), 0.05, 64, torch.quint8)


class Apply(nn.Module):
    """Calls ``fn`` on a quantized tensor made from the float input (one quantize op before it)."""

    def __init__(self, fn: nn.Module | None = None, call: object = None) -> None:
        super().__init__()
        self.fn = fn
        self.call = call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = torch.quantize_per_tensor(x, 0.05, 64, torch.quint8)
        return self.fn(q) if self.fn is not None else self.call(q)  # type: ignore[operator]


def _p(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.rand(shape))


N = 2 * 4 * 5 * 5  # elements of the 2 x 4 x 5 x 5 input


def _op(module: nn.Module, name: str, shape: tuple[int, ...] = (2, 4, 5, 5)) -> Any:
    report = _analyze(module, torch.randn(shape))
    assert not report.uncounted_ops
    rows = [row for row in report.ops if row.op.rsplit(".", 1)[0] == name]
    assert len(rows) == 1, [row.op for row in report.ops]
    return rows[0]


@pytest.mark.parametrize(("module", "name", "per_element"), [
    (nnq.ReLU6(), "quantized.relu6", 2),  # min, max on the integers
    (nnq.Hardswish(0.05, 64), "quantized.hardswish", DEQUANTIZE + 5 + REQUANTIZE),
    (nnq.LeakyReLU(0.05, 64, 0.1), "quantized.leaky_relu", DEQUANTIZE + 2 + REQUANTIZE),
    (nnq.ELU(0.05, 64), "quantized.elu", DEQUANTIZE + 4 + REQUANTIZE),
    (nnq.Sigmoid(1 / 256, 0), "quantized.sigmoid", DEQUANTIZE + 4 + REQUANTIZE),
])
def test_quantized_activations(module: nn.Module, name: str, per_element: int) -> None:
    row = _op(Apply(module), name)
    assert row.flops == per_element * N
    assert row.bytes_read == row.bytes_written == N  # 1-byte integers in and out


def test_integer_clamp_and_threshold_keep_the_scale() -> None:
    assert _op(Apply(call=lambda q: torch.ops.quantized.clamp(q, -1.0, 1.0)), "quantized.clamp").flops == 2 * N
    assert _op(Apply(call=lambda q: torch.ops.quantized.threshold(q, 0.5, 0.0)), "quantized.threshold").flops == N


def test_quantized_softmax_rows() -> None:
    row = _op(Apply(nnq.Softmax(dim=1, scale=1 / 256, zero_point=0)), "quantized.softmax")
    rows, n = N // 4, 4  # softmax over the 4 channels: 50 rows of 4
    assert row.flops == rows * (3 * n - 1) + (DEQUANTIZE + REQUANTIZE) * N


@pytest.mark.parametrize(("module", "name"), [
    (nnq.LayerNorm([5, 5], _p(5, 5), _p(5, 5), 0.05, 64), "quantized.layer_norm"),
    (nnq.GroupNorm(2, 4, _p(4), _p(4), 0.05, 64), "quantized.group_norm"),
    (nnq.InstanceNorm2d(4, _p(4), _p(4), 0.05, 64), "quantized.instance_norm"),
])
def test_quantized_norms(module: nn.Module, name: str) -> None:
    # statistics 3 + normalise 2 + gamma 1 + beta 1 per element, between a dequantize and a requantize
    assert _op(Apply(module), name).flops == (3 + 2 + 2) * N + (DEQUANTIZE + REQUANTIZE) * N


def test_quantized_max_pool2d_kernel() -> None:
    row = _op(Apply(call=lambda q: torch.ops.quantized.max_pool2d(q, [2, 2], [2, 2], [0, 0], [1, 1], False)),
              "quantized.max_pool2d", (2, 4, 4, 4))
    assert row.flops == 2 * 4 * 2 * 2  # one compare per output (max pool = outputs)
    assert row.op_class == "pool"


def test_quantized_matmul() -> None:
    class MatMul(nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            qa = torch.quantize_per_tensor(a, 0.05, 64, torch.quint8)
            qb = torch.quantize_per_tensor(b, 0.05, 64, torch.quint8)
            return torch.ops.quantized.matmul(qa, qb, 0.1, 64)

    report = _analyze(MatMul(), torch.randn(2, 3, 4), torch.randn(2, 4, 5))
    assert not report.uncounted_ops
    row = next(r for r in report.ops if r.op.startswith("quantized.matmul"))
    assert row.macs == 2 * 3 * 5 * 4 == 120
    assert row.flops == 2 * 120 + REQUANTIZE * 2 * 3 * 5
    assert row.op_class == "int8_gemm"
