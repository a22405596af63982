"""Export a PyTorch model to ONNX with its structure kept (batch norm not folded into convs).

``torch.onnx.export(..., dynamo=False)`` (the TorchScript exporter) runs first, with
``training=TrainingMode.PRESERVE`` and ``do_constant_folding=False``: in eval mode the default
(``TrainingMode.EVAL`` with constant folding) folds every BatchNormalization into the preceding
Conv and renames the weights (``onnx::Conv_12``); PRESERVE keeps BatchNormalization nodes and
no folding keeps the initializer names equal to the PyTorch parameter names, so an ONNX analysis
lines up with the PyTorch one module by module. If that exporter fails, the dynamo exporter
(``dynamo=True``) is tried, with ``optimize=False`` (its optimizer folds batch norm into convs);
its nodes carry their module scopes as metadata, which the ONNX front end reads. Both failing is
an ``ExportError``.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

from howfast.errors import ExportError, describe


def export_model(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None, path: str | os.PathLike[str], opset: int | None = None) -> Path:
    """Write ``model(*args, **kwargs)`` as an ONNX graph to ``path`` and return the path."""
    import torch

    path = Path(os.fspath(path))
    if path.suffix.lower() != ".onnx":
        raise ExportError(f"the output file must end in .onnx, got {path.name!r}")
    if _on_meta(model, args, kwargs):
        raise ExportError("cannot export a model built on the meta device (it has no weights): build it on cpu")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {path.parent}: {exc.strerror or exc}") from exc
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    errors = []
    for dynamo in (False, True):
        try:
            _export(torch, model, args, kwargs or {}, path, opset, dynamo)
            if path.is_file() and path.stat().st_size > 0:
                return path
            errors.append(f"{'dynamo' if dynamo else 'torchscript'} exporter wrote nothing")
        except Exception as exc:  # the exporters raise many types; report the first line
            errors.append(f"{'dynamo' if dynamo else 'torchscript'} exporter: {describe(exc)}")
    raise ExportError(f"cannot export the model to ONNX: {errors[0]}" + (f"; {errors[1]}" if len(errors) > 1 else ""))


def _export(torch: Any, model: Any, args: tuple, kwargs: dict, path: Path, opset: int | None, dynamo: bool) -> None:
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        if dynamo:
            program = torch.onnx.export(model, args, kwargs=kwargs or None, dynamo=True, opset_version=opset,
                                        external_data=False, optimize=False, verbose=False)
            if program is None:
                raise RuntimeError("the exporter returned nothing")
            program.save(str(path))
            return
        torch.onnx.export(model, args, str(path), kwargs=kwargs or None, dynamo=False, opset_version=opset,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, verbose=False)


def _on_meta(model: Any, args: Any, kwargs: Any) -> bool:
    import torch

    for p in list(model.parameters()) + list(model.buffers()):
        if p.device.type == "meta":
            return True
    values = list(args) if isinstance(args, (tuple, list)) else [args]
    values += list((kwargs or {}).values())
    return any(isinstance(v, torch.Tensor) and v.device.type == "meta" for v in values)

