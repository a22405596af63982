"""Hardware profiles (``profiles``: TOML files with sourced figures) and calibration of this machine.

``get_profile("t4")`` or ``get_profile("my.toml")`` -> ``HardwareProfile``; ``list_profiles()``;
``howfast.bench.calibrate.calibrate()`` measures this machine and returns a profile.
"""

from howfast.hardware.profiles import Figure, HardwareProfile, get_profile, list_profiles, load_profile, loads_profile

__all__ = ["Figure", "HardwareProfile", "get_profile", "list_profiles", "load_profile", "loads_profile"]
