"""The ONNX front end and runtime: ``.onnx`` files through the same formulas and report.

* ``batch_inputs(path, inputs, batch)``: the input specs for ``--batch`` (symbolic batch dimensions);
* ``capture_onnx(path, inputs)`` -> the ``CapturedGraph`` the PyTorch capture would produce
  (``howfast.analyze("model.onnx", inputs)`` runs it through the one pipeline);
* ``runtime.create_session`` / ``runtime.make_feeds``: run the model with ONNX Runtime;
* ``export.export_model``: a PyTorch model to an ``.onnx`` file (batch norm kept unfolded).

``onnx`` and ``onnxruntime`` are optional dependencies (``pip install 'howfast[onnx]'``), imported
only when these functions run. ``docs/onnx.md`` describes the translation.
"""

from __future__ import annotations

from typing import Any

from howfast.graph.inputs import InputSpec
from howfast.graph.records import CapturedGraph
from howfast.graph.request import CaptureRequest
from howfast.onnx.load import is_onnx_path

__all__ = ["batch_inputs", "capture_onnx", "capture_request", "is_onnx_path"]


def capture_onnx(path: Any, input_specs: Any = None, *, name: str | None = None) -> CapturedGraph:
    """See ``howfast.onnx.capture.capture_onnx``."""
    from howfast.onnx.capture import capture_onnx as run

    return run(path, input_specs, name=name)


def batch_inputs(path: Any, input_specs: Any, batch: int) -> list[InputSpec]:
    """See ``howfast.onnx.capture.batch_inputs`` (``--batch`` for an ONNX file)."""
    from howfast.onnx.capture import batch_inputs as run

    return run(path, input_specs, batch)


def capture_request(path: Any, request: CaptureRequest) -> CapturedGraph:
    """See ``howfast.onnx.capture.capture_request``."""
    from howfast.onnx.capture import capture_request as run

    return run(path, request)
