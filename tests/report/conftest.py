"""Reports shared by the HTML report tests, each made by the real producers: ``howfast.analyze``,
``howfast.roofline`` on a profile read from TOML, and per-layer times measured by
``howfast.bench.per_layer_times``."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import howfast
from howfast.bench import attach, per_layer_times
from howfast.hardware.profiles import loads_profile
from howfast.zoo import build

EVIL_NAME = "<script>alert(1)</script>"
EVIL_MODEL = "<img src=x onerror=alert(2)>"
EVIL_TYPE = "<b onmouseover=alert(3)>T&amp;</b>"
ODD_NAME = "<i>x</i>"  # a module whose name is markup, running an op that has no cost formula
UNCOUNTED_OP = "aten.special_bessel_j0.default"
DEVICE_NAME = "test <device> & co"


def device_profile(name: str = DEVICE_NAME, peak: float = 10e12, bandwidth: float = 100e9):
    """A hardware profile as a user writes one (TOML), with markup in its name."""
    return loads_profile(f"""
name = "{name}"
kind = "gpu"
[peak_flops]
fp32 = {{ value = {peak!r}, source = "test" }}
[memory]
bandwidth = {{ value = {bandwidth!r}, source = "test" }}
""", where="test.toml")


def _evil_child_type() -> type:
    def forward(self, x):
        return self.inner(x)

    def init(self):
        nn.Module.__init__(self)
        self.inner = nn.Linear(2, 2)

    return type(EVIL_TYPE, (nn.Module,), {"__init__": init, "forward": forward})


class Bessel(nn.Module):
    def forward(self, x):
        return torch.special.bessel_j0(x)


class Odd(nn.Module):
    """Holds a child whose name is markup."""

    def __init__(self) -> None:
        super().__init__()
        self.add_module(ODD_NAME, Bessel())

    def forward(self, x):
        return getattr(self, ODD_NAME)(x)


class Evil(nn.Module):
    """A module whose child's name is markup, a child whose class name is markup, and an uncounted op
    in a module named with markup (``h.0.<i>x</i>``)."""

    def __init__(self) -> None:
        super().__init__()
        self.add_module(EVIL_NAME, nn.Linear(2, 2))
        self.odd = _evil_child_type()()
        self.h = nn.ModuleList([Odd()])

    def forward(self, x):
        return self.h[0](self.odd(getattr(self, EVIL_NAME)(x)))


@pytest.fixture(scope="session")
def mobilenet_report():
    """MobileNetV2 with a roofline on a device profile."""
    report = howfast.analyze(build("mobilenet_v2", device="meta"), "1x3x224x224")
    return howfast.roofline(report, device_profile())


GPT2_SMALL = {"layers": 2, "d_model": 64, "heads": 4, "vocab": 512}


@pytest.fixture(scope="session")
def gpt2_report():
    """GPT-2 with two blocks and per-layer times measured on the same model (small widths) on the CPU."""
    report = howfast.analyze(build("gpt2", GPT2_SMALL, device="meta"), "1x128:int64")
    model = build("gpt2", GPT2_SMALL)
    times = per_layer_times(model, (torch.zeros(1, 128, dtype=torch.long),), runs=3, warmup=1)
    return attach(report, times)


@pytest.fixture(scope="session")
def evil_report():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the uncounted op is warned about
        return howfast.analyze(Evil(), "1x2", name=EVIL_MODEL)
