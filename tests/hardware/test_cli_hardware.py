"""CLI: devices, calibrate, analyze --hardware / --device NAME / --bench / --plot-roofline; one-line errors."""

from __future__ import annotations

import json

from howfast import errors
from howfast.cli.app import main

SMALL = ("mobilenet_v2:width=0.35", "-i", "1x3x64x64")


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, expected: int, fragment: str) -> None:
    assert code == expected, err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("howfast: error: ") and "Traceback" not in err, err
    assert fragment in lines[0], lines[0]


def test_devices_lists_profiles_with_peak_bandwidth_and_ridge(capsys):
    code, out, _ = run(capsys, "devices")
    assert code == 0
    for name in ("t4", "a100", "h100", "rtx4090", "apple_m2", "apple_a17_pro", "raspberry_pi4", "raspberry_pi5",
                 "jetson_orin_nano", "xeon_8480"):
        assert name in out
    assert "Peak fp32" in out and "Bandwidth" in out and "Ridge" in out
    assert "25.31" in out  # T4: 8.1 TFLOP/s / 320 GB/s
    code, out, _ = run(capsys, "devices", "-f", "json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["h100"]["ridge_point"] == rows["h100"]["peak_fp32_flops"] / rows["h100"]["bandwidth_bytes_per_s"]


def test_devices_shows_one_profile_with_sources(capsys):
    code, out, _ = run(capsys, "devices", "a100")
    assert code == 0 and "NVIDIA A100 Tensor Core GPU datasheet" in out and "peak_flops.tf32" in out


def test_bad_profile_file_is_a_one_line_device_error(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[peak_flops]\nfp32 = { value = -1, source = "s" }\n[memory]\nbandwidth = { value = 1e9, source = "s" }\n')
    code, _, err = run(capsys, "devices", str(bad))
    one_line_error(code, err, errors.DEVICE, "peak_flops.fp32")
    code, _, err = run(capsys, "analyze", *SMALL, "--hardware", str(bad))
    one_line_error(code, err, errors.DEVICE, "peak_flops.fp32")
    code, _, err = run(capsys, "analyze", *SMALL, "--device", "no_such_device")
    one_line_error(code, err, errors.DEVICE, "unknown hardware profile 'no_such_device'")


def test_analyze_with_hardware_table_and_json(capsys):
    code, out, _ = run(capsys, "analyze", *SMALL, "--hardware", "t4", "-d", "1")
    assert code == 0
    assert "roofline: mobilenet_v2:width=0.35 on NVIDIA T4" in out
    assert "FLOP/B" in out and "Bound" in out and "Predicted" in out and "predicted latency:" in out
    assert "energy (estimate" in out and "explanation:" in out
    code, out, _ = run(capsys, "analyze", *SMALL, "--device", "t4", "-f", "json")
    data = json.loads(out)
    rl = data["roofline"]
    assert rl["device"]["name"] == "t4" and rl["memory_model"] == "compulsory"
    assert {"device", "memory_model", "predicted_latency_s", "ops", "layers", "summary"} <= rl.keys()
    assert rl["predicted_latency_s"] > 0


def test_memory_model_option_reaches_the_roofline_only_when_given(capsys):
    code, out, _ = run(capsys, "analyze", *SMALL, "--hardware", "t4", "--memory-model", "writeup", "-f", "json")
    assert code == 0 and json.loads(out)["roofline"]["memory_model"] == "writeup"


def test_usage_errors(capsys, tmp_path):
    code, _, err = run(capsys, "analyze", *SMALL, "--device", "t4", "--hardware", "a100")
    one_line_error(code, err, errors.USAGE, "give one of them")
    code, _, err = run(capsys, "analyze", *SMALL, "--bench")
    one_line_error(code, err, errors.USAGE, "need a hardware profile")
    code, _, err = run(capsys, "analyze", *SMALL, "--hardware", "t4", "--plot-roofline", str(tmp_path / "x.txt"))
    one_line_error(code, err, errors.USAGE, ".png, .svg")
    code, _, err = run(capsys, "calibrate", "--output", str(tmp_path / "a.toml"), "--save", "b")
    one_line_error(code, err, errors.USAGE, "not both")


def test_plot_roofline_and_bench(capsys, tmp_path):
    from howfast.hardware.profiles import get_profile

    # a calibrated profile: --bench times with the thread count it was calibrated with (here 1)
    profile = tmp_path / "one_thread.toml"
    profile.write_text(get_profile("raspberry_pi5").to_toml() + "\n[calibration]\nthreads = 1\n")
    target = tmp_path / "roof.svg"
    code, out, err = run(capsys, "analyze", *SMALL, "--hardware", str(profile), "--plot-roofline", str(target), "--bench",
                         "-f", "json")
    assert code == 0, err
    assert target.stat().st_size > 1000 and "wrote" in err
    measured = json.loads(out)["roofline"]["measured"]
    assert measured["total"]["measured_s"] > 0 and measured["total"]["ratio"] > 0
    assert any(row["measured_s"] for row in measured["layers"] if row["name"])
    assert measured["threads"] == 1


def test_calibrate_writes_and_saves_a_profile_usable_by_analyze(capsys, tmp_path):
    target = tmp_path / "box.toml"
    code, out, err = run(capsys, "calibrate", "--quick", "--no-classes", "--threads", "1", "-o", str(target), "--width", "80")
    assert code == 0, err
    assert "peak_flops.fp32" in out and "memory.bandwidth" in out and "torch.mm" in out and "wrote" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert target.exists()
    code, out, err = run(capsys, "analyze", *SMALL, "--hardware", str(target), "-f", "json")
    assert code == 0, err
    assert json.loads(out)["roofline"]["device"]["name"] == "this_machine"
    code, out, err = run(capsys, "calibrate", "--quick", "--no-classes", "--threads", "1", "--save", "ci_box")
    assert code == 0, err
    code, out, _ = run(capsys, "devices")
    assert "ci_box" in out and "user" in out
