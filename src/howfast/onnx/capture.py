"""``capture_onnx(path, inputs)`` -> ``CapturedGraph``: an ONNX model as the same op records.

The ONNX front end ends where the PyTorch capture ends — at a ``CapturedGraph`` of ``OpRecord``s —
and from there the one pipeline (``howfast.pipeline``) costs it with the same formulas and builds
the same report. ``howfast.analyze("model.onnx", inputs)`` does both.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from howfast.errors import BadFileError, HowfastError, UsageError, describe, first_line
from howfast.graph.inputs import InputSpec
from howfast.graph.records import CapturedGraph, ModuleInfo, OpRecord, TensorKind, TensorMeta, ancestors
from howfast.graph.request import CaptureRequest
from howfast.onnx.inputs import batch_specs, graph_inputs, normalize_specs, resolve_inputs
from howfast.onnx.load import SMALL_TENSOR, OnnxFile, read_external_tensor, read_onnx
from howfast.onnx.shapes import build_skeleton, check_and_infer
from howfast.onnx.translate import Walker

# Options of a capture that a graph file cannot honour, and why.
REFUSED = {
    "until": "--until applies to PyTorch models only, not to ONNX files",
    "grad": "--grad applies to PyTorch models only, not to ONNX files",
    "train": "--train applies to PyTorch models only, not to ONNX files",
    "dtype": "--dtype applies to PyTorch models only: an ONNX file fixes its own dtypes "
             "(an input's is checked against --input NAME=SHAPE:DTYPE)",
    "kwargs": "keyword inputs apply to PyTorch models only: name an ONNX input with --input NAME=SHAPE",
}


def capture_request(path: Any, request: CaptureRequest) -> CapturedGraph:
    """Capture the ONNX model at ``path`` as ``request`` asks (its inputs size symbolic dimensions)."""
    for option in request.options_given():
        if option in REFUSED:
            raise UsageError(REFUSED[option])
    return capture_onnx(path, request.inputs, name=request.name)


def capture_onnx(path: str | os.PathLike[str], input_specs: Any = None, *, name: str | None = None) -> CapturedGraph:
    """The ONNX model at ``path`` as a ``CapturedGraph`` (what ``torch_capture.capture`` returns)."""
    try:
        return _capture(path, input_specs, name)
    except HowfastError:
        raise
    except Exception as exc:  # a malformed graph the checker let through (names that are not text, odd attributes...)
        raise BadFileError(f"{os.fspath(path)}: cannot analyse this ONNX model: {describe(exc)}") from exc


def batch_inputs(path: str | os.PathLike[str], input_specs: Any, batch: int) -> list[InputSpec]:
    """The input specs of the ONNX model at ``path`` with ``batch`` as the first dimension of every
    input (``--batch``): those given, and those whose first dimension is symbolic; a model that fixes
    another batch is refused (``onnx.inputs.batch_specs``)."""
    loaded = read_onnx(path)
    return batch_specs(graph_inputs(loaded.model.graph), normalize_specs(input_specs), batch, str(loaded.path))


def _capture(path: str | os.PathLike[str], input_specs: Any, name: str | None) -> CapturedGraph:
    loaded = read_onnx(path)
    model = loaded.model
    resolved = resolve_inputs(graph_inputs(model.graph), normalize_specs(input_specs))
    values, keep = _small_values(loaded)
    skeleton = build_skeleton(model, resolved, keep)
    table = check_and_infer(skeleton, loaded.path)
    del skeleton
    walker = Walker(model, table, values, loaded.path)
    input_metas = walker.register_weights_and_inputs(resolved)
    walker.walk()
    outputs = [walker.metas[o.name] for o in model.graph.output if o.name in walker.metas]
    return _graph(walker, loaded, input_metas, outputs, name)


def _small_values(loaded: OnnxFile) -> tuple[dict[str, np.ndarray], set[str]]:
    """Values of the small initializers (shape arguments, indices, scalars), read from wherever they are."""
    from onnx import numpy_helper

    values: dict[str, np.ndarray] = {}
    keep: set[str] = set()
    for tensor in loaded.model.graph.initializer:
        numel = 1
        for d in tensor.dims:
            numel *= int(d)
        if numel > SMALL_TENSOR:
            continue
        if tensor.data_location == 1 and tensor.name in loaded.external:
            read_external_tensor(loaded, tensor)
        try:
            values[tensor.name] = numpy_helper.to_array(tensor)
        except Exception as exc:
            raise BadFileError(f"{loaded.path}: initializer {tensor.name!r} holds malformed data: {first_line(exc)}") from exc
        keep.add(tensor.name)
    return values, keep


def _graph(walker: Walker, loaded: OnnxFile, inputs: list[TensorMeta], outputs: list[TensorMeta], name: str | None) -> CapturedGraph:
    weights = {n: walker.metas[n] for n in walker.weight_names if n in walker.metas}
    params = [m for m in weights.values() if m.kind == TensorKind.PARAM]
    buffers = [m for m in weights.values() if m.kind == TensorKind.BUFFER]
    by_storage = {m.storage: m for m in weights.values()}
    read_storages = {t.storage for op in walker.ops for t in op.inputs if t.kind == TensorKind.PARAM}
    used = [m for m in params if m.storage in read_storages]
    dtypes: dict[str, int] = {}
    dtype_bytes: dict[str, int] = {}
    for m in params:
        dtypes[m.dtype] = dtypes.get(m.dtype, 0) + m.numel
        dtype_bytes[m.dtype] = dtype_bytes.get(m.dtype, 0) + m.nbytes
    qparams = [walker.metas[n] for n in walker.qparams if n in walker.metas]
    graph_name = loaded.model.graph.name
    notes = [f"ONNX model {loaded.path.name}" + (f" (graph {graph_name!r})" if graph_name else "")
             + f": {len(loaded.model.graph.node)} nodes, opset {_opset(loaded.model)}, {len(walker.ops)} op records"]
    if walker.folded:
        notes.append(f"{walker.folded} node(s) computing only from constants and static shapes were folded (shape arithmetic, not model ops)")
    if walker.skip:
        notes.append(f"{len(walker.skip)} MatMul + Add(bias) pair(s) counted as one addmm each (an nn.Linear)")
    copies = [n for n in walker.copies if n in weights and weights[n].kind != TensorKind.CONSTANT]
    if qparams:
        notes.append(f"{len(qparams)} quantization scale(s) and zero point(s) ({sum(m.nbytes for m in qparams)} bytes, as stored) "
                     "are not parameters: they are the model's scales and zero points figure")
    if copies:
        notes.append(f"{len(copies)} Identity copie(s) of initializers counted as their own weights (an exporter merges equal-valued weights)")
    return CapturedGraph(
        model_name=name or loaded.path.name,
        ops=walker.ops,
        modules=_modules(walker, by_storage),
        inputs=inputs,
        params=sum(m.numel for m in params),
        param_bytes=sum(m.nbytes for m in params),
        buffers=sum(m.numel for m in buffers),
        buffer_bytes=sum(m.nbytes for m in buffers),
        trainable_params=sum(m.numel for m in params),
        used_params=sum(m.numel for m in used),
        used_param_bytes=sum(m.nbytes for m in used),
        outputs=outputs,
        param_dtypes=dtypes,
        param_dtype_bytes=dtype_bytes,
        quantization_bytes=sum(m.nbytes for m in qparams),
        notes=notes,
    )


def _opset(model: Any) -> int:
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            return int(opset.version)
    return 0


def _modules(walker: Walker, by_storage: dict[int, TensorMeta]) -> dict[str, ModuleInfo]:
    """The module tree: every path an op ran in and all its prefixes."""
    op_types: dict[str, list[str]] = {}
    params: dict[str, set[int]] = {}
    last_op: dict[str, OpRecord] = {}
    for op in walker.ops:
        for path in ancestors(op.module):
            params.setdefault(path, set())
            last_op[path] = op
            for t in op.inputs:
                if t.kind == TensorKind.PARAM and t.storage in by_storage:
                    params[path].add(t.storage)
    for path, node_type in walker.recorded_types:
        types = op_types.setdefault(path, [])
        if node_type not in types:
            types.append(node_type)
    order: dict[str, None] = {}
    for op in walker.ops:  # execution order, parents before children
        for path in ancestors(op.module):
            order.setdefault(path, None)
    parents = {a for p in order for a in ancestors(p)[:-1]}
    infos: dict[str, ModuleInfo] = {}
    for path in [""] + [p for p in order if p]:
        storages = params.get(path, set())
        if path == "":
            kind = "ONNX"
        elif path in parents:
            kind = "Group"
        else:
            types = op_types.get(path, [])
            kind = "+".join(types[:3]) + ("+..." if len(types) > 3 else "") if types else "Group"
        infos[path] = ModuleInfo(
            path=path,
            type=kind,
            depth=0 if path == "" else path.count(".") + 1,
            params=sum(by_storage[s].numel for s in storages),
            param_bytes=sum(by_storage[s].nbytes for s in storages),
            calls=1,
            output_shapes=[tuple(t.shape) for t in last_op[path].outputs] if path in last_op else [],
        )
    return infos
