"""The measurement environment recorded beside every benchmark (``benchmark.environment``)."""

from __future__ import annotations

import os
import platform
from functools import lru_cache

import torch

from howfast.report.measurements import Environment
from howfast.version import __version__


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's name from ``/proc/cpuinfo`` (``model name``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("model name", "Hardware", "Processor", "cpu model"):
                    if value.strip():
                        return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_name(device: str | torch.device) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return torch.cuda.get_device_name(device)
        except Exception:  # noqa: BLE001 - best effort only
            return "cuda"
    return cpu_model()


def collect(
    *,
    device: str | torch.device = "cpu",
    threads: int | None = None,
    batch: int | list[int] | None = None,
    dtype: str | None = None,
    runtime: str = "torch",
    runtime_threads: int | None = None,
    allocator: str | None = None,
) -> Environment:
    """Versions, threads, CPU and device names, batch, dtype and runtime of one measurement.

    ``threads`` is PyTorch's intra-op thread count in effect during the runs; for ONNX Runtime
    ``runtime_threads`` is the session's ``intra_op_num_threads`` (None = ONNX Runtime's default).
    ``load_average`` is the 1-minute system load when the measurement ended: other work on the
    machine makes timings noisier, and this says how busy it was. ``allocator`` says whether freed
    memory was kept for reuse during the runs (``howfast.bench.allocator``).
    """
    env = Environment(
        howfast_version=__version__,
        torch_version=torch.__version__,
        python_version=platform.python_version(),
        platform=platform.platform(),
        runtime=runtime,
        device=str(device),
        device_name=device_name(device),
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        threads=threads if threads is not None else torch.get_num_threads(),
        interop_threads=torch.get_num_interop_threads(),
        batch=batch,
        dtype=dtype,
        allocator=allocator,
    )
    if runtime == "onnxruntime":
        try:
            import onnxruntime

            env.onnxruntime_version = onnxruntime.__version__
        except ImportError:  # pragma: no cover - the backend could not have run
            env.onnxruntime_version = None
        env.runtime_threads = runtime_threads
    if torch.device(device).type == "cuda":
        env.cuda_version = torch.version.cuda
    try:
        env.load_average = round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        env.load_average = None
    return env
