"""Byte axes in the units the rest of the page uses: ticks at round numbers of KiB, MiB, GiB.

Plotly's own tick labels are decimal (``150M``, read as 150 MB), while the header, the tables and
the hovers give bytes in powers of 1024 (``units.nbytes``: ``165.05 MiB``). A byte axis therefore
gets explicit ticks: ``byte_ticks(top)`` picks the largest binary unit not above ``top`` and a step
of 1, 2 or 5 times a power of ten of that unit giving at most ``MAX_TICKS`` intervals, and labels
each tick with its value in that unit. The data stay in bytes.
"""

from __future__ import annotations

import math
from typing import Any

UNITS = ((1024**4, "TiB"), (1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB"), (1, "B"))
MAX_TICKS = 6  # intervals on a byte axis, at most


def byte_unit(top: float) -> tuple[int, str]:
    """The largest binary unit that ``top`` bytes reach (``3e8`` -> MiB); bytes below 1 KiB."""
    for scale, name in UNITS:
        if top >= scale:
            return scale, name
    return 1, "B"


def nice_step(span: float, most: int = MAX_TICKS) -> float:
    """The smallest of 1, 2, 5 x 10^k that splits ``span`` into at most ``most`` intervals."""
    if span <= 0:
        return 1.0
    rough = span / most
    power = 10.0 ** math.floor(math.log10(rough))
    for factor in (1, 2, 5, 10):
        if factor * power >= rough:
            return factor * power
    return 10 * power


def byte_ticks(top: float) -> tuple[list[float], list[str]]:
    """Tick positions (bytes) and labels (``0``, ``50 MiB``, ``100 MiB``) from 0 up to past ``top``."""
    scale, name = byte_unit(top)
    step = nice_step(top / scale)
    count = max(1, math.ceil(top / scale / step - 1e-9))
    values = [k * step for k in range(count + 1)]
    return [v * scale for v in values], ["0" if v == 0 else f"{v:g} {name}" for v in values]


def byte_axis(values: list[float] | list[int]) -> dict[str, Any]:
    """Plotly axis settings for bytes: explicit binary ticks from 0 to the largest of ``values``."""
    top = max((float(v) for v in values), default=0.0)
    if top <= 0:
        return {"rangemode": "tozero"}
    tickvals, ticktext = byte_ticks(top)
    return {"rangemode": "tozero", "tickmode": "array", "tickvals": tickvals, "ticktext": ticktext}
