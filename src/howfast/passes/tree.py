"""Aggregate op costs into the module tree: every op counts in its module and all ancestors."""

from __future__ import annotations

from dataclasses import dataclass, field

from howfast.costs.evaluate import OpCost, Traffic
from howfast.graph.records import ModuleInfo, ancestors


@dataclass(slots=True)
class ModuleTotals:
    """Summed costs of the ops a module (and its submodules) ran."""

    ops: int = 0
    macs: int = 0
    flops: int = 0
    activation_elements: int = 0
    writeup: Traffic = field(default_factory=Traffic)
    compulsory: Traffic = field(default_factory=Traffic)

    def add(self, cost: OpCost) -> None:
        self.ops += 1
        self.macs += cost.macs
        self.flops += cost.flops
        self.activation_elements += cost.activation_elements
        self.writeup.add(cost.writeup)
        self.compulsory.add(cost.compulsory)


def aggregate(costs: list[OpCost], modules: dict[str, ModuleInfo]) -> dict[str, ModuleTotals]:
    """Totals per module path, for modules that ran ops or contain modules that did."""
    totals: dict[str, ModuleTotals] = {}
    for cost in costs:
        if cost.free:
            continue
        for path in ancestors(cost.module):
            totals.setdefault(path, ModuleTotals()).add(cost)
    for path, info in modules.items():
        if info.calls:
            for parent in ancestors(path):
                totals.setdefault(parent, ModuleTotals())
    return totals
