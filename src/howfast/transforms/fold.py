"""Fold eval-mode batch norms into the conv or linear layer that feeds them.

The write-up's algebra: for a batch norm with gamma, beta, running mean m and variance v after a
layer with weights w and bias b (0 if absent), with s = sqrt(v + eps):

    w_new = w * gamma / s            (per output channel)
    b_new = (b - m) * gamma / s + beta

Pairs are found on the captured graph: a convolution/linear op whose result has exactly one
consumer, a batch norm op in eval mode, each module called once. The input model is never
changed: the folded model is a deep copy with the batch norm replaced by ``nn.Identity``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from howfast.capture.inputs import resolve_inputs, tensors_in
from howfast.capture.torch_capture import capture
from howfast.conventions import Conventions
from howfast.costs.evaluate import OpCost, evaluate
from howfast.errors import UsageError
from howfast.graph.records import CapturedGraph
from howfast.passes.fusion import can_absorb_batchnorm, consumers, is_eval_batchnorm

_FOLDABLE_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass(slots=True)
class FoldResult:
    """The folded model, the pairs folded, the batch norms left alone and why."""

    model: nn.Module
    folded: list[tuple[str, str]] = field(default_factory=list)  # (layer path, batch-norm path)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (batch-norm path, reason)
    params_removed: int = 0  # gamma and beta of every folded batch norm: 2 x C each
    params_added: int = 0  # a bias for every folded layer that had none: C each
    buffers_removed: int = 0  # running statistics (and num_batches_tracked)

    def as_dict(self) -> dict[str, Any]:
        return {
            "folded": [{"layer": a, "batchnorm": b} for a, b in self.folded],
            "kept": [{"batchnorm": b, "reason": r} for b, r in self.kept],
            "params_removed": self.params_removed,
            "params_added": self.params_added,
            "buffers_removed": self.buffers_removed,
        }


def fold_batchnorm(model: nn.Module, inputs: Any = None, kwargs: dict[str, Any] | None = None) -> nn.Module:
    """A copy of ``model`` with every eval-mode conv/linear -> batch-norm pair folded (see ``fold``)."""
    return fold(model, inputs, kwargs).model


def fold(model: nn.Module, inputs: Any = None, kwargs: dict[str, Any] | None = None) -> FoldResult:
    """Fold batch norms into a copy of ``model``; report what was folded and what was kept.

    With ``inputs`` (a tensor, tuple of tensors or shape text, as for ``analyze``) the model runs
    once and pairs are found on its graph, wherever the modules sit. Without inputs only pairs
    adjacent inside an ``nn.Sequential`` are folded (there, order is execution order). A model with
    a batch norm in training mode is refused: it normalises with batch statistics, which no fixed
    weights can reproduce.
    """
    training = [name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    if training:
        raise UsageError(
            f"cannot fold batch norm in training mode ({training[0] or '<model>'} and {len(training) - 1} more): call model.eval() first"
        )
    if inputs is None and not kwargs:
        pairs, kept = _sequential_pairs(model)
    else:
        args, kw = resolve_inputs(model, inputs, kwargs=kwargs)
        graph = capture(model, args, kw)
        pairs, kept = _pairs(model, graph, evaluate(graph.ops, Conventions()))
    folded_model = copy.deepcopy(model)
    result = FoldResult(model=folded_model, kept=kept)
    modules = dict(folded_model.named_modules())
    for layer_path, bn_path in pairs:
        layer, bn = modules[layer_path], modules[bn_path]
        assert isinstance(layer, _FOLDABLE_LAYERS) and isinstance(bn, _BATCH_NORMS)  # as the pairs were chosen
        result.params_added += 0 if layer.bias is not None else layer.weight.shape[0]
        result.params_removed += sum(p.numel() for p in bn.parameters())
        result.buffers_removed += sum(b.numel() for b in bn.buffers())
        _fold_into(layer, bn)
        _replace(folded_model, bn_path, nn.Identity())
        result.folded.append((layer_path, bn_path))
    return result


def _pairs(model: nn.Module, graph: CapturedGraph, costs: list[OpCost]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    modules = dict(model.named_modules())
    readers_of = consumers(costs)
    pairs: list[tuple[str, str]] = []
    folded_bns: set[str] = set()
    for cost in costs:
        if not can_absorb_batchnorm(cost):
            continue
        readers = readers_of.get(cost.record.index, {})
        if len(readers) != 1:
            continue
        (reader_index, _), = readers.items()
        reader = costs[reader_index]
        if not is_eval_batchnorm(reader):
            continue
        layer_path, bn_path = cost.module, reader.module
        layer, bn = modules.get(layer_path), modules.get(bn_path)
        if not isinstance(layer, _FOLDABLE_LAYERS) or not isinstance(bn, _BATCH_NORMS):
            continue
        if graph.modules[layer_path].calls != 1 or graph.modules[bn_path].calls != 1:
            continue
        if bn.running_mean is None or bn.running_var is None:
            continue
        if bn.num_features != layer.weight.shape[0]:
            continue
        pairs.append((layer_path, bn_path))
        folded_bns.add(bn_path)
    kept = [(path, "not directly after a conv/linear layer whose only consumer it is")
            for path, m in modules.items() if isinstance(m, nn.modules.batchnorm._BatchNorm) and path not in folded_bns]
    return pairs, kept


def _sequential_pairs(model: nn.Module) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    pairs: list[tuple[str, str]] = []
    for path, module in model.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        for (a_name, a), (b_name, b) in zip(children, children[1:]):
            if isinstance(a, _FOLDABLE_LAYERS) and isinstance(b, _BATCH_NORMS) and b.running_mean is not None and b.num_features == a.weight.shape[0]:
                prefix = f"{path}." if path else ""
                pairs.append((prefix + a_name, prefix + b_name))
    folded = {bn for _, bn in pairs}
    kept = [(path, "not directly after a conv/linear in an nn.Sequential (pass inputs to fold on the graph)")
            for path, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and path not in folded]
    return pairs, kept


@torch.no_grad()
def _fold_into(layer: nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.Linear, bn: nn.modules.batchnorm._BatchNorm) -> None:
    assert bn.running_var is not None and bn.running_mean is not None  # checked when the pair was found
    std = torch.sqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
    scale = gamma / std
    shape = (-1,) + (1,) * (layer.weight.dim() - 1)
    layer.weight.copy_(layer.weight * scale.reshape(shape))
    bias = layer.bias if layer.bias is not None else torch.zeros_like(bn.running_mean)
    new_bias = (bias - bn.running_mean) * scale + beta
    if layer.bias is None:
        layer.bias = nn.Parameter(new_bias.to(layer.weight.dtype))
    else:
        layer.bias.copy_(new_bias)


def _replace(root: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, name, new)


def max_difference(original: nn.Module, folded: nn.Module, inputs: Any,
                   kwargs: dict[str, Any] | None = None) -> tuple[float, float] | None:
    """Max absolute and max relative (to the largest output magnitude) difference of outputs; None
    when the model returns no non-empty tensor to compare (None, a string, a number, an empty
    tensor). Buffers a training-mode forward updates (running statistics) are restored after."""
    args, kw = resolve_inputs(original, inputs, kwargs=kwargs)
    with torch.no_grad(), _buffers_kept(original), _buffers_kept(folded):
        a = [t.float() for t in tensors_in(original(*args, **kw))]
        b = [t.float() for t in tensors_in(folded(*args, **kw))]
    pairs = [(x, y) for x, y in zip(a, b) if x.numel() and x.shape == y.shape]
    if not pairs:
        return None
    absolute = max(float((x - y).abs().max()) for x, y in pairs)
    scale = max(float(x.abs().max()) for x, _ in pairs) or 1.0
    return absolute, absolute / scale


@contextmanager
def _buffers_kept(model: nn.Module) -> Iterator[None]:
    """Every buffer of ``model`` (batch-norm running statistics...) as it was, even if the block
    raises; copied only when a module is in training mode, the only mode whose forward changes them."""
    training = any(m.training for m in model.modules())
    saved = [(b, b.detach().clone()) for b in model.buffers() if b.device.type != "meta"] if training else []
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, copy_ in saved:
                buffer.copy_(copy_)
