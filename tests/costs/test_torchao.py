"""torchao's tensor-subclass quantization, as it reaches the dispatcher on CPU: weights stored as
inner tensors (int8 data, fp32 scales, zero points) counted at those widths, and the ops the
subclass runs (dequantize + mm for weight-only, ``_int_mm`` for dynamic int8) with formulas
(docs/quantized.md). Figures are derived by hand from the layer shapes."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

import howfast
from howfast.capture.quantized import inner_tensors

torchao_quantization = pytest.importorskip("torchao.quantization")

IN, HIDDEN, OUT, BATCH = 64, 128, 16, 4


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUT)).eval()


def _quantized(config: object) -> nn.Module:
    model = copy.deepcopy(_model())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torchao_quantization.quantize_(model, config)
    return model


def _analyze(model: nn.Module) -> howfast.Report:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return howfast.analyze(model, torch.randn(BATCH, IN))


def _scale_bytes(model: nn.Module) -> int:
    """Every inner tensor of the quantized weights but their int8 data: scales and zero points."""
    total = 0
    for layer in (model[0], model[2]):
        for inner in inner_tensors(layer.weight):
            if inner.dtype != torch.int8 or inner.shape != layer.weight.shape:
                total += inner.numel() * inner.element_size()
    return total


@pytest.mark.parametrize("config, compute", [
    ("Int8WeightOnlyConfig", "fp32"),
    ("Int8DynamicActivationInt8WeightConfig", "int8"),
])
def test_torchao_int8_weights(config: str, compute: str) -> None:
    model = _quantized(getattr(torchao_quantization, config)())
    report = _analyze(model)
    macs = BATCH * (IN * HIDDEN + HIDDEN * OUT)
    assert report.totals.macs == macs == 40_960
    assert not report.uncounted_ops
    assert report.totals.params == IN * HIDDEN + HIDDEN + HIDDEN * OUT + OUT == 10_384
    assert report.model.param_dtypes == {"int8": IN * HIDDEN + HIDDEN * OUT, "float32": HIDDEN + OUT}
    assert report.totals.param_bytes == (IN * HIDDEN + HIDDEN * OUT) + 4 * (HIDDEN + OUT)
    assert report.model.quantization_bytes == _scale_bytes(model) > 0
    assert report.totals.macs_by_compute == {compute: macs}
