"""Reports shared by the HTML report tests (built once per session, on the meta device: no weights)."""

from __future__ import annotations

import copy

import pytest
from torch import nn

import howfast
from howfast.report import plots
from howfast.zoo import build

EVIL_NAME = "<script>alert(1)</script>"
EVIL_MODEL = "<img src=x onerror=alert(2)>"
EVIL_TYPE = "<b onmouseover=alert(3)>T&amp;</b>"


def _evil_child_type() -> type:
    def forward(self, x):
        return self.inner(x)

    def init(self):
        nn.Module.__init__(self)
        self.inner = nn.Linear(2, 2)

    return type(EVIL_TYPE, (nn.Module,), {"__init__": init, "forward": forward})


class Evil(nn.Module):
    """A module whose child's name is markup, and a child whose class name is markup."""

    def __init__(self) -> None:
        super().__init__()
        self.add_module(EVIL_NAME, nn.Linear(2, 2))
        self.odd = _evil_child_type()()

    def forward(self, x):
        return self.odd(getattr(self, EVIL_NAME)(x))


def fake_roofline(report, name: str = "test <device> & co") -> dict:
    """A roofline section in the documented schema, computed from the report's leaf layers."""
    peak, bandwidth = 10e12, 100e9
    layers = []
    for i in plots.leaf_indices(report):
        row = report.layers[i]
        nbytes = plots.traffic_bytes(report, row)
        intensity = row.flops / nbytes if nbytes else 0.0
        attainable = min(peak, bandwidth * intensity)
        predicted = row.flops / attainable if attainable else nbytes / bandwidth
        layers.append({"name": row.name, "type": row.type, "flops": row.flops, "bytes": nbytes, "intensity": intensity,
                       "bound": "memory" if intensity < peak / bandwidth else "compute", "attainable_flops": attainable,
                       "predicted_s": predicted, "share": 0.0})
    total = sum(entry["predicted_s"] for entry in layers) or 1.0
    for entry in layers:
        entry["share"] = entry["predicted_s"] / total
    return {"device": {"name": name, "peak_flops": peak, "bandwidth_bytes_per_s": bandwidth, "ridge_point": peak / bandwidth},
            "layers": layers, "predicted_s": total}


@pytest.fixture(scope="session")
def mobilenet_report():
    """MobileNetV2 with a roofline (a fake device) attached."""
    report = howfast.analyze(build("mobilenet_v2", device="meta"), "1x3x224x224")
    report.roofline = fake_roofline(report)
    return report


@pytest.fixture(scope="session")
def gpt2_report():
    """GPT-2 with two blocks, measured per-layer times, and an uncounted op (made up) to show."""
    report = howfast.analyze(build("gpt2", {"layers": 2}, device="meta"), "1x128:int64")
    report = copy.deepcopy(report)
    leaves = [report.layers[i] for i in plots.leaf_indices(report)]
    report.benchmark = {"median_s": 0.0123, "layers": [{"name": row.name, "median_s": 1e-6 * (1 + row.macs / 1e6)} for row in leaves]}
    report.uncounted_ops = [{"op": "aten.<b>weird</b>.default", "count": 2, "modules": ["h.0.<i>x</i>"]}]
    report.coverage = {**report.coverage, "uncounted": 2, "ops": report.coverage["ops"] + 2,
                       "share": report.coverage["counted"] / (report.coverage["ops"] + 2)}
    return report


@pytest.fixture(scope="session")
def evil_report():
    return howfast.analyze(Evil(), "1x2", name=EVIL_MODEL)
