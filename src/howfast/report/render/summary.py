"""The few lines every renderer prints beside the table: model, inputs, totals, coverage, phases,
fusion; and a roofline's device, predicted latency, bound split, energy and explanation. Each is one
line with its control characters escaped (``units.printable``): names come from models and files."""

from __future__ import annotations

from howfast import units
from howfast.costs.compute import short_dtype
from howfast.report.report import Report
from howfast.report.sections import Roofline
from howfast.report.whatif import describe


def summary_lines(report: Report) -> list[str]:
    t = report.totals
    inputs = ", ".join(f"{i.name} {'x'.join(map(str, i.shape))}:{i.dtype}" for i in report.inputs) or "none"
    model = report.model.name + (f" (up to {report.model.truncated_at})" if report.model.truncated_at else "")
    wu, cp = t.traffic("writeup"), t.traffic("compulsory")
    lines = [
        f"model: {model}; inputs: {inputs}",
        f"params: {units.count(t.params)} ({t.params:,}; {units.nbytes(t.param_bytes)}); buffers: {t.buffers:,} ({units.nbytes(t.buffer_bytes)})",
        f"MACs: {units.count(t.macs)} ({t.macs:,}); FLOPs: {units.count(t.flops)} ({t.flops:,})",
        f"memory accesses (write-up model): {units.count(t.mem_accesses)} elements = input {units.count(wu.get('input', 0))} + weights {units.count(wu.get('weights', 0))} + output {units.count(wu.get('output', 0))}",
        f"bytes (compulsory model): read {units.nbytes(t.bytes_read)} (activations {units.nbytes(cp.get('input_bytes', 0))}, weights {units.nbytes(cp.get('weights_bytes', 0))}), written {units.nbytes(t.bytes_written)}",
        f"activations: {units.count(t.activation_elements)} elements; peak live activation memory {units.nbytes(t.peak_activation_bytes)}",
        coverage_line(report),
    ]
    lines[2:2] = [line for line in (size_line(report), compute_line(report), what_if_line(report)) if line]
    if len(report.phases) > 1:
        lines.append(phases_line(report))
    if report.fusion is not None:
        saved = report.fusion.saved
        before = report.fusion.unfused_totals
        lines.append(
            f"fused view: {saved.groups} fused groups ({saved.folded_batchnorms} batch norms folded) save "
            f"{units.count(saved.flops)} FLOPs, {units.count(saved.accesses)} accesses, {units.nbytes(saved.bytes)}; "
            f"unfused: {units.count(before.flops)} FLOPs, {units.count(before.mem_accesses)} accesses"
        )
    return [units.printable(line) for line in lines]


def size_line(report: Report) -> str:
    """The weights' bytes per dtype, and the quantized weights' scales and zero points, when the
    model has more than one dtype or any quantized weight; else empty."""
    parts = report.model.param_dtype_bytes
    scales = report.model.quantization_bytes
    if len(parts) < 2 and not scales:
        return ""
    split = " + ".join(f"{units.nbytes(b)} {short_dtype(k)}" for k, b in sorted(parts.items(), key=lambda kv: -kv[1]))
    if scales:
        split += f" + {units.nbytes(scales)} scales and zero points"
    return f"model size: {units.nbytes(report.totals.param_bytes + scales)} = {split}"


def what_if_line(report: Report) -> str:
    """``what-if: weights at int4 ...`` when the report's bytes are a what-if's; else empty."""
    if report.what_if is None:
        return ""
    return describe(report.what_if.get("weight_dtype"), report.what_if.get("act_dtype"))


def compute_line(report: Report) -> str:
    """MACs per compute type (fp32, int8, fp8...), when any MACs are not fp32; else empty."""
    kinds = report.totals.macs_by_compute
    if not kinds or set(kinds) == {"fp32"}:
        return ""
    total = sum(kinds.values()) or 1
    return "MACs by compute: " + ", ".join(f"{k} {units.count(v)} ({100 * v / total:.1f}%)" for k, v in kinds.items())


def phases_line(report: Report) -> str:
    """The workload's phases, each with how often it runs and its MACs, FLOPs and bytes moved."""
    return units.printable("phases: " + "; ".join(
        f"{p.name}{f' x{p.count}' if p.count != 1 else ''}: {units.count(p.totals.macs)} MACs, {units.count(p.totals.flops)} FLOPs, "
        f"{units.nbytes(p.totals.bytes_read + p.totals.bytes_written)} moved" for p in report.phases))


def coverage_line(report: Report) -> str:
    c = report.coverage
    line = f"coverage: {c.counted}/{c.ops} ops have a cost formula ({100 * c.share:.1f}%)"
    if report.uncounted_ops:
        listed = ", ".join(f"{u.op} x{u.count}" for u in report.uncounted_ops)
        line += f"; NOT COUNTED: {listed}"
    return units.printable(line)


def roofline_lines(rl: Roofline) -> list[str]:
    """The roofline's figures in a few lines: device, predicted latency, bound split, energy, notes."""
    dev = rl.device
    s = rl.summary
    lines = [
        f"device: {dev.label}: peak {units.flop_rate(dev.peak_flops)} ({dev.dtype}), bandwidth {units.byte_rate(dev.bandwidth_bytes_per_s)}, "
        f"ridge point {dev.ridge_point:.2f} FLOP/B, per-op overhead {units.seconds(dev.per_op_overhead_s)}"
        + (" (calibrated per op class)" if dev.calibrated else ""),
        f"predicted latency: {units.seconds(rl.predicted_latency_s)} ({rl.memory_model} memory model; sum over {len(rl.ops)} ops, "
        f"{units.seconds(rl.overhead_s)} of it fixed per-op overhead)",
        f"bound: {s.compute_bound_ops} compute-bound ops ({units.seconds(s.compute_bound_time_s)}), "
        f"{s.memory_bound_ops} memory-bound ops ({units.seconds(s.memory_bound_time_s)})",
    ]
    if rl.measured is not None and rl.measured.total.measured_s:
        t = rl.measured.total
        lines.append(f"measured latency: {units.seconds(t.measured_s)}; predicted / measured = {t.ratio:.2f}")
    energy = rl.energy
    if energy is not None:
        line = (f"energy (estimate, {energy.table_name}): {units.joules(energy.total.total_j)} per inference "
                f"(compute {units.joules(energy.total.compute_j)}, on-chip {units.joules(energy.total.sram_j)}, "
                f"DRAM {units.joules(energy.total.dram_j)})")
        if energy.tdp_bound_j is not None:
            line += f"; TDP x predicted latency: {units.joules(energy.tdp_bound_j)}"
        lines.append(line)
    if rl.measured is not None and rl.measured.energy is not None:
        lines.append(f"measured energy (RAPL, whole package): {units.joules(rl.measured.energy.energy_j_per_run)} per inference")
    lines.extend(rl.explanation)
    lines.extend(f"note: {n}" for n in rl.notes)
    return [units.printable(line) for line in lines]
