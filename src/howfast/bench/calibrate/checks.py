"""What a calibration says of figures that are not what their names suggest (``figure_checks``)."""

from __future__ import annotations

from howfast.hardware.profiles import HardwareProfile

IMPLAUSIBLE_EFFICIENCY = 3.0  # a class this many times faster than its roof is a measurement to repeat


def figure_checks(profile: HardwareProfile, efficiencies: dict[str, float]) -> list[str]:
    """The figures that are not what their names suggest, each with what it means: a cache bandwidth
    not above the memory's (a copy ran in a slow spell), and class efficiencies above 1 (faster than
    the roof on the measured figures: an efficiency is a ratio to that roof, not a share of a hardware
    peak), flagged as implausible above ``IMPLAUSIBLE_EFFICIENCY``."""
    out: list[str] = []
    cache = profile.cache_bandwidth
    if cache is not None and cache.value <= profile.bandwidth.value:
        out.append(f"memory.cache_bandwidth {cache.value / 1e9:.1f} GB/s is not above memory.bandwidth "
                   f"{profile.bandwidth.value / 1e9:.1f} GB/s: one of the two copies ran in a slow spell of the machine; "
                   "calibrate again when it is idle")
    fast = {cls: eff for cls, eff in efficiencies.items() if eff > 1.0}
    if fast:
        listed = ", ".join(f"{cls} {eff:.2f}" for cls, eff in fast.items())
        out.append(f"efficiency above 1 ({listed}): these layers ran faster than their roof on the measured peak and "
                   "copy bandwidths (data held in L1/L2, which beat the copy's cache bandwidth, or a kernel faster "
                   "than the peak's matrix product at the size measured); an efficiency is the measured speed over "
                   "that roof, not a share of the hardware's peak")
    wild = [cls for cls, eff in fast.items() if eff > IMPLAUSIBLE_EFFICIENCY]
    if wild:
        out.append(f"implausible: {', '.join(wild)} more than {IMPLAUSIBLE_EFFICIENCY:g}x faster than the roof; its layers' "
                   "times or the peak are suspect: calibrate again on an idle machine")
    return out
