"""The timing loop's progress contract (``timing.Tick``), recorded without a terminal.

After every warm-up run and every timed run the callback gets where the loop is: ``done`` of
``total`` runs, and with a budget ``spent_s`` of ``budget_s`` seconds. ``done`` never exceeds
``total`` and never goes back within a phase; with a fixed count the last tick has ``done == total``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from howfast.bench.checks import MAX_RUNS
from howfast.bench.timing import Plan, Tick, time_calls


def record(plan: Plan, call: Callable[[], object] = lambda: None) -> tuple[list[Tick], list[float], str]:
    """Every tick of ``call`` timed under ``plan``, the times and what stopped them."""
    ticks: list[Tick] = []
    times, stopped_by = time_calls(call, plan, progress=ticks.append)
    return ticks, times, stopped_by


def phase(ticks: list[Tick], name: str) -> list[Tick]:
    return [t for t in ticks if t.phase == name]


def assert_contract(ticks: list[Tick]) -> None:
    """done within total, never going back, fractions in 0..1 and never going back, within each phase."""
    for name in dict.fromkeys(t.phase for t in ticks):
        mine = phase(ticks, name)
        assert all(0 <= t.done <= t.total for t in mine), name
        assert [t.done for t in mine] == sorted(t.done for t in mine), name
        fractions = [t.fraction for t in mine]
        assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions), name
        assert mine[-1].final and mine[-1].fraction == 1.0 and not any(t.final for t in mine[:-1]), name


def test_a_fixed_count_ends_at_its_total() -> None:
    ticks, times, stopped_by = record(Plan(warmup=3, max_runs=7))
    assert_contract(ticks)
    assert [(t.done, t.total) for t in phase(ticks, "warm-up")] == [(1, 3), (2, 3), (3, 3)]
    timing = phase(ticks, "timing")
    # one tick after each of the first 6 runs, then the final one after the 7th
    assert [(t.done, t.total) for t in timing] == [(n, 7) for n in range(1, 8)]
    assert timing[-1].text == "7/7 runs" and timing[2].text == "3/7 runs"
    assert timing[2].fraction == pytest.approx(3 / 7)
    assert len(times) == 7 and stopped_by == "runs"
    assert all(t.budget_s is None for t in ticks)


def test_no_warm_up_no_warm_up_ticks() -> None:
    ticks, _, _ = record(Plan(warmup=0, max_runs=2))
    assert [t.phase for t in ticks] == ["timing", "timing"] and ticks[-1].done == ticks[-1].total == 2


def test_a_budget_shows_seconds_of_the_budget() -> None:
    ticks, times, stopped_by = record(Plan(warmup=0, max_runs=MAX_RUNS, target_s=0.05), lambda: time.sleep(0.005))
    assert stopped_by == "budget"
    assert_contract(ticks)
    last = ticks[-1]
    assert last.done == len(times) < last.total and last.budget_s == 0.05 and last.spent_s >= 0.05
    assert last.text == f"0.050/0.05 s, {len(times)} runs"  # spent shown up to the budget; no run limit to show
    assert all(t.spent_s <= u.spent_s for t, u in zip(ticks, ticks[1:]))


def test_runs_or_a_budget_whichever_first() -> None:
    ticks, times, stopped_by = record(Plan(warmup=0, max_runs=5, target_s=10.0))
    assert stopped_by == "runs" and len(times) == 5
    assert_contract(ticks)
    assert ticks[-1].done == ticks[-1].total == 5 and ticks[-1].text.endswith(" s, 5/5 runs")


@pytest.mark.parametrize(("tick", "text", "fraction"), [
    (Tick("timing", 42, 100), "42/100 runs", 0.42),
    (Tick("timing", 42, 100, 3.14, 10.0), "3.1/10 s, 42/100 runs", 0.42),  # the runs lead: 42% against 31%
    (Tick("timing", 20, 100, 5.0, 10.0), "5.0/10 s, 20/100 runs", 0.5),  # the budget leads
    (Tick("timing", 42, MAX_RUNS, 3.14, 10.0), "3.1/10 s, 42 runs", 0.314),  # --budget alone: no run limit to show
    (Tick("timing", 42, 100, 3.14, 10.0, final=True), "3.1/10 s, 42/100 runs", 1.0),
    (Tick("warm-up", 2, 5), "2/5 runs", 0.4),
])
def test_tick_text_and_fraction(tick: Tick, text: str, fraction: float) -> None:
    assert tick.text == text and tick.fraction == pytest.approx(fraction)
