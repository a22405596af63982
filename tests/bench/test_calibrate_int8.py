"""``howfast calibrate`` on integer compute: the int8 GEMM peak of PyTorch's quantized linear, the
``int8_gemm`` and ``int8_conv`` classes fitted on quantized layers, the note where no int8 kernel
runs, and a quantized model predicted at the int8 peak (docs/roofline.md, "Calibration").

One short calibration (``quick``: one timing pass, fp32 and int8 only, the quantized layers only)
is shared by the tests; the expected figures are recomputed from its measured times and shapes.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import statistics
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import howfast
from howfast.bench.calibrate import CalibrationResult, calibrate, fit_efficiency, integer
from howfast.bench.calibrate.measure import evictor_working_set
from howfast.bench.calibrate.quantized_layers import int8_representatives
from howfast.cli.app import main
from howfast.cli.calibrate_output import render
from howfast.hardware.profiles import HardwareProfile, loads_profile
from howfast.hardware.roofline import roofline
from howfast.report.sections import RooflineOp
from howfast.zoo.registry import build

INT8_KINDS = ("qconv", "qpwconv", "qdwconv", "qlinear")

needs_int8 = pytest.mark.skipif(integer.int8_engine(torch.device("cpu")) is None,
                                reason="no quantized engine runs an int8 linear on this machine")


@pytest.fixture(scope="module")
def calibrated() -> Iterator[CalibrationResult]:
    if integer.int8_engine(torch.device("cpu")) is None:
        pytest.skip("no quantized engine runs an int8 linear on this machine")
    yield calibrate(threads=1, quick=True, dtypes=("fp32", "int8"), kinds=INT8_KINDS, name="int8_box")


def _fx_resnet18(size: int) -> tuple[torch.nn.Module, torch.Tensor]:
    """The zoo's resnet18, FX post-training quantized with the x86 qconfig (as tests/costs/test_quantized.py)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.manual_seed(0)
    x = torch.randn(1, 3, size, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(build("resnet18").eval()), get_default_qconfig_mapping("x86"), (x,))
        for _ in range(2):
            prepared(torch.randn(1, 3, size, size))
        return convert_fx(prepared), x


@pytest.fixture(scope="module")
def quantized_resnet18() -> tuple[torch.nn.Module, torch.Tensor]:
    return _fx_resnet18(64)


def _analyze(model: torch.nn.Module, x: torch.Tensor) -> howfast.Report:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return howfast.analyze(model, x)


@needs_int8
def test_the_int8_peak_is_measured_from_the_quantized_linear(calibrated: CalibrationResult) -> None:
    profile = calibrated.profile
    peak = next(m for m in calibrated.measurements if m.key == "peak_flops.int8")
    match = re.search(r"quantized::linear \((\w+) engine\) (\d+)x(\d+) quint8 @ (\d+)x(\d+) qint8", peak.method)
    assert match is not None, peak.method
    engine, n = match.group(1), int(match.group(2))
    assert engine == torch.backends.quantized.engine == profile.calibration["quantized_engine"]
    assert {int(g) for g in match.groups()[1:]} == {n}  # square: M = N = K = n
    # 2 n^3 integer operations over the median of the timed runs
    assert peak.value == pytest.approx(2 * n ** 3 / statistics.median(peak.times_s), rel=1e-12)
    assert f"median of {len(peak.times_s)} runs" in peak.method and len(peak.times_s) >= 5
    assert profile.peak("int8") == peak.value and "measured by howfast calibrate" in profile.peak_flops["int8"].source
    assert not calibrated.notes


@needs_int8
def test_the_int8_classes_are_fitted_on_the_quantized_layers(calibrated: CalibrationResult) -> None:
    profile = calibrated.profile
    labels = [rep[0] for rep in int8_representatives(quick=True)]
    fits = calibrated.fits
    assert set(fits) == {"int8_conv", "int8_gemm"}
    assert [s.label for s in fits["int8_gemm"].samples] == [label for label in labels if label.startswith("qlinear")]
    assert [s.label for s in fits["int8_conv"].samples] == [label for label in labels if not label.startswith("qlinear")]
    for cls, fit in fits.items():
        # the profile's figures are the fit of t = roof / efficiency + overhead over the class's layers
        eff, over = fit_efficiency([(s.roof_s, s.measured_s) for s in fit.samples], floor_s=profile.overhead_s)
        assert (fit.efficiency, fit.overhead_s) == pytest.approx((eff, over), rel=1e-9)
        figures = profile.classes[cls]
        assert figures.efficiency is not None and figures.overhead_s is not None
        assert (figures.efficiency.value, figures.overhead_s.value) == (fit.efficiency, fit.overhead_s)
        assert figures.efficiency.source.startswith("fitted by howfast calibrate") and figures.weight_s_per_byte is None
        for s in fit.samples:  # each layer's roofline time is at the int8 peak
            # weights cached only if they outlast the evictor's copy (its two buffers) and what the layer writes
            assert s.working_set_bytes >= s.weight_bytes + evictor_working_set(profile)
            cached = profile.weights_cached(s.working_set_bytes)
            memory_s = profile.memory_seconds(s.bytes - s.weight_bytes, s.weight_bytes, cached)[0]
            assert s.roof_s == pytest.approx(max(s.flops / profile.peak("int8"), memory_s), rel=1e-9)


@needs_int8
def test_the_int8_figures_survive_the_profile_file(calibrated: CalibrationResult) -> None:
    again = loads_profile(calibrated.profile.to_toml())
    assert again.figures() == calibrated.profile.figures()
    assert again.peak("int8") == calibrated.profile.peak("int8")
    assert again.class_efficiency("int8_conv") == calibrated.fits["int8_conv"].efficiency


def test_no_int8_kernel_is_said_and_nothing_int8_is_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integer, "int8_engine", lambda device: None)
    result = calibrate(threads=1, quick=True, dtypes=("fp32", "int8"), kinds=("qlinear",))
    assert "int8" not in result.profile.peak_flops and not result.fits
    assert len(result.notes) == 1 and result.notes[0].startswith("no int8 kernel on this machine")
    assert "quantized_engine" not in result.profile.calibration
    assert "not measured: no int8 kernel on this machine" in render(result, 200, False)


def test_no_int8_kernel_off_the_cpu() -> None:
    found = integer.low_precision_peak("int8", torch.device("cuda"))
    assert isinstance(found, str) and "run on the CPU only" in found


def _int8_ops(ops: list[RooflineOp]) -> list[RooflineOp]:
    return [op for op in ops if op.op_class in ("int8_conv", "int8_gemm")]


@needs_int8
def test_a_quantized_model_is_predicted_at_the_int8_peak(calibrated: CalibrationResult,
                                                           quantized_resnet18: tuple[torch.nn.Module, torch.Tensor]) -> None:
    profile = calibrated.profile
    report = roofline(_analyze(*quantized_resnet18), profile)
    rl = report.roofline
    assert rl is not None and not [note for note in rl.notes if "int8" in note]
    ops = _int8_ops(rl.ops)
    assert {op.op_class for op in ops} == {"int8_conv", "int8_gemm"} and len(ops) == 21  # 20 convolutions and the fc
    for op in ops:
        memory_s = profile.memory_seconds(op.bytes - op.weight_bytes, op.weight_bytes, rl.device.weights_cached)[0]
        assert op.roof_s == pytest.approx(max(op.flops / profile.peak("int8"), memory_s), rel=1e-9)
        assert op.efficiency == profile.class_efficiency(op.op_class) and op.overhead_s == profile.class_overhead_s(op.op_class)
        assert op.predicted_s == pytest.approx(op.roof_s / op.efficiency + op.overhead_s, rel=1e-9)


@needs_int8
def test_a_profile_without_int8_figures_falls_back_with_a_note(calibrated: CalibrationResult,
                                                                 quantized_resnet18: tuple[torch.nn.Module, torch.Tensor]) -> None:
    full = calibrated.profile
    bare: HardwareProfile = dataclasses.replace(
        full, peak_flops={k: v for k, v in full.peak_flops.items() if k != "int8"},
        classes={k: v for k, v in full.classes.items() if not k.startswith("int8")})
    rl = roofline(_analyze(*quantized_resnet18), bare).roofline
    assert rl is not None and rl.predicted_latency_s > 0
    assert any("no peak figure for int8" in note and "int8_conv ops use the fp32 peak" in note for note in rl.notes)
    for op in _int8_ops(rl.ops):  # no class figures: efficiency 1 and the generic per-op overhead
        assert op.efficiency == 1.0 and op.overhead_s == bare.overhead_s
        memory_s = bare.memory_seconds(op.bytes - op.weight_bytes, op.weight_bytes, rl.device.weights_cached)[0]
        assert op.roof_s == pytest.approx(max(op.flops / bare.peak("fp32"), memory_s), rel=1e-9)


MODEL_FILE = '''
import copy, warnings
import torch
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
from howfast.zoo.registry import build

def resnet18_int8():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(build("resnet18").eval()), get_default_qconfig_mapping("x86"), (x,))
        prepared(x)
        return convert_fx(prepared)
'''


@needs_int8
def test_howfast_analyze_uses_the_calibrated_int8_peak(calibrated: CalibrationResult, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    profile_file = tmp_path / "int8_box.toml"
    profile_file.write_text(calibrated.profile.to_toml())
    (tmp_path / "qmodel.py").write_text(MODEL_FILE)
    code = main(["analyze", f"{tmp_path / 'qmodel.py'}:resnet18_int8", "-i", "1x3x64x64", "--hardware", str(profile_file),
                 "-f", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rl = json.loads(out)["roofline"]
    assert not [note for note in rl["notes"] if "int8" in note]
    peak = calibrated.profile.peak("int8")
    convs = [op for op in rl["ops"] if op["class"] == "int8_conv"]
    assert len(convs) == 20
    for op in convs:  # compute-bound convolutions run at the int8 peak x the class's efficiency
        assert op["roof_s"] >= op["flops"] / peak * (1 - 1e-9)
        assert op["efficiency"] == calibrated.fits["int8_conv"].efficiency
