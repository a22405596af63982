"""Peak live activation memory from tensor lifetimes, checked by hand."""

from __future__ import annotations

import torch
from torch import nn

from tests.conftest import analyze_quiet


def test_three_layer_chain_peaks_at_the_largest_adjacent_pair():
    chain = nn.Sequential(nn.Linear(10, 20), nn.Linear(20, 30), nn.Linear(30, 5))
    report = analyze_quiet(chain, "1x10")
    # float32 tensors: input 40 B, then 80 B, 120 B, 20 B; the pairs: 120, 200, 140
    assert report.totals.peak_activation_bytes == 80 + 120
    assert report.totals.activation_elements == 20 + 30 + 5


class Residual(nn.Module):
    def __init__(self, skip: bool) -> None:
        super().__init__()
        self.fc1, self.fc2, self.skip = nn.Linear(16, 16), nn.Linear(16, 16), skip

    def forward(self, x):
        h = self.fc2(torch.relu(self.fc1(x)))
        return h + x if self.skip else h * 2


def test_the_skip_tensor_stays_alive():
    # every tensor is 16 floats = 64 B; with the skip, x lives until the add: 3 tensors at once
    assert analyze_quiet(Residual(skip=True), "1x16").totals.peak_activation_bytes == 3 * 64
    assert analyze_quiet(Residual(skip=False), "1x16").totals.peak_activation_bytes == 2 * 64


def test_inplace_relu_does_not_add_a_tensor():
    inplace = analyze_quiet(nn.Sequential(nn.ReLU(inplace=True)), "1x16")
    copy = analyze_quiet(nn.Sequential(nn.ReLU()), "1x16")
    assert inplace.totals.activation_elements == 0 and copy.totals.activation_elements == 16
    assert inplace.totals.peak_activation_bytes == 64 and copy.totals.peak_activation_bytes == 128


def test_peak_scales_with_batch():
    one = analyze_quiet(nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5)), "1x10").totals.peak_activation_bytes
    eight = analyze_quiet(nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5)), "8x10").totals.peak_activation_bytes
    assert eight == 8 * one
