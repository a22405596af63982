"""The report: plain data about one analysed model. Renderers only format it.

``Report.to_dict()`` is the JSON document (``schema_version`` versions its layout; see
``docs/json-schema.md``). Every number in it comes from a formula in ``docs/formulas.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = "1.0"


@dataclass(slots=True)
class CostFields:
    """Cost figures shared by totals, layers and ops."""

    macs: int = 0
    flops: int = 0
    mem_accesses: int = 0  # write-up model, elements
    bytes_read: int = 0  # compulsory model, bytes
    bytes_written: int = 0  # compulsory model, bytes
    activation_elements: int = 0
    memory: dict[str, dict[str, int]] = field(default_factory=dict)  # both models, split


@dataclass(slots=True)
class LayerRow(CostFields):
    """One module of the model tree, with costs summed over it and its submodules."""

    name: str = ""
    type: str = ""
    depth: int = 0
    calls: int = 0
    ops: int = 0
    output_shape: list[list[int]] = field(default_factory=list)
    params: int = 0
    param_bytes: int = 0


@dataclass(slots=True)
class OpRow(CostFields):
    """One executed op."""

    index: int = 0
    op: str = ""
    module: str = ""
    counted: bool = True
    output_shape: list[list[int]] = field(default_factory=list)


@dataclass(slots=True)
class Totals(CostFields):
    params: int = 0
    param_bytes: int = 0
    trainable_params: int = 0
    buffers: int = 0
    buffer_bytes: int = 0
    peak_activation_bytes: int = 0


@dataclass(slots=True)
class Report:
    """Everything howfast knows about one model on one input."""

    model: dict[str, Any]
    inputs: list[dict[str, Any]]
    conventions: dict[str, Any]
    totals: Totals
    layers: list[LayerRow]
    ops: list[OpRow]
    op_types: list[dict[str, Any]]
    uncounted_ops: list[dict[str, Any]]
    coverage: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    fusion: dict[str, Any] | None = None
    roofline: dict[str, Any] | None = None
    benchmark: dict[str, Any] | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    timeline: list[int] = field(default_factory=list)  # live activation bytes after each op
    schema_version: str = SCHEMA_VERSION

    def to_dict(self, include_ops: bool = True) -> dict[str, Any]:
        data = {
            "schema_version": self.schema_version,
            "model": self.model,
            "inputs": self.inputs,
            "conventions": self.conventions,
            "totals": asdict(self.totals),
            "layers": [asdict(row) for row in self.layers],
            "op_types": self.op_types,
            "uncounted_ops": self.uncounted_ops,
            "coverage": self.coverage,
            "notes": self.notes,
            "fusion": self.fusion,
            "roofline": self.roofline,
            "benchmark": self.benchmark,
            "environment": self.environment,
            "activation_timeline": self.timeline,
        }
        if include_ops:
            data["ops"] = [asdict(row) for row in self.ops]
        return data

    def render(self, fmt: str = "table", **options: Any) -> str:
        """The report as text in ``fmt``: table, json, csv or md (html with the plot extra)."""
        from howfast.report.render import render

        return render(self, fmt, **options)

    def layer(self, name: str) -> LayerRow:
        """The row of module ``name`` (``""`` is the whole model)."""
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(name)
