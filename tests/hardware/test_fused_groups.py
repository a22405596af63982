"""A fused program's groups priced as the kernels they are (docs/roofline.md, "Fused groups"): an op
fused into its group's anchor runs in the anchor's kernel, so it is priced at the anchor's class and
efficiency and pays no overhead of its own, as the ONNX Runtime calibration fits a fused layer."""

from __future__ import annotations

import math

import torch
from torch import nn

import howfast
from tests.hardware.conftest import make_profile

CLASSES = """
[classes.conv]
efficiency = { value = 0.5, source = "test" }
overhead_s = { value = 1e-5, source = "test" }
[classes.elementwise]
efficiency = { value = 0.25, source = "test" }
overhead_s = { value = 2e-6, source = "test" }
"""


def conv_relu(fused: bool) -> howfast.Report:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
    return howfast.analyze(model, torch.randn(1, 8, 16, 16), fused=fused)


# By hand, 1x8x16x16, 3x3 conv 8->8 with bias, peak 100 GFLOP/s, 10 GB/s:
# conv: 8*8*9*256 = 147456 MACs, 2 x MACs + 2048 bias adds = 296960 FLOPs -> 2.9696 us at the peak;
# fused program: the conv reads its input (8192 B) and weights (576 + 8 floats: 2336 B), writes nothing
# (its output is the group's intermediate): 1.0528 us of memory, so the roof is the compute, 2.9696 us.
# relu: writes the group's output, 2048 floats = 8192 B -> 0.8192 us (its 2048 FLOPs take 0.02 us).
CONV_S = 296960 / 100e9 / 0.5 + 1e-5
RELU_IN_CONV_S = 8192 / 10e9 / 0.5  # the conv's efficiency, no overhead
RELU_ALONE_S = 8192 / 10e9 / 0.25 + 2e-6  # what it would cost as a kernel of its own


def test_a_fused_op_is_priced_in_its_anchors_kernel() -> None:
    profile = make_profile(extra=CLASSES)
    report = howfast.roofline(conv_relu(fused=True), profile)
    assert report.roofline is not None
    conv, relu = report.roofline.ops
    assert conv.op_class == "conv" and math.isclose(conv.predicted_s, CONV_S, rel_tol=1e-9)
    assert relu.op_class == "conv" and relu.overhead_s == 0.0 and relu.efficiency == 0.5
    assert math.isclose(relu.predicted_s, RELU_IN_CONV_S, rel_tol=1e-9)
    assert math.isclose(report.roofline.predicted_latency_s, CONV_S + RELU_IN_CONV_S, rel_tol=1e-9)
    assert not math.isclose(relu.predicted_s, RELU_ALONE_S, rel_tol=1e-3)


def test_an_unfused_report_prices_every_op_at_its_own_class() -> None:
    profile = make_profile(extra=CLASSES)
    report = howfast.roofline(conv_relu(fused=False), profile)
    assert report.roofline is not None
    relu = [op for op in report.roofline.ops if op.op.startswith("aten.relu")][0]
    # unfused, the relu reads the conv's output and writes its own: 2 x 8192 B -> 1.6384 us
    assert relu.op_class == "elementwise" and relu.overhead_s == 2e-6
    assert math.isclose(relu.predicted_s, 2 * 8192 / 10e9 / 0.25 + 2e-6, rel_tol=1e-9)
