"""The report: plain, typed data about one analysed workload. Renderers only format it.

A workload has one or more *phases* (one forward pass; later a training step's forward, backward
and optimizer step, or generation's prefill and decode steps), each with the same cost fields and
module tree (``Phase``). The ``Report`` carries the workload's figures in the same fields: for one
phase they are that phase's, for several the sum of the phases' weighted by how often each runs
(``docs/json-schema.md``, "Phases"). Sections (``fusion``, ``roofline``, ``benchmark``) are
dataclasses too (``report/sections.py``, ``report/measurements.py``).

``Report.to_dict()`` is the JSON document (``schema_version`` versions its layout; see
``docs/json-schema.md``). Every number in it comes from a formula in ``docs/formulas.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from howfast.conventions import Conventions
from howfast.report.llm import LlmSection
from howfast.report.measurements import Benchmark, Environment
from howfast.report.sections import FusionSection, Roofline
from howfast.report.training import TrainingMemory

SCHEMA_VERSION = "1.2"


@dataclass(slots=True)
class CostFields:
    """Cost figures shared by totals, layers, ops and op types."""

    macs: int = 0
    flops: int = 0
    mem_accesses: int = 0  # write-up model, elements
    bytes_read: int = 0  # compulsory model, bytes
    bytes_written: int = 0  # compulsory model, bytes
    activation_elements: int = 0
    memory: dict[str, dict[str, int]] = field(default_factory=dict)  # both models, split

    def cost_dict(self) -> dict[str, Any]:
        return {
            "macs": self.macs,
            "flops": self.flops,
            "mem_accesses": self.mem_accesses,
            "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written,
            "activation_elements": self.activation_elements,
            "memory": {model: dict(parts) for model, parts in self.memory.items()},
        }

    def traffic(self, memory_model: str) -> dict[str, int]:
        """This row's figures under one memory model (``writeup`` or ``compulsory``): input, weights,
        output, elements and their bytes; empty when the row has none."""
        return self.memory.get(memory_model, {})


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

    def to_dict(self) -> dict[str, Any]:
        return {**self.cost_dict(), "name": self.name, "type": self.type, "depth": self.depth, "calls": self.calls,
                "ops": self.ops, "output_shape": [list(s) for s in self.output_shape], "params": self.params,
                "param_bytes": self.param_bytes}


@dataclass(slots=True)
class OpRow(CostFields):
    """One executed op, with its roofline class (``costs.registry.OpClass``)."""

    index: int = 0
    op: str = ""
    module: str = ""
    counted: bool = True
    output_shape: list[list[int]] = field(default_factory=list)
    op_class: str = "unknown"

    def to_dict(self) -> dict[str, Any]:
        """``cost_dict()`` and the op's own fields, written out in one literal: a report has thousands."""
        return {"macs": self.macs, "flops": self.flops, "mem_accesses": self.mem_accesses, "bytes_read": self.bytes_read,
                "bytes_written": self.bytes_written, "activation_elements": self.activation_elements,
                "memory": {model: dict(parts) for model, parts in self.memory.items()}, "index": self.index, "op": self.op,
                "module": self.module, "counted": self.counted, "output_shape": [list(s) for s in self.output_shape],
                "op_class": self.op_class}


@dataclass(slots=True)
class OpTypeRow(CostFields):
    """All executions of one op name, summed."""

    op: str = ""
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "count": self.count, **self.cost_dict()}


@dataclass(slots=True)
class Totals(CostFields):
    """The whole model (or workload): costs of every op, parameters and peak activation memory."""

    params: int = 0
    param_bytes: int = 0
    trainable_params: int = 0
    buffers: int = 0
    buffer_bytes: int = 0
    peak_activation_bytes: int = 0
    macs_by_compute: dict[str, int] = field(default_factory=dict)  # MACs per compute type ("fp32", "int8")

    def to_dict(self) -> dict[str, Any]:
        return {**self.cost_dict(), "params": self.params, "param_bytes": self.param_bytes,
                "trainable_params": self.trainable_params, "buffers": self.buffers, "buffer_bytes": self.buffer_bytes,
                "peak_activation_bytes": self.peak_activation_bytes, "macs_by_compute": dict(self.macs_by_compute)}


@dataclass(slots=True)
class UncountedOp:
    """An op name with no cost formula: how often it ran and in which modules (the first five)."""

    op: str
    count: int
    modules: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "count": self.count, "modules": list(self.modules)}


@dataclass(slots=True)
class Coverage:
    """How many of the executed ops have a cost formula."""

    ops: int = 0
    counted: int = 0
    uncounted: int = 0

    @property
    def share(self) -> float:
        return self.counted / self.ops if self.ops else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"ops": self.ops, "counted": self.counted, "uncounted": self.uncounted, "share": self.share}


@dataclass(slots=True)
class ModelInfo:
    """The analysed model: its name, class, where it was cut, its parameters per dtype (count and
    bytes), and the bytes of its quantized weights' scales and zero points."""

    name: str
    type: str
    truncated_at: str | None = None
    param_dtypes: dict[str, int] = field(default_factory=dict)
    param_dtype_bytes: dict[str, int] = field(default_factory=dict)
    quantization_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "truncated_at": self.truncated_at, "param_dtypes": dict(self.param_dtypes),
                "param_dtype_bytes": dict(self.param_dtype_bytes), "quantization_bytes": self.quantization_bytes}


@dataclass(slots=True)
class InputInfo:
    """One input the model was run on."""

    name: str
    shape: list[int]
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(slots=True, kw_only=True)
class PhaseCosts:
    """The cost fields and module tree of one phase of a workload, or of the whole workload.

    ``timeline`` is the live activation bytes after each op (the liveness pass); ``fusion`` and
    ``roofline`` are set by those passes.
    """

    totals: Totals
    layers: list[LayerRow]
    ops: list[OpRow]
    op_types: list[OpTypeRow]
    uncounted_ops: list[UncountedOp]
    coverage: Coverage
    timeline: list[int] = field(default_factory=list)
    fusion: FusionSection | None = None
    roofline: Roofline | None = None

    def layer(self, name: str) -> LayerRow:
        """The row of module ``name`` (``""`` is the whole model)."""
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(name)

    def costs_dict(self, include_ops: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "totals": self.totals.to_dict(),
            "layers": [row.to_dict() for row in self.layers],
            "op_types": [row.to_dict() for row in self.op_types],
            "uncounted_ops": [u.to_dict() for u in self.uncounted_ops],
            "coverage": self.coverage.to_dict(),
            "fusion": self.fusion.to_dict() if self.fusion is not None else None,
            "roofline": self.roofline.to_dict() if self.roofline is not None else None,
            "activation_timeline": list(self.timeline),
        }
        if include_ops:
            data["ops"] = [row.to_dict() for row in self.ops]
        return data


@dataclass(slots=True, kw_only=True)
class Phase(PhaseCosts):
    """One phase of a workload (``forward``; ``prefill``; ``decode``...): ``count`` times per workload."""

    name: str
    count: int = 1

    def __repr__(self) -> str:
        t = self.totals
        return f"Phase({self.name!r} x{self.count}: {t.macs:,} MACs, {t.flops:,} FLOPs, {len(self.layers)} layers, {len(self.ops)} ops)"

    def to_dict(self, full: bool = True, include_ops: bool = True) -> dict[str, Any]:
        """The phase's name, count and totals; with ``full``, every cost field as the report has them."""
        if not full:
            return {"name": self.name, "count": self.count, "totals": self.totals.to_dict()}
        return {"name": self.name, "count": self.count, **self.costs_dict(include_ops)}


@dataclass(slots=True, kw_only=True)
class Report(PhaseCosts):
    """Everything howfast knows about one model on one workload: the workload's figures (for a single
    phase, that phase's), its phases, and the model, inputs and conventions they were counted under."""

    model: ModelInfo
    inputs: list[InputInfo]
    conventions: Conventions
    phases: list[Phase] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    benchmark: Benchmark | None = None
    environment: Environment | None = None
    llm: LlmSection | None = None
    training: TrainingMemory | None = None
    what_if: dict[str, str | None] | None = None  # analyze --weight-dtype / --act-dtype (report/whatif.py)
    schema_version: str = SCHEMA_VERSION

    def to_dict(self, include_ops: bool = True) -> dict[str, Any]:
        costs = self.costs_dict(include_ops)
        full = len(self.phases) > 1  # one phase: its figures are the top-level ones
        data: dict[str, Any] = {
            "schema_version": self.schema_version,
            "model": self.model.to_dict(),
            "inputs": [i.to_dict() for i in self.inputs],
            "conventions": conventions_dict(self.conventions),
            "totals": costs["totals"],
            "layers": costs["layers"],
            "op_types": costs["op_types"],
            "uncounted_ops": costs["uncounted_ops"],
            "coverage": costs["coverage"],
            "notes": list(self.notes),
            "fusion": costs["fusion"],
            "roofline": costs["roofline"],
            "benchmark": self.benchmark.to_dict() if self.benchmark is not None else None,
            "environment": self.environment.to_dict() if self.environment is not None else {},
            "activation_timeline": costs["activation_timeline"],
            "phases": [phase.to_dict(full, include_ops) for phase in self.phases],
            "llm": self.llm.to_dict() if self.llm is not None else None,
            "training_memory": self.training.to_dict() if self.training is not None else None,
            "what_if": dict(self.what_if) if self.what_if is not None else None,
        }
        if include_ops:
            data["ops"] = costs["ops"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report a ``to_dict()`` document (a saved JSON report) describes (``report/load.py``)."""
        from howfast.report.load import report_from_dict

        return report_from_dict(data)

    def render(self, fmt: str = "table", **options: Any) -> str:
        """The report as text in ``fmt``: table, json, csv, md or html (html needs the plot extra)."""
        from howfast.report.render import render

        return render(self, fmt, **options)

    def __repr__(self) -> str:
        """The summary and the heaviest layers (``render("table")`` for the tree, ``to_dict()`` for all);
        a generation report's page (``render/llm.py``)."""
        if self.llm is not None:
            from howfast.report.render.llm import render_llm_table

            return render_llm_table(self).rstrip("\n")
        from howfast.report.render.table import render_summary

        return render_summary(self).rstrip("\n") + "\n(report.render('table') for the module tree, report.to_pandas() for a DataFrame)"

    def _repr_html_(self) -> str:
        """The summary and the folded module tree as light HTML for a notebook (no script)."""
        from howfast.report.render.notebook import notebook_html

        return notebook_html(self)

    def to_pandas(self) -> Any:
        """One row per layer as a pandas DataFrame (``layers_frame``); needs ``howfast[frames]``."""
        return self.layers_frame()

    def layers_frame(self) -> Any:
        """One row per layer as a pandas DataFrame (``report/frames.py``)."""
        from howfast.report.frames import layers_frame

        return layers_frame(self)

    def ops_frame(self) -> Any:
        """One row per executed op as a pandas DataFrame."""
        from howfast.report.frames import ops_frame

        return ops_frame(self)

    @property
    def memory_model(self) -> str:
        """The memory model the table's accesses column and the roofline use (``conventions.memory_model``)."""
        return self.conventions.memory_model


def conventions_dict(conventions: Conventions) -> dict[str, Any]:
    """The conventions as JSON: each setting, and ``described``, a sentence for each."""
    return {**conventions.as_dict(), "described": conventions.describe()}
