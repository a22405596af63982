"""Calibration: the class fit recovers known figures; a short calibration makes a loadable profile."""

from __future__ import annotations

import pytest

from howfast.bench.calibrate import calibrate, fit_class, representatives, time_call
from howfast.hardware.profiles import loads_profile


def test_fit_class_recovers_efficiency_and_overhead():
    eff, over = 0.4, 12e-6
    samples = [(r, r / eff + over) for r in (1e-6, 50e-6, 2e-3)]
    e, o = fit_class(samples, floor_s=1e-6)
    assert e == pytest.approx(eff, rel=1e-6) and o == pytest.approx(over, rel=1e-6)


def test_fit_class_keeps_overhead_in_range_and_efficiency_positive():
    e, o = fit_class([(1e-3, 5e-4)], floor_s=2e-6)  # one sample: overhead is the floor
    assert o == 2e-6 and e == pytest.approx(1e-3 / (5e-4 - 2e-6))
    e, o = fit_class([(1e-3, 1e-5), (2e-3, 1e-5)], floor_s=0.0)  # flat: efficiency very high, never negative
    assert e > 0 and 0 <= o <= 1e-5


def test_time_call_counts_runs():
    times = time_call(lambda: None, warmup=0, min_runs=5, min_time_s=0.0)
    assert len(times) == 5 and all(t >= 0 for t in times)


def test_representatives_cover_every_class_label():
    labels = [label.split()[0] for label, _, _ in representatives()]
    for kind in ("conv", "pwconv", "dwconv", "linear", "sdpa", "maxpool", "batchnorm", "relu", "gelu"):
        assert kind in labels
    assert len(representatives(quick=True)) < len(representatives())


def test_short_calibration_makes_a_valid_profile():
    result = calibrate(threads=1, quick=True, classes=False, dtypes=("fp32",), name="ci_box")
    profile = result.profile
    assert profile.name == "ci_box" and profile.peak("fp32") > 1e8
    assert profile.bandwidth_bytes_per_s > 1e8 and 0 < profile.overhead_s < 1e-3
    for key, fig in profile.figures().items():
        assert "howfast calibrate" in fig.source or "sys/devices" in fig.source, key
    again = loads_profile(profile.to_toml())
    assert again.figures() == profile.figures() and again.calibration["threads"] == 1
    keys = [m.key for m in result.measurements]
    assert keys[:2] == ["peak_flops.fp32", "memory.bandwidth"] and "overhead.per_op_s" in keys


def test_fit_class_with_weight_bytes_recovers_the_weight_term():
    eff, over, per_byte = 1.5, 10e-6, 1e-10
    samples = [(r, w, r / eff + w * per_byte + over) for r, w in ((1e-6, 1e3), (1e-3, 1e5), (1e-3, 1e7), (5e-4, 4e6))]
    e, o, c = fit_class(samples, floor_s=1e-6)
    assert e == pytest.approx(eff, rel=1e-6) and o == pytest.approx(over, rel=1e-6) and c == pytest.approx(per_byte, rel=1e-6)
    # weights that explain nothing get no weight term (never negative)
    e, o, c = fit_class([(r, w, r / eff + over) for r, w in ((1e-6, 1e7), (1e-3, 1e3), (2e-3, 5e6))], floor_s=0.0)
    assert c >= 0 and e == pytest.approx(eff, rel=1e-3)


def test_cpu_clock_needs_one_thread():
    from howfast.errors import DeviceError

    with pytest.raises(DeviceError, match="threads=1"):
        calibrate(threads=2, clock="cpu", classes=False)
