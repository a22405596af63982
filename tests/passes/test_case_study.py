"""The write-up's case study: MobileNet V1 vs V2 (1.0, 1.4) vs VGG16 as feature extractors, 126x224.

The write-up's table (from Keras models, whose stride-2 layers pad bottom/right only):
params 1.6M / 0.5M / 1.0M / 15M; MACCs 255M / 111M / 214M / 8380M; accesses 283M / 159M / 286M / 8402M.
"""

from __future__ import annotations

import pytest

import howfast
from howfast import Conventions
from tests.conftest import analyze_quiet

CASES = {
    # label: (zoo name, options, cut, params, MACCs, accesses) as published
    "v1": ("mobilenet_v1", {"keras_padding": True}, "features.conv_pw_11", 1.6e6, 255e6, 283e6),
    "v2": ("mobilenet_v2", {"keras_padding": True}, "features.expanded_conv_12", 0.5e6, 111e6, 159e6),
    "v2_1.4": ("mobilenet_v2", {"keras_padding": True, "width": 1.4}, "features.expanded_conv_12", 1.0e6, 214e6, 286e6),
    "vgg16": ("vgg16", {}, "features", 15e6, 8380e6, 8402e6),
}

# The write-up rounds params to one decimal (0.5M for 0.54M): compare at that precision.
PARAM_TOLERANCE = {"v1": 0.05, "v2": 0.1, "v2_1.4": 0.05, "vgg16": 0.05}


def _report(label: str, **kwargs):
    name, options, cut, *_ = CASES[label]
    return analyze_quiet(howfast.zoo.build(name, options, device="meta"), "1x3x126x224", until=cut, fused=True, **kwargs)


@pytest.mark.parametrize("label", sorted(CASES))
def test_params_and_macs_match_the_writeup(label):
    *_, params, macs, _ = CASES[label]
    report = _report(label)
    assert report.totals.macs == pytest.approx(macs, rel=0.005)
    assert round(report.totals.params / 1e6, 1) == pytest.approx(params / 1e6, rel=PARAM_TOLERANCE[label])


@pytest.mark.parametrize("label", ["v1", "vgg16"])
def test_accesses_match_with_the_writeups_literal_conv_input(label):
    # The write-up counts a conv's input as Hin x Win x Cin x K x K x Cout whatever the stride.
    report = _report(label, conventions=Conventions(conv_reads="input"))
    assert report.totals.mem_accesses == pytest.approx(CASES[label][-1], rel=0.01)


@pytest.mark.parametrize("label", ["v2", "v2_1.4"])
def test_v2_accesses_gap_is_the_documented_one(label):
    # Our MACs match exactly, so the layers are the same; the write-up's V2 accesses are 9-10%
    # higher than its own formula gives on them (README, "The case study"). Pin the gap.
    report = _report(label, conventions=Conventions(conv_reads="input"))
    gap = 1 - report.totals.mem_accesses / CASES[label][-1]
    assert 0.07 < gap < 0.11


def test_v2_with_more_memory_per_mac_than_v1():
    v1, v14 = _report("v1"), _report("v2_1.4")
    assert v14.totals.macs < v1.totals.macs
    moved = lambda r: r.totals.bytes_read + r.totals.bytes_written  # noqa: E731
    assert moved(v14) > 1.5 * moved(v1)
    assert v14.totals.peak_activation_bytes > 2 * v1.totals.peak_activation_bytes
