"""Energy estimate (hand figures, Horowitz table, profile overrides, RAPL reader) and generated explanations."""

from __future__ import annotations

import warnings

import pytest
from torch import nn

import howfast
from howfast.bench.rapl import measure_rapl, rapl_domains
from howfast.hardware.energy import HOROWITZ_2014_45NM, energy_table, estimate_energy, op_energy
from howfast.hardware.explain import explain, explain_comparison, explain_report
from howfast.hardware.roofline import roofline
from howfast.zoo.registry import build

from .conftest import make_profile


def test_horowitz_table_values_and_sources():
    table = energy_table()
    assert {k: v.value for k, v in table.items()} == {"fp32_mult_pj": 3.7, "fp32_add_pj": 0.9, "sram_read_32b_pj": 5.0,
                                                        "dram_32b_pj": 640.0}
    assert all("Horowitz, ISSCC 2014, 45 nm" in v.source for v in table.values())
    assert set(HOROWITZ_2014_45NM) == set(table)


def test_op_energy_hand_case():
    # 10 MACs (2mac FLOPs = 20): 10 multiplies + 10 adds; write-up 400 B, compulsory 100 B
    e = op_energy(10, 20, 400, 100, energy_table()).to_dict()
    assert e["compute_j"] == pytest.approx((10 * 3.7 + 10 * 0.9) * 1e-12)
    assert e["sram_j"] == pytest.approx(300 / 4 * 5.0 * 1e-12)
    assert e["dram_j"] == pytest.approx(100 / 4 * 640.0 * 1e-12)
    assert e["total_j"] == pytest.approx(e["compute_j"] + e["sram_j"] + e["dram_j"])
    assert op_energy(0, 0, 50, 100, energy_table()).sram_j == 0  # floor at 0


def test_estimate_energy_per_layer_and_profile_override():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = howfast.analyze(nn.Sequential(nn.Linear(64, 64, bias=False), nn.ReLU()).eval(), "8x64")
    result = estimate_energy(report).to_dict()
    lin = next(layer for layer in result["layers"] if layer["name"] == "0")
    row = next(r for r in report.ops if r.module == "0" and r.flops)
    expected = op_energy(row.macs, row.flops, row.memory["writeup"]["bytes"], row.memory["compulsory"]["bytes"], energy_table())
    assert lin["total_j"] == pytest.approx(expected.total_j)
    assert result["total_j"] == pytest.approx(sum(layer["total_j"] for layer in result["layers"] if layer["depth"] == 1))
    assert "estimate" in result["label"] and result["table_name"].startswith("Horowitz")
    profile = make_profile(extra='[energy]\ndram_32b_pj = { value = 64.0, source = "lower-power DRAM, test" }\n')
    low = estimate_energy(report, profile).to_dict()
    assert low["dram_j"] == pytest.approx(result["dram_j"] / 10)
    assert low["table"]["dram_32b_pj"]["source"] == "lower-power DRAM, test"
    roofline(report, "t4")  # T4 has a TDP: an upper bound from power x time
    energy = report.to_dict()["roofline"]["energy"]
    assert energy["tdp_bound_j"] == pytest.approx(70 * report.to_dict()["roofline"]["predicted_latency_s"])


def test_rapl_reader_with_a_fake_powercap_tree(tmp_path):
    assert measure_rapl(lambda: None, root=str(tmp_path / "none")) is None
    domain = tmp_path / "intel-rapl:0"
    domain.mkdir()
    counter = domain / "energy_uj"
    counter.write_text("1000000\n")
    (tmp_path / "intel-rapl:0:0").mkdir()  # a sub-domain: not counted
    assert rapl_domains(str(tmp_path)) == [str(counter)]
    calls = []

    def work() -> None:
        calls.append(1)
        counter.write_text(str(1000000 + 500000 * len(calls)))

    result = measure_rapl(work, runs=4, root=str(tmp_path))
    assert result is not None and result.energy_j_per_run == pytest.approx(0.5)


@pytest.fixture(scope="module")
def mobilenets():
    reports = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, options in (("mobilenet_v1", {}), ("mobilenet_v2", {"width": 1.4})):
            report = howfast.analyze(build(name, options), "1x3x128x128", name=name + (":width=1.4" if options else ""))
            roofline(report, "apple_a17_pro")
            reports.append(report)
    return reports


def test_explain_comparison_mobilenet_v1_vs_v2(mobilenets):
    lines = explain_comparison(mobilenets)
    text = " ".join(lines)
    assert "mobilenet_v1" in text and "mobilenet_v2:width=1.4" in text
    assert "fewer MACs" in text and "bytes per MAC" in text and "memory-bound" in text
    assert explain(mobilenets) == text


def test_explain_report_names_memory_bound_layers(mobilenets):
    lines = explain_report(mobilenets[1])
    assert "memory-bound" in lines[0] and "%" in lines[0]
    assert any("slowest memory-bound layers" in line for line in lines)
    assert any("bytes per MAC" in line for line in lines)
