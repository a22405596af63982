"""Shared test helpers."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import howfast


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def analyze_quiet(model, inputs, **kwargs):
    """``howfast.analyze`` with its uncounted-op warning turned into a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return howfast.analyze(model, inputs, **kwargs)


class Fn(nn.Module):
    """Wraps a function in an ``nn.Module`` (to analyse one call)."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def only_op(report, prefix: str):
    """The single op of ``report`` whose name starts with ``prefix``."""
    found = [o for o in report.ops if o.op.startswith(prefix)]
    assert len(found) == 1, [o.op for o in report.ops]
    return found[0]
