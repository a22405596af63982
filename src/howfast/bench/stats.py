"""Pure statistics of timings (no torch): percentiles, a summary, and the sweep knee.

Definitions (``docs/benchmarking.md`` repeats them):

* ``percentile(xs, q)``: linear interpolation between closest ranks, numpy's default
  (``method="linear"``). Sort ``xs`` ascending into ``x[0..n-1]``; the rank is
  ``h = (n - 1) * q / 100``; with ``i = floor(h)`` the result is ``x[i] + (h - i) * (x[i+1] - x[i])``
  (just ``x[n-1]`` when ``i = n - 1``). So p0 is the minimum, p100 the maximum, p50 the median.
* ``median`` = p50; ``mean`` = sum / n; ``std`` = the sample standard deviation,
  ``sqrt(sum((x - mean)^2) / (n - 1))`` (0 for a single run).
* ``knee``: the first sweep point after which throughput grows by less than ``threshold`` (5%).
* ``steadiness``: warnings when the runs are too spread (interquartile range over 10% of the
  median, ``torch.utils.benchmark``'s threshold) or drift (with 10 runs or more, the medians of the
  first and second halves, in run order, differ by over 5% of the first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from howfast.report.measurements import KNEE_THRESHOLD, Stats

IQR_WARN = 0.10  # interquartile range / median above this: a spread-out measurement
DRIFT_WARN = 0.05  # |median(second half) / median(first half) - 1| above this: the speed changed
DRIFT_MIN_RUNS = 10


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values`` by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} is outside 0..100")
    xs = sorted(float(v) for v in values)
    h = (len(xs) - 1) * q / 100.0
    i = math.floor(h)
    if i >= len(xs) - 1:
        return xs[-1]
    return xs[i] + (h - i) * (xs[i + 1] - xs[i])


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def std(values: Sequence[float]) -> float:
    """Sample standard deviation (divides by n - 1); 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def summarize(values: Sequence[float]) -> Stats:
    """min, median, mean, std, p90, p99, max and total of ``values`` (at least one)."""
    if not values:
        raise ValueError("no timings to summarize")
    xs = sorted(float(v) for v in values)
    return Stats(
        n=len(xs),
        min=xs[0],
        median=percentile(xs, 50),
        mean=mean(xs),
        std=std(xs),
        p90=percentile(xs, 90),
        p99=percentile(xs, 99),
        max=xs[-1],
        total=math.fsum(xs),
    )


def steadiness(times_in_order: Sequence[float]) -> list[str]:
    """Warnings about a measurement that a repeat may not reproduce; empty when it looks steady.

    ``times_in_order`` are the timed runs in the order they ran. Two checks: the interquartile
    range (p75 - p25) above ``IQR_WARN`` of the median, and, with ``DRIFT_MIN_RUNS`` runs or more,
    the median of the second half of the runs differing from the first half's by more than
    ``DRIFT_WARN`` (with an odd count the middle run belongs to neither half).
    """
    warnings: list[str] = []
    if not times_in_order:
        return warnings
    median = percentile(times_in_order, 50)
    iqr = percentile(times_in_order, 75) - percentile(times_in_order, 25)
    if median > 0 and iqr > IQR_WARN * median:
        warnings.append(f"the interquartile range is {100 * iqr / median:.0f}% of the median (over "
                        f"{100 * IQR_WARN:.0f}%): the runs are spread out; other work on the machine may be interfering")
    half = len(times_in_order) // 2
    if len(times_in_order) >= DRIFT_MIN_RUNS:
        first = percentile(times_in_order[:half], 50)
        second = percentile(times_in_order[-half:], 50)
        change = second / first - 1.0 if first > 0 else 0.0
        if abs(change) > DRIFT_WARN:
            warnings.append(f"the second half of the runs has a median {100 * abs(change):.0f}% "
                            f"{'above' if change > 0 else 'below'} the first half's: the machine's speed changed "
                            "during the measurement; a repeat may differ as much (run longer, or on a quieter machine)")
    return warnings


def knee(points: Sequence[float], throughputs: Sequence[float], threshold: float = KNEE_THRESHOLD) -> float | None:
    """The first point after which throughput grows by less than ``threshold`` (a fraction).

    ``points`` are in sweep order (e.g. batch sizes 1, 2, 4, 8). Point ``i`` is the knee when
    ``throughputs[i + 1] < throughputs[i] * (1 + threshold)``. None when every step still improves
    by at least ``threshold`` (the knee lies beyond the sweep) or there are fewer than two points.
    """
    if len(points) != len(throughputs):
        raise ValueError("points and throughputs differ in length")
    for i in range(len(points) - 1):
        if throughputs[i + 1] < throughputs[i] * (1.0 + threshold):
            return points[i]
    return None
