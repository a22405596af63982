"""One pipeline from captured graphs to a report: costs -> module tree, liveness -> fusion -> report.

Every front end (``capture/`` for PyTorch, ``onnx/``) ends at a ``CapturedGraph``; from there
``analyze_graph`` (one forward pass) or ``analyze_phases`` (a workload of several phases) run the
same stages: each op costed by its registered formula (``costs``), the module tree and liveness
(``passes``), optionally the fused program (``passes/fusion.py``), then the typed ``Report``.
Ops without a formula are listed by name and count and warned about (``strict``: refused).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from howfast.conventions import Conventions
from howfast.costs.evaluate import OpCost, evaluate_op
from howfast.errors import GraphError, HowfastError, UncountedOpError, describe
from howfast.graph.records import CapturedGraph
from howfast.passes.fusion import fuse
from howfast.report.build import DEFAULT_PHASE, build_phase, build_report
from howfast.report.report import Phase, Report
from howfast.report.sections import FusionSaved, FusionSection


@dataclass(frozen=True, slots=True)
class PhaseGraph:
    """One phase of a workload: its name, its captured graph, and how many times it runs."""

    name: str
    graph: CapturedGraph
    count: int = 1


def analyze_graph(graph: CapturedGraph, conventions: Conventions | None = None, *, fused: bool = False,
                  strict: bool = False, phase: str = DEFAULT_PHASE) -> Report:
    """The report of one captured graph (a workload of one phase)."""
    return analyze_phases([PhaseGraph(phase, graph)], conventions, fused=fused, strict=strict)


def analyze_phases(phases: Sequence[PhaseGraph], conventions: Conventions | None = None, *, fused: bool = False,
                   strict: bool = False) -> Report:
    """The report of a workload of several phases, each costed as ``analyze_graph`` costs one graph.

    With ``fused``, each phase is the fused program (batch norms folded, element-wise chains fused
    into their producer) and carries its ``fusion`` section. With ``strict``, an op without a cost
    formula raises ``UncountedOpError``; otherwise it is listed and warned about.
    """
    if not phases:
        raise ValueError("a workload needs at least one phase")
    conventions = conventions or Conventions()
    built = [_phase(p, conventions, fused) for p in phases]
    try:
        report = build_report(phases[0].graph, built, conventions)
    except HowfastError:
        raise
    except Exception as exc:  # records that the shared passes cannot place (a malformed graph)
        raise GraphError(f"cannot build the report: {describe(exc)}") from exc
    check_uncounted(report, strict)
    return report


def _phase(phase: PhaseGraph, conventions: Conventions, fused: bool) -> Phase:
    graph = phase.graph
    costs = _evaluate(graph, conventions)
    try:
        built = build_phase(graph, costs, name=phase.name, count=phase.count)
        if fused:
            built = _fused(graph, costs, conventions, built)
    except HowfastError:
        raise
    except Exception as exc:
        raise GraphError(f"cannot build the report: {describe(exc)}") from exc
    return built


def _evaluate(graph: CapturedGraph, conventions: Conventions) -> list[OpCost]:
    costs = []
    for op in graph.ops:
        try:
            costs.append(evaluate_op(op, conventions))
        except HowfastError:
            raise
        except Exception as exc:
            raise GraphError(f"cannot count {op.op} in {op.module or '<model>'!r}: {describe(exc)}") from exc
    return costs


def _fused(graph: CapturedGraph, costs: list[OpCost], conventions: Conventions, unfused: Phase) -> Phase:
    result = fuse(costs, graph.outputs, conventions)
    phase = build_phase(graph, result.fused_costs, virtual=result.intermediates, name=unfused.name, count=unfused.count)
    phase.fusion = FusionSection(groups=result.groups, saved=FusionSaved(**result.saved), unfused_totals=unfused.totals,
                                 fused_totals=phase.totals)
    return phase


def check_uncounted(report: Report, strict: bool) -> None:
    """Refuse (``strict``) or warn about ops without a cost formula, by name and count."""
    if not report.uncounted_ops:
        return
    listed = ", ".join(f"{u.op} x{u.count}" for u in report.uncounted_ops)
    message = f"{sum(u.count for u in report.uncounted_ops)} op(s) have no cost formula and are not counted: {listed}"
    if strict:
        raise UncountedOpError(message)
    warnings.warn(f"howfast: {message}", stacklevel=4)
