"""The working set a cache serves (``memory.cache_capacity``, docs/roofline.md "Two bandwidths"): how
calibrate finds it, how a profile uses it, and when a model's weights count as cached."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import howfast
from howfast.bench.calibrate.measure import (
    CAPACITY_STEP,
    analysed_sample,
    cache_capacity,
    capacity_sweep,
    evictor_working_set,
    hit_share_bandwidth,
)
from howfast.errors import DeviceError
from howfast.hardware.profiles import HardwareProfile, loads_profile
from tests.hardware.conftest import make_profile

MIB = 2**20


def box(capacity: float | None, llc: float = 32 * MIB) -> HardwareProfile:
    """100 GFLOP/s, 10 GB/s from memory, 40 GB/s from the cache; 1 MiB of L2, ``llc`` of L3."""
    line = f'cache_capacity = {{ value = {capacity!r}, source = "test" }}' if capacity is not None else ""
    return make_profile(memory=f'cache_bandwidth = {{ value = 4e10, source = "test" }}\n{line}', name="box", extra=f"""
[cache]
l2 = {{ value = {1 * MIB}, source = "test" }}
l3 = {{ value = {llc!r}, source = "test" }}
""")


# ------------------------------------------------------------------ the capacity from a sweep

def test_the_capacity_is_where_the_bandwidth_falls_below_nine_tenths_from_the_cache() -> None:
    # cache 80 GB/s, memory 20 GB/s: nine tenths of the bytes from the cache run at
    # 1 / (0.9 / 80 + 0.1 / 20) = 1 / 0.01625 = 61.538 GB/s. Between 4 MiB at 80 and 8 MiB at 40
    # (log-log) it is log(80 / 61.538) / log(80 / 40) = log2(1.3) of the way: 4 MiB x 1.3 = 5.2 MiB.
    threshold = 1 / (0.9 / 80e9 + 0.1 / 20e9)
    assert math.isclose(hit_share_bandwidth(80e9, 20e9), threshold, rel_tol=1e-12)
    assert math.isclose(threshold, 61.538e9, rel_tol=1e-4)
    points = [(2 * MIB, 82e9), (4 * MIB, 80e9), (8 * MIB, 40e9), (16 * MIB, 19e9)]
    expected = 4 * MIB * 2 ** (math.log(80e9 / threshold) / math.log(2))
    assert math.isclose(cache_capacity(points, 80e9, 20e9, 32 * MIB), expected, rel_tol=1e-12)
    assert math.isclose(expected, 5.2 * MIB, rel_tol=1e-12)


def test_a_sweep_that_never_falls_gives_the_cache_size_and_one_that_starts_below_gives_less() -> None:
    assert cache_capacity([(1 * MIB, 90e9), (2 * MIB, 85e9)], 80e9, 20e9, 2 * MIB) == 2 * MIB
    assert cache_capacity([(1 * MIB, 30e9), (2 * MIB, 25e9)], 80e9, 20e9, 2 * MIB) == 1 * MIB / CAPACITY_STEP
    assert cache_capacity([(64 * MIB, 90e9), (128 * MIB, 10e9)], 80e9, 20e9, 32 * MIB) == 32 * MIB  # never above the cache
    with pytest.raises(ValueError):
        cache_capacity([], 80e9, 20e9, 32 * MIB)


def test_the_sweep_runs_from_a_32nd_of_the_cache_to_its_size_in_steps_of_root_two() -> None:
    points = capacity_sweep("cpu", 1 * MIB, min_time_s=0.001)
    sizes = [ws for ws, _ in points]
    assert sizes[0] == 2 * (64 << 10)  # two buffers of 1/32 of 1 MiB = 32 KiB, raised to the 64 KiB floor
    assert all(b / a == pytest.approx(CAPACITY_STEP, rel=1e-3) for a, b in zip(sizes, sizes[1:]))
    assert sizes[-1] <= 2 * MIB and sizes[-1] * CAPACITY_STEP > 2 * MIB
    assert all(bw > 0 for _, bw in points)


# ------------------------------------------------------------------ the profile

def test_a_profile_uses_its_measured_capacity_over_the_cache_size() -> None:
    measured = box(12 * MIB)
    assert measured.cache_bytes == 12 * MIB and measured.last_level_cache_bytes == 32 * MIB
    assert measured.bandwidth_for(12 * MIB) == (4e10, "cache")
    assert measured.bandwidth_for(13 * MIB) == (1e10, "dram")  # below the 32 MiB cache, yet beyond what it serves
    sized = box(None)
    assert sized.cache_bytes == 32 * MIB and sized.bandwidth_for(13 * MIB) == (4e10, "cache")
    again = loads_profile(measured.to_toml())
    assert again.cache_capacity is not None and again.cache_capacity.value == 12 * MIB


def test_a_capacity_without_a_source_is_refused() -> None:
    with pytest.raises(DeviceError, match="memory.cache_capacity"):
        make_profile(memory="cache_capacity = 1000000")


# ------------------------------------------------------------------ weights cached

# nn.Linear(256, 256) without bias on a 1x256 input: 256 x 256 x 4 = 262144 weight bytes; it reads
# its input and writes its output, 256 x 4 = 1024 bytes each: 2048 bytes of activations, 1024 written.
WEIGHTS, ACTIVATIONS, WRITTEN = 262144, 2048, 1024


def linear_report() -> howfast.Report:
    torch.manual_seed(0)
    return howfast.analyze(nn.Linear(256, 256, bias=False), torch.randn(1, 256))


@pytest.mark.parametrize(("capacity", "cached"), [(WEIGHTS + WRITTEN, True), (WEIGHTS + WRITTEN - 1, False),
                                                  (WEIGHTS, False)])
def test_weights_are_cached_when_the_weights_and_what_a_run_writes_fit(capacity: int, cached: bool) -> None:
    report = linear_report()
    assert (report.totals.param_bytes, report.totals.bytes_written) == (WEIGHTS, WRITTEN)
    rl = howfast.roofline(report, box(float(capacity))).roofline
    assert rl is not None
    assert rl.device.weights_cached is cached and rl.device.cache_capacity_bytes == capacity
    (op,) = rl.ops
    assert op.weights_level == ("cache" if cached else "dram")


def test_a_calibration_layer_counts_the_evictors_copy_in_its_working_set() -> None:
    # l2 1 MiB: the evictor copies 8 x l2 = 8 MiB (at most a quarter of the 32 MiB cache), two buffers
    assert evictor_working_set(box(None)) == 16 * MIB


@pytest.mark.parametrize(("capacity", "roof_s"), [
    # 0.26 MB of weights + 1 KB written + the evictor's 16 MiB fit in 32 MiB: the weights come
    # from the cache, (262144 + 2048) B / 40 GB/s = 6.6048 us (the 131072 FLOPs take 1.31 us)
    (32 * MIB, (WEIGHTS + ACTIVATIONS) / 4e10),
    # in 16 MiB they do not: 2048 B / 40 GB/s + 262144 B / 10 GB/s = 26.2656 us
    (16 * MIB, ACTIVATIONS / 4e10 + WEIGHTS / 1e10),
])
def test_a_calibration_layers_weights_are_cached_only_if_they_outlast_the_evictor(capacity: int, roof_s: float) -> None:
    torch.manual_seed(0)
    sample = analysed_sample("linear 1x256 -> 256", nn.Linear(256, 256, bias=False), (torch.randn(1, 256),),
                             box(float(capacity)))
    assert sample is not None and math.isclose(sample.roof_s, roof_s, rel_tol=1e-9)
