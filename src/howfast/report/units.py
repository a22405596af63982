"""Human units: k/M/G/T (powers of 1000) for counts, KiB/MiB/GiB (powers of 1024) for bytes."""

from __future__ import annotations

_COUNT = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
_BYTES = ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))


def count(value: float, digits: int = 2) -> str:
    """``1234567`` -> ``"1.23M"``; values under 1000 are printed whole."""
    for scale, suffix in _COUNT:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f}{suffix}"
    return f"{int(value)}" if float(value).is_integer() else f"{value:.{digits}f}"


def nbytes(value: float, digits: int = 2) -> str:
    """``1536`` -> ``"1.50 KiB"``."""
    for scale, suffix in _BYTES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}f} {suffix}"
    return f"{int(value)} B"


def shape(shapes: list[list[int]]) -> str:
    """``[[1, 64, 56, 56]]`` -> ``"1x64x56x56"``; several outputs are joined with commas."""
    return ", ".join("x".join(str(d) for d in s) for s in shapes)


def seconds(value: float | None, digits: int = 2) -> str:
    """``0.0123`` -> ``"12.30 ms"``; None -> ``"-"``."""
    if value is None:
        return "-"
    if value >= 1:
        return f"{value:.{digits}f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.{digits}f} ms"
    return f"{value * 1e6:.{max(digits - 1, 0)}f} us"
