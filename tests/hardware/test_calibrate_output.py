"""What ``howfast calibrate`` reports while it runs (its steps) and prints at the end (its tables).

One short real calibration (``quick``: one timing pass; fp32 only) on five small representative
layers picked from the real table, so both fitted models appear: two dense convolutions and the
conv class's overhead chain (a class with weights and at least 2 layers besides its chain gets the
weight term) and the ReLU and GELU chains (no weight term).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from howfast.bench.calibrate import assemble
from howfast.bench.calibrate.assemble import PLAIN_FORMULA, WEIGHT_FORMULA, CalibrationResult, Steps
from howfast.bench.calibrate.representatives import CHAIN_SUFFIX, representatives
from howfast.cli.calibrate_output import render

LABELS = ("conv 3x3 64->64 @56x56", "conv 3x3 256->256 @14x14", "conv 1x1/2 8->8 @52x52" + CHAIN_SUFFIX,
          "relu 16 @8x8" + CHAIN_SUFFIX, "gelu 16x16" + CHAIN_SUFFIX)
Step = tuple[str, int, int]


@pytest.fixture(scope="module")
def calibrated() -> Iterator[tuple[CalibrationResult, list[Step]]]:
    picked = [rep for rep in representatives() if rep[0] in LABELS]
    assert [rep[0] for rep in picked] == list(LABELS)
    steps: list[Step] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(assemble, "representatives", lambda quick: picked)
        result = assemble.calibrate(threads=1, quick=True, dtypes=("fp32",), name="ci_box",
                                    progress=lambda what, done, total: steps.append((what, done, total)))
    yield result, steps


def test_the_steps_reach_their_total_exactly_at_the_end(calibrated: tuple[CalibrationResult, list[Step]]) -> None:
    _, steps = calibrated
    # 1 GEMM (fp32), memory bandwidth, cache bandwidth, cache capacity, overhead, product rows; per layer 1 analysis
    # and 1 timing pass (quick)
    total = 1 + 5 + len(LABELS) * (1 + 1)
    assert all(t == total for _, _, t in steps)
    assert [done for _, done, _ in steps] == list(range(total + 1))  # each step announced once, never past the total
    assert steps[-1] == ("done", total, total)
    # every step says what it measures before it starts, the timing of the last layer included
    assert steps[0] == ("GEMM fp32", 0, total)
    assert steps[-2] == (f"timing gelu 16x16{CHAIN_SUFFIX}, pass 1/1", total - 1, total)
    assert steps[3][0].startswith("cache capacity")
    assert steps[5][0] == "matrix products: rows streamed as a matrix-vector product"
    assert [what for what, _, _ in steps[6:11]] == [f"analysing {label}" for label in LABELS]


def test_a_layer_with_no_counted_op_is_taken_off_the_total() -> None:
    seen: list[Step] = []
    steps = Steps(lambda what, done, total: seen.append((what, done, total)), 10)
    for what in ("a", "b", "c"):
        steps(what)
    steps.expect(2)  # 7 steps were planned after these 3, only 2 remain
    steps("d")
    steps("e")
    steps.finish()
    assert seen == [("a", 0, 10), ("b", 1, 10), ("c", 2, 10), ("d", 3, 5), ("e", 4, 5), ("done", 5, 5)]


@pytest.mark.parametrize("width", [80, 120])
def test_the_tables_fit_and_every_explanation_is_printed_once(calibrated: tuple[CalibrationResult, list[Step]],
                                                               width: int) -> None:
    result, _ = calibrated
    fits = result.fits
    assert fits["conv"].formula == WEIGHT_FORMULA and fits["elementwise"].formula == PLAIN_FORMULA
    text = render(result, width, False, "not written: add --output FILE.toml or --save NAME to keep this profile")
    assert max(len(line) for line in text.splitlines()) <= width
    flat = " ".join(text.split())  # the notes as one line, however they wrapped
    assert flat.count(f"weights: {WEIGHT_FORMULA}, fitted by least squares") == 1
    assert flat.count(f"plain: {PLAIN_FORMULA}, fitted by least squares") == 1
    assert flat.count("fitted by least squares") == 2  # one line per model, not one per class or figure
    assert flat.count("cache state of a network") == 1  # how the layers were timed, said once for all classes
    for label in LABELS:
        assert flat.count(label) == 1
    measured = [m.key for m in result.measurements if not m.key.startswith("classes.")]
    assert {"peak_flops.fp32", "memory.bandwidth", "overhead.per_op_s"} <= set(measured)
    for key in measured:  # one row each; the class figures are the class table's columns
        assert flat.count(key) == 1
    assert flat.count("not written") == 1
