"""Measured CPU-package energy from RAPL counters (``/sys/class/powercap``), beside the timer.

``measure_rapl(call, runs)`` reads the package energy counters before and after ``runs`` calls and
returns joules per call (``RaplEnergy``), or None where RAPL is not readable. The whole package is
measured: other processes' energy is included. Counter wrap-around is detected and the measurement
dropped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from howfast.report.sections import RaplEnergy

RAPL_ROOT = "/sys/class/powercap"


def rapl_domains(root: str = RAPL_ROOT) -> list[str]:
    """Readable package-level RAPL energy counters (``intel-rapl:N/energy_uj``); empty when there are none."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    found = []
    for name in names:
        if name.count(":") != 1:  # package domains only (intel-rapl:0), not sub-domains (intel-rapl:0:1)
            continue
        path = os.path.join(root, name, "energy_uj")
        try:
            with open(path, encoding="ascii") as handle:
                int(handle.read().strip())
        except (OSError, ValueError):
            continue
        found.append(path)
    return found


def _read(paths: list[str]) -> list[int]:
    values = []
    for path in paths:
        with open(path, encoding="ascii") as handle:
            values.append(int(handle.read().strip()))
    return values


def measure_rapl(call: Callable[[], Any], runs: int = 10, root: str = RAPL_ROOT) -> RaplEnergy | None:
    """Measured CPU-package energy per call in joules from RAPL, or None when RAPL is not readable.

    Counter wrap-around is detected and the measurement dropped. The whole package is measured:
    other processes' energy is included.
    """
    paths = rapl_domains(root)
    if not paths:
        return None
    try:
        before = _read(paths)
        t0 = time.perf_counter()
        for _ in range(runs):
            call()
        elapsed = time.perf_counter() - t0
        after = _read(paths)
    except OSError:
        return None
    deltas = [a - b for a, b in zip(after, before)]
    if any(d < 0 for d in deltas):
        return None
    joules = sum(deltas) / 1e6
    return RaplEnergy(method="RAPL package energy counters (/sys/class/powercap), whole package, all processes",
                      runs=runs, energy_j_per_run=joules / runs, power_w=joules / elapsed if elapsed > 0 else None)
