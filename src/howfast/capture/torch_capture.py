"""Capture a PyTorch model's execution as a graph of ops with module attribution.

Two interceptors run together while the model executes once:

* a ``TorchDispatchMode`` sees every aten op (``F.*`` calls, ``torch.matmul``, ``@``, ``einsum``,
  in-place ops, module calls alike) after autograd and decompositions;
* a ``TorchFunctionMode`` catches a few *composite functions* (scaled dot-product attention and
  the recurrent layers) before the backend picks a kernel for them. On CPU, SDPA may run as one
  flash kernel or as a dozen math ops, and LSTM as ``mkldnn_rnn_layer`` or as matmuls, depending on
  device, dtype and grad mode. Recording them as one op with one formula makes the counts
  independent of that choice; the aten ops they run inside are not recorded.

On the meta device the dispatch mode also keeps real values beside small integer and boolean
tensors (token ids, attention masks, positions, and those computed from them alone), so code that
reads a value (``bool(mask.all())``, ``.item()``) runs; float tensors stay shape-only, and the ops
recorded are those of a CPU run (``capture.shadow``, docs/huggingface.md).

Global module forward hooks keep a stack of module paths (``capture.modules``: the capturing
thread's calls only), so each op is attributed to the innermost module it ran in. Every hook and
mode is removed on exit, and buffers that a training-mode forward would update (batch-norm running
stats) are restored, so the model is left exactly as it was.

A ``torch.compile``'d model is captured as the model it compiled (its tree without ``_orig_mod``);
inside a TorchScript module no hook fires, so its ops count in it as a whole, and the graph's notes
(and a warning) say that per-layer attribution is unavailable there. ``until`` a layer that exists
but never runs is refused, as an unknown one is.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.weak import WeakIdKeyDictionary

from howfast.capture.inputs import tensors_in
from howfast.capture.modules import ModuleStack, StopCapture, module_infos, scripted_notes
from howfast.capture.quantized import (
    PackedWeights,
    add_to_layers,
    inner_tensors,
    object_key,
    packed_weights,
    quantization_bytes,
    stored,
)
from howfast.capture.shadow import Shadows, is_meta_capture
from howfast.capture.tree import set_training, type_name, unique_tensors, unwrap, walk_modules
from howfast.errors import InputSpecError, ModelRunError, first_line
from howfast.graph.records import CapturedGraph, OpRecord, TensorKind, TensorMeta

# Functions recorded whole, before kernel selection. Names are the op names the cost registry uses.
COMPOSITE_FUNCTIONS: dict[Callable[..., Any], str] = {
    torch._C._nn.scaled_dot_product_attention: "scaled_dot_product_attention",
    torch._C._VariableFunctions.lstm: "lstm",
    torch._C._VariableFunctions.gru: "gru",
    torch._C._VariableFunctions.rnn_tanh: "rnn_tanh",
    torch._C._VariableFunctions.rnn_relu: "rnn_relu",
    # RMSNorm runs as one fused kernel or as pow, mean, add, rsqrt, mul, mul.
    torch.nn.functional.rms_norm: "rms_norm",
    # nn.MultiheadAttention's Python path hides its SDPA and dropout calls from a function mode.
    torch.nn.functional.multi_head_attention_forward: "multi_head_attention_forward",
    # einsum may run as bmm, or as mul + sum when a contracted dimension has size 1.
    torch.einsum: "einsum",  # torch.functional.einsum
    torch._C._VariableFunctions.einsum: "einsum",  # type: ignore[attr-defined]  # not in torch's stubs
    # Dropout runs as native_dropout, or bernoulli_ + div_ + mul, depending on device and version.
    # Under a function mode F.dropout hands itself to the mode, so the Python functions are keys too.
    torch.nn.functional.dropout: "dropout",
    torch.nn.functional.dropout1d: "feature_dropout",
    torch.nn.functional.dropout2d: "feature_dropout",
    torch.nn.functional.dropout3d: "feature_dropout",
    torch.nn.functional.alpha_dropout: "alpha_dropout",
    torch.nn.functional.feature_alpha_dropout: "feature_alpha_dropout",
    torch._C._VariableFunctions.dropout: "dropout",
    torch._C._VariableFunctions.dropout_: "dropout",
    torch._C._VariableFunctions.feature_dropout: "feature_dropout",
    torch._C._VariableFunctions.feature_dropout_: "feature_dropout",
    torch._C._VariableFunctions.alpha_dropout: "alpha_dropout",
    torch._C._VariableFunctions.alpha_dropout_: "alpha_dropout",
    torch._C._VariableFunctions.feature_alpha_dropout: "feature_alpha_dropout",
    torch._C._VariableFunctions.feature_alpha_dropout_: "feature_alpha_dropout",
}


@dataclass(frozen=True, slots=True)
class _AliasInfo:
    """Which outputs of an aten op alias an input (views, in-place and out= results)."""

    aliased_outputs: tuple[int | None, ...]  # for each output, the index of the aliased argument
    inplace: bool


class TensorTable:
    """Gives every tensor seen a stable id and a storage id, without keeping it alive."""

    def __init__(self) -> None:
        self._metas: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self._ids = count(1)

    def register(self, tensor: torch.Tensor, kind: TensorKind, name: str = "", storage: int | None = None) -> TensorMeta:
        tid = next(self._ids)
        meta = TensorMeta(
            tid=tid,
            storage=tid if storage is None else storage,
            shape=tuple(int(s) for s in tensor.shape),
            dtype=str(tensor.dtype).removeprefix("torch."),
            itemsize=tensor.element_size(),
            kind=kind,
            name=name,
        )
        self._metas[tensor] = meta
        return meta

    def lookup(self, tensor: torch.Tensor) -> TensorMeta:
        meta = self._metas.get(tensor)
        if meta is None or meta.shape != tuple(tensor.shape):
            # A tensor made outside the capture (a plain attribute, a constant) or resized in place.
            kind = meta.kind if meta is not None else TensorKind.CONSTANT
            storage = meta.storage if meta is not None else None
            meta = self.register(tensor, kind, meta.name if meta else "", storage)
        return meta

    def derive(self, tensor: torch.Tensor, source: TensorMeta) -> TensorMeta:
        """Register ``tensor`` as sharing ``source``'s storage (a view or in-place result)."""
        existing = self._metas.get(tensor)
        if existing is not None and existing.storage == source.storage and existing.shape == tuple(tensor.shape):
            return existing
        kind = source.kind if source.kind != TensorKind.INPUT else TensorKind.INPUT
        return self.register(tensor, kind, source.name, storage=source.storage)


class Recorder:
    """Turns intercepted calls into ``OpRecord``s."""

    def __init__(self, tensors: TensorTable, modules: ModuleStack) -> None:
        self.tensors = tensors
        self.modules = modules
        self.ops: list[OpRecord] = []
        self.suppress = 0  # > 0 while inside a composite function
        self._names: dict[Any, str] = {}
        self._alias: dict[Any, _AliasInfo] = {}
        self.packed: dict[int, tuple[TensorMeta | None, ...]] = {}  # packed weights' operands, by object_key

    def convert(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return self.tensors.lookup(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self.convert(v) for v in value) if isinstance(value, list) else tuple(self.convert(v) for v in value)
        if isinstance(value, (int, float, bool, str)) or value is None:
            return value
        if isinstance(value, torch.ScriptObject) and object_key(value) in self.packed:
            return self.packed[object_key(value)]  # a quantized layer's packed (weight, bias)
        return str(value)

    def record(self, name: str, args: tuple, kwargs: dict, margs: tuple, mkwargs: dict, out: Any, alias: _AliasInfo | None) -> None:
        outputs: list[TensorMeta] = []
        aliased: set[int] = set()
        flat_args = list(args) + list(kwargs.values())
        passed = {id(t): t for t in tensors_in(flat_args)}
        for i, tensor in enumerate(tensors_in(out)):
            if alias is None and id(tensor) in passed:  # a composite returned its input (eval dropout)
                outputs.append(self.tensors.lookup(tensor))
                aliased.add(i)
                continue
            source_index = None
            if alias is not None and i < len(alias.aliased_outputs):
                source_index = alias.aliased_outputs[i]
            elif alias is not None and alias.aliased_outputs and alias.aliased_outputs[-1] is not None:
                source_index = alias.aliased_outputs[-1]  # a list of views (split, unbind)
            if source_index is not None:
                source = _first_tensor(flat_args[source_index]) if source_index < len(flat_args) else None
                if source is not None:
                    outputs.append(self.tensors.derive(tensor, self.tensors.lookup(source)))
                    aliased.add(i)
                    continue
            outputs.append(self.tensors.register(tensor, TensorKind.ACTIVATION))
        self.ops.append(
            OpRecord(
                index=len(self.ops),
                op=name,
                module=self.modules.current,
                args=margs,
                kwargs=mkwargs,
                outputs=tuple(outputs),
                aliases=frozenset(aliased),
                inplace=bool(alias and alias.inplace),
            )
        )

    def aten_name(self, func: Any) -> str:
        name = self._names.get(func)
        if name is None:
            name = self._names[func] = str(func)
        return name

    def alias_info(self, func: Any) -> _AliasInfo:
        info = self._alias.get(func)
        if info is None:
            info = self._alias[func] = _schema_alias_info(func)
        return info


class DispatchInterceptor(TorchDispatchMode):
    def __init__(self, recorder: Recorder, shadows: Shadows | None) -> None:
        super().__init__()
        self.recorder = recorder
        self.call = shadows.call if shadows is not None else lambda func, args, kwargs: func(*args, **kwargs)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        rec = self.recorder
        if rec.suppress:
            return self.call(func, args, kwargs)
        margs, mkwargs = rec.convert(args), {k: rec.convert(v) for k, v in kwargs.items()}
        out = self.call(func, args, kwargs)
        rec.record(rec.aten_name(func), args, kwargs, margs, mkwargs, out, rec.alias_info(func))
        return out


class FunctionInterceptor(TorchFunctionMode):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        name = COMPOSITE_FUNCTIONS.get(func)
        rec = self.recorder
        if name is None or rec.suppress:
            return func(*args, **kwargs)
        margs, mkwargs = rec.convert(args), {k: rec.convert(v) for k, v in kwargs.items()}
        rec.suppress += 1
        try:
            out = func(*args, **kwargs)
        finally:
            rec.suppress -= 1
        rec.record(name, args, kwargs, margs, mkwargs, out, None)
        return out


def capture(
    model: nn.Module,
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None = None,
    *,
    until: str | None = None,
    no_grad: bool = True,
    train: bool | None = None,
    model_name: str | None = None,
) -> CapturedGraph:
    """Run ``model(*args, **kwargs)`` once and return every op it executed, attributed to modules.

    ``until`` names a module path; the run stops after that module's forward returns, and only the
    ops up to it are kept (a feature extractor cut at a named layer). ``train`` runs the model in
    training (True) or eval (False) mode, or as it is (None); every module's mode is restored after.
    """
    kwargs = kwargs or {}
    model = unwrap(model)  # a torch.compile'd model: run and name the model it compiled
    tensors = TensorTable()
    modules = ModuleStack(model, until)
    modules.lookup = tensors.lookup
    if until is not None and until not in {p for p in modules.paths.values()}:
        raise InputSpecError(_unknown_layer_message(until, list(modules.paths.values())))
    shadows = Shadows() if is_meta_capture(model, args, kwargs) else None
    if shadows is not None:
        args, kwargs = shadows.seed_inputs(model, args, kwargs)
    packed = packed_weights(model)
    register_weights(model, tensors, packed)
    input_metas = register_inputs(args, kwargs, tensors)
    recorder = Recorder(tensors, modules)
    recorder.packed = {key: tuple(None if t is None else tensors.lookup(t) for t in operands)
                       for key, operands in packed.operands.items()}
    modes = [(m, m.training) for _, m in walk_modules(model)]
    if train is not None:
        set_training(model, train)
    saved = snapshot_training_buffers(model)
    outputs: list[TensorMeta] = []
    try:
        with torch.set_grad_enabled(not no_grad), modules.installed(), FunctionInterceptor(recorder), DispatchInterceptor(recorder, shadows):
            result = model(*args, **kwargs)
        outputs = [tensors.lookup(t) for t in tensors_in(result)]
    except StopCapture:
        outputs = list(modules.until_outputs)
    except Exception as exc:  # the model rejected its inputs: say where and with what
        raise ModelRunError(run_error_message(exc, modules, args, kwargs)) from exc
    finally:
        restore_buffers(saved)
        for module, mode in modes:
            module.training = mode
    if until is not None and not modules.reached_until:
        raise InputSpecError(_never_ran_message(until, modules))
    graph = build_graph(model, model_name, recorder, modules, input_metas, until, packed)
    graph.outputs = outputs
    graph.notes.extend(scripted_notes(model))
    for note in graph.notes:
        warnings.warn(f"howfast: {note}", stacklevel=3)
    return graph


def build_graph(model: nn.Module, model_name: str | None, recorder: Recorder, modules: ModuleStack, inputs: list[TensorMeta],
                until: str | None, packed: PackedWeights | None = None) -> CapturedGraph:
    infos = module_infos(model, modules)
    if packed is not None:
        add_to_layers(infos, packed)
    named = unique_tensors(model, "parameters") + (packed.tensors if packed is not None else [])
    params = [p for _, p in named]
    buffers = [b for _, b in unique_tensors(model, "buffers")]
    read = {t.name for op in recorder.ops for t in op.inputs if t.kind == TensorKind.PARAM}
    used = [p for name, p in named if name in read]
    dtypes: dict[str, int] = {}
    dtype_bytes: dict[str, int] = {}
    for p in params:
        key, nbytes = stored(p)
        dtypes[key] = dtypes.get(key, 0) + p.numel()
        dtype_bytes[key] = dtype_bytes.get(key, 0) + nbytes
    return CapturedGraph(
        model_name=model_name or type_name(model),
        ops=recorder.ops,
        modules=infos,
        inputs=inputs,
        params=sum(p.numel() for p in params),
        param_bytes=sum(dtype_bytes.values()),
        buffers=sum(b.numel() for b in buffers),
        buffer_bytes=sum(b.numel() * b.element_size() for b in buffers),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        used_params=sum(p.numel() for p in used),
        used_param_bytes=sum(stored(p)[1] for p in used),
        param_dtypes=dtypes,
        param_dtype_bytes=dtype_bytes,
        quantization_bytes=quantization_bytes(params),
        truncated_at=until,
    )


def register_weights(model: nn.Module, tensors: TensorTable, packed: PackedWeights | None = None) -> None:
    for name, p in unique_tensors(model, "parameters") + (packed.tensors if packed is not None else []):
        tensors.register(p, TensorKind.PARAM, name)
        for inner in inner_tensors(p):  # a tensor subclass's data, scales and zero points
            tensors.register(inner, TensorKind.PARAM, name)
    for name, b in unique_tensors(model, "buffers"):
        tensors.register(b, TensorKind.BUFFER, name)


def register_inputs(args: tuple, kwargs: dict, tensors: TensorTable) -> list[TensorMeta]:
    metas = []
    for i, value in enumerate(args):
        for t in tensors_in(value):
            metas.append(tensors.register(t, TensorKind.INPUT, f"input{i}"))
    for key, value in kwargs.items():
        for t in tensors_in(value):
            metas.append(tensors.register(t, TensorKind.INPUT, key))
    return metas


def snapshot_training_buffers(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Copies of buffers a training-mode forward may update in place (e.g. BN running stats)."""
    if not any(m.training for _, m in walk_modules(model)):
        return []
    return [(b, b.detach().clone()) for _, b in unique_tensors(model, "buffers") if b.device.type != "meta"]


def restore_buffers(saved: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for buffer, copy in saved:
            buffer.copy_(copy)


# Views whose schema does not say so (no alias annotation, for autograd's sake): their outputs
# share the storage of their first argument. `_unsafe_view` follows the clone of a reshape that
# must copy; `unsafe_split*` are split without autograd's view checks.
_UNANNOTATED_VIEWS = frozenset({"aten::_unsafe_view", "aten::unsafe_split", "aten::unsafe_split_with_sizes"})


def _schema_alias_info(func: Any) -> _AliasInfo:
    schema = getattr(func, "_schema", None)
    if schema is None:
        return _AliasInfo((), False)
    if schema.name in _UNANNOTATED_VIEWS:
        return _AliasInfo((0,), False)
    arg_sets: dict[str, int] = {}
    wildcard: list[int] = []  # arguments whose alias set joins the wildcard: `Tensor(a -> *) self`
    for i, arg in enumerate(schema.arguments):
        info = arg.alias_info
        if info is not None:
            for s in info.before_set:
                arg_sets.setdefault(s, i)
            if "*" in info.after_set and info.before_set:
                wildcard.append(i)
    aliased: list[int | None] = []
    inplace = False
    for ret in schema.returns:
        info = ret.alias_info
        index = None
        if info is not None:
            inplace = inplace or info.is_write
            for s in info.before_set:
                if s in arg_sets:
                    index = arg_sets[s]
                    break
            if index is None and not info.before_set and len(wildcard) == 1:
                # A list of views, `-> Tensor(a)[]` (unbind, split, split_with_sizes, chunk,
                # tensor_split): Python sees the list's annotation with empty sets (the element's
                # `(a)` is not exposed); the elements alias the argument that went to the wildcard.
                index = wildcard[0]
        aliased.append(index)
    return _AliasInfo(tuple(aliased), inplace)


def _first_tensor(value: Any) -> torch.Tensor | None:
    found = tensors_in(value)
    return found[0] if found else None


def run_error_message(exc: Exception, modules: ModuleStack, args: tuple, kwargs: dict) -> str:
    where = modules.current
    if where:
        path = where if len(where) <= 160 else f"...{where[-157:]}"  # a deep tree's path, its innermost part
        where = f"{path} ({modules.types_by_path.get(where, '?')})"
        shapes = ", ".join(_shape_text(v) for v in modules.stack_args[-1])
    else:
        where = "<model>"
        shapes = ", ".join(_shape_text(v) for v in list(args) + list(kwargs.values()))
    return f"the model failed in module {where} with inputs ({shapes}): {type(exc).__name__}: {first_line(exc)}"


def _shape_text(value: Any) -> str:
    tensors = tensors_in(value)
    if not tensors:
        return repr(value)
    return ", ".join("x".join(str(s) for s in t.shape) + f":{str(t.dtype).removeprefix('torch.')}" for t in tensors)


def _never_ran_message(until: str, modules: ModuleStack) -> str:
    ran = [path for path in modules.calls if path]
    shown = ", ".join(ran[:8]) + (f" and {len(ran) - 8} more" if len(ran) > 8 else "")
    return (f"layer {until!r} never ran: the model has it but its forward did not call it, so there is nothing to stop "
            f"after (the layers that ran: {shown or 'none'})")


def _unknown_layer_message(name: str, paths: list[str]) -> str:
    import difflib

    near = difflib.get_close_matches(name, [p for p in paths if p], n=5, cutoff=0.4)
    hint = f"; nearest: {', '.join(near)}" if near else ""
    return f"no layer named {name!r} in the model{hint}"
