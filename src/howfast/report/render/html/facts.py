"""The header's facts as plain text: (label, value) pairs for the model, totals, device and benchmark.

The device profile and the benchmark are listed field by field: every scalar in their JSON
(``RooflineDevice.to_dict()``, ``Benchmark.to_dict()``), titled by ``key_title`` and formatted by
``human_value`` from the key's name (rates as ``67 TFLOP/s`` and ``3.35 TB/s``, booleans in words:
``BOOLEAN_WORDS``). The device card leads with the roofline's predicted latency, then the device's
fields, then the roofline's other scalars; each value carries its exact figure as a tooltip.
"""

from __future__ import annotations

from collections.abc import Iterable

from howfast import units
from howfast.report.render.summary import size_line
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
    "calibrated": "Calibrated",
    "weights_cached": "Weights in cache",
    "fused": "Fused program (roofline)",
    "overhead_s": "Per-op overhead, all ops (roofline)",
    "cache_bandwidth_bytes_per_s": "Cache bandwidth",
    "last_level_cache_bytes": "Last-level cache",
    "cache_capacity_bytes": "Working set at cache speed",
}

# Booleans in words, (true, false) by key; any other boolean is "yes" or "no".
BOOLEAN_WORDS = {
    "calibrated": ("yes: per-op-class efficiencies measured on the machine", "no: datasheet peaks"),
    "weights_cached": ("yes: weights read at cache bandwidth", "no: weights read from memory"),
    "fused": ("yes: the fused program's ops", "no: every op on its own"),
}
LEADING_KEYS = ("predicted_latency_s",)  # the device card's first fields


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
    """(label, human value, exact value) for the header: what limits speed first (work, bytes moved,
    peak memory), then the parts of the bytes and the write-up's element count."""
    t = report.totals
    moved = t.bytes_read + t.bytes_written
    return [
        ("Parameters", units.params(t.params), f"{t.params:,}"),
        ("Model size", units.nbytes(t.param_bytes + report.model.quantization_bytes),
         size_line(report).removeprefix("model size: ") or f"{t.param_bytes:,} B of parameters"),
        ("MACs", units.count(t.macs), f"{t.macs:,}"),
        ("FLOPs", units.count(t.flops), f"{t.flops:,}"),
        ("Bytes moved (read + written)", units.nbytes(moved), f"{moved:,} B (compulsory model)"),
        ("Peak live activation memory", units.nbytes(t.peak_activation_bytes), f"{t.peak_activation_bytes:,} B"),
        ("Bytes read (compulsory model)", units.nbytes(t.bytes_read), f"{t.bytes_read:,} B"),
        ("Bytes written (compulsory model)", units.nbytes(t.bytes_written), f"{t.bytes_written:,} B"),
        ("Activations", units.count(t.activation_elements), f"{t.activation_elements:,} elements"),
        ("Write-up accesses (elements)", units.count(t.mem_accesses), f"{t.mem_accesses:,} elements: input + weights + output per op"),
        ("Buffers", units.count(t.buffers), f"{t.buffers:,} ({units.nbytes(t.buffer_bytes)})"),
    ]


def device_items(report: Report) -> list[ExactFact]:
    """(label, human value, exact value) of the device card: the predicted latency first, then the
    device profile's scalar fields, then the roofline's others; empty without a roofline."""
    roofline = report.roofline
    if roofline is None:
        return []
    own = _scalars(roofline_scalars(roofline))
    first = [(key, value) for key, value in own if key in LEADING_KEYS]
    rest = [(key, value) for key, value in own if key not in LEADING_KEYS]
    device = _scalars(roofline.device.to_dict().items())
    return ([device_fact(key, value, "roofline ") for key, value in first]
            + [device_fact(key, value) for key, value in device]
            + [device_fact(key, value, "roofline ") for key, value in rest])


def device_fact(key: str, value: object, prefix: str = "") -> ExactFact:
    """One field of the device card: its title, its value in human units, and its exact value."""
    return key_title(key, prefix), human_value(key, value), exact_value(value)


def exact_value(value: object) -> str:
    """A number as stored, for a tooltip: with thousands separators (``989,500,000,000,000``); empty for
    anything else (text and booleans show in full already)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.6g}" if abs(value) >= 1e6 else f"{value:.6g}"
    return f"{int(value):,}"


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
    """``value`` in the unit its key names (bandwidth, intensity, FLOP, seconds, bytes), booleans in
    words (``BOOLEAN_WORDS``, else yes/no), else as is."""
    if isinstance(value, bool):
        words = BOOLEAN_WORDS.get(key, ("yes", "no"))
        return words[0] if value else words[1]
    if not isinstance(value, (int, float)):
        return str(value)
    if "bytes_per_s" in key or "bandwidth" in key:
        return units.byte_rate(value)  # bandwidths are quoted in powers of 1000
    if key == "ridge_point" or "intensity" in key:
        return f"{value:.4g} FLOP/B"
    if "flops" in key:
        if "peak" in key or key.endswith("_per_s"):
            return units.flop_rate(value)
        return units.count(value) + " FLOP"
    if key.endswith("_s") or key in ("seconds", "latency", "time"):
        return units.seconds(value)
    if "bytes" in key:
        return units.nbytes(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"{value:,}"
