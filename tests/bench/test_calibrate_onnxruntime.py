"""ONNX Runtime calibration (``bench/calibrate/onnxruntime.py``) and ``analyze --runtime onnxruntime``:
the fit by hand, the representative layers' classes, the one-node graphs, and the CLI's choice of program."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from howfast import errors
from howfast.bench.calibrate.measure import TimedSample, analysed_sample
from howfast.cli.app import main
from howfast.hardware.profiles import get_profile

pytest.importorskip("onnxruntime")
from howfast.bench.calibrate import onnxruntime as ort_cal  # noqa: E402


def _sample(label: str, roof_s: float, measured_s: float) -> TimedSample:
    return TimedSample(label=label, op_class="conv", flops=1, bytes=1, weight_bytes=0, roof_s=roof_s, measured_s=measured_s)


def test_the_fit_takes_a_session_run_off_every_layer() -> None:
    # t = per_run + roof / e + o with per_run 10 us, e 0.5, o 2 us: 212 us and 812 us for roofs of 100 and 400 us
    per_run, e, o = 10e-6, 0.5, 2e-6
    samples = [_sample(f"conv {roof}", roof, per_run + roof / e + o) for roof in (100e-6, 400e-6, 50e-6)]
    figures, fits, measurements = ort_cal._fit(samples, floor_s=1e-6, per_run_s=per_run)
    assert fits["conv"].efficiency == pytest.approx(e, rel=1e-9)
    assert fits["conv"].overhead_s == pytest.approx(o, rel=1e-6)
    assert figures["conv"].weight_s_per_byte is None  # ORT packs weights once per session: no per-call term
    assert {m.key for m in measurements} == {"classes.conv.efficiency", "classes.conv.overhead_s"}


EXPECTED = {"conv": {"conv"}, "pwconv": {"pwconv"}, "dwconv": {"dwconv"}, "linear": {"gemm", "gemv"}, "norm": {"norm"},
            "add": {"elementwise"}, "gelu": {"activation"}, "softmax": {"activation"}, "sigmoid": {"activation"},
            "transpose": {"data"}}


def test_each_representative_layer_is_of_the_class_its_label_names() -> None:
    import torch

    profile = get_profile("xeon_8480")
    for label, factory, shapes in ort_cal.ORT_LAYERS:
        sample = analysed_sample(label, factory(), tuple(torch.randn(*s) for s in shapes), profile, fused=True)
        assert sample is not None, label
        kind = label.split()[0]
        expected = {"pool": {"reduce"} if "global" in label else {"pool"}}.get(kind, EXPECTED.get(kind))
        assert sample.op_class in expected, (label, sample.op_class)
    assert {label for label, _, _ in ort_cal.ort_layers(quick=True)} == ort_cal.QUICK_LABELS


def test_the_one_node_graphs_compute_what_they_say(tmp_path: Path) -> None:
    session = ort_cal.matmul_session(tmp_path, 8, threads=1)
    (product,) = session()
    np.testing.assert_allclose(product, session.feeds["a"] @ session.feeds["b"], rtol=1e-5)
    chain = ort_cal.add_chain_session(tmp_path, 5, threads=1)
    (out,) = chain()
    assert out.tolist() == [1.0 + 5 * 1.0]  # x + y five times


def test_a_calibration_without_classes_records_the_runtime() -> None:
    result = ort_cal.calibrate_onnxruntime(threads=1, quick=True, classes=False, clock="cpu")
    profile = result.profile
    assert profile.calibration["runtime"] == "onnxruntime" and "onnxruntime" in profile.calibration
    assert profile.peak_flops["fp32"].value > 0 and profile.per_op_overhead is not None
    assert "MatMul" in profile.peak_flops["fp32"].source and not profile.classes


def _ort_profile(tmp_path: Path) -> Path:
    profile = dataclasses.replace(get_profile("xeon_8480"), name="ort_box", calibration={"runtime": "onnxruntime"})
    path = tmp_path / "ort_box.toml"
    path.write_text(profile.to_toml())
    return path


def test_a_profile_calibrated_for_onnxruntime_prices_the_fused_program(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(_ort_profile(tmp_path))
    assert main(["analyze", "resnet18", "-i", "1x3x32x32", "--device", path, "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fusion"] is not None  # BN folded, activations fused
    assert any(n.startswith("runtime onnxruntime") for n in data["roofline"]["notes"])
    assert main(["analyze", "resnet18", "-i", "1x3x32x32", "--device", path, "--runtime", "torch", "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fusion"] is None
    assert any("calibrated for onnxruntime, the prediction is for torch" in n for n in data["roofline"]["notes"])


def test_runtime_onnxruntime_refuses_bench_and_backward(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for extra in (["--bench"], ["--backward"]):
        code = main(["analyze", "resnet18", "-i", "1x3x32x32", "--device", "t4", "--runtime", "onnxruntime", *extra])
        err = capsys.readouterr().err
        assert code == errors.USAGE and len(err.strip().splitlines()) == 1 and "ONNX Runtime" in err


def test_calibrate_cli_runtime_onnxruntime_writes_a_profile_that_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "ort.toml"
    code = main(["calibrate", "--runtime", "onnxruntime", "--threads", "1", "--clock", "cpu", "--quick", "--no-classes",
                 "--output", str(target), "-f", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["profile"]["calibration"]["runtime"] == "onnxruntime" and data["profile"]["name"] == "this_machine_ort"
    assert 'runtime = "onnxruntime"' in target.read_text()
    code = main(["calibrate", "--runtime", "onnxruntime", "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == errors.USAGE and "CPU execution provider" in err
