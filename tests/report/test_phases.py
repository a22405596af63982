"""A report of several phases of one workload (``pipeline.analyze_phases``): each phase has the cost
fields and module tree of a report, and the workload's figures are the phases' weighted by how many
times each runs (docs/json-schema.md, "Phases"). Figures derived by hand: ``Linear(8, 4, bias=False)``
then ``ReLU`` on a batch of b rows costs 32b MACs, 64b + 4b FLOPs (the product, then the ReLU)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import howfast
from howfast.capture import capture
from howfast.pipeline import PhaseGraph, analyze_graph, analyze_phases


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 4, bias=False), nn.ReLU()).eval()


def graph(batch: int):
    return capture(model(), (torch.randn(batch, 8),))


@pytest.fixture(scope="module")
def workload():
    # a "prefill" at batch 4 once, then three "decode" steps at batch 1
    return analyze_phases([PhaseGraph("prefill", graph(4)), PhaseGraph("decode", graph(1), count=3)])


def test_each_phase_has_its_own_costs(workload):
    prefill, decode = workload.phases
    assert (prefill.name, prefill.count, decode.name, decode.count) == ("prefill", 1, "decode", 3)
    assert prefill.totals.macs == 32 * 4 and decode.totals.macs == 32 * 1
    assert prefill.totals.flops == 68 * 4 and decode.totals.flops == 68
    assert prefill.layer("0").macs == 128 and decode.layer("1").flops == 4


def test_the_workload_is_the_weighted_sum(workload):
    t = workload.totals
    assert t.macs == 128 + 3 * 32 == 224
    assert t.flops == 272 + 3 * 68 == 476
    # bytes: weights 32 floats read by every run; activations in and out scale with the batch
    prefill, decode = workload.phases
    assert t.bytes_read == prefill.totals.bytes_read + 3 * decode.totals.bytes_read
    assert t.peak_activation_bytes == max(prefill.totals.peak_activation_bytes, decode.totals.peak_activation_bytes)
    assert t.params == 32  # the model's, not summed
    assert workload.layer("0").macs == 224 and workload.layer("0").calls == 1 + 3
    assert workload.coverage.ops == prefill.coverage.ops + 3 * decode.coverage.ops
    assert len(workload.ops) == len(prefill.ops) + len(decode.ops)  # the ops of each phase, once


def test_json_carries_every_phase_in_full(workload):
    data = json.loads(workload.render("json"))
    assert [p["name"] for p in data["phases"]] == ["prefill", "decode"]
    assert data["phases"][1]["totals"]["macs"] == 32 and data["phases"][1]["count"] == 3
    assert {"layers", "ops", "op_types", "coverage", "activation_timeline"} <= set(data["phases"][0])
    assert data["totals"]["macs"] == 224


def test_a_forward_pass_is_one_phase_whose_figures_are_the_reports():
    report = analyze_graph(graph(2))
    (phase,) = report.phases
    assert phase.name == "forward" and phase.totals is report.totals and phase.layers is report.layers
    data = report.to_dict()
    assert data["phases"] == [{"name": "forward", "count": 1, "totals": data["totals"]}]  # not repeated


def test_rooflines_and_renderings_cover_the_phases(workload):
    howfast.roofline(workload, "t4")
    prefill, decode = workload.phases
    assert prefill.roofline is not None and decode.roofline is not None
    assert workload.roofline is not None
    # the workload runs the prefill once and the decode step three times
    whole = workload.roofline.predicted_latency_s
    assert whole == pytest.approx(prefill.roofline.predicted_latency_s + 3 * decode.roofline.predicted_latency_s)
    assert workload.roofline.layer("0").flops == workload.layer("0").flops == 256 + 3 * 64
    text = workload.render("table")
    assert "phases: prefill: 128 MACs" in text and "decode x3: 32 MACs" in text
