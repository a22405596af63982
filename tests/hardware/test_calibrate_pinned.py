"""The fit through a class's overhead chain (``fit_pinned``), the chains and the data-movement layers.

Every expected figure is computed by hand from ``t = r / e + w * c + o`` (docs/roofline.md,
section 4): samples made exactly from known figures must give those figures back.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import howfast
from howfast.bench.calibrate import fit_pinned
from howfast.bench.calibrate.assemble import WEIGHT_FORMULA, ClassStage, Conditions, fit_one_class
from howfast.bench.calibrate.measure import TimedSample
from howfast.bench.calibrate.representatives import (
    CHAIN_LENGTH,
    CHAIN_SUFFIX,
    chain_length,
    make_input,
    overhead_chains,
    representatives,
)


def test_pinned_fit_recovers_efficiency_and_overhead() -> None:
    eff, over = 0.5, 10e-6
    samples = [(r, 0.0, r / eff + over) for r in (1e-4, 1e-3)]
    pin = (1e-6, 0.0, 1e-6 / eff + over)  # 12 us an op
    e, o, c = fit_pinned(samples, pin, floor_s=1e-6)
    assert e == pytest.approx(eff, rel=1e-9) and o == pytest.approx(over, rel=1e-9) and c == 0.0


def test_pinned_fit_recovers_the_weight_term() -> None:
    eff, per_byte, over = 1.5, 1e-10, 5e-6
    samples = [(r, w, r / eff + w * per_byte + over) for r, w in ((1e-3, 1e5), (1e-3, 1e7), (5e-4, 4e6))]
    pin = (1e-7, 1e3, 1e-7 / eff + 1e3 * per_byte + over)
    e, o, c = fit_pinned(samples, pin, with_w=True, floor_s=1e-6)
    assert e == pytest.approx(eff, rel=1e-9) and c == pytest.approx(per_byte, rel=1e-9) and o == pytest.approx(over, rel=1e-9)


def test_pinned_fit_passes_through_the_pin_when_the_samples_disagree() -> None:
    # two layers that no single line explains: the fit still goes exactly through the chain's per-op time
    pin = (2e-6, 0.0, 20e-6)
    e, o, _ = fit_pinned([(1e-3, 0.0, 2.1e-3), (2e-3, 0.0, 3.8e-3)], pin, floor_s=1e-6)
    assert o + pin[0] / e == pytest.approx(pin[2], rel=1e-12)
    # k minimises sum(((k (r - r0) + T) / t - 1)^2): k = sum(x y) / sum(x x), x = (r - r0) / t, y = 1 - T / t
    xs = [(1e-3 - 2e-6) / 2.1e-3, (2e-3 - 2e-6) / 3.8e-3]
    ys = [1 - 20e-6 / 2.1e-3, 1 - 20e-6 / 3.8e-3]
    k = sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)
    assert e == pytest.approx(1 / k, rel=1e-9)


def test_pinned_overhead_never_falls_below_the_dispatch_floor() -> None:
    # the pin says 0.5 us an op with a roof of 0.4 us: the overhead is held at the 1 us floor and k fitted with it
    e, o, _ = fit_pinned([(1e-3, 0.0, 2e-3 + 1e-6)], (0.4e-6, 0.0, 0.5e-6), floor_s=1e-6)
    assert o == 1e-6 and e == pytest.approx(0.5, rel=1e-9)


def test_pin_alone_gives_efficiency_one() -> None:
    e, o, c = fit_pinned([], (1e-6, 0.0, 9e-6), floor_s=1e-6)
    assert (e, c) == (1.0, 0.0) and o == pytest.approx(8e-6)


def _sample(label: str, cls: str, roof: float, weights: int, t: float, chain: int = 0) -> TimedSample:
    return TimedSample(label=label, op_class=cls, flops=0, bytes=0, weight_bytes=weights, roof_s=roof, measured_s=t, chain=chain)


def test_fit_one_class_goes_through_the_chain() -> None:
    c = Conditions(torch.device("cpu"), "cpu", True, "median", "wall", 1, "2026-12-03")
    eff, per_byte, over = 2.0, 1e-10, 15e-6
    items = [_sample(f"conv {i}", "conv", r, w, r / eff + w * per_byte + over) for i, (r, w) in
             enumerate(((1e-3, 1e5), (2e-3, 1e7), (5e-4, 4e6)))]
    n = CHAIN_LENGTH
    items.append(_sample("conv tiny" + CHAIN_SUFFIX, "conv", n * 3e-6, n * 2000, n * (3e-6 / eff + 2000 * per_byte + over), chain=n))
    stage = ClassStage()
    fit_one_class(c, "conv", items, 1e-6, "8", stage)
    fit = stage.fits["conv"]
    assert fit.formula == WEIGHT_FORMULA
    assert fit.efficiency == pytest.approx(eff, rel=1e-9) and fit.overhead_s == pytest.approx(over, rel=1e-9)
    assert fit.weight_s_per_byte == pytest.approx(per_byte, rel=1e-9)
    assert "through the per-op time of conv tiny" + CHAIN_SUFFIX in stage.figures["conv"].overhead_s.source


def test_every_fitted_float_class_has_one_chain() -> None:
    labels = [label for label, _, _ in overhead_chains()]
    assert all(chain_length(label) == CHAIN_LENGTH for label in labels)
    assert chain_length("conv 3x3 64->64 @56x56") == 0
    kinds = {label.split()[0] for label in labels}
    assert {"conv", "pwconv", "dwconv", "linear", "sdpa", "maxpool", "mean", "batchnorm", "relu", "gelu", "permute"} <= kinds
    quick = [label for label, _, _ in representatives(quick=True)]
    assert all(label in quick for label in labels)  # quick calibrations keep the pins


def _analysed(label: str) -> howfast.Report:
    rep = next(r for r in representatives() if r[0] == label)
    _, factory, shapes = rep
    inputs = [make_input(s, torch.device("cpu")) for s in shapes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return howfast.analyze(factory(), inputs if len(inputs) > 1 else inputs[0], name=label)


def test_a_chain_runs_its_tiny_layer_chain_length_times() -> None:
    report = _analysed("conv 3x3 16->16 @8x8" + CHAIN_SUFFIX)
    convs = [row for row in report.ops if row.op_class == "conv"]
    # 16 convolutions of 16 x 16 x 3 x 3 MACs per output, 16 x 8 x 8 outputs each
    assert len(convs) == CHAIN_LENGTH and all(row.macs == 16 * 9 * 16 * 64 for row in convs)


@pytest.mark.parametrize("label, moved", [
    ("permute 1x64x56x56 -> NHWC", 64 * 56 * 56 * 4),
    ("shuffle 2x64 @28x28", 128 * 28 * 28 * 4),
    ("cat 2x 80 @40x40", 2 * 80 * 40 * 40 * 4),
    ("roll 1x32x32x128 by 2", 32 * 32 * 128 * 4),
])
def test_data_movement_layers_are_data_class_copies(label: str, moved: int) -> None:
    counted = [row for row in _analysed(label).ops if row.op_class != "view"]
    assert [row.op_class for row in counted] == ["data"]
    assert counted[0].bytes_read == moved and counted[0].bytes_written == moved
