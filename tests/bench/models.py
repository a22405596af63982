"""Tiny models with known timings for the bench tests (sleep-based, so they hold on a busy machine)."""

from __future__ import annotations

import time

import torch
from torch import nn


class Sleep(nn.Module):
    """Sleeps ``seconds`` (plus ``per_item`` seconds per batch item) and returns its input."""

    def __init__(self, seconds: float, per_item: float = 0.0) -> None:
        super().__init__()
        self.seconds, self.per_item = seconds, per_item

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds + self.per_item * x.shape[0])
        return x


class Twice(nn.Module):
    """Calls one 10 ms child twice and a 20 ms child once, and sleeps 5 ms itself."""

    def __init__(self) -> None:
        super().__init__()
        self.a = Sleep(0.010)
        self.b = nn.Sequential(Sleep(0.020), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a(self.a(x))
        time.sleep(0.005)
        return self.b(x)


class Raises(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom\nsecond line of the message")
