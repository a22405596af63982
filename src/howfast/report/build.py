"""Build a ``Report`` from a captured graph and its op costs."""

from __future__ import annotations

from collections import Counter
from typing import Any

from howfast.graph.records import CapturedGraph
from howfast.conventions import Conventions
from howfast.costs.evaluate import OpCost
from howfast.passes.liveness import liveness
from howfast.passes.tree import ModuleTotals, aggregate
from howfast.report.report import LayerRow, OpRow, Report, Totals


def build_report(graph: CapturedGraph, costs: list[OpCost], conventions: Conventions, virtual: set[int] | None = None) -> Report:
    """The report of ``costs``; ``virtual`` storages (fused intermediates) are never allocated."""
    totals_by_module = aggregate(costs, graph.modules)
    layers = _layers(graph, totals_by_module)
    root = totals_by_module.get("", ModuleTotals())
    ignored = {s for c in costs for s in c.ignored_outputs}
    live = liveness(graph.ops, graph.inputs, graph.outputs, (virtual or set()) | ignored)
    params, param_bytes = _params(graph)
    totals = Totals(
        params=params,
        param_bytes=param_bytes,
        trainable_params=graph.trainable_params,
        buffers=graph.buffers,
        buffer_bytes=graph.buffer_bytes,
        peak_activation_bytes=live.peak_bytes,
        **_cost_fields(root),
    )
    uncounted = _uncounted(costs)
    return Report(
        model={"name": graph.model_name, "type": graph.modules[""].type if "" in graph.modules else graph.model_name,
               "truncated_at": graph.truncated_at, "param_dtypes": graph.param_dtypes},
        inputs=[{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in graph.inputs],
        conventions={**conventions.as_dict(), "described": conventions.describe()},
        totals=totals,
        layers=layers,
        ops=[_op_row(c) for c in costs],
        op_types=_op_types(costs),
        uncounted_ops=uncounted,
        coverage=_coverage(costs),
        notes=list(graph.notes),
        timeline=list(live.timeline),
    )


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
        rows.append(
            LayerRow(
                name=path,
                type=info.type,
                depth=info.depth,
                calls=info.calls,
                ops=totals[path].ops,
                output_shape=[list(s) for s in info.output_shapes],
                params=info.params,
                param_bytes=info.param_bytes,
                **_cost_fields(totals[path]),
            )
        )
    return rows


def _params(graph: CapturedGraph) -> tuple[int, int]:
    """All parameters; for a truncated model, those the executed ops read (each once)."""
    if graph.truncated_at is None:
        return graph.params, graph.param_bytes
    return graph.used_params, graph.used_param_bytes


def _op_row(cost: OpCost) -> OpRow:
    return OpRow(
        index=cost.record.index,
        op=cost.op,
        module=cost.module,
        counted=cost.counted,
        output_shape=[list(t.shape) for t in cost.record.outputs],
        **_cost_fields(_single(cost)),
    )


def _single(cost: OpCost) -> ModuleTotals:
    t = ModuleTotals()
    if not cost.free:
        t.add(cost)
    return t


def _op_types(costs: list[OpCost]) -> list[dict[str, Any]]:
    groups: dict[str, ModuleTotals] = {}
    for cost in costs:
        if not cost.free:
            groups.setdefault(cost.op, ModuleTotals()).add(cost)
    rows = [{"op": op, "count": t.ops, **_cost_fields(t)} for op, t in groups.items()]
    return sorted(rows, key=lambda r: (-r["macs"], -r["flops"], -r["mem_accesses"], r["op"]))


def _uncounted(costs: list[OpCost]) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    modules: dict[str, list[str]] = {}
    for cost in costs:
        if not cost.counted:
            counts[cost.op] += 1
            where = modules.setdefault(cost.op, [])
            if cost.module not in where and len(where) < 5:
                where.append(cost.module)
    return [{"op": op, "count": n, "modules": modules[op]} for op, n in counts.most_common()]


def _coverage(costs: list[OpCost]) -> dict[str, Any]:
    total = len(costs)
    counted = sum(1 for c in costs if c.counted)
    return {"ops": total, "counted": counted, "uncounted": total - counted, "share": (counted / total) if total else 1.0}

