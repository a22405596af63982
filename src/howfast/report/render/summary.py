"""The few lines every renderer prints above the table: model, inputs, totals, coverage."""

from __future__ import annotations

from typing import Any

from howfast import units


def summary_lines(report: Any) -> list[str]:
    t = report.totals
    inputs = ", ".join(f"{i['name']} {'x'.join(map(str, i['shape']))}:{i['dtype']}" for i in report.inputs) or "none"
    model = report.model["name"] + (f" (up to {report.model['truncated_at']})" if report.model.get("truncated_at") else "")
    wu, cp = t.memory.get("writeup", {}), t.memory.get("compulsory", {})
    lines = [
        f"model: {model}; inputs: {inputs}",
        f"params: {units.count(t.params)} ({t.params:,}; {units.nbytes(t.param_bytes)}); buffers: {t.buffers:,} ({units.nbytes(t.buffer_bytes)})",
        f"MACs: {units.count(t.macs)} ({t.macs:,}); FLOPs: {units.count(t.flops)} ({t.flops:,})",
        f"memory accesses (write-up model): {units.count(t.mem_accesses)} elements = input {units.count(wu.get('input', 0))} + weights {units.count(wu.get('weights', 0))} + output {units.count(wu.get('output', 0))}",
        f"bytes (compulsory model): read {units.nbytes(t.bytes_read)} (activations {units.nbytes(cp.get('input_bytes', 0))}, weights {units.nbytes(cp.get('weights_bytes', 0))}), written {units.nbytes(t.bytes_written)}",
        f"activations: {units.count(t.activation_elements)} elements; peak live activation memory {units.nbytes(t.peak_activation_bytes)}",
        _coverage_line(report),
    ]
    if report.fusion:
        saved = report.fusion["saved"]
        before = report.fusion["unfused_totals"]
        lines.append(
            f"fused view: {saved['groups']} fused groups ({saved['folded_batchnorms']} batch norms folded) save "
            f"{units.count(saved['flops'])} FLOPs, {units.count(saved['accesses'])} accesses, {units.nbytes(saved['bytes'])}; "
            f"unfused: {units.count(before['flops'])} FLOPs, {units.count(before['mem_accesses'])} accesses"
        )
    return lines


def _coverage_line(report: Any) -> str:
    c = report.coverage
    line = f"coverage: {c['counted']}/{c['ops']} ops have a cost formula ({100 * c['share']:.1f}%)"
    if report.uncounted_ops:
        listed = ", ".join(f"{u['op']} x{u['count']}" for u in report.uncounted_ops)
        line += f"; NOT COUNTED: {listed}"
    return line
