"""The ONNX front end and runtime: analyse ``.onnx`` files with the same formulas and report.

* ``analyze_onnx(path, inputs)`` -> ``Report`` (``howfast.analyze("model.onnx", ...)`` calls it);
* ``capture_onnx(path, inputs)`` -> the ``CapturedGraph`` the PyTorch capture would produce;
* ``runtime.create_session`` / ``runtime.make_feeds``: run the model with ONNX Runtime;
* ``export.export_model``: a PyTorch model to an ``.onnx`` file (batch norm kept unfolded).

``onnx`` and ``onnxruntime`` are optional dependencies (``pip install 'howfast[onnx]'``), imported
only when these functions run. ``docs/onnx.md`` describes the translation.
"""

from __future__ import annotations

from typing import Any

from howfast.onnx.load import is_onnx_path

__all__ = ["analyze_onnx", "capture_onnx", "is_onnx_path"]


def analyze_onnx(path: Any, input_specs: Any = None, conventions: Any = None, *, strict: bool = False, name: str | None = None,
                 fused: bool = False) -> Any:
    """See ``howfast.onnx.analyze.analyze_onnx``."""
    from howfast.onnx.analyze import analyze_onnx as run

    return run(path, input_specs, conventions, strict=strict, name=name, fused=fused)


def capture_onnx(path: Any, input_specs: Any = None, *, name: str | None = None) -> Any:
    """See ``howfast.onnx.analyze.capture_onnx``."""
    from howfast.onnx.analyze import capture_onnx as run

    return run(path, input_specs, name=name)
