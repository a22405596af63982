"""Build a ``Report`` from captured graphs and their op costs: one phase each, and the workload.

``build_phase`` turns one graph's op costs into a ``Phase`` (totals, module tree, op rows, op
types, uncounted ops, coverage, liveness timeline). ``build_report`` makes the report of a
workload from its phases: with one phase the report's figures are that phase's (the same
objects); with several, ``combine`` sums them, each phase weighted by how many times it runs
(``count``), and the peak activation memory is the largest phase's (``docs/json-schema.md``,
"Phases").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from howfast.conventions import Conventions
from howfast.costs.compute import compute_type
from howfast.costs.evaluate import OpCost, Traffic
from howfast.graph.records import CapturedGraph
from howfast.passes.liveness import liveness
from howfast.passes.tree import ModuleTotals, aggregate
from howfast.report.report import (
    CostFields,
    Coverage,
    InputInfo,
    LayerRow,
    ModelInfo,
    OpRow,
    OpTypeRow,
    Phase,
    Report,
    Totals,
    UncountedOp,
)

DEFAULT_PHASE = "forward"


def build_phase(graph: CapturedGraph, costs: list[OpCost], *, virtual: set[int] | None = None, name: str = DEFAULT_PHASE,
                count: int = 1) -> Phase:
    """The phase of ``costs``; ``virtual`` storages (fused intermediates) are never allocated."""
    totals_by_module = aggregate(costs, graph.modules)
    root = totals_by_module.get("", ModuleTotals())
    ignored = {s for c in costs for s in c.ignored_outputs}
    live = liveness(graph.ops, graph.inputs, graph.outputs, (virtual or set()) | ignored)
    params, param_bytes = _params(graph)
    totals = Totals(params=params, param_bytes=param_bytes, trainable_params=graph.trainable_params, buffers=graph.buffers,
                    buffer_bytes=graph.buffer_bytes, peak_activation_bytes=live.peak_bytes,
                    macs_by_compute=macs_by_compute(costs), **_cost_fields(root))
    counted = sum(1 for c in costs if c.counted)
    return Phase(
        name=name,
        count=count,
        totals=totals,
        layers=_layers(graph, totals_by_module),
        ops=[_op_row(c) for c in costs],
        op_types=_op_types(costs),
        uncounted_ops=_uncounted(costs),
        coverage=Coverage(ops=len(costs), counted=counted, uncounted=len(costs) - counted),
        timeline=list(live.timeline),
    )


def build_report(graph: CapturedGraph, phases: Sequence[Phase], conventions: Conventions) -> Report:
    """The report of a workload of ``phases``, all run on the model and inputs of ``graph``."""
    if not phases:
        raise ValueError("a report needs at least one phase")
    whole = phases[0] if len(phases) == 1 else combine(phases)
    return Report(
        model=ModelInfo(name=graph.model_name, type=graph.modules[""].type if "" in graph.modules else graph.model_name,
                        truncated_at=graph.truncated_at, param_dtypes=dict(graph.param_dtypes),
                        param_dtype_bytes=dict(graph.param_dtype_bytes), quantization_bytes=graph.quantization_bytes),
        inputs=[InputInfo(name=t.name, shape=list(t.shape), dtype=t.dtype) for t in graph.inputs],
        conventions=conventions,
        totals=whole.totals,
        layers=whole.layers,
        ops=whole.ops,
        op_types=whole.op_types,
        uncounted_ops=whole.uncounted_ops,
        coverage=whole.coverage,
        timeline=whole.timeline,
        fusion=whole.fusion,
        roofline=whole.roofline,
        phases=list(phases),
        notes=list(graph.notes),
    )


# ---------------------------------------------------------------------------------------------- one phase


def _cost_fields(t: ModuleTotals) -> dict[str, Any]:
    return {
        "macs": t.macs,
        "flops": t.flops,
        "mem_accesses": t.writeup.elements,
        "bytes_read": t.compulsory.read_bytes,
        "bytes_written": t.compulsory.output_bytes,
        "activation_elements": t.activation_elements,
        "memory": {"writeup": t.writeup.as_dict(), "compulsory": t.compulsory.as_dict()},
    }


def _layers(graph: CapturedGraph, totals: dict[str, ModuleTotals]) -> list[LayerRow]:
    rows = []
    for path, info in graph.modules.items():
        if path not in totals:
            continue
        rows.append(LayerRow(name=path, type=info.type, depth=info.depth, calls=info.calls, ops=totals[path].ops,
                             output_shape=[list(s) for s in info.output_shapes], params=info.params,
                             param_bytes=info.param_bytes, **_cost_fields(totals[path])))
    return rows


def macs_by_compute(costs: list[OpCost]) -> dict[str, int]:
    """The MACs of ``costs`` per compute type (``costs/compute.py``), largest first."""
    found: Counter[str] = Counter()
    for cost in costs:
        if cost.macs:
            found[compute_type(cost.op_class, cost.record)] += cost.macs
    return dict(found.most_common())


def _params(graph: CapturedGraph) -> tuple[int, int]:
    """All parameters; for a truncated model, those the executed ops read (each once)."""
    if graph.truncated_at is None:
        return graph.params, graph.param_bytes
    return graph.used_params, graph.used_param_bytes


def _op_row(cost: OpCost) -> OpRow:
    """One op's row: its own costs (a free op's all zero), as a module's totals of that op alone would be."""
    record = cost.record
    shape = [list(t.shape) for t in record.outputs]
    if cost.free:
        return OpRow(index=record.index, op=record.op, module=record.module, counted=cost.counted, output_shape=shape,
                     op_class=cost.op_class._value_, memory={"writeup": dict(_NO_TRAFFIC), "compulsory": dict(_NO_TRAFFIC)})
    writeup, compulsory = cost.writeup, cost.compulsory
    return OpRow(index=record.index, op=record.op, module=record.module, counted=cost.counted, output_shape=shape,
                 op_class=cost.op_class._value_, macs=cost.macs, flops=cost.flops, mem_accesses=writeup.elements,
                 bytes_read=compulsory.read_bytes, bytes_written=compulsory.output_bytes,
                 activation_elements=cost.activation_elements, memory={"writeup": writeup.as_dict(), "compulsory": compulsory.as_dict()})


_NO_TRAFFIC = Traffic().as_dict()  # a free op's traffic, copied into each of its rows


def _op_types(costs: list[OpCost]) -> list[OpTypeRow]:
    groups: dict[str, ModuleTotals] = {}
    for cost in costs:
        if not cost.free:
            groups.setdefault(cost.op, ModuleTotals()).add(cost)
    rows = [OpTypeRow(op=op, count=t.ops, **_cost_fields(t)) for op, t in groups.items()]
    return sorted(rows, key=lambda r: (-r.macs, -r.flops, -r.mem_accesses, r.op))


def _uncounted(costs: list[OpCost]) -> list[UncountedOp]:
    counts: Counter[str] = Counter()
    modules: dict[str, list[str]] = {}
    for cost in costs:
        if not cost.counted:
            counts[cost.op] += 1
            where = modules.setdefault(cost.op, [])
            if cost.module not in where and len(where) < 5:
                where.append(cost.module)
    return [UncountedOp(op=op, count=n, modules=modules[op]) for op, n in counts.most_common()]


# ---------------------------------------------------------------------------------------------- workload


def combine(phases: Sequence[Phase]) -> Phase:
    """The workload of several phases: costs summed with each phase weighted by its ``count``.

    Layers and op types are matched by name (in order of first appearance); the peak activation
    memory is the largest phase's; parameters and buffers are the first phase's (one model); ops
    and the activation timeline are the phases' in order.
    """
    first = phases[0]
    totals = Totals(params=first.totals.params, param_bytes=first.totals.param_bytes,
                    trainable_params=first.totals.trainable_params, buffers=first.totals.buffers,
                    buffer_bytes=first.totals.buffer_bytes,
                    peak_activation_bytes=max(p.totals.peak_activation_bytes for p in phases))
    layers: dict[str, LayerRow] = {}
    op_types: dict[str, OpTypeRow] = {}
    uncounted: dict[str, UncountedOp] = {}
    coverage = Coverage()
    for phase in phases:
        n = phase.count
        _add_costs(totals, phase.totals, n)
        for compute, macs in phase.totals.macs_by_compute.items():
            totals.macs_by_compute[compute] = totals.macs_by_compute.get(compute, 0) + n * macs
        for row in phase.layers:
            merged = layers.get(row.name)
            if merged is None:
                merged = layers[row.name] = LayerRow(name=row.name, type=row.type, depth=row.depth,
                                                     output_shape=[list(s) for s in row.output_shape],
                                                     params=row.params, param_bytes=row.param_bytes)
            merged.calls += n * row.calls
            merged.ops += n * row.ops
            _add_costs(merged, row, n)
        for type_row in phase.op_types:
            kind = op_types.setdefault(type_row.op, OpTypeRow(op=type_row.op))
            kind.count += n * type_row.count
            _add_costs(kind, type_row, n)
        for item in phase.uncounted_ops:
            entry = uncounted.setdefault(item.op, UncountedOp(op=item.op, count=0))
            entry.count += n * item.count
            entry.modules.extend(m for m in item.modules if m not in entry.modules and len(entry.modules) < 5)
        coverage.ops += n * phase.coverage.ops
        coverage.counted += n * phase.coverage.counted
        coverage.uncounted += n * phase.coverage.uncounted
    return Phase(
        name="workload",
        totals=totals,
        layers=list(layers.values()),
        ops=[op for phase in phases for op in phase.ops],
        op_types=sorted(op_types.values(), key=lambda r: (-r.macs, -r.flops, -r.mem_accesses, r.op)),
        uncounted_ops=sorted(uncounted.values(), key=lambda u: -u.count),
        coverage=coverage,
        timeline=[v for phase in phases for v in phase.timeline],
    )


def _add_costs(into: CostFields, row: CostFields, n: int) -> None:
    into.macs += n * row.macs
    into.flops += n * row.flops
    into.mem_accesses += n * row.mem_accesses
    into.bytes_read += n * row.bytes_read
    into.bytes_written += n * row.bytes_written
    into.activation_elements += n * row.activation_elements
    for model, parts in row.memory.items():
        target = into.memory.setdefault(model, {})
        for key, value in parts.items():
            target[key] = target.get(key, 0) + n * value
