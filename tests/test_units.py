"""Human units: energy to three significant figures, the unit chosen after rounding."""

from __future__ import annotations

import pytest

from howfast import units


@pytest.mark.parametrize(("joules", "text"), [
    (0.107656, "108 mJ"),  # 107.656 mJ: three figures are 1, 0, 7 and the next (6) rounds the 7 up
    (1.5e-5, "15.0 µJ"),  # 15 µJ: the third figure is a kept zero
    (2.345, "2.35 J"),
    (0.0123, "12.3 mJ"),
    (0.5, "500 mJ"),
    (3e-8, "30.0 nJ"),
    (0.0009996, "1.00 mJ"),  # 999.6 µJ rounds to 1000 µJ: printed in the next unit up
    (1234.5, "1230 J"),  # three figures, the rest zeros
    (-0.0123, "-12.3 mJ"),
    (0, "0 J"),  # as units.seconds(0) is "0 s"
])
def test_energy_has_three_significant_figures(joules: float, text: str) -> None:
    assert units.joules(joules) == text


@pytest.mark.parametrize(("value", "text"), [(108.0, "108"), (15.0, "15.0"), (2.345, "2.35"), (0.0123, "0.0123"),
                                             (9.996, "10.0"), (0, "0")])
def test_significant_keeps_trailing_zeros(value: float, text: str) -> None:
    assert units.significant(value) == text
