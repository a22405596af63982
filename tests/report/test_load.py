"""A saved JSON report read back (``howfast.load``, ``Report.from_dict``, ``howfast show``): the same
document and the same renderings as the report it was saved from, for every section the producers
fill (roofline, fusion, energy, measured per-layer times, benchmark, sweep, several phases,
comparisons); a bad file is one line and exit 6."""

from __future__ import annotations

import json

import pytest
import torch

import howfast
from howfast import errors
from howfast.bench import attach, benchmark, sweep
from howfast.cli.app import main
from howfast.compare import Comparison, explain
from howfast.errors import BadFileError
from howfast.report import load
from howfast.report.report import Report
from howfast.zoo import build

from .conftest import device_profile
from .test_phases import workload  # noqa: F401  (the fixture of several phases)

FORMATS = ("table", "md", "csv", "json", "html")


def round_trip(report: Report) -> Report:
    """``report`` saved as JSON text and read back."""
    return Report.from_dict(json.loads(json.dumps(report.to_dict())))


def assert_same(report: Report, again: Report) -> None:
    assert json.dumps(again.to_dict(), sort_keys=True) == json.dumps(report.to_dict(), sort_keys=True)
    for fmt in FORMATS:
        assert again.render(fmt) == report.render(fmt), fmt


def test_a_report_with_roofline_and_measured_times(gpt2_report):
    profile = device_profile()
    report = howfast.roofline(gpt2_report, profile)
    again = round_trip(report)
    assert_same(report, again)
    assert again.roofline is not None and again.roofline.measured is not None
    assert again.benchmark is not None and again.benchmark.layer_times is not None
    assert again.benchmark.layer_times.by_module == report.benchmark.layer_times.by_module


def test_fused_report_on_a_builtin_profile():
    report = howfast.roofline(howfast.analyze(build("resnet18", device="meta"), "1x3x64x64", fused=True), "t4")
    again = round_trip(report)
    assert_same(report, again)
    assert again.fusion is not None and len(again.fusion.groups) == len(report.fusion.groups) > 0
    assert again.roofline is not None and again.roofline.energy is not None  # the t4 profile has an energy table
    assert again.roofline.ops[0].op_class == report.roofline.ops[0].op_class


def test_benchmark_with_times_and_a_sweep():
    model = build("resnet18").eval()
    x = torch.randn(1, 3, 32, 32)
    report = howfast.analyze(model, (x,))
    attach(report, benchmark(model, (x,), runs=3, warmup=1, per_layer=True), include_times=True)
    attach(report, sweep(model, (x,), batches=[1, 2], runs=2, warmup=1))  # the times stay in the JSON
    again = round_trip(report)
    assert_same(report, again)
    assert again.benchmark.result.times_s == report.benchmark.result.times_s and len(again.benchmark.result.times_s) == 3
    assert [row.batch for row in again.benchmark.sweep.rows] == [1, 2]
    assert again.benchmark.sweep.knees == report.benchmark.sweep.knees


def test_several_phases(workload):  # noqa: F811
    again = round_trip(workload)
    assert_same(workload, again)
    assert [(p.name, p.count, p.totals.macs) for p in again.phases] == [("prefill", 1, 128), ("decode", 3, 32)]
    assert again.phases[1].layers[1].macs == 32


def test_one_phase_is_the_report(evil_report):
    again = round_trip(evil_report)
    assert_same(evil_report, again)
    (phase,) = again.phases
    assert phase.layers == again.layers and phase.totals == again.totals and phase.ops == again.ops


def test_a_comparison(tmp_path):
    labels = ["resnet18", "mobilenet_v2"]
    reports = [howfast.analyze(build(name, device="meta"), "1x3x64x64", name=name) for name in labels]
    comparison = Comparison(labels=labels, reports=reports, explanation=explain(labels, reports))
    path = tmp_path / "cmp.json"
    path.write_text(comparison.render("json"))
    again = howfast.load(path)
    assert isinstance(again, Comparison)
    assert again.to_dict() == comparison.to_dict()
    for fmt in ("table", "md", "csv"):
        assert again.render(fmt) == comparison.render(fmt), fmt
    # a comparison's JSON leaves out each report's ops: the page is drawn from the layers and totals
    page = again.render("html")
    assert page.startswith("<!DOCTYPE html>") and 'id="compare-totals"' in page


# ---------------------------------------------------------------------------------------------- the CLI


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_renders_what_analyze_printed(capsys, tmp_path):
    saved = tmp_path / "r.json"
    assert run(capsys, "analyze", "mobilenet_v2", "--device", "meta", "-i", "1x3x96x96", "-f", "json", "-o", str(saved))[0] == 0
    for options in ([], ["--top", "3", "--sort", "bytes"], ["-f", "md"], ["-f", "csv", "--depth", "2"], ["--depth", "all", "--width", "200"]):
        code, direct, _ = run(capsys, "analyze", "mobilenet_v2", "--device", "meta", "-i", "1x3x96x96", *options)
        assert code == 0
        code, shown, _ = run(capsys, "show", str(saved), *options)
        assert code == 0 and shown == direct, options
    code, _, err = run(capsys, "show", str(saved), "-f", "html", "-o", str(tmp_path / "r.html"))
    assert code == 0 and (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_analyze_points_a_saved_report_to_show(capsys, tmp_path):
    saved = tmp_path / "r.json"
    saved.write_text(howfast.analyze(torch.nn.Linear(3, 2), "1x3").render("json"))
    code, _, err = run(capsys, "analyze", str(saved))
    assert code == errors.MODEL_LOAD and f"howfast show {saved}" in err


def bad_files(tmp_path):
    good = howfast.analyze(torch.nn.Linear(3, 2), "1x3").to_dict()
    cases = {
        "missing.json": None,
        "not_json.json": "{",
        "binary.json": b"\xa6\x00\xff" * 100,
        "deep.json": "[" * 100_000,
        "not_a_report.json": json.dumps({"a": 1}),
        "newer.json": json.dumps({**good, "schema_version": "2.0"}),
        "layers_wrong.json": json.dumps({**good, "layers": 5}),
        "layer_fields_wrong.json": json.dumps({**good, "layers": [{"name": "x", "macs": 1, "memory": 3}]}),
        "truncated.json": json.dumps(good)[:200],
    }
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        yield name, path


def test_bad_files_are_one_line_and_exit_6(capsys, tmp_path):
    for name, path in bad_files(tmp_path):
        code, out, err = run(capsys, "show", str(path))
        lines = err.strip().splitlines()
        assert code == errors.BAD_FILE, (name, err)
        assert len(lines) == 1 and lines[0].startswith("howfast: error: ") and "Traceback" not in err, (name, err)
        assert "internal error" not in err and out == "", name


def test_a_file_larger_than_any_report_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(howfast.analyze(torch.nn.Linear(3, 2), "1x3").to_dict()))
    monkeypatch.setattr(load, "MAX_REPORT_BYTES", path.stat().st_size - 1)
    with pytest.raises(BadFileError, match="larger than any howfast report"):
        load.read_report(path)
    monkeypatch.setattr(load, "MAX_REPORT_BYTES", path.stat().st_size)
    assert load.read_report(path).totals.macs == 6  # Linear(3, 2) on one row: 3 x 2
