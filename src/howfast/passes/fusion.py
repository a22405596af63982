"""Fusion analysis: which ops a compiler would run as one kernel, and what that saves.

Groups are found on the captured graph's producer/consumer edges, not on module names. A group
starts at any op that writes a new tensor (a conv, a matmul, an element-wise op) and grows while
its current result has exactly one consumer and that consumer is an element-wise op applied to it
at the same shape (batch norm in eval mode, an activation, an add of a bias or of a residual...).
Views are transparent: a view op (``view``, ``_unsafe_view``, ``t``, ``permute``, ``unsqueeze``...)
is no consumer, and a consumer that reads a view of a result reads that result, so ``nn.Linear`` on
a 3-D input (``addmm -> view -> gelu``) fuses. The view must cover the whole result (a slice, a
split or an expand does not), and neither the result nor a view of it may be a model output. An
in-place op is a new version of the tensor it writes.

Savings of a group, per link between two of its ops: the intermediate tensor is neither written by
its producer nor read back by its consumer: 2 x numel accesses (write-up model) and 2 x nbytes
(compulsory model). This is the write-up's example: a ReLU on 28x28x512 costs 802,816 accesses
alone and nothing extra fused into the conv before it. A batch norm that directly follows a
conv/linear (reading its output itself, not through a view) folds into its weights: its FLOPs and
its four per-channel vectors disappear, and a conv without bias gains one (1 FLOP per output when
bias is counted, C weights read).

Activation memory of the fused program: a group's intermediates (every output of its ops but the
last one's, unless the last one writes into it in place) are never allocated. Liveness gives them
no bytes and they leave ``activation_elements``; the group's final output is allocated once, by the
op that created its storage (an in-place epilogue writes into its producer's output, which stays).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from howfast.conventions import Conventions
from howfast.costs.evaluate import OpCost
from howfast.costs.registry import Fusion
from howfast.graph import opnames
from howfast.graph.records import TensorMeta


@dataclass(slots=True)
class FusedGroup:
    """Ops run as one kernel, and what fusing them saves."""

    ops: list[int]
    names: list[str]
    module: str
    folded_batchnorm: bool = False
    saved_flops: int = 0
    saved_accesses: int = 0  # write-up model, elements
    saved_bytes: int = 0  # compulsory model, bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "ops": self.ops,
            "names": self.names,
            "module": self.module,
            "folded_batchnorm": self.folded_batchnorm,
            "saved_flops": self.saved_flops,
            "saved_accesses": self.saved_accesses,
            "saved_bytes": self.saved_bytes,
        }


@dataclass(slots=True)
class FusionResult:
    """The groups, the op costs of the fused program, totals saved, and the storages of the
    intermediate tensors that fusion keeps in registers (never allocated)."""

    groups: list[FusedGroup]
    fused_costs: list[OpCost]
    saved: dict[str, int] = field(default_factory=dict)
    intermediates: set[int] = field(default_factory=set)


def is_eval_batchnorm(cost: OpCost) -> bool:
    """A batch norm in eval mode (its formula's ``Fusion.BATCHNORM`` role): it folds into a conv or
    linear layer that feeds it, and otherwise fuses as an epilogue."""
    return cost.fusion is Fusion.BATCHNORM


def can_absorb_batchnorm(cost: OpCost) -> bool:
    """A convolution or linear layer (``Fusion.ANCHOR``): a batch norm reading its output folds into its weights."""
    return cost.fusion is Fusion.ANCHOR


def consumers(costs: list[OpCost]) -> dict[int, dict[int, TensorMeta]]:
    """For each op, the ops that read its results, with the tensor they read. A view op is a reader
    here, and its result is attributed to the op whose output it views: ``transforms/fold.py`` folds a
    batch norm only when it reads the layer's output directly, never through a view (a reshape or a
    permute may move the channel axis). Fusion looks through views instead (``_links``)."""
    producer: dict[int, int] = {}
    consumers: dict[int, dict[int, TensorMeta]] = {}
    for cost in costs:
        record = cost.record
        for t in record.inputs:
            p = producer.get(t.tid)
            if p is not None and p != record.index:
                consumers.setdefault(p, {}).setdefault(record.index, t)
        if cost.free:
            source = next((producer[t.tid] for t in record.inputs if t.tid in producer), None)
            for out in record.outputs:
                if source is not None:
                    producer[out.tid] = source
            continue
        for out in record.outputs:
            producer[out.tid] = record.index
    return consumers


@dataclass(frozen=True, slots=True)
class _Read:
    """A tensor a consumer reads from a producer: ``value`` is what it reads, the producer's output
    ``root`` itself or a view of it."""

    value: TensorMeta
    root: TensorMeta


def _is_view(cost: OpCost) -> bool:
    """An op whose every output is a view of its first input, not written in place: the free views
    (``view``, ``_unsafe_view``, ``t``, ``transpose``, ``permute``, ``expand``, ``unsqueeze``,
    ``slice``, ``select``, ``unbind``, ``split``...) and eval dropout, which returns its input. It
    reads and writes nothing, so it is no consumer. An op that outputs no tensor
    (``_local_scalar_dense``, ``equal``) or a new one (``split_copy``) still reads its input."""
    record = cost.record
    return bool(record.outputs) and bool(record.inputs) and not record.inplace and len(record.aliases) == len(record.outputs)


def _links(costs: list[OpCost]) -> dict[int, dict[int, list[_Read]]]:
    """For each op, the real ops that read its results, looking through views: a chain of views
    from a producer P to a consumer C is one edge P -> C; the view ops themselves are not
    consumers. Each consumer lists every tensor of P it reads (P's output, or views of it)."""
    producer: dict[int, tuple[int, TensorMeta]] = {}  # tid -> (op, the output of it the tensor is or views)
    links: dict[int, dict[int, list[_Read]]] = {}
    for cost in costs:
        record = cost.record
        if _is_view(cost):
            origin = producer.get(record.inputs[0].tid)
            if origin is not None:
                for out in record.outputs:
                    producer[out.tid] = origin
            continue
        for t in record.inputs:
            origin = producer.get(t.tid)
            if origin is not None and origin[0] != record.index:
                links.setdefault(origin[0], {}).setdefault(record.index, []).append(_Read(t, origin[1]))
        for out in record.outputs:
            producer[out.tid] = (record.index, out)
    return links


def find_groups(costs: list[OpCost], outputs: list[TensorMeta]) -> list[FusedGroup]:
    """Chains of ops that run as one kernel. A link P -> C needs C to be P's only consumer (views
    looked through), to read one tensor of P that is all of one of P's outputs (P's output, or a
    view of it with as many elements: not a slice, a split or an expand) and is not, nor is viewed
    as, a model output, and C to be fusible (``_fusible``)."""
    links = _links(costs)
    final = {t.storage for t in outputs}
    used: set[int] = set()
    groups: list[FusedGroup] = []
    for cost in costs:
        start = cost.record.index
        if cost.free or start in used or not cost.record.outputs or _is_view(cost):
            continue
        chain = [start]
        current = cost
        while True:
            readers = links.get(current.record.index, {})
            if len(readers) != 1:
                break  # the result is needed elsewhere too (or nowhere): it must be written to memory
            ((reader_index, reads),) = readers.items()
            if len(reads) != 1:
                break  # the consumer reads several pieces or views of the result
            (read,) = reads
            reader = costs[reader_index]
            if reader_index in used or read.value.storage in final or read.value.numel != read.root.numel:
                break
            if not _fusible(reader, read.value):
                break
            chain.append(reader_index)
            current = reader
        if len(chain) > 1:
            used.update(chain)
            groups.append(FusedGroup(ops=chain, names=[costs[i].op for i in chain], module=cost.module))
    return groups


def _fusible(reader: OpCost, value: TensorMeta) -> bool:
    if reader.free or not reader.counted or not reader.record.outputs:
        return False
    if reader.fusion not in (Fusion.EPILOGUE, Fusion.BATCHNORM):
        return False
    return reader.record.outputs[0].shape == value.shape


def fuse(costs: list[OpCost], outputs: list[TensorMeta], conventions: Conventions) -> FusionResult:
    """Fusion groups of the graph and the op costs of the fused program."""
    groups = find_groups(costs, outputs)
    fused = [copy.deepcopy(c) if any(c.record.index in g.ops for g in groups) else c for c in costs]
    for group in groups:
        _apply(group, fused, conventions)
        _drop_unallocated(group, fused)
    saved = {
        "flops": sum(g.saved_flops for g in groups),
        "accesses": sum(g.saved_accesses for g in groups),
        "bytes": sum(g.saved_bytes for g in groups),
        "groups": len(groups),
        "folded_batchnorms": sum(1 for g in groups if g.folded_batchnorm),
    }
    return FusionResult(groups=groups, fused_costs=fused, saved=saved, intermediates=_intermediates(groups, costs))


def _intermediates(groups: list[FusedGroup], costs: list[OpCost]) -> set[int]:
    """Storages of all groups' intermediates: liveness gives them no memory."""
    return set().union(*(_internal(group, costs) for group in groups))


def _internal(group: FusedGroup, costs: list[OpCost]) -> set[int]:
    """Storages of a group's intermediates: the outputs of its ops but the last one's, except the
    storage the last op writes (an in-place epilogue writes into its producer's output)."""
    kept = {t.storage for t in costs[group.ops[-1]].record.outputs}
    return {t.storage for index in group.ops[:-1] for t in costs[index].record.outputs if t.storage not in kept}


def _drop_unallocated(group: FusedGroup, costs: list[OpCost]) -> None:
    """Intermediates are never allocated: their elements leave the activation elements of the op
    that created them, exactly the storages liveness leaves out (``_internal``). Only outputs that
    counted (new memory, part of the op's result) are taken off."""
    internal = _internal(group, costs)
    for index in group.ops[:-1]:
        cost = costs[index]
        fresh = {t.tid: t for t in cost.record.new_outputs}.values()
        never = sum(t.numel for t in fresh if t.storage in internal and t.storage not in cost.ignored_outputs)
        cost.activation_elements -= min(never, cost.activation_elements)


def _apply(group: FusedGroup, costs: list[OpCost], conventions: Conventions) -> None:
    for position in range(1, len(group.ops)):
        producer, reader = costs[group.ops[position - 1]], costs[group.ops[position]]
        value = reader_value(producer, reader)
        _drop_link(producer, reader, value, group)
        direct = value.tid in {t.tid for t in producer.record.outputs}
        if position == 1 and direct and is_eval_batchnorm(reader) and can_absorb_batchnorm(producer):
            # folded only when the batch norm reads the layer's output itself, as `howfast fold`
            # does: through a view (a permute, a reshape) its channels need not be the layer's
            _fold(producer, reader, group, conventions)


def reader_value(producer: OpCost, reader: OpCost) -> TensorMeta:
    produced = {t.tid for t in producer.record.outputs}
    for t in reader.record.inputs:
        if t.tid in produced or t.storage in {o.storage for o in producer.record.outputs}:
            return t
    return producer.record.outputs[0]


def _drop_link(producer: OpCost, reader: OpCost, value: TensorMeta, group: FusedGroup) -> None:
    """The intermediate ``value`` stays in registers: no write by the producer, no read back."""
    n, nbytes = value.numel, value.nbytes
    write = min(n, producer.writeup.output)
    producer.writeup.output -= write
    producer.writeup.output_bytes -= write * value.itemsize
    read = min(n, reader.writeup.input)
    reader.writeup.input -= read
    reader.writeup.input_bytes -= read * value.itemsize
    c_write = min(nbytes, producer.compulsory.output_bytes)
    producer.compulsory.output -= min(n, producer.compulsory.output)
    producer.compulsory.output_bytes -= c_write
    c_read = min(nbytes, reader.compulsory.input_bytes)
    reader.compulsory.input -= min(n, reader.compulsory.input)
    reader.compulsory.input_bytes -= c_read
    group.saved_accesses += write + read
    group.saved_bytes += c_write + c_read


def _fold(anchor: OpCost, bn: OpCost, group: FusedGroup, conventions: Conventions) -> None:
    """BN right after a conv/linear folds into its weights: w' = w * g / s, b' = (b - m) * g / s + beta."""
    outputs = bn.record.outputs[0].numel
    channels = bn.record.outputs[0].shape[1] if len(bn.record.outputs[0].shape) > 1 else bn.record.outputs[0].shape[0]
    anchor_has_bias = _anchor_bias(anchor) is not None
    added_flops = outputs if (conventions.count_bias and not anchor_has_bias) else 0
    added_weights = 0 if anchor_has_bias else channels
    group.folded_batchnorm = True
    group.saved_flops += bn.flops - added_flops
    group.saved_accesses += bn.writeup.weights - added_weights
    itemsize = bn.record.outputs[0].itemsize
    group.saved_bytes += bn.compulsory.weights_bytes - added_weights * itemsize
    anchor.flops += added_flops
    anchor.writeup.weights += added_weights
    anchor.writeup.weights_bytes += added_weights * itemsize
    anchor.compulsory.weights += added_weights
    anchor.compulsory.weights_bytes += added_weights * itemsize
    bn.flops = 0
    bn.writeup.weights = bn.writeup.weights_bytes = 0
    bn.compulsory.weights = bn.compulsory.weights_bytes = 0


def _anchor_bias(anchor: OpCost) -> TensorMeta | None:
    """The bias a conv or linear layer reads: ``addmm(bias, x, w)``'s first argument, the third of
    a convolution or ``linear``; ``mm`` has none."""
    args = anchor.record.args
    family = opnames.family(anchor.op)
    if family == "aten.addmm":
        bias = args[0]
    elif family == "aten.mm":
        bias = None
    else:
        bias = args[2] if len(args) > 2 else None
    return bias if isinstance(bias, TensorMeta) else None
