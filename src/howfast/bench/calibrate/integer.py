"""Integer and fp8 compute of this machine: the int8 GEMM of PyTorch's quantized kernels and fp8
``torch._scaled_mm``, timed as the float peaks are (``measure.gemm_rate``).

* int8: ``quantized::linear`` of an n x n quint8 activation (per tensor) by an n x n qint8 weight
  (per output channel, packed once), the kernel quantized models run, on the engine in effect
  (``torch.backends.quantized.engine``, x86 by default: FBGEMM). ``2 n^3`` integer operations / time.
  PyTorch's quantized kernels run on the CPU only.
* fp8: ``torch._scaled_mm`` of two n x n ``float8_e4m3fn`` matrices (unit scales) into fp32,
  ``2 n^3`` FLOPs / time, wherever it runs (GPUs with fp8 units; PyTorch's CPU build runs it too,
  on a CPU without fp8 arithmetic: on the reference machine at about half the fp32 rate).

Both double n from 512 until one call takes 2 ms (at most 2048; 1 ms and 1024 with ``quick``),
then time that n and n / 2 and keep the faster, a shorter call than the float GEMM's 50 ms: an int8
kernel runs several times faster than fp32 and reaches its rate at smaller sizes (on the reference
machine 512 to 1024), and the float GEMM's call would take a 4096-wide product and seconds of
calibration.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from howfast.bench.calibrate.measure import GemmCall, gemm_rate

LOW_PRECISION = ("int8", "fp8")  # the peaks measured here (the float ones by measure.gemm_flops)
INT8_SCALE = 0.05  # the quantization of the random operands (their values do not change the kernel's speed)
INT8_ZERO_POINT = 64
TINY = 16  # the size of the product that checks a kernel runs
MIN_N = 512  # the first size tried: a smaller product is too short to time in one call (0.1 ms at 800 Gop/s)


@dataclass(frozen=True)
class LowPrecisionPeak:
    """One measured peak: operations per second, the size timed, the times and the kernel in words."""

    rate: float
    n: int
    times: list[float] = field(default_factory=list)
    kernel: str = ""


def int8_linear_call(n: int) -> Callable[[], Any]:
    """``quantized::linear`` of an n x n quint8 input by an n x n per-channel qint8 weight, packed once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensor creation is deprecated (still what quantized models run)
        x = torch.quantize_per_tensor(torch.randn(n, n), INT8_SCALE, INT8_ZERO_POINT, torch.quint8)
        w = torch.randn(n, n)
        scales = (w.abs().amax(dim=1) / 127).clamp(min=1e-8).double()
        qw = torch.quantize_per_channel(w, scales, torch.zeros(n, dtype=torch.long), 0, torch.qint8)
        packed = torch.ops.quantized.linear_prepack(qw, None)
    return partial(torch.ops.quantized.linear, x, packed, 2 * INT8_SCALE, INT8_ZERO_POINT)


def fp8_call(device: torch.device, n: int) -> Callable[[], Any]:
    """``torch._scaled_mm`` of two n x n float8_e4m3fn matrices (the second column-major) into fp32."""
    a = torch.randn(n, n, device=device).to(torch.float8_e4m3fn)
    b = torch.randn(n, n, device=device).to(torch.float8_e4m3fn).t()
    one = torch.ones((), device=device)
    return partial(torch._scaled_mm, a, b, scale_a=one, scale_b=one, out_dtype=torch.float32)


def int8_engine(device: torch.device) -> str | None:
    """The quantized engine in effect when it runs an int8 linear here, else None."""
    engine = torch.backends.quantized.engine
    if device.type != "cpu" or engine in ("none", "") or engine not in torch.backends.quantized.supported_engines:
        return None
    try:
        int8_linear_call(TINY)()
    except (RuntimeError, NotImplementedError):
        return None
    return engine


def fp8_runs(device: torch.device) -> bool:
    """Whether ``torch._scaled_mm`` on float8_e4m3fn runs on ``device``."""
    if not hasattr(torch, "float8_e4m3fn") or not hasattr(torch, "_scaled_mm"):
        return False
    try:
        fp8_call(device, TINY)()
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        return False
    return True


def low_precision_peak(key: str, device: torch.device, *, quick: bool = False, min_time_s: float = 0.3,
                       statistic: str = "median", clock: str = "wall") -> LowPrecisionPeak | str:
    """The ``int8`` or ``fp8`` peak on ``device``, or why it is not measured (a sentence)."""
    max_n, target_s = (1024, 0.001) if quick else (2048, 0.002)

    def timed(make: GemmCall) -> tuple[float, int, list[float]]:
        return gemm_rate(make, device, min_n=MIN_N, max_n=max_n, target_s=target_s, min_time_s=min_time_s, statistic=statistic,
                         clock=clock)

    if key == "int8":
        engine = int8_engine(device)
        if engine is None:
            where = "this machine" if device.type == "cpu" else f"{device.type} (PyTorch's quantized kernels run on the CPU only)"
            return (f"no int8 kernel on {where}: quantized::linear does not run (quantized engine "
                    f"{torch.backends.quantized.engine!r}); no peak_flops.int8, int8 ops are priced at the float peak")
        rate, n, times = timed(int8_linear_call)
        return LowPrecisionPeak(rate, n, times, f"quantized::linear ({engine} engine) {n}x{n} quint8 @ {n}x{n} qint8, "
                                                f"2n^3 integer ops")
    if key == "fp8":
        if not fp8_runs(device):
            return (f"no fp8 kernel on this machine: torch._scaled_mm on float8_e4m3fn does not run on {device.type}; "
                    "no peak_flops.fp8, fp8 ops are priced at the float peak")
        rate, n, times = timed(partial(fp8_call, device))
        return LowPrecisionPeak(rate, n, times, f"torch._scaled_mm {n}x{n} @ {n}x{n} float8_e4m3fn -> fp32, 2n^3 FLOPs")
    raise ValueError(f"not a low-precision peak: {key!r} (one of {', '.join(LOW_PRECISION)})")
