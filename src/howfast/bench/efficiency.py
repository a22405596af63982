"""Achieved FLOP/s and the share of a device's peak (MFU) of a timed run (``docs/benchmarking.md``).

    achieved = F / t            F: howfast's count of one timed run's FLOPs, t: its median seconds
    MFU      = achieved / P     P: the profile's dense ``peak_flops`` for the run's dtype

The peak comes from a profile named by the caller (``--device PROFILE`` / ``--hardware``) or, when
none is named, from the **calibrated local profile**: a saved profile (``howfast calibrate --save
NAME``) with per-class figures, measured on this device (its ``calibration.device`` is this CPU's
model or this GPU's name) with the thread count the run uses (a CPU's peak grows with its threads);
of several, the newest (``calibration.date``, then the name). Without one the achieved FLOP/s are
still given, with no share.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from howfast.api import analyze
from howfast.bench.environment import device_name
from howfast.errors import HowfastError
from howfast.hardware.profiles import HardwareProfile, get_profile, list_profiles
from howfast.hardware.roofline import report_dtype
from howfast.report.measurements import Efficiency
from howfast.report.report import Report


def local_profile(device: torch.device | str, threads: int) -> HardwareProfile | None:
    """The newest saved calibrated profile measured on ``device`` with ``threads`` threads, or None."""
    device = torch.device(device)
    name = device_name(device)
    found = [p for p in list_profiles() if p.origin == "user" and p.calibrated and p.calibration.get("device") == name
             and (device.type != "cpu" or p.calibration.get("threads") == threads)]
    if not found:
        return None
    return max(found, key=lambda p: (str(p.calibration.get("date", "")), p.name))


def peak_for(profile: HardwareProfile | str | None, device: torch.device | str, threads: int) -> tuple[HardwareProfile | None, str]:
    """The profile whose peak a run is compared with, and where it came from (``"given"``, or
    ``"calibrated local profile"``); (None, "") when none is given and none is saved for this device."""
    if profile is not None:
        return get_profile(profile), "given"
    found = local_profile(device, threads)
    return (found, "calibrated local profile") if found is not None else (None, "")


def efficiency_of(report: Report, seconds: float, profile: HardwareProfile | None, source: str) -> Efficiency:
    """The ``Efficiency`` of a run of ``report``'s workload (all its phases) that took ``seconds``;
    the peak is ``profile``'s for the report's dtype (fp32 when the profile has no figure for it)."""
    wanted = report_dtype(report)
    dtype = wanted if profile is None or profile.has_dtype(wanted) else "fp32"
    return Efficiency(flops=report.totals.flops, seconds=seconds, dtype=dtype,
                      peak_flops_per_s=profile.peak(dtype) if profile is not None else None,
                      profile=profile.name if profile is not None else None, source=source,
                      uncounted_ops=sum(u.count for u in report.uncounted_ops))


def forward_report(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Report | None:
    """``howfast.analyze`` of one forward pass as the benchmark runs it (the model's mode, no
    autograd), or None when it cannot be counted (a ``HowfastError``); uncounted ops stay listed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return analyze(model, args, kwargs=kwargs)
    except HowfastError:
        return None
