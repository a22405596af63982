"""Generated explanation of roofline results: which layers are memory-bound, and why fewer MACs is
not proportionally faster.

``explain_report(report)`` gives a few sentences about one report with a roofline;
``explain_comparison(reports, labels)`` compares reports (the first with each of the others): MACs,
predicted latency, bytes moved per MAC, the share of time in memory-bound ops, op count and
overhead. ``explain(...)`` joins either into a paragraph. Every figure comes from the report's
``roofline`` (``howfast.roofline(report, device)`` first).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from howfast import units
from howfast.errors import UsageError
from howfast.report.report import Report
from howfast.report.sections import Roofline, RooflineLayer

_CLASS_WORDS = {
    "gemm": "matrix multiplications", "gemv": "matrix-vector products (weight streaming)", "conv": "dense convolutions",
    "conv_im2col": "small dense convolutions (im2col + GEMM)",
    "pwconv": "1x1 (pointwise) convolutions", "dwconv": "depthwise convolutions", "attention": "attention",
    "pool": "pooling", "reduce": "reductions (mean, sum...)", "norm": "normalisation layers",
    "elementwise": "element-wise ops (adds, ReLUs, comparisons)", "activation": "transcendental activations (GELU, SiLU, softmax...)",
    "data": "data movement (copies, concatenations, gathers)", "unknown": "ops without a cost formula",
}


@dataclass(slots=True)
class ClassShare:
    memory_s: float = 0.0
    time_s: float = 0.0
    ops: int = 0


@dataclass(slots=True)
class Figures:
    """The numbers the explanations use, for one model on one roofline."""

    name: str
    device: str
    macs: int
    bytes: int
    latency_s: float
    memory_s: float
    ops: int
    overhead_s: float
    by_class: dict[str, ClassShare]
    memory_model: str
    label: str = ""

    @property
    def bytes_per_mac(self) -> float:
        return self.bytes / self.macs if self.macs else float("inf")

    @property
    def memory_share(self) -> float:
        return self.memory_s / self.latency_s if self.latency_s else 0.0


def figures_of(name: str, macs: int, rl: Roofline) -> Figures:
    """The explanation figures of a model with ``macs`` MACs on the roofline ``rl``."""
    by_class: dict[str, ClassShare] = defaultdict(ClassShare)
    for op in rl.ops:
        c = by_class[op.op_class]
        c.time_s += op.predicted_s
        c.ops += 1
        if op.bound == "memory":
            c.memory_s += op.predicted_s
    return Figures(name=name, device=rl.device.label, macs=macs, bytes=sum(op.bytes for op in rl.ops),
                   latency_s=rl.predicted_latency_s, memory_s=rl.summary.memory_bound_time_s, ops=len(rl.ops),
                   overhead_s=rl.overhead_s, by_class=dict(by_class), memory_model=rl.memory_model, label=name)


def figures(report: Report) -> Figures:
    """The numbers the explanations use, for one report with a roofline."""
    return figures_of(report.model.name, report.totals.macs, _need(report))


def _need(report: Report) -> Roofline:
    if report.roofline is None:
        raise UsageError("explain needs a report with a roofline: run howfast.roofline(report, device) first")
    return report.roofline


def _memory_classes(f: Figures, limit: int = 3) -> str:
    items = sorted(((c, v.memory_s) for c, v in f.by_class.items() if v.memory_s > 0), key=lambda kv: -kv[1])[:limit]
    total = f.latency_s or 1.0
    return ", ".join(f"{_CLASS_WORDS.get(c, c)} {100 * s / total:.0f}%" for c, s in items)


def _memory_layers(rl: Roofline, limit: int = 3) -> list[RooflineLayer]:
    names = {layer.name for layer in rl.layers}
    parents = {n.rsplit(".", 1)[0] if "." in n else "" for n in names if n}
    leaves = [layer for layer in rl.layers if layer.name and layer.name not in parents]
    return sorted((layer for layer in leaves if layer.bound == "memory"), key=lambda layer: -layer.predicted_s)[:limit]


def roofline_sentences(name: str, macs: int, rl: Roofline) -> list[str]:
    """A few sentences on one roofline: where the memory-bound time goes."""
    f = figures_of(name, macs, rl)
    if not f.latency_s:
        return []
    lines = [f"explanation: on {f.device}, {100 * f.memory_share:.0f}% of the predicted {units.seconds(f.latency_s)} is spent "
             f"in memory-bound ops (intensity below the ridge point of {rl.device.ridge_point:.1f} FLOP/B)"
             + (f": {_memory_classes(f)}." if f.memory_s > 0 else ".")]
    top = _memory_layers(rl)
    listed = ", ".join(f"{layer.name} ({layer.type}, {layer.intensity:.1f} FLOP/B, {100 * layer.share:.1f}%)"
                       for layer in top if layer.intensity is not None)
    if listed:
        lines.append(f"  slowest memory-bound layers: {listed}.")
    lines.append(f"  the model moves {f.bytes_per_mac:.2f} bytes per MAC ({f.memory_model} bytes); fixed per-op overhead is "
                 f"{units.seconds(f.overhead_s)} of the total over {f.ops} ops.")
    return lines


def explain_report(report: Report) -> list[str]:
    """A few sentences on one report with a roofline: where the memory-bound time goes."""
    return roofline_sentences(report.model.name, report.totals.macs, _need(report))


def explain_comparison(reports: list[Report], labels: list[str] | None = None) -> list[str]:
    """Compare the first report with each other one: why fewer MACs is not proportionally faster."""
    if len(reports) < 2:
        raise UsageError("a comparison needs at least two reports")
    figs = [figures(r) for r in reports]
    for f, label in zip(figs, labels or [f.name for f in figs]):
        f.label = label
    lines = []
    base = figs[0]
    for other in figs[1:]:
        lines.extend(_pair(base, other))
    return lines


def _pair(a: Figures, b: Figures) -> list[str]:
    few, many = (a, b) if a.macs <= b.macs else (b, a)
    device = few.device if few.device == many.device else f"{few.device} / {many.device}"
    mac_ratio = few.macs / many.macs if many.macs else 1.0
    time_ratio = few.latency_s / many.latency_s if many.latency_s else 1.0
    if time_ratio <= 1:
        speed = f"{'only ' if time_ratio > mac_ratio * 1.1 else ''}{100 * (1 - time_ratio):.0f}% lower"
    else:
        speed = f"{100 * (time_ratio - 1):.0f}% higher"
    joint = "but" if time_ratio > mac_ratio * 1.1 else "and"
    lines = [f"{few.label} does {100 * (1 - mac_ratio):.0f}% fewer MACs than {many.label} ({units.count(few.macs)} vs "
             f"{units.count(many.macs)}) on {device}, {joint} its predicted latency is {speed} "
             f"({units.seconds(few.latency_s)} vs {units.seconds(many.latency_s)})."]
    per_mac = time_ratio / mac_ratio if mac_ratio > 0 else 1.0
    if 1 / 1.1 <= per_mac <= 1.1:
        lines.append(f"Time follows MACs here: memory-bound ops take {100 * few.memory_share:.0f}% and "
                     f"{100 * many.memory_share:.0f}% of the two predicted latencies.")
        return lines
    slow, fast = (few, many) if per_mac > 1 else (many, few)
    factor = per_mac if per_mac > 1 else 1 / per_mac
    reasons = []
    if slow.bytes_per_mac > fast.bytes_per_mac * 1.05:
        reasons.append(f"it moves {slow.bytes_per_mac:.2f} bytes per MAC against {fast.bytes_per_mac:.2f} "
                       f"({slow.bytes_per_mac / fast.bytes_per_mac:.1f}x; {units.count(slow.bytes)}B vs {units.count(fast.bytes)}B "
                       f"in total)")
    if slow.memory_share > fast.memory_share + 0.02 or (slow.memory_share > 0.5 and reasons):
        reasons.append(f"{100 * slow.memory_share:.0f}% of its predicted time is in memory-bound ops against "
                       f"{100 * fast.memory_share:.0f}%" + (f" ({_memory_classes(slow)})" if slow.memory_s > 0 else ""))
    if slow.ops > fast.ops and slow.overhead_s > 0.05 * slow.latency_s:
        reasons.append(f"it runs {slow.ops} ops against {fast.ops}, and the fixed per-op overhead adds "
                       f"{units.seconds(slow.overhead_s)}")
    head = f"Per MAC, {slow.label} is {factor:.1f}x slower than {fast.label}"
    if reasons:
        lines.append(head + ": " + "; ".join(reasons) + ". Below the ridge point time follows bytes moved, not MACs.")
    else:
        lines.append(head + ": its ops run further from the device's peak (lower per-class efficiency).")
    return lines


def explain(reports: Report | list[Report] | tuple[Report, ...], labels: list[str] | None = None) -> str:
    """One paragraph: ``explain_report`` for one report, ``explain_comparison`` for several."""
    if isinstance(reports, (list, tuple)):
        if len(reports) == 1:
            return "\n".join(explain_report(reports[0]))
        return " ".join(explain_comparison(list(reports), labels))
    return "\n".join(explain_report(reports))
