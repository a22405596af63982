"""The header's facts as plain text: (label, value) pairs for the model, totals, device and benchmark.

The device profile and the benchmark are listed field by field: every scalar in their JSON
(``RooflineDevice.to_dict()``, ``Benchmark.to_dict()``), titled by ``key_title`` and formatted by
``human_value`` from the key's name; the roofline's own scalars follow the device's.
"""

from __future__ import annotations

from collections.abc import Iterable

from howfast import units
from howfast.report.report import Report
from howfast.report.sections import Roofline

Fact = tuple[str, str]  # (label, human value)
ExactFact = tuple[str, str, str]  # (label, human value, exact value)

KEY_TITLES = {
    "name": "Device",
    "title": "Device title",
    "per_op_overhead_s": "Per-op overhead",
    "predicted_latency_s": "Predicted latency (roofline)",
    "memory_model": "Memory model (roofline)",
    "peak_flops": "Peak compute",
    "bandwidth_bytes_per_s": "Memory bandwidth",
    "ridge_point": "Ridge point",
    "predicted_s": "Predicted time",
}


def model_text(report: Report) -> str:
    """The model's name, its class when that differs, and where it was cut."""
    name, mtype = report.model.name, report.model.type
    text = name if not mtype or mtype == name else f"{name} ({mtype})"
    if report.model.truncated_at:
        text += f", up to {report.model.truncated_at}"
    return text


def inputs_text(report: Report) -> str:
    """Each input as ``name shape:dtype``, or ``none``."""
    return ", ".join(f"{i.name} {'x'.join(map(str, i.shape))}:{i.dtype}" for i in report.inputs) or "none"


def param_dtypes_text(report: Report) -> str:
    """Parameters per dtype, e.g. ``float32: 11.69M``; empty when the report has none."""
    return ", ".join(f"{k}: {units.count(v)}" for k, v in report.model.param_dtypes.items())


def totals_items(report: Report) -> list[ExactFact]:
    """(label, human value, exact value) for the header."""
    t = report.totals
    return [
        ("Parameters", units.count(t.params), f"{t.params:,} ({units.nbytes(t.param_bytes)})"),
        ("MACs", units.count(t.macs), f"{t.macs:,}"),
        ("FLOPs", units.count(t.flops), f"{t.flops:,}"),
        ("Memory accesses (write-up model)", units.count(t.mem_accesses), f"{t.mem_accesses:,} elements"),
        ("Bytes read (compulsory model)", units.nbytes(t.bytes_read), f"{t.bytes_read:,} B"),
        ("Bytes written (compulsory model)", units.nbytes(t.bytes_written), f"{t.bytes_written:,} B"),
        ("Activations", units.count(t.activation_elements), f"{t.activation_elements:,} elements"),
        ("Peak live activation memory", units.nbytes(t.peak_activation_bytes), f"{t.peak_activation_bytes:,} B"),
        ("Buffers", units.count(t.buffers), f"{t.buffers:,} ({units.nbytes(t.buffer_bytes)})"),
    ]


def device_items(report: Report) -> list[Fact]:
    """The device profile's scalar fields, then the roofline's; empty without a roofline."""
    roofline = report.roofline
    if roofline is None:
        return []
    device = [(key_title(key), human_value(key, value)) for key, value in _scalars(roofline.device.to_dict().items())]
    own = [(key_title(key, "roofline "), human_value(key, value)) for key, value in _scalars(roofline_scalars(roofline))]
    return device + own


def roofline_scalars(roofline: Roofline) -> list[tuple[str, object]]:
    """The roofline section's own scalar fields, keyed and ordered as in its JSON."""
    return [
        ("memory_model", roofline.memory_model),
        ("predicted_latency_s", roofline.predicted_latency_s),
        ("overhead_s", roofline.overhead_s),
        ("fused", roofline.fused),
    ]


def benchmark_items(report: Report) -> list[Fact]:
    """The benchmark section's scalar fields (its merged JSON); empty without one."""
    bench = report.benchmark.to_dict() if report.benchmark is not None else {}
    return [(key_title(key) if key != "name" else "name", human_value(key, value)) for key, value in _scalars(bench.items())]


def _scalars(pairs: Iterable[tuple[object, object]]) -> list[tuple[str, object]]:
    """The (key, value) pairs whose value is neither nested (dict, list) nor None, keys as text."""
    return [(str(key), value) for key, value in pairs if not isinstance(value, (dict, list)) and value is not None]


def key_title(key: str, prefix: str = "") -> str:
    """A field's title: from ``KEY_TITLES``, else the key in words (``_s`` dropped)."""
    if key in KEY_TITLES:
        return KEY_TITLES[key]
    return (prefix + key.removesuffix("_s").replace("_", " ")).strip()


def human_value(key: str, value: object) -> str:
    """``value`` in the unit its key names (bandwidth, intensity, FLOP, seconds, bytes), else as is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if "bytes_per_s" in key or "bandwidth" in key:
        return units.count(value) + "B/s"  # bandwidths are quoted in powers of 1000
    if key == "ridge_point" or "intensity" in key:
        return f"{value:.4g} FLOP/B"
    if "flops" in key:
        return units.count(value) + (" FLOP/s" if "peak" in key or key.endswith("_per_s") else " FLOP")
    if key.endswith("_s") or key in ("seconds", "latency", "time"):
        return units.seconds(value)
    if "bytes" in key:
        return units.nbytes(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"{value:,}"
