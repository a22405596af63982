"""Per-layer measured time: hooks, medians, self time and "(other)", overhead."""

from __future__ import annotations

import pytest
import torch

from howfast.bench import per_layer_times
from howfast.bench.layers import OTHER, LayerTimes
from howfast.zoo import build
from tests.bench.models import Sleep, Twice


def test_sleep_tree_gets_its_known_times() -> None:
    times = per_layer_times(Twice(), (torch.zeros(1, 4),), {}, runs=3, warmup=1)
    assert isinstance(times, LayerTimes)
    assert times.calls["a"] == 2 and times.calls["b.0"] == 1 and times.calls[""] == 1
    assert 0.020 <= times.by_module["a"] < 0.035  # two calls of 10 ms, summed per run
    assert 0.020 <= times.by_module["b.0"] < 0.030
    assert times.by_module["b"] >= times.by_module["b.0"]
    assert times.by_module[""] >= 0.045
    # leaves carry self time; (other) holds the root's own 5 ms sleep and glue
    assert set(times.self_by_module) == {"a", "b.0", "b.1", OTHER}
    assert 0.004 <= times.self_by_module[OTHER] < 0.015
    assert sum(times.self_by_module.values()) == pytest.approx(times.total_s)
    assert times.leaf_sum_s == pytest.approx(times.total_s - times.self_by_module[OTHER])
    assert 0.045 <= times.plain_total_s < 0.08
    assert times.overhead_ratio == pytest.approx(times.total_s / times.plain_total_s)
    assert 0.8 < times.overhead_ratio < 1.3
    assert times.types["b.1"] == "ReLU"


def test_real_model_sums_to_the_hooked_total() -> None:
    model = build("mobilenet_v2", {"width": 0.35})
    times = per_layer_times(model, (torch.randn(1, 3, 32, 32),), runs=2, warmup=0)
    assert sum(times.self_by_module.values()) == pytest.approx(times.total_s)
    assert all(v >= 0 for k, v in times.self_by_module.items() if k != OTHER)
    assert "features.conv_first.conv" in times.self_by_module or any(k.endswith(".conv") for k in times.self_by_module)
    data = times.to_dict()
    assert data["overhead_ratio"] == times.overhead_ratio and data["runs"] == 2
    # hooks are removed afterwards
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_a_leaf_model_and_kwargs() -> None:
    times = per_layer_times(Sleep(0.005), (), {"x": torch.zeros(2, 2)}, runs=2, warmup=0)
    assert set(times.self_by_module) == {"", OTHER}
    assert times.self_by_module[""] >= 0.005
