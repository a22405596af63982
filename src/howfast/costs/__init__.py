"""Cost formulas (one registry) and their evaluation over a captured graph."""

from howfast.costs.evaluate import OpCost, Traffic, evaluate
from howfast.costs.registry import Cost, cost, lookup

__all__ = ["Cost", "OpCost", "Traffic", "cost", "evaluate", "lookup"]
