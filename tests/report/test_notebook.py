"""A report as a notebook shows it: a short repr, light HTML, DataFrames; and the other result objects'
reprs (a Comparison, a BenchmarkResult)."""

from __future__ import annotations

from pathlib import Path

import pandas
import pytest
from torch import nn

import howfast
from howfast.bench import benchmark
from howfast.zoo import build

from .test_html_browser import LAUNCH_ARGS, chromium_path


@pytest.fixture(scope="module")
def reports():
    return {"resnet50": howfast.analyze(build("resnet50", device="meta"), "1x3x224x224", name="resnet50"),
            "llama2_70b": howfast.analyze(build("llama2_70b", device="meta"), "1x2048:int64", name="llama2_70b")}


@pytest.mark.parametrize("name", ["resnet50", "llama2_70b"])
def test_repr_is_the_summary_not_a_dump(reports, name):
    text = repr(reports[name])
    assert len(text) < 2000
    assert name in text and "params" in text and "MACs" in text and "heaviest layers" in text


@pytest.mark.parametrize("name", ["resnet50", "llama2_70b"])
def test_to_pandas_has_a_row_per_layer_with_the_reports_totals(reports, name):
    report = reports[name]
    frame = report.to_pandas()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == len(report.layers)
    root = frame[frame["name"] == ""].iloc[0]
    t = report.totals
    assert (root["macs"], root["flops"], root["bytes_read"], root["bytes_written"], root["params"]) == (
        t.macs, t.flops, t.bytes_read, t.bytes_written, t.params)
    assert root["compulsory_bytes"] == t.memory["compulsory"]["bytes"]
    ops = report.ops_frame()
    assert len(ops) == len(report.ops) and ops["macs"].sum() == t.macs


def test_repr_html_is_light_and_folds_repeated_blocks(reports):
    page = reports["llama2_70b"]._repr_html_()
    assert "<script" not in page and len(page) < 200_000
    assert "0-79 (x80)" in page and "all " in page  # the folded tree, every layer one click away


def test_repr_html_renders_in_chromium_without_errors(reports, tmp_path: Path):
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    path = tmp_path / "cell.html"
    path.write_text(f"<!DOCTYPE html><html><body>{reports['resnet50']._repr_html_()}</body></html>", encoding="utf-8")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.as_uri(), wait_until="load")
            assert page.locator(".howfast table tr").count() > 10
            page.locator("details summary").first.click()
            page.screenshot(path=str(tmp_path / "cell.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []


def test_comparison_and_benchmark_reprs_are_short():
    models = [build("resnet18", device="meta"), build("mobilenet_v2", device="meta")]
    comparison = howfast.compare(models, "1x3x224x224", labels=["resnet18", "mobilenet_v2"])
    text = repr(comparison)
    assert len(text) < 2000 and "resnet18" in text and "mobilenet_v2" in text and "MACs" in text
    assert "howfast compare" in comparison.render("table")
    result = benchmark(nn.Linear(8, 8).eval(), "2x8", runs=3, warmup=1)
    assert len(repr(result)) < 300 and "median" in repr(result)
