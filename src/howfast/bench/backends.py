"""What a benchmark times, behind one small interface: a ``Backend`` is a call to time.

* ``TorchBackend``: one eager forward pass ``model(*args, **kwargs)`` under ``torch.inference_mode``;
* ``OrtBackend``: the model exported to a temporary ONNX file (``howfast.onnx.export``) and one
  ``InferenceSession.run`` on inputs converted to numpy once, before timing (on CUDA that includes
  copying inputs to and outputs from the GPU);
* ``OnnxFileBackend``: ``InferenceSession.run`` on an ``.onnx`` file as it is, with random inputs
  sized by ``--input`` (``howfast.onnx.runtime.make_feeds``).

Each has ``name``, ``runtime_threads`` (ONNX Runtime's intra-op threads, None = its default),
``context()`` (entered around the timed calls) and ``close()``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from howfast.errors import BenchmarkError, UsageError
from howfast.onnx.export import export_model, quiet_fds
from howfast.onnx.runtime import create_session, make_feeds, run_session

RUNTIMES = ("torch", "onnxruntime")


class Backend(Protocol):
    name: str
    runtime_threads: int | None

    def __call__(self) -> None: ...

    def context(self) -> Any: ...

    def close(self) -> None: ...


class TorchBackend:
    """One eager forward pass of ``model(*args, **kwargs)`` under ``torch.inference_mode``."""

    name = "torch"

    def __init__(self, model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], device: torch.device) -> None:
        self.model, self.args, self.kwargs, self.device = model, args, kwargs, device
        self.runtime_threads: int | None = None

    def __call__(self) -> None:
        self.model(*self.args, **self.kwargs)

    @contextmanager
    def context(self) -> Iterator[None]:
        with torch.inference_mode():
            yield

    def close(self) -> None:
        pass


class OrtBackend:
    """The model exported to a temporary ONNX file, run once per call in ONNX Runtime."""

    name = "onnxruntime"

    def __init__(self, model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], device: torch.device,
                 threads: int | None = None) -> None:
        self.runtime_threads = threads
        self._dir = Path(tempfile.mkdtemp(prefix="howfast-ort-"))
        try:
            values = (*args, *kwargs.values())
            if any(not isinstance(v, torch.Tensor) for v in values):
                raise UsageError("the onnxruntime runtime takes tensor inputs only")
            with _quiet():
                path = export_model(model, args, kwargs, self._dir / "model.onnx")
            self.session = create_session(path, device=str(device), threads=threads)
            self.feeds = self._feeds(list(values))
        except BaseException:
            self.close()
            raise

    def _feeds(self, values: list[torch.Tensor]) -> dict[str, Any]:
        nodes = self.session.get_inputs()
        if len(nodes) > len(values):
            raise BenchmarkError(f"the exported ONNX model asks for {len(nodes)} inputs but {len(values)} were given")
        return {node.name: _numpy(value) for node, value in zip(nodes, values)}

    def __call__(self) -> None:
        run_session(self.session, self.feeds)

    @contextmanager
    def context(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


class OnnxFileBackend:
    """``InferenceSession.run`` on an ``.onnx`` file, with random inputs sized by ``input_specs``."""

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike[str], input_specs: Any, device: str = "cpu", threads: int | None = None) -> None:
        self.runtime_threads = threads
        self.session = create_session(path, device=device, threads=threads)
        self.feeds = make_feeds(self.session, input_specs)

    def __call__(self) -> None:
        run_session(self.session, self.feeds)

    @contextmanager
    def context(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        pass

    def shapes(self) -> list[str]:
        return ["x".join(str(d) for d in value.shape) + f":{value.dtype}" for value in self.feeds.values()]

    def batch(self) -> int:
        return next((int(v.shape[0]) for v in self.feeds.values() if v.ndim), 1)


def make_backend(runtime: str, model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], device: torch.device,
                 threads: int | None) -> TorchBackend | OrtBackend:
    if runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {runtime!r}; use one of: {', '.join(RUNTIMES)}")
    if runtime == "onnxruntime":
        return OrtBackend(model, args, kwargs, device, threads)
    return TorchBackend(model, args, kwargs, device)


def _numpy(value: torch.Tensor) -> Any:
    if value.dtype == torch.bfloat16:
        raise UsageError("the onnxruntime runtime takes no bfloat16 inputs (numpy has no bfloat16); use --dtype float32 or float16")
    return value.detach().cpu().numpy()


@contextmanager
def _quiet() -> Iterator[None]:
    """No warnings, and nothing printed by Python or C++ (exporters log graphs and progress)."""
    sink = StringIO()
    with warnings.catch_warnings(), quiet_fds(), redirect_stdout(sink), redirect_stderr(sink), torch.no_grad():
        warnings.simplefilter("ignore")
        yield
