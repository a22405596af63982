"""The class fit: ``t = r / efficiency + overhead`` (``+ w * weight_s_per_byte``) by least squares on relative error.

Pure: numbers in, numbers out (numpy, no torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]

BOUND_SLACK = 1e-15  # tolerance on the overhead bounds and on comparing residuals
MIN_INVERSE_EFFICIENCY = 1e-6  # k of the fallback fit, when nothing feasible was found


@dataclass(frozen=True)
class Scaled:
    """The samples divided by their measured time: each residual of the fit is a relative error."""

    r: Vector  # plain roofline time / t
    w: Vector  # weight bytes / t
    one: Vector  # 1 / t
    t: Vector  # measured time


@dataclass(frozen=True)
class Solution:
    """One feasible least-squares solution: its squared error, k (1 / efficiency), overhead o and weight cost c."""

    err: float
    k: float
    o: float
    c: float


def _points(samples: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """The (r, w, t) samples that can be fitted: a positive time and a roofline time not below 0."""
    pts = [s for s in samples if s[-1] > 0 and s[0] >= 0]
    if not pts:
        raise ValueError("no samples to fit")
    return pts


def _scale(pts: list[tuple[float, float, float]]) -> Scaled:
    t = np.array([p[2] for p in pts])
    return Scaled(r=np.array([p[0] for p in pts]) / t, w=np.array([p[1] for p in pts]) / t, one=1.0 / t, t=t)


def _solve(s: Scaled, free_w: bool, o_fixed: float | None, floor_s: float, o_max: float) -> Solution | None:
    """Least squares with ``c`` free (or 0) and ``o`` free (or pinned to ``o_fixed``); None when infeasible."""
    cols = [s.r] + ([s.w] if free_w else []) + ([s.one] if o_fixed is None else [])
    target = np.ones_like(s.t) - (s.one * o_fixed if o_fixed is not None else 0.0)
    a = np.stack(cols, axis=1)
    if a.shape[1] > len(s.t):
        return None
    sol, *_ = np.linalg.lstsq(a, target, rcond=None)
    k = float(sol[0])
    c = float(sol[1]) if free_w else 0.0
    o = float(sol[-1]) if o_fixed is None else float(o_fixed)
    if k <= 0 or c < 0 or o < floor_s - BOUND_SLACK or o > o_max + BOUND_SLACK:
        return None
    err = float(np.sum((s.r * k + s.w * c + s.one * o - 1.0) ** 2))
    return Solution(err, k, o, c)


def _fallback(pts: list[tuple[float, float, float]], floor_s: float) -> Solution:
    """Nothing feasible: the overhead at its floor, k out of the sample with the largest roofline time."""
    i = int(np.argmax([p[0] for p in pts]))
    k = max((pts[i][2] - floor_s) / pts[i][0], MIN_INVERSE_EFFICIENCY) if pts[i][0] > 0 else 1.0
    return Solution(0.0, k, floor_s, 0.0)


def _fit(pts: list[tuple[float, float, float]], with_w: bool, floor_s: float) -> Solution:
    """The best feasible fit over every way of pinning ``c`` to 0 and ``o`` to a bound (or leaving them free)."""
    s = _scale(pts)
    o_max = float(s.t.min())
    best: Solution | None = None
    for free_w in ((True, False) if with_w else (False,)):
        for o_fixed in (None, floor_s, o_max):
            candidate = _solve(s, free_w, o_fixed, floor_s, o_max)
            if candidate is not None and (best is None or candidate.err < best.err - BOUND_SLACK):
                best = candidate
    return best if best is not None else _fallback(pts, floor_s)


def fit_efficiency(samples: list[tuple[float, float]], floor_s: float = 0.0) -> tuple[float, float]:
    """Fit ``t = r * k + o`` (k = 1 / efficiency) to (r, t) samples; returns (efficiency, overhead)."""
    solution = _fit(_points([(r, 0.0, t) for r, t in samples]), False, floor_s)
    return 1.0 / solution.k, solution.o


def fit_with_weights(samples: list[tuple[float, float, float]], floor_s: float = 0.0) -> tuple[float, float, float]:
    """Fit ``t = r * k + w * c + o`` to (r, w, t) samples; returns (efficiency, overhead, c)."""
    solution = _fit(_points(samples), True, floor_s)
    return 1.0 / solution.k, solution.o, solution.c


@overload
def fit_class(samples: list[tuple[float, float]], floor_s: float = 0.0) -> tuple[float, float]: ...


@overload
def fit_class(samples: list[tuple[float, float, float]], floor_s: float = 0.0) -> tuple[float, float, float]: ...


def fit_class(samples: list[tuple[float, float]] | list[tuple[float, float, float]], floor_s: float = 0.0,
              ) -> tuple[float, float] | tuple[float, float, float]:
    """Fit ``t = r * k + o`` (k = 1 / efficiency), or ``t = r * k + w * c + o`` for (r, w, t) samples.

    ``r`` is the plain roofline time, ``w`` the weight bytes, ``t`` the measured time. Least squares
    on relative error (each residual divided by t), with ``k > 0``, ``c >= 0`` and the overhead ``o``
    in ``[floor_s, min t]``: every way of pinning ``c`` to 0 and ``o`` to a bound is tried and the
    best feasible fit kept. Returns (efficiency, overhead) or (efficiency, overhead, c):
    ``fit_efficiency`` and ``fit_with_weights`` are the two cases.
    """
    if samples and len(samples[0]) == 3:
        return fit_with_weights([(s[0], s[1], s[-1]) for s in samples], floor_s)
    return fit_efficiency([(s[0], s[-1]) for s in samples], floor_s)


def _solve_pinned(s: Scaled, free_w: bool, pin: tuple[float, float, float]) -> Solution | None:
    """Least squares of ``k (r - r0) + c (w - w0) = t - T`` on relative error: the fit through the pin
    (``o = T - k r0 - c w0``); None when ``k <= 0`` or ``c < 0``."""
    r0, w0, t0 = pin
    cols = [s.r - r0 * s.one] + ([s.w - w0 * s.one] if free_w else [])
    target = np.ones_like(s.t) - t0 * s.one
    sol, *_ = np.linalg.lstsq(np.stack(cols, axis=1), target, rcond=None)
    k = float(sol[0])
    c = float(sol[1]) if free_w else 0.0
    if k <= 0 or c < 0:
        return None
    o = t0 - k * r0 - c * w0
    err = float(np.sum((s.r * k + s.w * c + s.one * o - 1.0) ** 2))
    return Solution(err, k, o, c)


def fit_pinned(samples: list[tuple[float, float, float]], pin: tuple[float, float, float], with_w: bool = False,
               floor_s: float = 0.0) -> tuple[float, float, float]:
    """Fit ``t = r * k + w * c + o`` (k = 1 / efficiency) through one exact point, the pin.

    ``pin`` is ``(r0, w0, T)``: the roofline time, weight bytes and measured time *per op* of a chain
    of tiny layers of the class, so the overhead is not free but what one small op of the class
    costs: ``o = T - k r0 - c w0``. ``samples`` are the class's other (r, w, t) layers; ``k`` and
    ``c`` (``c = 0`` unless ``with_w``) are the least-squares solution on relative error of
    ``k (r - r0) + c (w - w0) = t - T``, ``c >= 0`` (else refitted with ``c = 0``). When the pinned
    overhead would fall below ``floor_s`` (or ``k <= 0``), the overhead is ``max(floor_s, T - r0)``
    and ``k`` (and ``c``) are fitted with it fixed. With no other samples: ``k = 1``, ``o = T - r0``
    (at least ``floor_s``). Returns (efficiency, overhead, c).
    """
    r0, w0, t0 = pin
    pts = [(r, w, t) for r, w, t in samples if t > 0 and r >= 0]
    if not pts:
        return 1.0, max(floor_s, t0 - r0), 0.0
    s = _scale(pts)
    best: Solution | None = None
    for free_w in ((True, False) if with_w else (False,)):
        candidate = _solve_pinned(s, free_w, pin)
        if candidate is not None and candidate.o >= floor_s - BOUND_SLACK and (best is None or candidate.err < best.err - BOUND_SLACK):
            best = candidate
    if best is None:
        o_fixed = max(floor_s, t0 - r0)
        for free_w in ((True, False) if with_w else (False,)):
            candidate = _solve(s, free_w, o_fixed, o_fixed, max(o_fixed, float(s.t.min())))
            if candidate is not None and (best is None or candidate.err < best.err - BOUND_SLACK):
                best = candidate
    if best is None:
        best = _fallback(pts, max(floor_s, t0 - r0))
    return 1.0 / best.k, best.o, best.c
