"""Read an ``.onnx`` file safely: parse, validate, and check its external data.

Nothing here unpickles or executes anything: an ONNX file is a protobuf message, parsed as data.
External data (weights stored in side files, ``onnx.save(..., save_as_external_data=True)``) is
accepted only when every location is a relative path that resolves, symlinks followed, inside the
model's own folder, and the file is large enough for the offset and length the model declares.
Analysis needs the *shapes* of the weights, not their values, so by default only small tensors
(shape arguments, indices, scalars) are read from external files; ``load_weights=True`` reads all
of them (``onnx.external_data_helper.load_external_data_for_model``) for a caller that needs the
values.

Every problem is a ``BadFileError`` (exit 6) with one line naming the file and what is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from howfast.errors import BadFileError, ModelLoadError, first_line
from howfast.onnx.dtypes import itemsize_of

# Tensors up to this many elements have their values read (shape arguments, indices, scalars).
SMALL_TENSOR = 4096


@dataclass
class OnnxFile:
    """A parsed model, the folder its external data is resolved in, and its small tensor values."""

    path: Path
    model: Any  # onnx.ModelProto
    base_dir: Path
    external: dict[str, tuple[Path, int, int | None]] = field(default_factory=dict)  # tensor -> (file, offset, length)


def require_onnx() -> Any:
    """Import ``onnx`` or explain how to install it."""
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - the onnx extra is installed in tests
        raise ModelLoadError("ONNX support needs the onnx extra: pip install 'howfast[onnx]'") from exc
    return onnx


def is_onnx_path(value: Any) -> bool:
    """True when ``value`` is a path (str or PathLike) naming an ``.onnx`` file."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return isinstance(value, str) and value.strip().lower().endswith(".onnx")


def read_onnx(path: str | os.PathLike[str], *, load_weights: bool = False) -> OnnxFile:
    """Parse ``path`` into a ``ModelProto`` and validate its external data references."""
    onnx = require_onnx()
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise BadFileError(f"no such file: {path}")
    if not path.is_file():
        raise BadFileError(f"{path} is not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not data:
        raise BadFileError(f"{path} is empty, not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # google.protobuf.message.DecodeError and friends
        raise BadFileError(f"{path} is not a valid ONNX file (truncated or not a protobuf model: {first_line(exc)})") from exc
    del data
    _check_model_header(path, model)
    base_dir = path.resolve().parent
    loaded = OnnxFile(path=path, model=model, base_dir=base_dir)
    loaded.external = check_external_data(model, base_dir, path)
    if load_weights:
        load_all_external_data(loaded)
    return loaded


def _check_model_header(path: Path, model: Any) -> None:
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise BadFileError(f"{path} is not an ONNX model (no IR version or no graph)")
    if not model.opset_import:
        raise BadFileError(f"{path} is not a valid ONNX model: it imports no operator set")
    if not model.graph.output:
        raise BadFileError(f"{path} is not a valid ONNX model: the graph has no outputs")


def _external_tensors(model: Any) -> list[Any]:
    from onnx import external_data_helper

    return [t for t in external_data_helper._get_all_tensors(model) if t.data_location == 1]  # TensorProto.EXTERNAL


def check_external_data(model: Any, base_dir: Path, path: Path) -> dict[str, tuple[Path, int, int | None]]:
    """Validate every external-data reference; return tensor name -> (file, offset, length)."""
    found: dict[str, tuple[Path, int, int | None]] = {}
    for tensor in _external_tensors(model):
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        name = tensor.name or "<unnamed>"
        if not location:
            raise BadFileError(f"{path}: tensor {name!r} is stored externally but names no location")
        if "\x00" in location:
            raise BadFileError(f"{path}: tensor {name!r} has an invalid external data location")
        if os.path.isabs(location) or location.startswith(("/", "\\")) or (len(location) > 1 and location[1] == ":"):
            raise BadFileError(f"{path}: tensor {name!r} points to the absolute path {location!r}; external data must lie beside the model")
        target = (base_dir / location).resolve()
        if os.path.commonpath([str(target), str(base_dir)]) != str(base_dir):
            raise BadFileError(f"{path}: tensor {name!r} points outside the model's folder ({location!r}); refused")
        if not target.is_file():
            raise BadFileError(f"{path}: external data file {location!r} for tensor {name!r} is missing (expected {target})")
        try:
            offset = int(info.get("offset", 0) or 0)
            length = int(info["length"]) if info.get("length") not in (None, "") else None
        except ValueError:
            raise BadFileError(f"{path}: tensor {name!r} has a malformed external data offset or length") from None
        if offset < 0 or (length is not None and length < 0):
            raise BadFileError(f"{path}: tensor {name!r} has a negative external data offset or length")
        size = target.stat().st_size
        needed = _tensor_bytes(tensor)
        end = offset + (length if length is not None else (needed or 0))
        if end > size or (needed is not None and length is not None and length < needed):
            raise BadFileError(f"{path}: external data file {location!r} is too short for tensor {name!r} (needs bytes {offset}..{end}, file has {size})")
        found[tensor.name] = (target, offset, length)
    return found


def _tensor_bytes(tensor: Any) -> int | None:
    """Bytes a tensor's data occupies, from its dims and element type (None if unknown)."""
    count = 1
    for d in tensor.dims:
        count *= int(d)
    size = itemsize_of(tensor.data_type)
    if size is None:
        return None
    return count * size


def read_external_tensor(loaded: OnnxFile, tensor: Any) -> None:
    """Read one external tensor's bytes into ``tensor.raw_data`` (validated by ``check_external_data``)."""
    target, offset, length = loaded.external[tensor.name]
    try:
        with open(target, "rb") as handle:
            handle.seek(offset)
            tensor.raw_data = handle.read(length) if length is not None else handle.read()
    except OSError as exc:
        raise BadFileError(f"cannot read external data {target}: {exc.strerror or exc}") from exc
    tensor.data_location = 0
    del tensor.external_data[:]


def load_all_external_data(loaded: OnnxFile) -> None:
    """Read every external tensor (after validation), as ``load_external_data_for_model`` does."""
    from onnx import external_data_helper

    if not loaded.external:
        return
    try:
        external_data_helper.load_external_data_for_model(loaded.model, str(loaded.base_dir))
    except Exception as exc:
        raise BadFileError(f"{loaded.path}: cannot load external data: {first_line(exc)}") from exc

