"""Quantized ONNX graphs from the real producer: ``export_model`` (what ``howfast export`` runs), then
``onnxruntime.quantization.quantize_static`` in the QDQ and QOperator formats and ``quantize_dynamic``,
on the file as exported (batch norm kept) and after ONNX Runtime's recommended pre-processing
(``quant_pre_process``: batch norm folded into the convs).

Counted exactly, by hand from the float model's shapes: the MACs of every quantized file equal the
float file's and the PyTorch analysis's; every weight is a parameter at its stored width (int8 1
byte, int32 bias 4, a float weight the quantizer leaves 4); the scales and zero points are their
own figure; nothing is uncounted (docs/onnx.md, "Quantized graphs").
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import howfast
import onnx
from howfast.api import analyze as analyze_onnx
from howfast.onnx.export import export_model
from howfast.zoo import registry

ort_quantization = pytest.importorskip("onnxruntime.quantization")
from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: E402

SIZE = 64  # 224 = 7 x 32 and 64 = 2 x 32: every feature map of ResNet-18 is 2/7 of its 224 side
FLOWS = [(pre, fmt) for pre in (False, True) for fmt in ("QDQ", "QOperator", "dynamic")]


class Batches(ort_quantization.CalibrationDataReader):
    """Two random calibration batches of batch 1."""

    def __init__(self, name: str, size: int) -> None:
        self.batches = iter([{name: np.random.default_rng(i).standard_normal((1, 3, size, size)).astype(np.float32)} for i in range(2)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


def trained_like(model: nn.Module) -> nn.Module:
    """Batch norms with distinct statistics, as a trained model has: freshly initialised ones are all
    equal (ones, zeros), and the exporter then merges them into one initializer."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                for t in (m.weight, m.bias, m.running_mean):
                    t.copy_(torch.randn(t.shape, generator=generator) * 0.1)
                m.weight.add_(1.0)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
    return model.eval()


def quantize_all(model: nn.Module, folder: Path, size: int) -> dict[tuple[bool, str] | str, Path]:
    """The float export, its pre-processed form, and the three quantized forms of each."""
    files: dict[tuple[bool, str] | str, Path] = {"float": export_model(model, (torch.randn(1, 3, size, size),), None, folder / "float.onnx")}
    logging.disable(logging.WARNING)  # the quantizer's advice ("consider pre-processing") on the root logger
    try:
        files["pre"] = folder / "pre.onnx"
        quant_pre_process(str(files["float"]), str(files["pre"]))
        for pre in (False, True):
            source = str(files["pre" if pre else "float"])
            name = onnx.load(source, load_external_data=False).graph.input[0].name
            for fmt in ("QDQ", "QOperator"):
                files[(pre, fmt)] = folder / f"{'pre_' if pre else ''}{fmt}.onnx"
                ort_quantization.quantize_static(source, str(files[(pre, fmt)]), Batches(name, size),
                                                 quant_format=getattr(ort_quantization.QuantFormat, fmt))
            files[(pre, "dynamic")] = folder / f"{'pre_' if pre else ''}dynamic.onnx"
            ort_quantization.quantize_dynamic(source, str(files[(pre, "dynamic")]))
    finally:
        logging.disable(logging.NOTSET)
    return files


def analyze(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an uncounted op warns
        report = analyze_onnx(path)
    assert not report.uncounted_ops and report.coverage.uncounted == 0
    return report


@pytest.fixture(scope="module")
def resnet(tmp_path_factory: pytest.TempPathFactory) -> dict:
    registry._load_models()
    model = trained_like(registry.build("resnet18", {}, device="cpu"))
    files = quantize_all(model, tmp_path_factory.mktemp("resnet18"), SIZE)
    return {"model": model, "files": files, "reports": {key: analyze(path) for key, path in files.items()}}


def shapes(model: nn.Module) -> dict[str, int]:
    """The element counts the hand derivations use, read off the float model's layers."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    (fc,) = [m for m in model.modules() if isinstance(m, nn.Linear)]
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    return {"conv_weights": sum(m.weight.numel() for m in convs), "fc_weight": fc.weight.numel(), "fc_bias": fc.bias.numel(),
            "channels": sum(m.num_features for m in bns), "convs": len(convs)}


def test_resnet18_layers_by_hand(resnet):
    s = shapes(resnet["model"])
    assert s == {"conv_weights": 11_166_912, "fc_weight": 512_000, "fc_bias": 1000, "channels": 4800, "convs": 20}
    assert 11_166_912 + 512_000 + 1000 + 2 * 4800 == 11_689_512  # ResNet-18's parameters


@pytest.mark.parametrize("pre,fmt", FLOWS)
def test_quantized_resnet18_has_the_float_macs(resnet, pre, fmt):
    report = resnet["reports"][(pre, fmt)]
    macs = (1_814_073_344 - 512_000) * 4 // 49 + 512_000  # the convs at 224 scaled by (2/7)^2, plus the fc
    assert macs == 148_557_824
    assert report.totals.macs == macs == resnet["reports"]["float"].totals.macs == resnet["reports"]["pre"].totals.macs


def test_quantized_resnet18_has_the_pytorch_macs(resnet):
    torch_report = howfast.analyze(resnet["model"], f"1x3x{SIZE}x{SIZE}")
    assert torch_report.totals.macs == 148_557_824
    for flow in FLOWS:
        assert resnet["reports"][flow].totals.macs == torch_report.totals.macs, flow
    # as exported (batch norm kept), every quantized form holds the model's parameters, each once
    for fmt in ("QOperator", "dynamic"):
        assert resnet["reports"][(False, fmt)].totals.params == torch_report.totals.params == 11_689_512


def test_quantized_resnet18_weights_at_their_stored_widths(resnet):
    s = shapes(resnet["model"])
    weights = s["conv_weights"] + s["fc_weight"]  # int8, 1 byte each
    c, bias = s["channels"], s["fc_bias"]
    expected = {
        # QOperator: int8 conv and fc weights, QGemm's int32 bias; the batch norms stay float (between a
        # DequantizeLinear and a QuantizeLinear), their statistics are buffers
        (False, "QOperator"): {"int8": weights, "int32": 4 * bias, "float32": 4 * 2 * c},
        # QDQ quantizes each batch norm too: its scale as an int8 weight, its bias as int32
        (False, "QDQ"): {"int8": weights + c, "int32": 4 * (c + bias)},
        # dynamic: int8 weights; the batch norms and the fc bias (an Add after MatMulInteger) stay float
        (False, "dynamic"): {"int8": weights, "float32": 4 * (2 * c + bias)},
        # pre-processed: each batch norm folded into its conv, which gains a bias of C channels
        (True, "QOperator"): {"int8": weights, "int32": 4 * (c + bias)},
        (True, "QDQ"): {"int8": weights, "int32": 4 * (c + bias)},
        (True, "dynamic"): {"int8": weights, "float32": 4 * (c + bias)},
    }
    for flow, dtype_bytes in expected.items():
        report = resnet["reports"][flow]
        assert report.model.param_dtype_bytes == dtype_bytes, flow
        assert report.totals.param_bytes == sum(dtype_bytes.values()), flow
        assert report.totals.params == (11_689_512 if not flow[0] else 11_689_512 - c), flow  # folding: 2C of batch norm -> C of bias
        assert report.totals.buffers == (0 if flow[0] else 2 * c), flow  # running means and variances, float
    assert weights == 11_678_912 and 11_689_512 - c == 11_684_712


def test_quantized_resnet18_scales_and_zero_points(resnet):
    """Each quantized tensor has a float32 scale and an 8-bit zero point (5 bytes); a QDQ int32 bias a
    float32 scale and an int32 zero point (8 bytes). Dynamic quantization computes the activations'
    at run time: only the weights' are stored."""
    s = shapes(resnet["model"])
    weights = s["convs"] + 1  # the conv weights and the fc weight
    # input, every conv's output, every residual add's output, the pooled features, the logits
    activations = 1 + s["convs"] + 8 + 1 + 1
    bns = s["convs"]  # as exported, each conv's batch norm output is quantized too (and, in QDQ, its scale and bias)
    expected = {
        (True, "QOperator"): 5 * (weights + activations),
        (True, "QDQ"): 5 * (weights + activations) + 8 * (s["convs"] + 1),
        (False, "QOperator"): 5 * (weights + activations + bns),
        (False, "QDQ"): 5 * (weights + bns + activations + bns) + 8 * (bns + 1),
        (False, "dynamic"): 5 * weights,
        (True, "dynamic"): 5 * weights,
    }
    assert expected[(True, "QOperator")] == 260
    for flow, size in expected.items():
        assert resnet["reports"][flow].model.quantization_bytes == size, flow


def layer_outputs(model: nn.Module, size: int) -> dict[str, int]:
    """Elements written by the float model's layers in one forward pass, by kind."""
    counts = dict.fromkeys(("conv", "block", "relu", "maxpool", "pool", "fc", "product_inputs"), 0)
    inputs: dict[int, torch.Tensor] = {}  # the distinct tensors the convs and the fc read (kept alive: ids stay unique)

    def hook(kind: str):
        def record(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            counts[kind] += output.numel()
            if kind in ("conv", "fc"):
                inputs[id(args[0])] = args[0]
        return record

    kinds = {nn.Conv2d: "conv", nn.ReLU: "relu", nn.MaxPool2d: "maxpool", nn.AdaptiveAvgPool2d: "pool", nn.Linear: "fc"}
    handles = [m.register_forward_hook(hook(kinds[type(m)])) for m in model.modules() if type(m) in kinds]
    handles += [m.register_forward_hook(hook("block")) for m in model.modules() if type(m).__name__ == "BasicBlock"]
    with torch.no_grad():
        model(torch.randn(1, 3, size, size))
    for h in handles:
        h.remove()
    counts["product_inputs"] = sum(t.numel() for t in inputs.values())
    return counts


def test_quantized_resnet18_flops_by_hand(resnet):
    """Each quantized form's FLOPs minus the float (pre-processed) file's, from the layers' output sizes."""
    n = layer_outputs(resnet["model"], SIZE)
    assert n == {"conv": 202_752, "block": 61_440, "relu": 188_416, "maxpool": 16_384, "pool": 512, "fc": 1000, "product_inputs": 150_016}
    s = shapes(resnet["model"])
    image = 3 * SIZE * SIZE
    float_flops = resnet["reports"]["pre"].totals.flops
    relu_after_conv = n["relu"] - n["block"]  # a block's ReLU runs after its first conv and after its add
    # QOperator: each QLinearConv requantizes its outputs (4) and absorbs the ReLU after it; each QLinearAdd
    # dequantizes both operands (2 + 2), adds (1) and requantizes (4) where the float graph adds and applies
    # ReLU (2); QGemm requantizes the logits (4); the image is quantized (4), the logits dequantized (2).
    qoperator = 4 * n["conv"] - relu_after_conv + 7 * n["block"] + 4 * n["fc"] + 4 * image + 2 * n["fc"]
    assert resnet["reports"][(True, "QOperator")].totals.flops - float_flops == qoperator == 1_169_264
    # QDQ: every quantized activation is quantized (4) and dequantized (2); so are the image, the max
    # pool's and the flatten's outputs (re-quantized at their input's scale); each weight and int32 bias is
    # dequantized (2); the ReLUs are absorbed by the quantization ranges.
    quantized = image + n["conv"] + n["block"] + n["maxpool"] + n["pool"] + n["pool"] + n["fc"]
    dequantized_weights = s["conv_weights"] + s["fc_weight"] + s["channels"] + s["fc_bias"]
    qdq = 4 * quantized + 2 * quantized + 2 * dequantized_weights - n["relu"]
    assert resnet["reports"][(True, "QDQ")].totals.flops - float_flops == qdq == 24_950_336
    # dynamic: each distinct input of a product quantized at run time (range 2 + quantize 4), each output
    # rescaled (1: Cast is free, Mul by the two scales, whose product is 1 more per layer); the bias stays an Add
    dynamic = 6 * n["product_inputs"] + n["conv"] + n["fc"] + (s["convs"] + 1)
    assert resnet["reports"][(True, "dynamic")].totals.flops - float_flops == dynamic == 1_103_869


@pytest.mark.slow
def test_quantized_mobilenet_v2_is_counted_exactly(tmp_path):
    registry._load_models()
    model = trained_like(registry.build("mobilenet_v2", {}, device="cpu"))
    files = quantize_all(model, tmp_path, SIZE)
    reports = {key: analyze(path) for key, path in files.items()}  # every op onnxruntime.quantization writes is counted
    torch_report = howfast.analyze(model, f"1x3x{SIZE}x{SIZE}")
    s = shapes(model)
    c = s["channels"]
    for flow in FLOWS:
        report = reports[flow]
        assert report.totals.macs == reports["float"].totals.macs == torch_report.totals.macs, flow
        assert report.totals.params == torch_report.totals.params - (c if flow[0] else 0), flow
        extra = c if flow == (False, "QDQ") else 0  # QDQ quantizes the batch norms' scales too
        assert report.model.param_dtype_bytes["int8"] == s["conv_weights"] + s["fc_weight"] + extra, flow
