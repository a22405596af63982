"""Run an ONNX model with ONNX Runtime: a session on CPU (or CUDA where present) and input feeds.

``create_session`` applies the same file checks as the analysis (a readable ONNX protobuf,
external data only beside the model) before ONNX Runtime opens the file, so a bad file is the
same one-line ``BadFileError``. ``make_feeds`` builds random inputs of the shapes the model
declares, with symbolic dimensions sized by the same ``--input`` specs ``analyze`` takes.
``run_session`` runs it; ONNX Runtime's errors become one line that keeps their cause
(``ort_message``: the C++ source location and signature dropped, the middle cut when still long),
and ONNX Runtime logs nothing itself (``log_severity_level`` 4: fatal only).
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from howfast.errors import BadFileError, BenchmarkError, DeviceError, InputSpecError, ModelLoadError
from howfast.onnx.inputs import GraphInput, normalize_specs, resolve_inputs
from howfast.onnx.load import read_onnx

# ONNX Runtime's tensor type strings -> (numpy dtype, ONNX elem type).
_ORT_TYPES: dict[str, tuple[Any, int]] = {
    "tensor(float)": (np.float32, 1), "tensor(uint8)": (np.uint8, 2), "tensor(int8)": (np.int8, 3),
    "tensor(uint16)": (np.uint16, 4), "tensor(int16)": (np.int16, 5), "tensor(int32)": (np.int32, 6),
    "tensor(int64)": (np.int64, 7), "tensor(bool)": (np.bool_, 9), "tensor(float16)": (np.float16, 10),
    "tensor(double)": (np.float64, 11), "tensor(uint32)": (np.uint32, 12), "tensor(uint64)": (np.uint64, 13),
}


def _require_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - installed with the onnx extra
        raise ModelLoadError("running ONNX models needs onnxruntime: pip install 'howfast[onnx]'") from exc
    return onnxruntime


def create_session(path: str | os.PathLike[str], device: str = "cpu", threads: int | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``path`` on ``device`` (``cpu`` or ``cuda[:N]``)."""
    ort = _require_ort()
    loaded = read_onnx(path)  # parse and validate (external data beside the model) before ORT sees it
    del loaded
    providers: list[Any]
    if device == "cpu":
        providers = ["CPUExecutionProvider"]
    elif device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise DeviceError(f"--device {device} asked for, but this onnxruntime has no CUDA provider "
                              f"(available: {', '.join(ort.get_available_providers())}); install onnxruntime-gpu")
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        providers = [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
    else:
        raise DeviceError(f"unknown device {device!r} for ONNX Runtime; use cpu or cuda")
    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only: an error is raised, and told once, by howfast
    if threads is not None:
        if threads < 1:
            raise InputSpecError(f"threads must be at least 1, got {threads}")
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(os.fspath(path), sess_options=options, providers=providers)
    except Exception as exc:
        raise BadFileError(f"ONNX Runtime cannot load {os.fspath(path)}: {ort_message(exc)}") from exc


def run_session(session: Any, feeds: dict[str, np.ndarray]) -> list[Any]:
    """``session.run`` on ``feeds``; a failure is a ``BenchmarkError`` whose one line keeps ORT's cause."""
    try:
        return list(session.run(None, feeds))
    except Exception as exc:
        raise BenchmarkError(f"ONNX Runtime failed running the model: {ort_message(exc)}") from exc


# "[ONNXRuntimeError] : 1 : FAIL : " before the message; "/src/.../reshape_helper.h:91 onnxruntime::
# ReshapeHelper::ReshapeHelper(const onnxruntime::TensorShape&, ...) " before the cause.
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*(\w+)\s*:\s*")
_SOURCE = re.compile(r"\S+\.(?:h|hpp|cc|cpp|cu|cuh):\d+\s+(?:[\w~<>]+::[\w:~<>]*\([^()]*\)\s*(?:const\s*)?)?")


def ort_message(exc: BaseException, limit: int = 400) -> str:
    """ONNX Runtime's message on one line, its cause kept: the error code, the node, what went wrong."""
    text = " ".join(str(exc).split())
    match = _ORT_PREFIX.match(text)
    if match:
        text = f"{match.group(1)}: {text[match.end():]}"
    text = _SOURCE.sub("", text).strip() or type(exc).__name__
    if len(text) <= limit:
        return text
    head = limit // 3
    return f"{text[:head].rstrip()} ... {text[-(limit - head - 5):].lstrip()}"  # the cause is at the end


def session_inputs(session: Any) -> list[GraphInput]:
    """The session's inputs as ``GraphInput``s (dims: int, symbol name, or None)."""
    found = []
    for value in session.get_inputs():
        dims: list[int | str | None] = []
        for d in value.shape or []:
            if isinstance(d, int) and d > 0:
                dims.append(d)
            elif isinstance(d, str) and d:
                dims.append(d)
            else:
                dims.append(None)
        elem = _ORT_TYPES.get(value.type, (None, 0))[1]
        found.append(GraphInput(value.name, tuple(dims), elem, has_shape=value.shape is not None))
    return found


def make_feeds(session: Any, input_specs: Any = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every session input: floats standard normal, integers zero, booleans True."""
    declared = session_inputs(session)
    resolved = resolve_inputs(declared, normalize_specs(input_specs))
    types = {v.name: v.type for v in session.get_inputs()}
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for r in resolved:
        dtype = _ORT_TYPES.get(types[r.name], (None, 0))[0]
        if dtype is None:
            raise InputSpecError(f"input {r.name!r} has type {types[r.name]}, which howfast cannot fill")
        if np.issubdtype(dtype, np.floating):
            feeds[r.name] = rng.standard_normal(r.shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[r.name] = np.ones(r.shape, dtype=dtype)
        else:
            feeds[r.name] = np.zeros(r.shape, dtype=dtype)
    return feeds
