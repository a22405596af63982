"""The benchmark runner through the Python API: counts, budget, batch, threads, errors, attach."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import howfast
from howfast.bench import BenchmarkResult, attach, benchmark
from howfast.bench.inputs import rebatch, resize
from howfast.bench.timing import Tick
from howfast.errors import BenchmarkError, DeviceError, UsageError
from tests.bench.models import Raises, Sleep


def linear() -> nn.Module:
    return nn.Linear(8, 4).eval()


def test_runs_and_statistics() -> None:
    seen: list[Tick] = []
    result = benchmark(linear(), torch.randn(2, 8), runs=7, warmup=2, progress=seen.append)
    assert isinstance(result, BenchmarkResult)
    assert result.stats.n == 7 and len(result.times_s) == 7
    assert result.stopped_by == "runs"
    assert result.batch == 2
    assert result.inputs == ["2x8"]
    assert result.throughput == pytest.approx(2 / result.stats.median)
    assert result.stats.min <= result.stats.median <= result.stats.p90 <= result.stats.p99 <= result.stats.max
    assert {t.phase for t in seen} == {"warm-up", "timing"}
    assert (seen[-1].phase, seen[-1].done, seen[-1].total, seen[-1].fraction) == ("timing", 7, 7, 1.0)
    assert [(t.done, t.total) for t in seen if t.phase == "warm-up"] == [(1, 2), (2, 2)]
    data = result.to_dict()
    assert set(data["latency_s"]) >= {"min", "median", "mean", "std", "p90", "p99"}
    assert data["throughput_items_per_s"] == pytest.approx(result.throughput)
    env = data["environment"]
    for key in ("torch_version", "threads", "cpu_model", "device_name", "batch", "dtype", "runtime"):
        assert key in env
    assert env["batch"] == 2 and env["dtype"] == "float32" and env["runtime"] == "torch"


def test_per_layer_runs_report_their_ticks_after_the_timed_runs() -> None:
    seen: list[Tick] = []
    benchmark(linear(), "2x8", runs=4, warmup=1, per_layer=True, layer_runs=3, progress=seen.append)
    assert list(dict.fromkeys(t.phase for t in seen)) == ["warm-up", "timing", "per-layer warm-up", "per-layer timing"]
    last = seen[-1]
    assert (last.phase, last.done, last.total, last.final) == ("per-layer timing", 3, 3, True)


def test_exported_from_howfast() -> None:
    assert howfast.benchmark is benchmark
    assert "benchmark" in howfast.__all__


def test_sleep_model_is_timed_right() -> None:
    result = benchmark(Sleep(0.02), "1x4", runs=5, warmup=1)
    assert 0.02 <= result.stats.median < 0.06
    assert result.stats.min >= 0.02


def test_shapes_and_batch_override() -> None:
    result = benchmark(linear(), "3x8", runs=2, warmup=0, batch=5)
    assert result.batch == 5 and result.inputs == ["5x8"]


def test_keyword_inputs_only() -> None:
    result = benchmark(nn.Embedding(10, 4).eval(), kwargs={"input": torch.zeros(3, 5, dtype=torch.long)}, runs=2, warmup=0)
    assert result.batch == 3 and result.inputs == ["input=3x5:int64"]


def test_budget_stops_the_runs() -> None:
    result = benchmark(Sleep(0.01), "1x4", budget_s=0.15, warmup=0)
    assert result.stopped_by == "budget"
    assert 2 <= result.stats.n <= 16
    assert result.to_dict()["budget_s"] == 0.15


def test_budget_shorter_than_one_run() -> None:
    with pytest.raises(BenchmarkError, match=r"budget 0.001 s is shorter than one run \(0.0[0-9]+ s\)"):
        benchmark(Sleep(0.03), "1x4", budget_s=0.001, warmup=0)


def test_threads_are_set_and_restored() -> None:
    before = torch.get_num_threads()
    result = benchmark(linear(), "1x8", runs=2, warmup=0, threads=1)
    assert result.threads == 1 and result.environment.threads == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("options, text", [
    ({"runs": 0}, "runs must be"),
    ({"runs": -1}, "runs must be"),
    ({"warmup": -1}, "warm-up must be"),
    ({"threads": 0}, "threads must be"),
    ({"batch": 0}, "batch must be"),
    ({"budget_s": 0.0}, "budget must be"),
    ({"budget_s": -2.0}, "budget must be"),
])
def test_bad_counts(options: dict, text: str) -> None:
    with pytest.raises(BenchmarkError, match=text):
        benchmark(linear(), "1x8", **options)


def test_model_that_raises_in_warmup() -> None:
    with pytest.raises(BenchmarkError, match="the model raised during warm-up run 1: RuntimeError: boom$"):
        benchmark(Raises(), "1x4", runs=2)
    with pytest.raises(BenchmarkError, match="during timed run 1"):
        benchmark(Raises(), "1x4", runs=2, warmup=0)


def test_meta_and_missing_cuda() -> None:
    with torch.device("meta"):
        model = nn.Linear(4, 4)
    with pytest.raises(BenchmarkError, match="meta"):
        benchmark(model, "1x4", runs=1)
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA device"):
            benchmark(linear(), "1x8", runs=1, device="cuda")
    with pytest.raises(UsageError, match="runtime"):
        benchmark(linear(), "1x8", runs=1, runtime="tvm")


def test_rebatch_and_resize_tile_values() -> None:
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    (big,), _ = resize((image,), {}, 6)
    assert big.shape == (1, 1, 6, 6)
    assert torch.equal(big[..., 4, :4], image[..., 0, :])
    ids = torch.arange(5).reshape(1, 5)
    _, kw = resize((), {"ids": ids}, 3)
    assert torch.equal(kw["ids"], torch.tensor([[0, 1, 2]]))
    (batched,), _ = rebatch((torch.tensor([[1.0], [2.0]]),), {}, 3)
    assert batched.flatten().tolist() == [1.0, 2.0, 1.0]
    with pytest.raises(UsageError, match="no input has spatial dims"):
        resize((torch.randn(2, 8),), {}, 4)


def test_attach_fills_report_benchmark() -> None:
    model = linear()
    report = howfast.analyze(model, "2x8")
    result = benchmark(model, "2x8", runs=3, warmup=0)
    assert attach(report, result) is report
    data = report.to_dict()["benchmark"]
    assert data["latency_s"]["median"] == result.stats.median
    assert data["batch"] == 2 and "times_s" not in data
    assert data["environment"]["torch_version"] == torch.__version__
