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
from typing import Any

from howfast.errors import UsageError
from howfast import units

_CLASS_WORDS = {
    "gemm": "matrix multiplications", "gemv": "matrix-vector products (weight streaming)", "conv": "dense convolutions",
    "pwconv": "1x1 (pointwise) convolutions", "dwconv": "depthwise convolutions", "attention": "attention",
    "pool": "pooling", "reduce": "reductions (mean, sum...)", "norm": "normalisation layers", "elementwise": "element-wise ops (activations, adds, copies)",
    "activation": "transcendental activations (GELU, SiLU, softmax...)",
}


def _need(report: Any) -> dict[str, Any]:
    rl = getattr(report, "roofline", None)
    if not isinstance(rl, dict):
        raise UsageError("explain needs a report with a roofline: run howfast.roofline(report, device) first")
    return rl


def figures(report: Any) -> dict[str, Any]:
    """The numbers the explanations use, for one report."""
    rl = _need(report)
    total = rl["predicted_latency_s"]
    nbytes = sum(op["bytes"] for op in rl["ops"])
    macs = report.totals.macs
    memory_s = rl["summary"]["memory_bound_time_s"]
    by_class: dict[str, dict[str, float]] = defaultdict(lambda: {"memory_s": 0.0, "time_s": 0.0, "ops": 0})
    for op in rl["ops"]:
        c = by_class[op["class"]]
        c["time_s"] += op["predicted_s"]
        c["ops"] += 1
        if op["bound"] == "memory":
            c["memory_s"] += op["predicted_s"]
    return {
        "name": report.model.get("name", "model"), "device": rl["device"].get("title") or rl["device"]["name"],
        "macs": macs, "flops": report.totals.flops, "bytes": nbytes, "latency_s": total,
        "bytes_per_mac": nbytes / macs if macs else float("inf"),
        "memory_share": memory_s / total if total else 0.0, "memory_s": memory_s,
        "ops": len(rl["ops"]), "overhead_s": rl.get("overhead_s", 0.0), "by_class": dict(by_class),
        "memory_model": rl["memory_model"],
    }


def _memory_classes(f: dict[str, Any], limit: int = 3) -> str:
    items = sorted(((c, v["memory_s"]) for c, v in f["by_class"].items() if v["memory_s"] > 0), key=lambda kv: -kv[1])[:limit]
    total = f["latency_s"] or 1.0
    return ", ".join(f"{_CLASS_WORDS.get(c, c)} {100 * s / total:.0f}%" for c, s in items)


def _memory_layers(report: Any, limit: int = 3) -> list[dict[str, Any]]:
    rl = report.roofline
    names = {layer["name"] for layer in rl["layers"]}
    parents = {n.rsplit(".", 1)[0] if "." in n else "" for n in names if n}
    leaves = [layer for layer in rl["layers"] if layer["name"] and layer["name"] not in parents]
    return sorted((layer for layer in leaves if layer["bound"] == "memory"), key=lambda layer: -layer["predicted_s"])[:limit]


def explain_report(report: Any) -> list[str]:
    """A few sentences on one report: where the memory-bound time goes."""
    f = figures(report)
    if not f["latency_s"]:
        return []
    rl = report.roofline
    lines = [f"explanation: on {f['device']}, {100 * f['memory_share']:.0f}% of the predicted {units.seconds(f['latency_s'])} is spent "
             f"in memory-bound ops (intensity below the ridge point of {rl['device']['ridge_point']:.1f} FLOP/B)"
             + (f": {_memory_classes(f)}." if f["memory_s"] > 0 else ".")]
    top = _memory_layers(report)
    if top:
        listed = ", ".join(f"{layer['name']} ({layer['type']}, {layer['intensity']:.1f} FLOP/B, {100 * layer['share']:.1f}%)"
                           for layer in top if layer["intensity"] is not None)
        if listed:
            lines.append(f"  slowest memory-bound layers: {listed}.")
    lines.append(f"  the model moves {f['bytes_per_mac']:.2f} bytes per MAC ({f['memory_model']} bytes); fixed per-op overhead is "
                 f"{units.seconds(f['overhead_s'])} of the total over {f['ops']} ops.")
    return lines


def explain_comparison(reports: list[Any], labels: list[str] | None = None) -> list[str]:
    """Compare the first report with each other one: why fewer MACs is not proportionally faster."""
    if len(reports) < 2:
        raise UsageError("a comparison needs at least two reports")
    figs = [figures(r) for r in reports]
    for f, label in zip(figs, labels or [f["name"] for f in figs]):
        f["label"] = label
    lines = []
    base = figs[0]
    for other in figs[1:]:
        lines.extend(_pair(base, other))
    return lines


def _pair(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    few, many = (a, b) if a["macs"] <= b["macs"] else (b, a)
    device = few["device"] if few["device"] == many["device"] else f"{few['device']} / {many['device']}"
    mac_ratio = few["macs"] / many["macs"] if many["macs"] else 1.0
    time_ratio = few["latency_s"] / many["latency_s"] if many["latency_s"] else 1.0
    if time_ratio <= 1:
        speed = f"{'only ' if time_ratio > mac_ratio * 1.1 else ''}{100 * (1 - time_ratio):.0f}% lower"
    else:
        speed = f"{100 * (time_ratio - 1):.0f}% higher"
    joint = "but" if time_ratio > mac_ratio * 1.1 else "and"
    lines = [f"{few['label']} does {100 * (1 - mac_ratio):.0f}% fewer MACs than {many['label']} ({units.count(few['macs'])} vs "
             f"{units.count(many['macs'])}) on {device}, {joint} its predicted latency is {speed} "
             f"({units.seconds(few['latency_s'])} vs {units.seconds(many['latency_s'])})."]
    per_mac = time_ratio / mac_ratio if mac_ratio > 0 else 1.0
    if 1 / 1.1 <= per_mac <= 1.1:
        lines.append(f"Time follows MACs here: memory-bound ops take {100 * few['memory_share']:.0f}% and "
                     f"{100 * many['memory_share']:.0f}% of the two predicted latencies.")
        return lines
    slow, fast = (few, many) if per_mac > 1 else (many, few)
    factor = per_mac if per_mac > 1 else 1 / per_mac
    reasons = []
    if slow["bytes_per_mac"] > fast["bytes_per_mac"] * 1.05:
        reasons.append(f"it moves {slow['bytes_per_mac']:.2f} bytes per MAC against {fast['bytes_per_mac']:.2f} "
                       f"({slow['bytes_per_mac'] / fast['bytes_per_mac']:.1f}x; {units.count(slow['bytes'])}B vs {units.count(fast['bytes'])}B "
                       f"in total)")
    if slow["memory_share"] > fast["memory_share"] + 0.02 or (slow["memory_share"] > 0.5 and reasons):
        reasons.append(f"{100 * slow['memory_share']:.0f}% of its predicted time is in memory-bound ops against "
                       f"{100 * fast['memory_share']:.0f}%" + (f" ({_memory_classes(slow)})" if slow["memory_s"] > 0 else ""))
    if slow["ops"] > fast["ops"] and slow["overhead_s"] > 0.05 * slow["latency_s"]:
        reasons.append(f"it runs {slow['ops']} ops against {fast['ops']}, and the fixed per-op overhead adds "
                       f"{units.seconds(slow['overhead_s'])}")
    head = f"Per MAC, {slow['label']} is {factor:.1f}x slower than {fast['label']}"
    if reasons:
        lines.append(head + ": " + "; ".join(reasons) + ". Below the ridge point time follows bytes moved, not MACs.")
    else:
        lines.append(head + ": its ops run further from the device's peak (lower per-class efficiency).")
    return lines


def explain(reports: Any, labels: list[str] | None = None) -> str:
    """One paragraph: ``explain_report`` for one report, ``explain_comparison`` for several."""
    if isinstance(reports, (list, tuple)):
        if len(reports) == 1:
            return "\n".join(explain_report(reports[0]))
        return " ".join(explain_comparison(list(reports), labels))
    return "\n".join(explain_report(reports))
