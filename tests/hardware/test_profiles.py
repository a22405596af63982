"""Profiles: every built-in figure has a source; bad figures are rejected naming the field."""

from __future__ import annotations

import pytest

from howfast.errors import DeviceError
from howfast.hardware.profiles import (
    HardwareProfile,
    builtin_names,
    get_profile,
    list_profiles,
    load_profile,
    loads_profile,
)

REQUIRED_BUILTINS = {"t4", "a100", "h100", "h200", "rtx4090", "apple_m2", "apple_a17_pro", "raspberry_pi4", "raspberry_pi5",
                     "jetson_orin_nano", "xeon_8480"}

GOOD = """
name = "dev"
title = "A device"
kind = "gpu"
[peak_flops]
fp32 = { value = 1e12, source = "spec sheet" }
fp16 = { value = 4e12, source = "spec sheet" }
[memory]
bandwidth = { value = 1e11, source = "spec sheet" }
"""


def test_all_required_builtins_ship_and_load():
    assert REQUIRED_BUILTINS <= set(builtin_names())
    for name in builtin_names():
        profile = get_profile(name)
        assert profile.origin == "builtin"
        assert profile.peak("fp32") > 0 and profile.bandwidth_bytes_per_s > 0


@pytest.mark.parametrize("name", sorted(REQUIRED_BUILTINS))
def test_every_builtin_figure_has_a_source(name):
    profile = get_profile(name)
    figures = profile.figures()
    assert "peak_flops.fp32" in figures and "memory.bandwidth" in figures
    for key, fig in figures.items():
        assert fig.value > 0 or key.endswith("_s"), key
        assert len(fig.source) > 10, (name, key)


def test_ridge_point_is_peak_over_bandwidth():
    profile = loads_profile(GOOD)
    assert profile.ridge_point() == pytest.approx(10.0)
    assert profile.ridge_point("fp16") == pytest.approx(40.0)
    assert profile.peak("int8") == 1e12  # no int8 figure: fp32


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda t: t.replace('bandwidth = { value = 1e11, source = "spec sheet" }\n', ""), "memory.bandwidth"),
        (lambda t: t.replace('fp32 = { value = 1e12, source = "spec sheet" }\n', ""), "peak_flops.fp32"),
        (lambda t: t.replace("fp16 = { value = 4e12", "fp16 = { value = -4e12"), "peak_flops.fp16"),
        (lambda t: t.replace("bandwidth = { value = 1e11", "bandwidth = { value = -1"), "memory.bandwidth"),
        (lambda t: t.replace("fp32 = { value = 1e12", "fp32 = { value = 0"), "peak_flops.fp32"),
        (lambda t: t.replace('fp16 = { value = 4e12, source = "spec sheet" }', "fp16 = 4e12"), "peak_flops.fp16"),
        (lambda t: t.replace('fp16 = { value = 4e12, source = "spec sheet" }', 'fp16 = { value = 4e12, source = "" }'),
         "peak_flops.fp16"),
        (lambda t: t.replace("fp16 = { value = 4e12", 'fp16 = { value = "fast"'), "peak_flops.fp16"),
        (lambda t: t.replace("fp16 =", "fp17 ="), "peak_flops.fp17"),
        (lambda t: t + '[overhead]\nper_op_s = { value = -1e-6, source = "x" }\n', "overhead.per_op_s"),
        (lambda t: t + '[classes.conv]\nefficiency = { value = -0.5, source = "x" }\n', "classes.conv.efficiency"),
        (lambda t: t + '[classes.convv]\nefficiency = { value = 0.5, source = "x" }\n', "classes.convv"),
        (lambda t: t + '[energy]\ndram_32b_pj = { value = -640, source = "x" }\n', "energy.dram_32b_pj"),
        (lambda t: t.replace('name = "dev"\n', ""), "'name'"),
    ],
)
def test_bad_figures_are_rejected_naming_the_field(edit, field):
    with pytest.raises(DeviceError) as info:
        loads_profile(edit(GOOD), where="bad.toml")
    message = str(info.value)
    assert field in message and "bad.toml" in message
    assert "\n" not in message


def test_zero_overhead_is_allowed_and_bad_toml_is_a_device_error():
    profile = loads_profile(GOOD + '[overhead]\nper_op_s = { value = 0, source = "none" }\n')
    assert profile.overhead_s == 0
    with pytest.raises(DeviceError, match="not valid TOML"):
        loads_profile("name = ")


def test_toml_round_trip_keeps_every_figure():
    for name in ("h100", "raspberry_pi5", "xeon_8480"):
        profile = get_profile(name)
        again = loads_profile(profile.to_toml())
        assert again.figures() == profile.figures()
        assert (again.name, again.title, again.kind, again.description) == (profile.name, profile.title, profile.kind,
                                                                             profile.description)


def test_get_profile_by_file_by_saved_name_and_unknown(tmp_path, monkeypatch):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    assert get_profile(str(path)).name == "dev"
    assert load_profile(path).path == str(path)
    with pytest.raises(DeviceError, match="does not exist"):
        get_profile(str(tmp_path / "missing.toml"))
    saved = tmp_path / "devices"
    saved.mkdir(exist_ok=True)
    (saved / "my_box.toml").write_text(GOOD.replace('name = "dev"', 'name = "my_box"'))
    # a saved profile can shadow a built-in name
    (saved / "t4.toml").write_text(GOOD.replace('name = "dev"', 'name = "t4"').replace("A device", "my T4"))
    assert get_profile("my_box").origin == "user"
    assert get_profile("My-Box").name == "my_box"
    assert get_profile("t4").title == "my T4"
    names = {p.name: p.origin for p in list_profiles()}
    assert names["my_box"] == "user" and names["t4"] == "user" and names["h100"] == "builtin"
    with pytest.raises(DeviceError, match="unknown hardware profile 'nope'.*t4"):
        get_profile("nope")


def test_profile_object_passes_through():
    profile = loads_profile(GOOD)
    assert get_profile(profile) is profile
    assert isinstance(profile, HardwareProfile)
