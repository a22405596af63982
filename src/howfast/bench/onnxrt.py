"""ONNX Runtime backend: export the PyTorch model to a temporary ONNX file, time ``session.run``.

Export and session creation use the ONNX package (``howfast.onnx.export.export_model`` and
``howfast.onnx.runtime.create_session``) when it is importable; otherwise the minimal private
versions here (``torch.onnx.export(dynamo=False)``, the TorchScript exporter, where torch still
has it; else the dynamo exporter). Inputs are converted to numpy once, before timing; a timed run
is one ``session.run(None, feeds)``, which returns numpy outputs (on CUDA that includes copying
inputs to and outputs from the GPU).
"""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import torch
from torch import nn

from howfast.errors import BenchmarkError, DeviceError, ExportError, HowfastError, UsageError, describe

OPSET = 17


def _optional(module: str, attribute: str) -> Any:
    """``module.attribute`` from the ONNX package, or None when it is not there (yet)."""
    try:
        return getattr(importlib.import_module(module), attribute, None)
    except Exception:  # noqa: BLE001 - missing or half-written: use the private fallback
        return None


def input_names(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    return [f"input_{i}" for i in range(len(args))] + list(kwargs)


def export_model(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], path: Path) -> Path:
    """Export ``model`` to ONNX at ``path``; any failure is an ``ExportError`` in one line."""
    shared = _optional("howfast.onnx.export", "export_model")
    if shared is not None:
        try:
            with _quiet():
                return Path(shared(model, args, kwargs, path))
        except HowfastError:
            raise
        except Exception as exc:
            raise ExportError(f"cannot export the model to ONNX: {describe(exc)}") from exc
    return _private_export(model, args, kwargs, path)


@contextmanager
def _quiet() -> Iterator[None]:
    """No warnings, and nothing printed by Python or C++ (exporters log graphs and progress)."""
    sink = StringIO()
    with warnings.catch_warnings(), _quiet_fds(), redirect_stdout(sink), redirect_stderr(sink), torch.no_grad():
        warnings.simplefilter("ignore")
        yield


def _private_export(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], path: Path) -> Path:
    options: dict[str, Any] = {"kwargs": kwargs or None, "input_names": input_names(args, kwargs), "opset_version": OPSET}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False
    try:
        with _quiet():
            torch.onnx.export(model, args, str(path), **options)
    except Exception as exc:
        raise ExportError(f"cannot export the model to ONNX: {describe(exc)}") from exc
    if not path.is_file():
        raise ExportError("cannot export the model to ONNX: the exporter wrote no file")
    return path


@contextmanager
def _quiet_fds() -> Iterator[None]:
    """Silence file descriptors 1 and 2 (the TorchScript exporter logs graphs from C++)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = (os.dup(1), os.dup(2))
    except (OSError, ValueError, AttributeError):
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def create_session(path: Path, device: str = "cpu", threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``path`` on ``device`` with ``threads`` intra-op threads."""
    shared = _optional("howfast.onnx.runtime", "create_session")
    if shared is not None:
        return shared(path, device=device, threads=threads)
    try:
        import onnxruntime as ort
    except ImportError:
        raise BenchmarkError("the onnxruntime runtime needs onnxruntime: pip install 'howfast[onnx]'") from None
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise DeviceError("onnxruntime has no CUDAExecutionProvider here (install onnxruntime-gpu) ")
        providers = ["CUDAExecutionProvider"]
    else:
        providers = ["CPUExecutionProvider"]
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:
        raise BenchmarkError(f"onnxruntime cannot load the exported model: {describe(exc)}") from exc


def _numpy(value: torch.Tensor) -> Any:
    if value.dtype == torch.bfloat16:
        raise UsageError("the onnxruntime runtime takes no bfloat16 inputs (numpy has no bfloat16); use --dtype float32 or float16")
    return value.detach().cpu().numpy()


class OrtBackend:
    """Callable that runs the exported model once in ONNX Runtime (the timed unit)."""

    name = "onnxruntime"

    def __init__(self, model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], device: torch.device,
                 threads: int | None = None) -> None:
        self.runtime_threads = threads
        self._dir = Path(tempfile.mkdtemp(prefix="howfast-ort-"))
        try:
            if any(not isinstance(v, torch.Tensor) for v in (*args, *kwargs.values())):
                raise UsageError("the onnxruntime runtime takes tensor inputs only")
            path = export_model(model, args, kwargs, self._dir / "model.onnx")
            self.session = create_session(path, device=str(device), threads=threads)
            self.feeds = self._feeds(args, kwargs)
        except BaseException:
            self.close()
            raise

    def _feeds(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        values = dict(zip(input_names(args, kwargs), (*args, *kwargs.values())))
        ordered = list(values.values())
        feeds: dict[str, Any] = {}
        for position, node in enumerate(self.session.get_inputs()):
            if node.name in values:
                feeds[node.name] = _numpy(values[node.name])
            elif position < len(ordered):
                feeds[node.name] = _numpy(ordered[position])
            else:
                raise BenchmarkError(f"the exported ONNX model asks for an input {node.name!r} that was not given")
        return feeds

    def __call__(self) -> None:
        self.session.run(None, self.feeds)

    @contextmanager
    def context(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


def benchmark_onnx_file(path: str, input_specs: Any, *, runs: int | None, warmup: int, budget_s: float | None,
                        threads: int | None, device: str = "cpu", progress: Any = None) -> Any:
    """Time ``InferenceSession.run`` on an ``.onnx`` file, with the runner and statistics of PyTorch models.

    Symbolic dimensions are sized by ``input_specs`` (as for ``howfast analyze model.onnx``).
    """
    from howfast.bench.environment import collect
    from howfast.bench.runner import BenchmarkResult, check_counts, run_limits, time_runs
    from howfast.bench.stats import steadiness, summarize
    from howfast.onnx.load import read_onnx
    from howfast.onnx.runtime import create_session, make_feeds

    check_counts(runs=runs, warmup=warmup, budget_s=budget_s, threads=threads)
    read_onnx(path)  # a clear one-line error for a missing, truncated or non-ONNX file, or bad external data
    session = create_session(path, device=device, threads=threads)
    feeds = make_feeds(session, input_specs)
    max_runs, budget = run_limits(runs, budget_s)
    times, stopped_by = time_runs(lambda: session.run(None, feeds), warmup=warmup, runs=max_runs, budget_s=budget,
                                  device=torch.device("cpu"), progress=progress)
    shapes = ["x".join(str(d) for d in value.shape) + f":{value.dtype}" for value in feeds.values()]
    batch = next((int(v.shape[0]) for v in feeds.values() if v.ndim), 1)
    env = collect(device=torch.device("cpu"), threads=torch.get_num_threads(), batch=batch, dtype=None,
                  runtime="onnxruntime", runtime_threads=threads, allocator="onnxruntime's own arena")
    return BenchmarkResult(
        stats=summarize(times), times_s=times, batch=batch, warmup=warmup, runs_requested=runs, budget_s=budget,
        stopped_by=stopped_by, runtime="onnxruntime", device=device, dtype=None, threads=threads, inputs=shapes,
        environment=env, model=str(path), warnings=steadiness(times),
    )
