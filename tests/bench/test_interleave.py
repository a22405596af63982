"""Interleaved timing of several models (``howfast.bench.interleave``) and its use by ``compare --bench``."""

from __future__ import annotations

import json

import pytest
import torch

from howfast.bench.interleave import Interleaved, benchmark_interleaved
from howfast.cli.app import main
from howfast.errors import BenchmarkError

from .models import Raises, Sleep


def test_rounds_runs_and_order() -> None:
    x = torch.ones(1, 4)
    timed = benchmark_interleaved([(Sleep(0.001), x, None), (Sleep(0.006), x, None)], names=["fast", "slow"],
                                  runs=7, rounds=3, warmup=1)
    # ceil(7 / 3) = 3 timed runs per round, 3 rounds -> 9 runs per model, one median per round
    assert [r.stats.n for r in timed.results] == [9, 9]
    assert [len(m) for m in timed.round_medians_s] == [3, 3]
    assert [r.model for r in timed.results] == ["fast", "slow"]
    assert timed.results[0].stats.median < timed.results[1].stats.median
    assert timed.faster_rounds(0, 1) == 3 and timed.ties() == []  # 1 ms against 6 ms: every round agrees
    env = timed.results[0].environment.to_dict()
    assert env["interleaved"] == {"models": 2, "rounds": 3, "runs_per_round": 3} and env["allocator"]


def test_ties_are_pairs_the_rounds_disagree_on() -> None:
    # rounds (ms): A 10 12 10; B 11 11 11; C 20 20 20 -> A faster than B in 2 of 3 (a tie), C slower in all
    timed = Interleaved(results=[None, None, None],  # type: ignore[list-item]
                        round_medians_s=[[0.010, 0.012, 0.010], [0.011, 0.011, 0.011], [0.020, 0.020, 0.020]])
    assert timed.ties() == [(0, 1, 2)]
    assert timed.faster_rounds(2, 0) == 0 and timed.faster_rounds(0, 2) == 3


def test_errors_name_the_model() -> None:
    x = torch.ones(1, 4)
    with pytest.raises(BenchmarkError, match=r"^boom-model: the model raised during warm-up run 1: RuntimeError: boom"):
        benchmark_interleaved([(Sleep(0.0), x, None), (Raises(), x, None)], names=["ok", "boom-model"], runs=2)
    with pytest.raises(BenchmarkError, match="rounds must be a whole number of at least 1, got 0"):
        benchmark_interleaved([(Sleep(0.0), x, None)], runs=2, rounds=0)


def test_compare_bench_reports_rounds_and_notes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", "mobilenet_v2:width=0.35", "resnet18", "-i", "1x3x32x32", "--bench", "--runs", "4",
                 "--rounds", "2", "--threads", "1", "-f", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data["measurement_notes"], list)
    benches = data["benchmarks"]
    # 2 rounds of ceil(4 / 2) = 2 timed runs: 4 runs and 2 round medians per model
    assert [b["benchmark"]["runs"] for b in benches] == [4, 4]
    assert [len(b["round_medians_s"]) for b in benches] == [2, 2]
    assert [r["latency_s"] for r in data["comparison"]] == [b["median_s"] for b in benches]
