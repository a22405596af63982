"""Measured per-layer times reach every rendering of a report, from the real producers: a model timed
by ``howfast.bench.per_layer_times``, attached to a report with a roofline from ``howfast.roofline``.

The bug this pins: ``bench.attach`` stores ``LayerTimes``, whose metadata (``runs``, ``total_s``...)
the HTML renderer once took for module times, so the Measured column was empty and the time-share
chart disappeared.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import howfast
from howfast import units
from howfast.bench import attach, per_layer_times
from howfast.report.render.html import render_html

from .conftest import device_profile
from .test_html import page_data


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.head = nn.Linear(8 * 16 * 16, 10)

    def forward(self, x):
        return self.head(self.act(self.conv(x)).flatten(1))


@pytest.fixture(scope="module", params=["roofline first", "times first"])
def measured(request):
    model = Net().eval()
    x = torch.randn(1, 3, 16, 16)
    report = howfast.analyze(model, x)
    times = per_layer_times(model, (x,), runs=3, warmup=1)
    if request.param == "roofline first":
        attach(howfast.roofline(report, device_profile()), times)
    else:
        howfast.roofline(attach(report, times), device_profile())
    return report, times


def test_html_shows_the_measured_times(measured):
    report, times = measured
    table = page_data(render_html(report))["tables"][0]
    keys = [c["key"] for c in table["columns"]]
    assert "measured_s" in keys and "predicted_s" in keys
    column = keys.index("measured_s")
    by_name = {row["n"]: row for row in table["rows"]}
    for name in ("conv", "act", "head"):
        assert by_name[name]["v"][column] == pytest.approx(times.by_module[name])
        assert by_name[name]["h"][column] == units.seconds(times.by_module[name])
    figures = page_data(render_html(report))["figures"]
    assert any(trace.get("xaxis") == "x2" for trace in figures["op_types"]["data"])  # the time-share chart
    assert figures["roofline"] is not None


def test_markdown_and_table_show_the_measured_times(measured):
    report, times = measured
    for fmt in ("md", "table"):
        text = report.render(fmt)
        for name in ("conv", "act", "head"):
            assert units.seconds(times.by_module[name]) in text, (fmt, name)
        assert "Measured" in text and "Pred/Meas" in text  # beside the predicted time, and their ratio


def test_the_roofline_carries_the_join(measured):
    report, times = measured
    rl = report.roofline
    assert rl is not None and rl.measured is not None
    assert rl.layer("conv").measured_s == times.by_module["conv"]
    assert rl.layer("conv").ratio == pytest.approx(rl.layer("conv").predicted_s / times.by_module["conv"])
    data = json.loads(report.render("json"))
    assert data["benchmark"]["per_layer"]["by_module"]["conv"] == times.by_module["conv"]
    assert data["roofline"]["measured"]["layers"][1]["measured_s"] is not None


def test_analyze_bench_keeps_the_tree_on_one_clock(tmp_path, capsys):
    """``analyze --bench``: every row of the tree is a hooked median, so no layer takes more than the
    model (the plain, unhooked total is the summary's and the roofline total's); the per-layer times
    are in the JSON's benchmark section as well."""
    from howfast.cli.app import main

    target = tmp_path / "r.json"
    assert main(["analyze", "resnet18", "-i", "1x3x32x32", "--hardware", "t4", "--bench", "-f", "json", "-o", str(target)]) == 0
    capsys.readouterr()
    data = json.loads(target.read_text())
    times = data["benchmark"]["per_layer"]
    model_s = times["by_module"][""]  # the model's own hooks, around every child's
    children = [layer["name"] for layer in data["layers"] if layer["depth"] == 1]
    assert all(times["by_module"][name] < model_s for name in children)
    assert data["roofline"]["measured"]["total"]["measured_s"] == times["plain_total_s"]
    again = howfast.load(target)
    table = again.render("table", width=160, depth=1)
    root = next(line for line in table.splitlines() if line.startswith("(model)"))
    assert units.seconds(model_s) in root and "100.0%" in root
