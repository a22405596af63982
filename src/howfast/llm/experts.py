"""Mixture-of-experts: total against active parameters, from the expert kernels the capture saw.

An expert layer stores its experts' weights as one 3-D parameter (experts x in x out) and runs them
as a grouped GEMM (``aten._grouped_mm``) over the rows routed to each expert. A token is routed to
``rows_per_token`` of the ``E`` experts (top-k): the grouped GEMM's rows over the tokens of the
pass. Active parameters are the total less, for each expert weight, the share of it a token does
not use: ``numel x (1 - min(E, k) / E)`` — the published convention (Mixtral-8x7B: 46.7B total,
12.9B active). The routing itself is data: on meta it is unknowable, and the counts assume each
token uses ``k`` distinct experts and that a batch of ``B`` tokens reads ``min(E, B k)`` of them
(balanced routing; ``docs/formulas.md``, grouped GEMM).
"""

from __future__ import annotations

from howfast.graph.records import CapturedGraph, TensorKind
from howfast.report.llm import MixtureOfExperts

GROUPED = ("aten._grouped_mm",)


def mixture_of_experts(graph: CapturedGraph, tokens: int, total_params: int, batch: int = 1) -> MixtureOfExperts | None:
    """The experts of ``graph`` (a pass over ``tokens`` tokens), or None when it runs no grouped GEMM
    over a parameter; ``batch``: the sequences of a decode step."""
    weights: dict[int, tuple[int, int]] = {}  # storage -> (numel, experts)
    rows = 0
    for op in graph.ops:
        if not op.op.startswith(GROUPED):
            continue
        params = [t for t in op.inputs if t.kind == TensorKind.PARAM and len(t.shape) == 3]
        activations = [t for t in op.inputs if t.kind != TensorKind.PARAM and len(t.shape) == 2]
        if not params or not activations:
            continue
        for p in params:
            weights.setdefault(p.storage, (p.numel, p.shape[0]))
        rows = max(rows, activations[0].shape[0])
    if not weights or tokens <= 0:
        return None
    experts = max(e for _, e in weights.values())
    k = max(1, rows // tokens)
    unused = sum(numel - numel * min(e, k) // e for numel, e in weights.values())
    return MixtureOfExperts(expert_weights=len(weights), experts=experts, rows_per_token=k, total_params=total_params,
                            active_params=total_params - unused, experts_read_per_step=min(experts, k * batch),
                            assumption=f"each token routed to {k} of {experts} experts; a decode step of B tokens reads "
                                       f"min({experts}, {k} B) experts' weights (balanced routing: the router's choices "
                                       "are data, unknowable on meta)")
