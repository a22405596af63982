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

    def merge(self, other: ModuleTotals) -> None:
        """Add ``other``'s sums (ops included) to these."""
        self.ops += other.ops
        self.macs += other.macs
        self.flops += other.flops
        self.activation_elements += other.activation_elements
        self.writeup.add(other.writeup)
        self.compulsory.add(other.compulsory)


def aggregate(costs: list[OpCost], modules: dict[str, ModuleInfo]) -> dict[str, ModuleTotals]:
    """Totals per module path, for modules that ran ops or contain modules that did.

    The same integer sums as adding every op to every one of its module's ``ancestors``, in time linear
    in ops and modules: each op is summed into its own module, then each path's totals into its
    parent's, deepest first. The paths come in the order the ops first reach them, root first."""
    own: dict[str, ModuleTotals] = {}
    for cost in costs:
        if cost.free:
            continue
        module = cost.record.module
        found = own.get(module)
        if found is None:
            found = own[module] = ModuleTotals()
        found.add(cost)
    totals: dict[str, ModuleTotals] = {}
    for module in own:
        if module not in totals:  # else its ancestors are in too (an ancestor's ancestors are among a path's)
            for path in ancestors(module):
                if path not in totals:
                    # A path's totals start as its own ops' sums (the object itself: own is not read again
                    # for it), but for a path starting with "." whose sums are added path by path below.
                    totals[path] = own[path] if path in own and not path.startswith(".") else ModuleTotals()
    for path in sorted(totals, key=_depth, reverse=True):
        if path.startswith("."):
            continue  # ancestors() lists the root twice for such a path: summed path by path below
        if path:
            totals[path.rpartition(".")[0]].merge(totals[path])
    for module, sums in own.items():
        if module.startswith("."):
            for path in ancestors(module):
                totals[path].merge(sums)
    for path, info in modules.items():
        if info.calls and path not in totals:
            for parent in ancestors(path):
                if parent not in totals:
                    totals[parent] = ModuleTotals()
    return totals


def _depth(path: str) -> int:
    return path.count(".")
