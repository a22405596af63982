"""Typed sections of a report that passes add: fusion, roofline (with energy and measured times).

Each serialises to the JSON keys ``docs/json-schema.md`` lists; optional parts that a section did
not compute are left out of its JSON, as they always were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from howfast.passes.fusion import FusedGroup

if TYPE_CHECKING:
    from howfast.report.report import Totals


# ---------------------------------------------------------------------------------------------- fusion


@dataclass(slots=True)
class FusionSaved:
    """What fusion saves over the whole program."""

    flops: int = 0
    accesses: int = 0  # write-up model, elements
    bytes: int = 0  # compulsory model, bytes
    groups: int = 0
    folded_batchnorms: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"flops": self.flops, "accesses": self.accesses, "bytes": self.bytes, "groups": self.groups,
                "folded_batchnorms": self.folded_batchnorms}


@dataclass(slots=True)
class FusionSection:
    """The fused program: its groups, what they save, and the totals before and after."""

    groups: list[FusedGroup]
    saved: FusionSaved
    unfused_totals: Totals
    fused_totals: Totals
    fused: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"fused": self.fused, "groups": [g.as_dict() for g in self.groups], "saved": self.saved.to_dict(),
                "unfused_totals": self.unfused_totals.to_dict(), "fused_totals": self.fused_totals.to_dict()}


# ---------------------------------------------------------------------------------------------- roofline


@dataclass(slots=True)
class DeviceSources:
    """Where the device figures the roofline used come from."""

    peak_flops: str
    bandwidth_bytes_per_s: str
    per_op_overhead_s: str
    file: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"peak_flops": self.peak_flops, "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
                "per_op_overhead_s": self.per_op_overhead_s, "file": self.file}


@dataclass(slots=True)
class RooflineDevice:
    """The device figures a roofline was computed with."""

    name: str
    title: str
    dtype: str
    peak_flops: float
    bandwidth_bytes_per_s: float
    ridge_point: float
    per_op_overhead_s: float
    source: DeviceSources
    cache_bandwidth_bytes_per_s: float | None = None
    last_level_cache_bytes: float | None = None
    calibrated: bool = False
    weights_cached: bool = False
    cache_capacity_bytes: float | None = None  # the working set served at the cache bandwidth (profile.cache_bytes)

    @property
    def label(self) -> str:
        return self.title or self.name

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "dtype": self.dtype, "peak_flops": self.peak_flops,
                "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s, "ridge_point": self.ridge_point,
                "per_op_overhead_s": self.per_op_overhead_s, "source": self.source.to_dict(),
                "cache_bandwidth_bytes_per_s": self.cache_bandwidth_bytes_per_s,
                "last_level_cache_bytes": self.last_level_cache_bytes, "calibrated": self.calibrated,
                "weights_cached": self.weights_cached, "cache_capacity_bytes": self.cache_capacity_bytes}


@dataclass(slots=True)
class RooflineOp:
    """One op on the roofline: intensity, bound and predicted time (``docs/roofline.md``)."""

    index: int
    op: str
    module: str
    op_class: str
    flops: int
    bytes: int
    intensity: float | None
    bound: str
    attainable_flops: float
    predicted_s: float
    roof_s: float
    level: str
    weights_level: str
    weight_bytes: int
    efficiency: float
    overhead_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "op": self.op, "module": self.module, "class": self.op_class, "flops": self.flops,
                "bytes": self.bytes, "intensity": self.intensity, "bound": self.bound, "attainable_flops": self.attainable_flops,
                "predicted_s": self.predicted_s, "roof_s": self.roof_s, "level": self.level, "weights_level": self.weights_level,
                "weight_bytes": self.weight_bytes, "efficiency": self.efficiency, "overhead_s": self.overhead_s}


@dataclass(slots=True)
class RooflineLayer:
    """A module's ops on the roofline: summed FLOPs, bytes and predicted time; measured when joined."""

    name: str
    type: str
    depth: int
    flops: int
    bytes: int
    intensity: float | None
    bound: str
    attainable_flops: float
    predicted_s: float
    share: float
    measured_s: float | None = None
    ratio: float | None = None  # predicted / measured

    def to_dict(self, measured: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type, "depth": self.depth, "flops": self.flops, "bytes": self.bytes,
                                "intensity": self.intensity, "bound": self.bound, "attainable_flops": self.attainable_flops,
                                "predicted_s": self.predicted_s, "share": self.share}
        if measured:
            data["measured_s"] = self.measured_s
            data["ratio"] = self.ratio
        return data


@dataclass(slots=True)
class BoundSummary:
    """How many ops, and how much predicted time, are compute- and memory-bound."""

    compute_bound_ops: int = 0
    memory_bound_ops: int = 0
    compute_bound_time_s: float = 0.0
    memory_bound_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"compute_bound_ops": self.compute_bound_ops, "memory_bound_ops": self.memory_bound_ops,
                "compute_bound_time_s": self.compute_bound_time_s, "memory_bound_time_s": self.memory_bound_time_s}


@dataclass(slots=True)
class ClassTime:
    """The ops of one op class on the roofline, summed."""

    ops: int = 0
    flops: int = 0
    bytes: int = 0
    predicted_s: float = 0.0
    efficiency: float = 1.0
    share: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"ops": self.ops, "flops": self.flops, "bytes": self.bytes, "predicted_s": self.predicted_s,
                "efficiency": self.efficiency, "share": self.share}


@dataclass(slots=True)
class EnergyParts:
    """Joules split into compute, on-chip (SRAM) and DRAM."""

    compute_j: float = 0.0
    sram_j: float = 0.0
    dram_j: float = 0.0
    total_j: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {"compute_j": self.compute_j, "sram_j": self.sram_j, "dram_j": self.dram_j, "total_j": self.total_j}


@dataclass(slots=True)
class EnergyLayer:
    name: str
    type: str
    depth: int
    energy: EnergyParts

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "depth": self.depth, **self.energy.to_dict()}


@dataclass(slots=True)
class EnergyFigure:
    """pJ per operation or access, and where the figure comes from."""

    value: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source}


@dataclass(slots=True)
class Energy:
    """An energy estimate from op counts and bytes (``hardware/energy.py``): not a measurement."""

    label: str
    table_name: str
    table: dict[str, EnergyFigure]
    total: EnergyParts
    layers: list[EnergyLayer]
    tdp_w: float | None = None
    tdp_bound_j: float | None = None  # TDP x predicted latency: an upper bound

    @property
    def total_j(self) -> float:
        return self.total.total_j

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label, "table_name": self.table_name,
                                "table": {k: v.to_dict() for k, v in self.table.items()}, **self.total.to_dict(),
                                "layers": [layer.to_dict() for layer in self.layers]}
        if self.tdp_w is not None:
            data["tdp_w"] = self.tdp_w
            data["tdp_bound_j"] = self.tdp_bound_j
        return data


@dataclass(slots=True)
class RaplEnergy:
    """Measured CPU-package energy per run from RAPL counters (``bench/rapl.py``)."""

    method: str
    runs: int
    energy_j_per_run: float
    power_w: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "runs": self.runs, "energy_j_per_run": self.energy_j_per_run, "power_w": self.power_w}


@dataclass(slots=True)
class MeasuredTotal:
    predicted_s: float
    measured_s: float | None
    ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"predicted_s": self.predicted_s, "measured_s": self.measured_s, "ratio": self.ratio}


@dataclass(slots=True)
class MeasuredLayer:
    name: str
    type: str
    depth: int
    predicted_s: float
    measured_s: float | None
    ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "depth": self.depth, "predicted_s": self.predicted_s,
                "measured_s": self.measured_s, "ratio": self.ratio}


@dataclass(slots=True)
class Measured:
    """Predicted beside measured time, per layer and in total (``hardware.roofline.join_measured``)."""

    method: str
    total: MeasuredTotal
    overhead_ratio: float | None
    layers: list[MeasuredLayer]
    threads: int | None = None
    energy: RaplEnergy | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "total": self.total.to_dict(), "overhead_ratio": self.overhead_ratio,
                                "layers": [layer.to_dict() for layer in self.layers]}
        if self.threads is not None:
            data["threads"] = self.threads
        if self.energy is not None:
            data["energy"] = self.energy.to_dict()
        return data


@dataclass(slots=True)
class Roofline:
    """The roofline of a report on one device: per op and per layer, with the predicted latency."""

    device: RooflineDevice
    memory_model: str
    predicted_latency_s: float
    overhead_s: float
    ops: list[RooflineOp]
    layers: list[RooflineLayer]
    summary: BoundSummary
    classes: dict[str, ClassTime]
    fused: bool = False
    notes: list[str] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    energy: Energy | None = None
    measured: Measured | None = None

    def layer(self, name: str) -> RooflineLayer:
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        joined = self.measured is not None
        data: dict[str, Any] = {
            "device": self.device.to_dict(),
            "memory_model": self.memory_model,
            "predicted_latency_s": self.predicted_latency_s,
            "overhead_s": self.overhead_s,
            "ops": [op.to_dict() for op in self.ops],
            "layers": [layer.to_dict(joined) for layer in self.layers],
            "summary": self.summary.to_dict(),
            "classes": {name: c.to_dict() for name, c in self.classes.items()},
            "fused": self.fused,
            "notes": list(self.notes),
            "explanation": list(self.explanation),
        }
        if self.energy is not None:
            data["energy"] = self.energy.to_dict()
        if self.measured is not None:
            data["measured"] = self.measured.to_dict()
        return data
