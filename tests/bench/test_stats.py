"""Statistics on synthetic timings, against hand-computed values (docs/benchmarking.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from howfast.bench.stats import knee, mean, percentile, std, steadiness, summarize


def test_percentiles_of_five_values_by_linear_interpolation() -> None:
    xs = [5.0, 1.0, 4.0, 2.0, 3.0]  # unsorted on purpose
    # rank h = (n - 1) * q / 100 = 4q/100
    assert percentile(xs, 0) == 1.0
    assert percentile(xs, 50) == 3.0  # h = 2
    assert percentile(xs, 90) == pytest.approx(4.6)  # h = 3.6: 4 + 0.6 * (5 - 4)
    assert percentile(xs, 99) == pytest.approx(4.96)  # h = 3.96
    assert percentile(xs, 100) == 5.0
    assert percentile(xs, 25) == 2.0  # h = 1


def test_percentiles_of_four_values() -> None:
    xs = [0.040, 0.010, 0.030, 0.020]
    assert percentile(xs, 50) == pytest.approx(0.025)  # h = 1.5, halfway between 0.020 and 0.030
    assert percentile(xs, 90) == pytest.approx(0.037)  # h = 2.7: 0.030 + 0.7 * 0.010
    assert percentile(xs, 99) == pytest.approx(0.0397)  # h = 2.97


def test_summary_of_synthetic_timings() -> None:
    xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
    s = summarize(xs)
    assert s.n == 8
    assert s.min == 2.0 and s.max == 9.0
    assert s.mean == 5.0
    assert s.median == 4.5  # h = 3.5 between 4 and 5
    assert s.std == pytest.approx(math.sqrt(32 / 7))  # sample std: sum of squares 32, n - 1 = 7
    assert s.p90 == pytest.approx(7.6)  # h = 6.3: 7 + 0.3 * 2
    assert s.p99 == pytest.approx(8.86)  # h = 6.93: 7 + 0.93 * 2
    assert s.total == 40.0
    assert s.scaled(1e3)["median"] == 4500.0


def test_one_timing() -> None:
    s = summarize([0.25])
    assert (s.min, s.median, s.mean, s.std, s.p90, s.p99, s.max) == (0.25, 0.25, 0.25, 0.0, 0.25, 0.25, 0.25)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        summarize([])
    assert std([3.0]) == 0.0
    assert mean([1.0, 2.0]) == 1.5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=1e-6, max_value=10.0), min_size=1, max_size=40), st.floats(min_value=0, max_value=100))
def test_percentile_matches_numpy_linear(xs: list[float], q: float) -> None:
    assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)), rel=1e-9, abs=1e-12)
    assert std(xs) == pytest.approx(float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0, rel=1e-7, abs=1e-12)


def test_knee_rule() -> None:
    batches = [1, 2, 4, 8]
    # 180 -> 185 is +2.8% (< 5%): throughput stops improving after batch 2
    assert knee(batches, [100.0, 180.0, 185.0, 300.0]) == 2
    assert knee(batches, [100.0, 200.0, 400.0, 800.0]) is None  # still improving
    assert knee(batches, [100.0, 90.0, 80.0, 70.0]) == 1  # never improves
    # exactly +5% counts as improving; 105 -> 106 (< 110.25) does not
    assert knee([1, 2, 4], [100.0, 105.0, 106.0]) == 2
    assert knee([1], [100.0]) is None
    with pytest.raises(ValueError):
        knee([1, 2], [1.0])


# ----------------------------------------------------------------------------- steadiness


def test_steady_runs_give_no_warning() -> None:
    assert steadiness([0.010] * 12) == []
    assert steadiness([]) == []


def test_drift_between_halves_is_reported_with_its_size() -> None:
    # first half median 10 ms, second 11.5 ms: +15%; IQR: p25 = 10, p75 = 11.5 over a median of
    # 10.75 is 14% -> both warnings
    times = [0.010] * 6 + [0.0115] * 6
    warnings = steadiness(times)
    assert len(warnings) == 2
    assert warnings[0].startswith("the interquartile range is 14% of the median (over 10%)")
    assert warnings[1].startswith("the second half of the runs has a median 15% above the first half's")


def test_drift_down_and_odd_count_skips_the_middle_run() -> None:
    # 11 runs: halves are runs 0-4 (median 10.6 ms) and 6-10 (median 10 ms); the middle run (50 ms) is
    # in neither; -5.66% -> "below"; IQR: p25 = 10, p75 = 10.6 -> 6% of 10.6, no spread warning
    times = [0.0106] * 5 + [0.050] + [0.010] * 5
    warnings = steadiness(times)
    assert len(warnings) == 1
    assert warnings[0].startswith("the second half of the runs has a median 6% below the first half's")


def test_drift_needs_ten_runs_and_more_than_five_percent() -> None:
    assert steadiness([0.010] * 4 + [0.0108] * 5) == []  # 9 runs: no drift check; IQR 0.8 / 10.8 = 7%
    assert steadiness([0.010] * 5 + [0.0104] * 5) == []  # 10 runs, +4%: under the threshold
    assert len(steadiness([0.010] * 5 + [0.0106] * 5)) == 1  # +6%: reported
