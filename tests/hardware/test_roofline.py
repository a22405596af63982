"""Roofline maths on hand cases, then the pass on small real models."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn

import howfast
from howfast.errors import UsageError
from howfast.hardware.roofline import join_measured, op_class, predict_op, roofline
from howfast.report.measurements import LayerTimes
from howfast.report.render.plots import plot_roofline

from .conftest import make_profile

PEAK, BW = 100e9, 10e9  # ridge point 10 FLOP/byte


def analyze(model, shape):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return howfast.analyze(model.eval(), shape)


# ---------------------------------------------------------------------------------- hand cases


def test_pure_gemm_above_the_ridge_is_compute_bound():
    # C = A @ B, 256 x 256 x 256, fp32: F = 2 * 256^3, B = 3 matrices of 256^2 * 4 bytes
    flops, nbytes = 2 * 256 ** 3, 3 * 256 * 256 * 4
    fig = predict_op(flops, nbytes, PEAK, BW)
    assert fig.intensity == pytest.approx(256 * 2 / 12)  # 42.67 FLOP/B > ridge 10
    assert fig.bound == "compute"
    assert fig.attainable_flops == PEAK
    assert fig.predicted_s == pytest.approx(flops / PEAK)  # 335.5 us; the memory time is 78.6 us


def test_elementwise_op_below_the_ridge_is_memory_bound():
    # ReLU on 1M fp32 elements: 1 FLOP per element, read 4 MB + write 4 MB
    n = 1 << 20
    fig = predict_op(n, 8 * n, PEAK, BW, overhead_s=5e-6)
    assert fig.intensity == pytest.approx(0.125)
    assert fig.bound == "memory"
    assert fig.attainable_flops == pytest.approx(0.125 * BW)  # 1.25 GFLOP/s
    assert fig.predicted_s == pytest.approx(8 * n / BW + 5e-6)  # 838.9 us + overhead


def test_op_exactly_at_the_ridge_is_compute_bound_and_both_times_agree():
    flops, nbytes = 1_000_000, 100_000  # intensity 10 = ridge
    fig = predict_op(flops, nbytes, PEAK, BW)
    assert fig.intensity == pytest.approx(PEAK / BW)
    assert fig.bound == "compute"
    assert fig.attainable_flops == pytest.approx(PEAK)
    assert fig.predicted_s == pytest.approx(flops / PEAK) == pytest.approx(nbytes / BW)  # 10 us


def test_efficiency_and_overhead_scale_the_roof_time():
    fig = predict_op(2e9, 1e6, PEAK, BW, efficiency=0.5, overhead_s=1e-5)
    assert fig.predicted_s == pytest.approx(2e9 / PEAK / 0.5 + 1e-5)
    assert predict_op(0, 0, PEAK, BW, overhead_s=1e-5).predicted_s == 0.0  # nothing to do: no op time
    flops_only = predict_op(1e6, 0, PEAK, BW)
    assert flops_only.intensity is None and flops_only.bound == "compute"


# ---------------------------------------------------------------------------------- the pass


class GemmRelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(256, 256, bias=False)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x))


def test_roofline_pass_on_gemm_and_relu_matches_hand_figures():
    report = analyze(GemmRelu(), "256x256")
    roofline(report, make_profile(PEAK, BW, overhead=2e-6))
    rl = report.to_dict()["roofline"]
    ops = {op["module"]: op for op in rl["ops"]}
    gemm, relu = ops["fc"], ops["act"]
    assert gemm["flops"] == 2 * 256 ** 3 and gemm["bytes"] == 3 * 256 * 256 * 4
    assert gemm["bound"] == "compute" and gemm["class"] == "gemm"
    assert gemm["predicted_s"] == pytest.approx(2 * 256 ** 3 / PEAK + 2e-6)
    assert relu["flops"] == 256 * 256 and relu["bytes"] == 2 * 256 * 256 * 4
    assert relu["bound"] == "memory" and relu["class"] == "elementwise"
    assert relu["intensity"] == pytest.approx(0.125)
    assert relu["predicted_s"] == pytest.approx(2 * 256 * 256 * 4 / BW + 2e-6)
    assert rl["predicted_latency_s"] == pytest.approx(gemm["predicted_s"] + relu["predicted_s"])
    assert rl["summary"] == {"compute_bound_ops": 1, "memory_bound_ops": 1,
                             "compute_bound_time_s": pytest.approx(gemm["predicted_s"]),
                             "memory_bound_time_s": pytest.approx(relu["predicted_s"])}
    device = rl["device"]
    assert device["ridge_point"] == pytest.approx(10) and device["dtype"] == "fp32"
    assert {"name", "dtype", "peak_flops", "bandwidth_bytes_per_s", "ridge_point", "per_op_overhead_s", "source"} <= device.keys()
    layers = {layer["name"]: layer for layer in rl["layers"]}
    assert layers[""]["predicted_s"] == pytest.approx(rl["predicted_latency_s"]) and layers[""]["share"] == pytest.approx(1)
    assert layers["fc"]["share"] + layers["act"]["share"] == pytest.approx(1)
    assert layers["fc"]["bound"] == "compute" and layers["act"]["bound"] == "memory"
    for layer in rl["layers"]:
        assert {"name", "type", "depth", "flops", "bytes", "intensity", "bound", "attainable_flops", "predicted_s", "share"} <= layer.keys()
    for op in rl["ops"]:
        assert {"index", "op", "module", "flops", "bytes", "intensity", "bound", "attainable_flops", "predicted_s"} <= op.keys()
    json.dumps(report.to_dict())  # JSON-safe (no inf/nan objects)


def test_memory_model_default_is_compulsory_and_writeup_on_request():
    report = analyze(nn.Conv2d(16, 16, 3, padding=1), "1x16x32x32")
    roofline(report, make_profile())
    compulsory = report.to_dict()["roofline"]["ops"][0]
    assert report.to_dict()["roofline"]["memory_model"] == "compulsory"
    assert compulsory["bytes"] == report.ops[0].memory["compulsory"]["bytes"]
    roofline(report, make_profile(), memory_model="writeup")
    writeup = report.to_dict()["roofline"]["ops"][0]
    assert writeup["bytes"] == report.ops[0].memory["writeup"]["bytes"] > compulsory["bytes"]
    assert writeup["intensity"] < compulsory["intensity"]
    with pytest.raises(UsageError):
        roofline(report, make_profile(), memory_model="l3")


def test_class_efficiencies_and_cache_bandwidth_from_the_profile():
    extra = """
[cache]
l3 = { value = 1048576, source = "test" }
[classes.gemm]
efficiency = { value = 0.5, source = "test" }
overhead_s = { value = 1e-5, source = "test" }
"""
    profile = make_profile(PEAK, BW, overhead=1e-6, extra=extra.replace("[cache]", "[cache]"))
    report = analyze(GemmRelu(), "256x256")
    roofline(report, profile)
    ops = {op["module"]: op for op in report.to_dict()["roofline"]["ops"]}
    assert ops["fc"]["predicted_s"] == pytest.approx(2 * 256 ** 3 / PEAK / 0.5 + 1e-5)
    assert ops["act"]["predicted_s"] == pytest.approx(2 * 256 * 256 * 4 / BW + 1e-6)  # no class figures: plain + generic
    assert ops["act"]["level"] == "dram"  # no cache bandwidth in this profile
    text = profile.to_toml().replace("[memory]\n", '[memory]\ncache_bandwidth = { value = 1e11, source = "test" }\n')
    from howfast.hardware.profiles import loads_profile

    cached = loads_profile(text)
    roofline(report, cached)
    ops = {op["module"]: op for op in report.to_dict()["roofline"]["ops"]}
    assert ops["act"]["level"] == "cache"  # 512 KiB fit in the 1 MiB cache
    assert ops["act"]["predicted_s"] == pytest.approx(2 * 256 * 256 * 4 / 1e11 + 1e-6)


def test_dtype_follows_the_weights_and_falls_back_to_fp32_with_a_note():
    report = analyze(GemmRelu().to(torch.bfloat16), "256x256:bfloat16")
    roofline(report, "t4")  # T4 has fp16 but no bf16 figure
    assert report.to_dict()["roofline"]["device"]["dtype"] == "fp32"
    assert any("bf16" in note for note in report.to_dict()["roofline"]["notes"])
    roofline(report, "a100")
    assert report.to_dict()["roofline"]["device"]["dtype"] == "bf16" and report.to_dict()["roofline"]["device"]["peak_flops"] == 312e12


def test_roofline_of_an_unfused_report_says_it_is_unfused():
    # roofline() has no `fused` switch that does nothing any more: it follows the report's own ops,
    # fused when the report was analysed with fused=True (next test).
    report = analyze(GemmRelu(), "256x256")
    roofline(report, make_profile())
    assert report.to_dict()["roofline"]["fused"] is False
    assert not any("fused" in note for note in report.to_dict()["roofline"]["notes"])


@pytest.mark.parametrize(
    ("conv", "shape", "expected"),
    [
        (nn.Conv2d(32, 32, 3, padding=1, groups=32), "1x32x56x56", "dwconv"),
        (nn.Conv2d(144, 144, 3, stride=2, padding=1, groups=144), "1x144x56x56", "dwconv"),
        (nn.Conv2d(960, 960, 5, padding=2, groups=960), "1x960x7x7", "dwconv"),
        (nn.Conv2d(32, 64, 1), "1x32x56x56", "pwconv"),
        (nn.Conv2d(256, 512, 1, stride=2), "1x256x28x28", "pwconv"),
        (nn.Conv2d(64, 64, 3, padding=1), "1x64x56x56", "conv"),
        (nn.Conv2d(128, 256, 3, stride=2, padding=1), "1x128x28x28", "conv"),
        (nn.Conv2d(3, 32, 3, stride=2, padding=1), "1x3x224x224", "conv"),  # stem: R = 27, not depthwise
        (nn.Conv2d(3, 64, 7, stride=2, padding=3), "1x3x224x224", "conv"),
    ],
)
def test_conv_classes(conv, shape, expected):
    report = analyze(conv, shape)
    row = next(r for r in report.ops if r.macs)
    assert op_class(row) == expected
    assert row.op_class == expected  # declared when the op was costed, from its weight's shape


def test_matrix_vector_is_gemv_below_the_ridge():
    report = analyze(nn.Linear(1024, 1000), "1x1024")
    row = next(r for r in report.ops if r.flops)
    assert op_class(row, ridge=10.0) == "gemv"
    assert op_class(row) == "gemm"


def test_join_measured_puts_prediction_beside_measurement():
    report = analyze(GemmRelu(), "256x256")
    roofline(report, make_profile(PEAK, BW))
    predicted = report.to_dict()["roofline"]["predicted_latency_s"]
    times = LayerTimes(by_module={"": 0.002, "fc": 0.0015, "act": 0.0003}, self_by_module={}, total_s=0.0021,
                       plain_total_s=0.002, overhead_ratio=1.05)
    joined = join_measured(report, times).to_dict()
    assert joined["total"]["measured_s"] == 0.002
    assert joined["total"]["ratio"] == pytest.approx(predicted / 0.002)
    rows = {r["name"]: r for r in joined["layers"]}
    fc = next(layer for layer in report.to_dict()["roofline"]["layers"] if layer["name"] == "fc")
    assert rows["fc"]["ratio"] == pytest.approx(fc["predicted_s"] / 0.0015) and fc["measured_s"] == 0.0015
    assert report.to_dict()["roofline"]["measured"] == joined
    text = report.render("table")  # the roofline is rendered with the report
    assert "Pred/Meas" in text and "measured latency" in text
    bare = analyze(GemmRelu(), "256x256")
    with pytest.raises(UsageError):
        join_measured(bare, times)


def test_plot_writes_png_and_svg(tmp_path):
    report = analyze(GemmRelu(), "256x256")
    roofline(report, "t4")
    for suffix in ("png", "svg"):
        out = plot_roofline(report, str(tmp_path / f"r.{suffix}"))
        assert (tmp_path / f"r.{suffix}").stat().st_size > 1000 and out.endswith(suffix)
    with pytest.raises(UsageError):
        plot_roofline(report, str(tmp_path / "r.txt"))


def test_exported_from_the_package():
    assert howfast.roofline is roofline


def test_fused_report_is_followed_when_the_fusion_pass_ran():
    model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()).eval()
    plain = analyze(model, "1x8x16x16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused = howfast.analyze(model, "1x8x16x16", fused=True)
    roofline(plain, make_profile(overhead=1e-6))
    roofline(fused, make_profile(overhead=1e-6))
    assert fused.to_dict()["roofline"]["fused"] is True and plain.to_dict()["roofline"]["fused"] is False
    assert len(fused.to_dict()["roofline"]["ops"]) < len(plain.to_dict()["roofline"]["ops"])
    assert fused.to_dict()["roofline"]["predicted_latency_s"] < plain.to_dict()["roofline"]["predicted_latency_s"]
