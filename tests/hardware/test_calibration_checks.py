"""What ``howfast calibrate`` says of figures that are not what their names suggest (issue 17: "plausible
or flagged"): a cache bandwidth not above the memory's, and efficiencies above 1 or implausibly high."""

from __future__ import annotations

from howfast.bench.calibrate.assemble import CalibrationResult, ClassFit
from howfast.bench.calibrate.checks import IMPLAUSIBLE_EFFICIENCY, figure_checks
from howfast.cli.calibrate_output import render
from howfast.hardware.profiles import HardwareProfile
from tests.hardware.conftest import make_profile


def profile(cache_bw: float) -> HardwareProfile:
    return make_profile(bandwidth=2e10, memory=f'cache_bandwidth = {{ value = {cache_bw!r}, source = "test" }}', name="box")


def fit(cls: str, efficiency: float) -> ClassFit:
    return ClassFit(op_class=cls, efficiency=efficiency, overhead_s=1e-5, samples=[])


def test_plausible_figures_raise_nothing() -> None:
    assert figure_checks(profile(8e10), {"conv": 0.9, "norm": 0.3}) == []


def test_a_cache_bandwidth_not_above_the_memorys_is_flagged() -> None:
    (check,) = figure_checks(profile(1.5e10), {})
    assert check.startswith("memory.cache_bandwidth 15.0 GB/s is not above memory.bandwidth 20.0 GB/s")


def test_efficiencies_above_one_are_explained_and_wild_ones_flagged() -> None:
    efficiencies = {"conv": 1.29, "gemm": 0.95, "pool": IMPLAUSIBLE_EFFICIENCY + 0.1}
    explained, flagged = figure_checks(profile(8e10), efficiencies)
    assert explained.startswith("efficiency above 1 (conv 1.29, pool 3.10): ")
    assert "not a share of the hardware's peak" in explained
    assert flagged.startswith("implausible: pool more than 3x faster than the roof")


def test_the_checks_are_printed_with_the_calibration() -> None:
    result = CalibrationResult(profile=profile(1.5e10), measurements=[], fits={"conv": fit("conv", 1.29)},
                               elapsed_s=1.0, threads=1)
    text = " ".join(render(result, 120, False).split())
    assert "check: memory.cache_bandwidth 15.0 GB/s is not above" in text
    assert "check: efficiency above 1 (conv 1.29)" in text
