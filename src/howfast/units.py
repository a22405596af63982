"""Human units, the one formatter every output uses: the same figure prints the same everywhere.

* counts: k/M/G/T, powers of 1000 (``1234567`` -> ``1.23M``);
* bytes: KiB/MiB/GiB/TiB, powers of 1024 (``1536`` -> ``1.50 KiB``);
* rates: FLOP/s and bytes/s in powers of 1000, as vendors quote them (``8.1e12`` -> ``8.1 TFLOP/s``);
* time: s, ms, µs, ns (``0.0123`` -> ``12.30 ms``);
* energy: J, mJ, µJ, nJ to three significant figures (``0.107656`` -> ``108 mJ``): an estimate, not
  a figure to six places;
* text: names that came from a model or a file (module, node, device names) with every C0/C1
  control character written as a visible escape (``printable``), so no terminal acts on them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_COUNT = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_BYTES = ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))
_RATE = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"))
_TIME = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
_ENERGY = ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ"))


def count(value: float, digits: int = 2) -> str:
    """``1234567`` -> ``"1.23M"``; values under 1000 are printed whole."""
    for scale, suffix in _COUNT:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f}{suffix}"
    return f"{int(value)}" if float(value).is_integer() else f"{value:.{digits}f}"


def params(value: float, digits: int = 2) -> str:
    """A parameter count as people say it: ``68976648192`` -> ``"68.98B"``, ``25557032`` -> ``"25.56M"``."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f}{suffix}"
    return f"{int(value)}"


def nbytes(value: float, digits: int = 2) -> str:
    """``1536`` -> ``"1.50 KiB"``."""
    for scale, suffix in _BYTES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f} {suffix}"
    return f"{int(value)} B"


def shape(shapes: Sequence[Sequence[int]]) -> str:
    """``[[1, 64, 56, 56]]`` -> ``"1x64x56x56"``; several outputs are joined with commas."""
    return ", ".join("x".join(str(d) for d in s) for s in shapes)


def seconds(value: float | None, digits: int = 2) -> str:
    """``0.0123`` -> ``"12.30 ms"``; ``None`` -> ``"-"``; ``0`` -> ``"0 s"``."""
    if value is None:
        return "-"
    value = float(value)
    if value == 0:
        return "0 s"
    for scale, suffix in _TIME:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f} {suffix}"
    return f"{value / 1e-9:.{digits}f} ns"


def milliseconds(value: float) -> str:
    """A time as a bare number of milliseconds, for columns titled in ms: 3 significant places."""
    ms = value * 1e3
    if abs(ms) >= 100:
        return f"{ms:.1f}"
    if abs(ms) >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def flop_rate(value: float) -> str:
    """``8.1e12`` -> ``"8.1 TFLOP/s"`` (three significant digits)."""
    for scale, prefix in _RATE:
        if value >= scale:
            return f"{value / scale:.3g} {prefix}FLOP/s"
    return f"{value:.3g} FLOP/s"


def byte_rate(value: float) -> str:
    """``320e9`` -> ``"320 GB/s"`` (bandwidths are quoted in powers of 1000)."""
    for scale, prefix in _RATE[1:]:
        if value >= scale:
            return f"{value / scale:.3g} {prefix}B/s"
    return f"{value:.3g} B/s"


def items_rate(value: float) -> str:
    """Throughput in items per second: ``1234.5`` -> ``"1,234.5"``, ``123456`` -> ``"123,456"``."""
    return f"{value:,.1f}" if value < 1e4 else f"{value:,.0f}"


def significant(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures in fixed notation, trailing zeros kept:
    ``108.0`` -> ``"108"``, ``15.0`` -> ``"15.0"``, ``2.345`` -> ``"2.35"``, ``1234.5`` -> ``"1230"``,
    ``0`` -> ``"0"``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    rounded = float(f"{value:.{digits}g}")
    decimals = max(digits - 1 - math.floor(math.log10(abs(rounded))), 0)
    return f"{rounded:.{decimals}f}"


def joules(value: float) -> str:
    """Energy to three significant figures (``significant``) in J, mJ, µJ or nJ, the unit chosen
    after rounding: ``0.107656`` -> ``"108 mJ"``, ``1.5e-5`` -> ``"15.0 µJ"``, ``2.345`` ->
    ``"2.35 J"``, ``0.0009996`` -> ``"1.00 mJ"`` (not ``"1000 µJ"``), ``0`` -> ``"0 J"``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} J"
    rounded = float(f"{value:.3g}")
    for scale, suffix in _ENERGY:
        if abs(rounded) >= scale:
            return f"{significant(rounded / scale)} {suffix}"
    return f"{significant(rounded / 1e-9)} nJ"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: what terminals act on instead of showing
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # the same, newlines and tabs kept


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def printable(text: str) -> str:
    """``text`` with every control character (C0, DEL, C1: escape sequences, bells, carriage returns,
    newlines, tabs) written as a visible ``\\xNN`` escape: a name from a model or a file, shown on
    one line, never moves the cursor, sets a window title or writes the clipboard."""
    return _CONTROL.sub(_escape, text)


def printable_lines(text: str) -> str:
    """As ``printable`` for a whole page of text: newlines and tabs are kept."""
    return _CONTROL_IN_TEXT.sub(_escape, text)
