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

import sys
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from howfast.capture.budget import AliasInfo, schema_alias_info
from howfast.capture.inputs import tensors_in
from howfast.capture.modules import (
    ModuleStack,
    StopCapture,
    module_infos,
    never_ran_message,
    run_error_message,
    scripted_notes,
    unknown_layer_message,
)
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
from howfast.capture.tensors import TensorTable
from howfast.capture.tree import ModelTree, set_training, type_name, unique_tensors, unwrap, walk_modules
from howfast.dynamo_free import refs_without_dynamo
from howfast.errors import InputSpecError, ModelRunError
from howfast.graph.records import CapturedGraph, OpRecord, TensorKind, TensorMeta

# Values an op's arguments hold as they are (``Recorder.convert``), and the aliases of an op that has none.
_PLAIN = frozenset({int, float, bool, str, type(None)})
_NO_ALIASES: frozenset[int] = frozenset()
_FIRST: frozenset[int] = frozenset({0})
_ACTIVATION = TensorKind.ACTIVATION

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


class Recorder:
    """Turns intercepted calls into ``OpRecord``s."""

    def __init__(self, tensors: TensorTable, modules: ModuleStack) -> None:
        self.tensors = tensors
        self.modules = modules
        self.ops: list[OpRecord] = []
        self.suppress = 0  # > 0 while inside a composite function
        self._names: dict[Any, str] = {}
        self._alias: dict[Any, AliasInfo] = {}
        self.known: dict[Any, tuple[str, AliasInfo]] = {}  # aten op -> (name, alias info), looked up once
        self.packed: dict[int, tuple[TensorMeta | None, ...]] = {}  # packed weights' operands, by object_key

    def convert(self, value: Any) -> Any:
        """``value`` with its tensors as ``TensorMeta``s (lists and tuples walked), plain values as
        they are, anything else as text."""
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is tuple or kind is list:
            items = [v if type(v) in _PLAIN else self.convert(v) for v in value]
            return items if kind is list else tuple(items)
        if isinstance(value, torch.Tensor):
            return self.tensors.lookup(value)
        if isinstance(value, (list, tuple)):  # a subclass: a list subclass is rebuilt, a tuple one is a tuple
            return type(value)(self.convert(v) for v in value) if isinstance(value, list) else tuple(self.convert(v) for v in value)
        if isinstance(value, (int, float, bool, str)):
            return value
        if isinstance(value, torch.ScriptObject) and object_key(value) in self.packed:
            return self.packed[object_key(value)]  # a quantized layer's packed (weight, bias)
        return str(value)

    def convert_args(self, args: tuple) -> tuple:
        """``convert(args)`` for an op's positional arguments, with their tensors and plain values
        handled in place (most of an op's arguments: one call less each)."""
        lookup = self.tensors.lookup
        convert = self.convert
        converted = []
        for value in args:
            kind = type(value)
            if kind in _PLAIN:
                converted.append(value)
            elif kind is torch.Tensor or kind is nn.Parameter:
                converted.append(lookup(value))
            elif kind is list:  # sizes, strides, paddings: ``convert``'s own list case
                converted.append([v if type(v) in _PLAIN else convert(v) for v in value])
            else:
                converted.append(convert(value))
        return tuple(converted)

    def record(self, name: str, args: tuple, kwargs: dict, margs: tuple, mkwargs: dict, out: Any, alias: AliasInfo | None) -> None:
        if alias is not None and not alias.views:  # the common case: every output is new memory
            register = self.tensors.register
            if isinstance(out, torch.Tensor):
                made: tuple[TensorMeta, ...] = (register(out, _ACTIVATION),)
            else:
                made = tuple([register(t, _ACTIVATION) for t in tensors_in(out)])
            self.ops.append(OpRecord(len(self.ops), name, self.modules.current, margs, mkwargs, made, _NO_ALIASES, alias.inplace))
            return
        if alias is not None and isinstance(out, torch.Tensor) and alias.aliased_outputs:
            source = self._view_source(args, alias.aliased_outputs[0])
            if source is not None:  # one view of (or in-place write to) a positional argument: most aliasing ops
                meta = self.tensors.derive(out, self.tensors.lookup(source))
                self.ops.append(OpRecord(len(self.ops), name, self.modules.current, margs, mkwargs, (meta,), _FIRST, alias.inplace))
                return
        outputs, aliased = self._outputs(args, kwargs, out, alias)
        self.ops.append(OpRecord(index=len(self.ops), op=name, module=self.modules.current, args=margs, kwargs=mkwargs,
                                 outputs=tuple(outputs), aliases=frozenset(aliased), inplace=bool(alias and alias.inplace)))

    @staticmethod
    def _view_source(args: tuple, index: int | None) -> torch.Tensor | None:
        """The tensor a single output aliases when it is (in) positional argument ``index``, else None
        (``_outputs`` then looks further)."""
        if index is None or index >= len(args):
            return None
        value = args[index]
        return value if isinstance(value, torch.Tensor) else _first_tensor(value)

    def _outputs(self, args: tuple, kwargs: dict, out: Any, alias: AliasInfo | None) -> tuple[list[TensorMeta], set[int]]:
        """The outputs of an op that may alias its arguments (a view, an in-place op, a composite), and
        the positions of those that do."""
        outputs: list[TensorMeta] = []
        aliased: set[int] = set()
        flat_args = list(args) + list(kwargs.values())
        passed = {id(t): t for t in tensors_in(flat_args)} if alias is None else {}
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
        return outputs, aliased

    def aten_name(self, func: Any) -> str:
        name = self._names.get(func)
        if name is None:
            name = self._names[func] = str(func)
        return name

    def alias_info(self, func: Any) -> AliasInfo:
        info = self._alias.get(func)
        if info is None:
            info = self._alias[func] = schema_alias_info(func)
        return info


def eager_stance() -> Any:
    """``torch.compiler.set_stance("force_eager")`` (compiled code runs eagerly until ``end_stance``)
    once dynamo is loaded, as it is by anything compiled; None before (the stance would load it)."""
    if "torch._dynamo" not in sys.modules:
        return None
    return torch.compiler.set_stance("force_eager")


def end_stance(stance: Any) -> None:
    if stance is not None:
        stance.__exit__(None, None, None)


def run_op(func: Any, args: tuple, kwargs: dict) -> Any:
    """``func(*args, **kwargs)``: how the dispatch mode runs an op when no shadows are kept."""
    return func(*args, **kwargs)


class DispatchInterceptor(TorchDispatchMode):
    """Records every aten op, without the dynamo guard PyTorch puts around a dispatch mode's handler
    (``_should_skip_dynamo``: microseconds per op, and the import of dynamo, a second or more, on the
    first). No frame is compiled under a dispatch mode anyway; so that none is compiled inside the
    handler either, ``torch.compile``'d code runs eagerly while the mode is on (``eager_stance``)."""

    def __init__(self, recorder: Recorder, shadows: Shadows | None) -> None:
        super().__init__()
        self.recorder = recorder
        self.shadows = shadows
        self.call = shadows.call if shadows is not None else run_op
        self.stances: list[Any] = []

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False

    def __enter__(self) -> DispatchInterceptor:
        self.stances.append(eager_stance())
        try:
            super().__enter__()
        except BaseException:
            end_stance(self.stances.pop())
            raise
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        try:
            super().__exit__(exc_type, exc_value, traceback)
        finally:
            end_stance(self.stances.pop())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        rec = self.recorder
        if kwargs is None:
            kwargs = {}
        if rec.suppress:
            return self.call(func, args, kwargs)
        margs = rec.convert_args(args)
        mkwargs = {k: rec.convert(v) for k, v in kwargs.items()} if kwargs else {}
        out = func(*args, **kwargs) if self.shadows is None else self.shadows.call(func, args, kwargs)
        known = rec.known.get(func)
        if known is None:
            known = rec.known[func] = (rec.aten_name(func), rec.alias_info(func))
        rec.record(known[0], args, kwargs, margs, mkwargs, out, known[1])
        return out


class FunctionInterceptor(TorchFunctionMode):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = COMPOSITE_FUNCTIONS.get(func)
        if name is None:  # nearly every call: passed on at once
            return func(*args, **(kwargs or {}))
        rec = self.recorder
        if kwargs is None:
            kwargs = {}
        if rec.suppress:
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
    tree = ModelTree(model)  # the tree before the run, walked once for all that read it
    tensors = TensorTable()
    modules = ModuleStack(model, until, tree)
    modules.lookup = tensors.lookup
    if until is not None and until not in {p for p in modules.paths.values()}:
        raise InputSpecError(unknown_layer_message(until, list(modules.paths.values())))
    weights = [t for _, t in tree.tensors("parameters") + tree.tensors("buffers")]
    shadows = Shadows() if is_meta_capture(model, args, kwargs, weights) else None
    if shadows is not None:
        args, kwargs = shadows.seed_inputs(model, args, kwargs)
    packed = packed_weights(model, tree.unique)
    register_weights(model, tensors, packed, tree)
    input_metas = register_inputs(args, kwargs, tensors)
    recorder = Recorder(tensors, modules)
    recorder.packed = {key: tuple(None if t is None else tensors.lookup(t) for t in operands)
                       for key, operands in packed.operands.items()}
    modes = [(m, m.training) for _, m in tree.unique]
    if train is not None:
        set_training(model, train)
    saved = snapshot_training_buffers(model, [m for m, _ in modes], tree)
    outputs: list[TensorMeta] = []
    try:
        with torch.set_grad_enabled(not no_grad), modules.installed(), FunctionInterceptor(recorder), DispatchInterceptor(recorder, shadows), \
                refs_without_dynamo() if shadows is not None else nullcontext():
            result = model(*args, **kwargs)
        outputs = [tensors.lookup(t) for t in tensors_in(result)]
    except StopCapture:
        outputs = list(modules.until_outputs)
    except Exception as exc:  # the model rejected its inputs: say where and with what
        raise ModelRunError(run_error_message(exc, modules, args, kwargs)) from exc
    finally:
        restore_buffers(saved)
        for module, mode in modes:
            if module.training != mode:  # only those the run changed: nn.Module.__setattr__ is slow
                module.training = mode
    if until is not None and not modules.reached_until:
        raise InputSpecError(never_ran_message(until, modules))
    after = ModelTree(model)  # the tree after the run (a lazy module has its parameters now)
    graph = build_graph(model, model_name, recorder, modules, input_metas, until, packed, after)
    graph.outputs = outputs
    graph.notes.extend(scripted_notes(model, after))
    for note in graph.notes:
        warnings.warn(f"howfast: {note}", stacklevel=3)
    return graph


def build_graph(model: nn.Module, model_name: str | None, recorder: Recorder, modules: ModuleStack, inputs: list[TensorMeta],
                until: str | None, packed: PackedWeights | None = None, tree: ModelTree | None = None) -> CapturedGraph:
    """The graph of a finished run; ``tree``: the model's tree walked after the run, when the caller has it."""
    tree = tree if tree is not None else ModelTree(model)
    infos = module_infos(model, modules, tree)
    if packed is not None:
        add_to_layers(infos, packed)
    named = tree.tensors("parameters") + (packed.tensors if packed is not None else [])
    params = [p for _, p in named]
    buffers = [b for _, b in tree.tensors("buffers")]
    param = TensorKind.PARAM
    read = {t.name for op in recorder.ops for t in op.shared_inputs() if t.kind == param}
    sizes = [(p.numel(), *stored(p)) for p in params]  # (elements, stored dtype, stored bytes): each parameter once
    used = [size for (name, _), size in zip(named, sizes) if name in read]
    dtypes: dict[str, int] = {}
    dtype_bytes: dict[str, int] = {}
    for numel, key, nbytes in sizes:
        dtypes[key] = dtypes.get(key, 0) + numel
        dtype_bytes[key] = dtype_bytes.get(key, 0) + nbytes
    return CapturedGraph(
        model_name=model_name or type_name(model),
        ops=recorder.ops,
        modules=infos,
        inputs=inputs,
        params=sum(size[0] for size in sizes),
        param_bytes=sum(dtype_bytes.values()),
        buffers=sum(b.numel() for b in buffers),
        buffer_bytes=sum(b.numel() * b.element_size() for b in buffers),
        trainable_params=sum(size[0] for p, size in zip(params, sizes) if p.requires_grad),
        used_params=sum(size[0] for size in used),
        used_param_bytes=sum(size[2] for size in used),
        param_dtypes=dtypes,
        param_dtype_bytes=dtype_bytes,
        quantization_bytes=quantization_bytes(params),
        truncated_at=until,
    )


def register_weights(model: nn.Module, tensors: TensorTable, packed: PackedWeights | None = None,
                     tree: ModelTree | None = None) -> None:
    """Register the parameters (packed weights among them) and buffers of ``model`` (of ``tree``, its
    tree walked before the run, when the caller has it)."""
    tree = tree if tree is not None else ModelTree(model)
    for name, p in tree.tensors("parameters") + (packed.tensors if packed is not None else []):
        tensors.register(p, TensorKind.PARAM, name)
        for inner in inner_tensors(p):  # a tensor subclass's data, scales and zero points
            tensors.register(inner, TensorKind.PARAM, name)
    for name, b in tree.tensors("buffers"):
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


def snapshot_training_buffers(model: nn.Module, tree: list[nn.Module] | None = None,
                              walked: ModelTree | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Copies of buffers a training-mode forward may update in place (e.g. BN running stats); ``tree``:
    the model's modules, ``walked`` its tree, when the caller has them already."""
    if not any(m.training for m in (tree if tree is not None else (m for _, m in walk_modules(model)))):
        return []
    buffers = walked.tensors("buffers") if walked is not None else unique_tensors(model, "buffers")
    return [(b, b.detach().clone()) for _, b in buffers if b.device.type != "meta"]


def restore_buffers(saved: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    with torch.no_grad():
        for buffer, copy in saved:
            buffer.copy_(copy)


def _first_tensor(value: Any) -> torch.Tensor | None:
    found = tensors_in(value)
    return found[0] if found else None
