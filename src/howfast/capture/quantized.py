"""The weights a quantized PyTorch model hides in packed-parameter objects.

``torch.ao.quantization`` (eager, FX, dynamic) replaces a layer's ``weight`` parameter by a
TorchScript object (``Conv2dPackedParamsBase``, ``LinearPackedParamsBase``,
``EmbeddingPackedParamsBase``) that the quantized kernels take as an argument: the model then has no
parameters, and the ops read no tensor. This module unpacks each such object once, before the run,
into its quantized weight (``qint8``, 1 byte per element) and its float bias, so that the capture
registers them as parameters (counted once, named after the layer that holds them) and records
them as the weight and bias operands of ``quantized::conv2d``, ``quantized::linear``,
``quantized::linear_dynamic`` and ``quantized::embedding_bag_byte`` (docs/quantized.md).

A parameter that is a tensor subclass (torchao's quantized weights) stores inner tensors: its data
(the largest, e.g. int8 ``qdata``) is the parameter's bytes and dtype (``stored``), the others its
scales and zero points; the capture registers the inner tensors under the parameter's name, so the
ops the subclass runs on them read a weight.

A quantized weight's scales and zero points are not parameters: ``quantization_bytes`` prices them
at the widths PyTorch reports them in (``q_per_channel_scales()`` float64 and
``q_per_channel_zero_points()`` int64, one of each per output channel; one of each per tensor for a
per-tensor weight), the model's "scales and zero points" figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils._python_dispatch import is_traceable_wrapper_subclass

from howfast.capture.tree import walk_modules
from howfast.graph.records import ModuleInfo, ancestors

# TorchScript classes of packed weights, and how to unpack each into (weight, bias).
_CONV = ("Conv1dPackedParamsBase", "Conv2dPackedParamsBase", "Conv3dPackedParamsBase")
_LINEAR = "LinearPackedParamsBase"
_EMBEDDING = "EmbeddingPackedParamsBase"


@dataclass(slots=True)
class PackedWeights:
    """Every packed-parameter object of a model, unpacked once: ``tensors`` in model order as
    ``(name, tensor)``, and for each object (by ``object_key``) the tensors an op taking it reads."""

    tensors: list[tuple[str, torch.Tensor]] = field(default_factory=list)
    operands: dict[int, tuple[torch.Tensor | None, ...]] = field(default_factory=dict)
    objects: list[torch.ScriptObject] = field(default_factory=list)  # kept alive: keys stay valid


def object_key(obj: torch.ScriptObject) -> int:
    """A packed object's identity: an op receives a new Python wrapper of the same TorchScript
    object on every call, so ``id`` differs; its hash is the object's own."""
    return hash(obj)


def class_name(obj: torch.ScriptObject) -> str:
    """``"Conv2dPackedParamsBase"`` for ``__torch__.torch.classes.quantized.Conv2dPackedParamsBase``."""
    try:
        return str(obj._type().qualified_name()).rsplit(".", 1)[-1]
    except (AttributeError, RuntimeError):
        return ""


def unpack(obj: torch.ScriptObject) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """``(weight, bias)`` of one packed-parameter object, or None for an object that is not one."""
    name = class_name(obj)
    if name in _CONV:
        weight, bias = obj.unpack()  # type: ignore[attr-defined]  # a TorchScript method
        return weight, bias
    if name == _LINEAR:
        weight, bias = torch.ops.quantized.linear_unpack(obj)
        return weight, bias
    if name == _EMBEDDING:
        return torch.ops.quantized.embedding_bag_unpack(obj), None
    return None


def packed_weights(model: nn.Module, modules: Iterable[tuple[str, nn.Module]] | None = None) -> PackedWeights:
    """Unpack every packed-parameter attribute of ``model``'s modules (``modules``: ``walk_modules(model)``
    when the caller has it), each object once.

    The weight of the object a layer holds in ``_packed_params`` is named ``<layer>.weight``
    (``<layer>.bias`` its bias): the name of the float parameter it replaced.
    """
    found = PackedWeights()
    plain: set[type] = set()  # attribute types that are no TorchScript object (ints, bools, dicts...): most attributes
    for path, module in (modules if modules is not None else walk_modules(model)):
        attributes = vars(module)
        new = set(map(type, attributes.values())) - plain  # the module's attribute types, compared at once
        if not new:
            continue
        scripts = {kind for kind in new if issubclass(kind, torch.ScriptObject)}
        plain.update(new - scripts)
        if not scripts:
            continue
        for attribute, value in attributes.items():
            if type(value) not in scripts or object_key(value) in found.operands:
                continue
            unpacked = unpack(value)
            if unpacked is None:
                continue
            owner = _owner_path(path, attribute)
            weight, bias = unpacked
            found.tensors.append((_join(owner, "weight"), weight))
            if bias is not None:
                found.tensors.append((_join(owner, "bias"), bias))
            found.operands[object_key(value)] = (weight, bias)
            found.objects.append(value)
    return found


def inner_tensors(tensor: torch.Tensor) -> list[torch.Tensor]:
    """The plain tensors a tensor subclass (torchao's ``Int8Tensor``, ``Int4Tensor``...) stores,
    through nested subclasses; empty for a plain tensor."""
    if not is_traceable_wrapper_subclass(tensor):
        return []
    names, _ = tensor.__tensor_flatten__()  # the subclass protocol
    found: list[torch.Tensor] = []
    for name in names:
        inner = getattr(tensor, name)
        found.extend(inner_tensors(inner) or [inner])
    return found


def stored(tensor: torch.Tensor) -> tuple[str, int]:
    """``(dtype, bytes)`` of a parameter's data as stored: a plain tensor's own; a tensor subclass's
    largest inner tensor (its quantized data: the rest are scales and zero points)."""
    inner = inner_tensors(tensor)
    data = max(inner, key=_nbytes) if inner else tensor
    return str(data.dtype).removeprefix("torch."), _nbytes(data)


def quantization_bytes(tensors: list[torch.Tensor]) -> int:
    """Bytes of the scales and zero points of the quantized ``tensors``, at PyTorch's widths: a
    quantized tensor's per-channel or per-tensor parameters; a tensor subclass's inner tensors but
    its data."""
    total = 0
    for tensor in tensors:
        inner = inner_tensors(tensor)
        if inner:
            total += sum(_nbytes(t) for t in inner) - stored(tensor)[1]
            continue
        if not tensor.is_quantized:
            continue
        scheme = tensor.qscheme()
        if scheme in (torch.per_channel_affine, torch.per_channel_affine_float_qparams, torch.per_channel_symmetric):
            scales, zeros = tensor.q_per_channel_scales(), tensor.q_per_channel_zero_points()
            total += scales.numel() * scales.element_size() + zeros.numel() * zeros.element_size()
        else:
            total += 8 + 8  # one float64 scale and one int64 zero point (q_scale(), q_zero_point())
    return total


def add_to_layers(infos: dict[str, ModuleInfo], packed: PackedWeights) -> None:
    """Count each unpacked weight and bias in the parameters of its layer and the layer's ancestors."""
    for name, tensor in packed.tensors:
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        for path in ancestors(owner):
            if path in infos:
                infos[path].params += tensor.numel()
                infos[path].param_bytes += tensor.numel() * tensor.element_size()


def _nbytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _owner_path(path: str, attribute: str) -> str:
    """The layer a packed object belongs to: a ``LinearPackedParams`` child named ``_packed_params``
    holds its layer's weights, so ``fc._packed_params`` names ``fc``."""
    if attribute == "_packed_params" and path.endswith("._packed_params"):
        return path.removesuffix("._packed_params")
    if attribute == "_packed_params" and path == "_packed_params":
        return ""
    return path


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
