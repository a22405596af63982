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


# index_put_ cases shared by the formula reviews: 3 int64 row indices (one repeated) into a 4x5 target
ROWS = torch.tensor([0, 2, 2])


def set_rows(x, v):
    """``y[ROWS] = v`` on a copy of ``x``."""
    y = x.clone()
    y[ROWS] = v
    return y


def set_zero(x):
    """``y[ROWS] = 0.`` on a copy of ``x`` (a 0-d value)."""
    y = x.clone()
    y[ROWS] = 0.0
    return y


def set_mask(x, m):
    """``y[m] = 1.`` on a copy of ``x`` (a boolean mask)."""
    y = x.clone()
    y[m] = 1.0
    return y


# Memory figures of one op row under one memory model, shared by the formula tests
MODELS = ("writeup", "compulsory")


def traffic(op, model: str) -> tuple[int, int, int]:
    m = op.memory[model]
    return m["input"], m["weights"], m["output"]


def reads(op, model: str) -> tuple[int, int]:
    """(activation elements read, their bytes)."""
    return op.memory[model]["input"], op.memory[model]["input_bytes"]


def writes(op, model: str) -> tuple[int, int]:
    return op.memory[model]["output"], op.memory[model]["output_bytes"]


def weights(op, model: str) -> tuple[int, int]:
    return op.memory[model]["weights"], op.memory[model]["weights_bytes"]
