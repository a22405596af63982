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

Both exporters run silenced: no warning, no log record, nothing written to file descriptors 1 and
2 (the TorchScript exporter prints graphs from C++, the dynamo exporter logs through ``logging``).
An export writes a temporary file beside ``path`` and renames it over ``path`` only once it is a
valid model: it has graph outputs (a model returning ``None`` exports none) and the opset asked
for (``--opset N`` beyond what the installed ``onnx`` knows is a ``UsageError``; an exporter
writing another opset than the one asked is that exporter failing). The module's buffers are
listed in the model's metadata (``howfast.buffers``), so a buffer read as data (a rotary
``inv_freq``) is counted as a buffer, as PyTorch counts it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from howfast.errors import ExportError, UsageError, describe
from howfast.onnx.weights import BUFFERS_KEY

MIN_OPSET = 7
NO_OUTPUTS = "the exported graph has no outputs: the model returned no tensor (a forward returning None has nothing to export)"


def export_model(model: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None, path: str | os.PathLike[str], opset: int | None = None) -> Path:
    """Write ``model(*args, **kwargs)`` as an ONNX graph to ``path`` and return the path."""
    import torch

    path = Path(os.fspath(path))
    if path.suffix.lower() != ".onnx":
        raise ExportError(f"the output file must end in .onnx, got {path.name!r}")
    check_opset(opset)
    if _on_meta(model, args, kwargs):
        raise ExportError("cannot export a model built on the meta device (it has no weights): build it on cpu")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".howfast-export-", dir=path.parent))
    except OSError as exc:
        raise ExportError(f"cannot create {path.parent}: {exc.strerror or exc}") from exc
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    buffers = sorted({name for name, _ in model.named_buffers()})
    errors = []
    saved = _snapshot(model)  # a training-mode export runs the forward: BN statistics would move
    try:
        for dynamo in (False, True):
            label = "dynamo" if dynamo else "torchscript"
            target = work / path.name
            try:
                with _silenced():
                    _export(torch, model, args, kwargs or {}, target, opset, dynamo)
                problem = _finish(target, opset, buffers)
            except Exception as exc:  # the exporters raise many types; report the first line
                problem = describe(exc)
            if problem is None:
                _move(work, path)
                return path
            if problem == NO_OUTPUTS:  # the model's own doing: no other exporter finds an output
                raise ExportError(f"cannot export the model to ONNX: {NO_OUTPUTS}")
            errors.append(f"{label} exporter: {problem}")
            for leftover in work.iterdir():
                _remove(leftover)
    finally:
        _restore(saved)
        shutil.rmtree(work, ignore_errors=True)
    raise ExportError(f"cannot export the model to ONNX: {errors[0]}" + (f"; {errors[1]}" if len(errors) > 1 else ""))


def _snapshot(model: Any) -> list[tuple[Any, Any]]:
    """Copies of the buffers of a model with a module in training mode (BN running statistics)."""
    if not any(m.training for m in model.modules()):
        return []
    return [(b, b.detach().clone()) for b in model.buffers() if b.device.type != "meta"]


def _restore(saved: list[tuple[Any, Any]]) -> None:
    import torch

    with torch.no_grad():
        for buffer, copy in saved:
            buffer.copy_(copy)


def check_opset(opset: int | None) -> None:
    """Refuse an opset outside ``MIN_OPSET`` .. the newest the installed ``onnx`` knows."""
    if opset is None:
        return
    from onnx import defs

    newest = int(defs.onnx_opset_version())
    if not MIN_OPSET <= opset <= newest:
        raise UsageError(f"--opset {opset} is out of range: onnx {_version()} knows opsets up to {newest}, "
                         f"and howfast exports {MIN_OPSET} and above")


def _version() -> str:
    import onnx

    return str(onnx.__version__)


def _export(torch: Any, model: Any, args: tuple, kwargs: dict, path: Path, opset: int | None, dynamo: bool) -> None:
    if dynamo:
        program = torch.onnx.export(model, args, kwargs=kwargs or None, dynamo=True, opset_version=opset,
                                    external_data=False, optimize=False, verbose=False)
        if program is None:
            raise RuntimeError("the exporter returned nothing")
        program.save(str(path))
        return
    torch.onnx.export(model, args, str(path), kwargs=kwargs or None, dynamo=False, opset_version=opset,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, verbose=False)


def _finish(path: Path, opset: int | None, buffers: list[str]) -> str | None:
    """Check the written file (None when it is a model to keep, else what is wrong) and list its buffers."""
    import onnx

    if not path.is_file() or path.stat().st_size == 0:
        return "it wrote nothing"
    model = onnx.load(str(path), load_external_data=False)
    if not model.graph.output:
        return NO_OUTPUTS
    written = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is not None and written != opset:
        return f"it wrote opset {written}, not the {opset} asked for"
    names = {t.name for t in model.graph.initializer} | {o for node in model.graph.node for o in node.output}
    listed = [name for name in buffers if name in names]
    if listed:
        model.metadata_props.add(key=BUFFERS_KEY, value=json.dumps(listed))
        onnx.save(model, str(path))
    return None


def _move(work: Path, path: Path) -> None:
    """Rename the finished files (the model and any external data beside it) into ``path``'s folder."""
    try:
        for item in work.iterdir():
            os.replace(item, path.parent / item.name)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _remove(item: Path) -> None:
    if item.is_dir():
        shutil.rmtree(item, ignore_errors=True)
    else:
        item.unlink(missing_ok=True)


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """No warnings, no log records, and nothing Python or C++ prints on stdout or stderr."""
    sink = io.StringIO()
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), quiet_fds(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


@contextlib.contextmanager
def quiet_fds() -> Iterator[None]:
    """File descriptors 1 and 2 sent to the null device, and restored after."""
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


def _on_meta(model: Any, args: Any, kwargs: Any) -> bool:
    import torch

    for p in list(model.parameters()) + list(model.buffers()):
        if p.device.type == "meta":
            return True
    values = list(args) if isinstance(args, (tuple, list)) else [args]
    values += list((kwargs or {}).values())
    return any(isinstance(v, torch.Tensor) and v.device.type == "meta" for v in values)
