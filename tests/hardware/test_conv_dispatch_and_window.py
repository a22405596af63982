"""Convolutions priced by PyTorch's CPU dispatch (``roofline.conv_path``, ``classes.conv_im2col``) and
max pooling's window term (``classes.pool.window_s_per_read``): docs/roofline.md, sections 3 and 4."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import howfast
from howfast.hardware.profiles import loads_profile
from howfast.hardware.roofline import conv_path, op_class, op_figures
from howfast.report.report import OpRow
from tests.hardware.conftest import make_profile


def conv_row(module: nn.Module, shape: tuple[int, ...]) -> OpRow:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = howfast.analyze(module, torch.randn(*shape))
    (row,) = [r for r in report.ops if r.op_class in ("conv", "pwconv", "dwconv", "pool")]
    return row


@pytest.mark.parametrize("module, shape, threads, expected", [
    # 1x1, stride 1, one thread: the native GEMM path, whatever the size
    (nn.Conv2d(128, 256, 1), (1, 128, 28, 28), 1, "pwconv"),
    # 1x1, stride 2, 128 x 56 x 56 = 401408 input elements > 20480: oneDNN
    (nn.Conv2d(128, 256, 1, stride=2), (1, 128, 56, 56), 1, "conv"),
    # 1x1, stride 2, 8 x 16 x 16 = 2048 input elements at batch 1: native again
    (nn.Conv2d(8, 8, 1, stride=2), (1, 8, 16, 16), 1, "pwconv"),
    # 1x1, stride 1 on two threads, 100352 input elements: oneDNN
    (nn.Conv2d(128, 256, 1), (1, 128, 28, 28), 2, "conv"),
    # 3x3, 128 x 12 x 12 = 18432 <= 20480 at batch 1: native im2col + GEMM
    (nn.Conv2d(128, 128, 3, padding=1), (1, 128, 12, 12), 1, "conv_im2col"),
    # 3x3, 512 x 7 x 7 = 25088 > 20480: oneDNN
    (nn.Conv2d(512, 512, 3, padding=1), (1, 512, 7, 7), 1, "conv"),
    # 3x3 at batch 2 (2 x 16 x 8 x 8 = 2048 elements): oneDNN
    (nn.Conv2d(16, 16, 3, padding=1), (2, 16, 8, 8), 1, "conv"),
    # depthwise: its class stays
    (nn.Conv2d(16, 16, 3, padding=1, groups=16), (1, 16, 8, 8), 1, "dwconv"),
])
def test_conv_path_follows_pytorchs_cpu_dispatch(module: nn.Module, shape: tuple[int, ...], threads: int,
                                                  expected: str) -> None:
    assert conv_path(conv_row(module, shape), 20480, threads) == expected


def test_without_the_figure_convolutions_keep_their_declared_class() -> None:
    row = conv_row(nn.Conv2d(128, 128, 3, padding=1), (1, 128, 12, 12))
    assert op_class(row) == "conv" and op_class(row, conv_native_max=20480) == "conv_im2col"
    strided = conv_row(nn.Conv2d(128, 256, 1, stride=2), (1, 128, 56, 56))
    assert op_class(strided) == "pwconv" and op_class(strided, conv_native_max=20480) == "conv"


CLASSES = """
[classes.pool]
efficiency = { value = 1.0, source = "test" }
overhead_s = { value = 0.0, source = "test" }
window_s_per_read = { value = 1e-9, source = "test" }
[classes.conv_im2col]
max_input_elements = { value = 20480, source = "test" }
efficiency = { value = 0.5, source = "test" }
overhead_s = { value = 0.0, source = "test" }
[calibration]
threads = 1
"""


def test_max_pooling_pays_per_window_read() -> None:
    profile = make_profile(peak=100e9, bandwidth=10e9, extra=CLASSES)
    row = conv_row(nn.MaxPool2d(3, 2, 1), (1, 64, 112, 112))
    entry = op_figures(row, profile, profile.peak())
    assert entry is not None
    # bytes: input 64 x 112 x 112 x 4, values 64 x 56 x 56 x 4 and int64 indices 64 x 56 x 56 x 8
    nbytes = 64 * 112 * 112 * 4 + 64 * 56 * 56 * 4 + 64 * 56 * 56 * 8
    reads = 9 * 64 * 56 * 56  # a 3 x 3 window per output
    assert entry.bytes == nbytes
    assert entry.predicted_s == pytest.approx(nbytes / 10e9 + reads * 1e-9, rel=1e-12)


def test_a_small_convolution_is_priced_at_the_im2col_class() -> None:
    profile = make_profile(peak=100e9, bandwidth=10e9, extra=CLASSES)
    row = conv_row(nn.Conv2d(128, 128, 3, padding=1, bias=False), (1, 128, 12, 12))
    entry = op_figures(row, profile, profile.peak())
    assert entry is not None and entry.op_class == "conv_im2col"
    flops = 2 * 128 * 128 * 9 * 144  # compute-bound at 100 GFLOP/s: 2 x 128 x 128 x 9 x 12 x 12 FLOPs
    assert entry.predicted_s == pytest.approx(flops / 100e9 / 0.5, rel=1e-12)


def test_profile_reads_and_writes_the_new_figures() -> None:
    profile = make_profile(extra=CLASSES)
    assert profile.conv_native_max == 20480 and profile.class_window_s_per_read("pool") == 1e-9
    again = loads_profile(profile.to_toml())
    assert again.figures() == profile.figures()
