"""Helpers for hardware/roofline tests: synthetic profiles with round numbers."""

from __future__ import annotations

import pytest

from howfast.hardware.profiles import loads_profile


def make_profile(peak: float = 100e9, bandwidth: float = 10e9, overhead: float = 0.0, extra: str = "", name: str = "hand",
                 memory: str = ""):
    """A profile with peak ``peak`` FLOP/s (fp32), ``bandwidth`` B/s: ridge = peak / bandwidth; ``memory``
    adds lines to its ``[memory]`` table, ``extra`` tables after it."""
    text = f"""
name = "{name}"
kind = "cpu"
[peak_flops]
fp32 = {{ value = {peak!r}, source = "test" }}
[memory]
bandwidth = {{ value = {bandwidth!r}, source = "test" }}
{memory}
[overhead]
per_op_s = {{ value = {overhead!r}, source = "test" }}
{extra}
"""
    return loads_profile(text, where="test.toml")


@pytest.fixture(autouse=True)
def _isolated_devices_dir(tmp_path, monkeypatch):
    """No test reads or writes the user's real ~/.config/howfast/devices."""
    monkeypatch.setenv("HOWFAST_DEVICES_DIR", str(tmp_path / "devices"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
