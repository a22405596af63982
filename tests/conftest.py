"""Shared test helpers."""

from __future__ import annotations

import warnings

import pytest
import torch

import howfast


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def analyze_quiet(model, inputs, **kwargs):
    """``howfast.analyze`` with its uncounted-op warning turned into a failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return howfast.analyze(model, inputs, **kwargs)
