"""Batch and size sweeps, and the knee where throughput stops improving."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from howfast.bench import sweep
from howfast.bench.stats import knee
from howfast.bench.sweep import parse_list
from howfast.bench.timing import Tick
from howfast.errors import BenchmarkError, UsageError
from tests.bench.models import Sleep


def test_constant_time_keeps_improving() -> None:
    result = sweep(Sleep(0.008), "1x4", batches=[1, 2, 4], runs=3, warmup=0)
    assert [r.batch for r in result.rows] == [1, 2, 4]
    assert [r.inputs for r in result.rows] == [["1x4"], ["2x4"], ["4x4"]]
    assert result.knees == {None: None}  # throughput doubles at every step
    data = result.to_dict()["sweep"]
    assert data["knee"] == [{"size": None, "batch": None}] and data["knee_threshold"] == 0.05
    assert data["rows"][1]["throughput_items_per_s"] == pytest.approx(2 / data["rows"][1]["latency_s"]["median"])


def test_time_proportional_to_batch_has_its_knee_at_the_first_point() -> None:
    result = sweep(Sleep(0.0, per_item=0.006), "1x4", batches=[1, 2, 4], runs=3, warmup=0)
    assert result.knees[None] == knee([1, 2, 4], [r.throughput for r in result.rows])
    assert result.knees[None] == 1


def test_size_sweep_with_batches() -> None:
    model = nn.Conv2d(3, 4, 3).eval()
    result = sweep(model, torch.randn(1, 3, 8, 8), batches=[1, 2], sizes=[8, 12], runs=2, warmup=0)
    assert [(r.size, r.batch) for r in result.rows] == [(8, 1), (8, 2), (12, 1), (12, 2)]
    assert result.rows[3].inputs == ["2x3x12x12"]
    assert set(result.knees) == {8, 12}


def test_size_sweep_at_one_batch_and_sequence_length() -> None:
    model = nn.Embedding(10, 4).eval()
    result = sweep(model, "1x16:int64", sizes=[4, 8], batch=3, runs=2, warmup=0)
    assert [r.inputs for r in result.rows] == [["3x4:int64"], ["3x8:int64"]]
    assert result.knees == {} and result.to_dict()["sweep"]["knee"] is None


def test_each_point_reports_its_ticks_under_its_place_in_the_sweep() -> None:
    ticks: list[Tick] = []
    sweep(nn.Linear(4, 2).eval(), "1x4", batches=[1, 2], runs=3, warmup=1, progress=ticks.append)
    phases = list(dict.fromkeys(t.phase for t in ticks))
    assert phases == ["batch 1 (1/2) warm-up", "batch 1 (1/2) timing", "batch 2 (2/2) warm-up", "batch 2 (2/2) timing"]
    for name in phases:
        last = [t for t in ticks if t.phase == name][-1]
        assert last.final and last.done == last.total == (1 if "warm-up" in name else 3)
    assert all(t.done <= t.total for t in ticks)


def test_parse_list_and_errors() -> None:
    assert parse_list("1, 2,4", "batch") == [1, 2, 4]
    assert parse_list(None, "batch") is None
    with pytest.raises(BenchmarkError, match="whole numbers"):
        parse_list("1,two", "batch")
    with pytest.raises(BenchmarkError, match="batch must be"):
        parse_list("1,0", "batch")
    with pytest.raises(BenchmarkError, match="is empty"):
        parse_list(",", "size")
    with pytest.raises(UsageError, match="needs batches"):
        sweep(Sleep(0.0), "1x4")
    with pytest.raises(BenchmarkError, match="at batch 2: the model raised"):
        sweep(_FailsAboveOne(), "1x4", batches=[1, 2], runs=1, warmup=1)


class _FailsAboveOne(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 1:
            raise ValueError("too big")
        return x
