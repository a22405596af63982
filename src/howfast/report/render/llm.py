"""A generation report (``report.llm``) as terminal text or Markdown: the answer first — predicted
TTFT, TPOT and tokens/s, and whether it fits — then prefill against decode side by side, the KV
cache, memory, experts, the batch sweep, and how the decode figures were derived."""

from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from howfast import units
from howfast.report.llm import BatchPoint, LlmSection, PhaseFigures
from howfast.report.render.summary import coverage_line
from howfast.report.report import Report

DEFAULT_WIDTH = 100


def headline(report: Report, llm: LlmSection) -> list[str]:
    """The lines that answer "how fast, and does it fit?"."""
    lines = [f"{report.model.name}: generate {llm.new_tokens} tokens after a {llm.prompt}-token prompt, batch {llm.batch} "
             f"({llm.dtype} weights, {llm.kv_cache.dtype} KV cache)"]
    p = llm.predicted
    if p is not None:
        tpot = units.seconds(p.tpot_s) if p.tpot_last_s == p.tpot_s else f"{units.seconds(p.tpot_s)} -> {units.seconds(p.tpot_last_s)}"
        lines.append(f"predicted on {p.device} ({p.dtype}): TTFT {units.seconds(p.ttft_s)} ({p.prefill_bound}-bound), "
                     f"TPOT {tpot} ({p.decode_bound or '-'}-bound), total {units.seconds(p.total_s)}, "
                     f"{p.tokens_per_s:,.1f} tokens/s per sequence, {p.aggregate_tokens_per_s:,.1f} in all")
    m = llm.measured
    if m is not None:
        lines.append(f"measured on this {m.device} ({m.threads} threads, median of {m.rounds} rounds): TTFT {units.seconds(m.ttft_s)}, "
                     f"TPOT {units.seconds(m.tpot_s)} ({units.seconds(m.tpot_first_s)} -> {units.seconds(m.tpot_last_s)}), "
                     f"total {units.seconds(m.total_s)}, {m.tokens_per_s:,.1f} tokens/s per sequence")
    if llm.whatif:
        lines.append(llm.whatif)
    lines.append(memory_line(llm))
    lines.append(kv_line(llm))
    if llm.tp is not None:
        t = llm.tp
        link = (f" on {units.byte_rate(t.interconnect_bytes_per_s)}: {units.seconds(t.prefill_allreduce_s)} per prefill, "
                f"{units.seconds(t.decode_allreduce_s)} per decode step" if t.interconnect_bytes_per_s else "")
        lines.append(f"tensor parallel over {t.degree} devices: {t.allreduces_per_step} all-reduces of the hidden state "
                     f"({t.hidden_size:,} wide) per step, {units.nbytes(t.prefill_allreduce_bytes)} sent per device per prefill, "
                     f"{units.nbytes(t.decode_allreduce_bytes)} per decode step{link}")
    if llm.moe is not None:
        e = llm.moe
        lines.append(f"experts: {units.count(e.total_params)} params in all, {units.count(e.active_params)} active per token "
                     f"(top-{e.rows_per_token} of {e.experts}); a decode step of batch {llm.batch} reads "
                     f"{e.experts_read_per_step} of the {e.experts} experts' weights in each expert layer ({e.assumption})")
    return lines


def memory_line(llm: LlmSection) -> str:
    m = llm.memory
    line = ("memory per device: " if m.per_device else "memory: ") + (f"weights {units.nbytes(m.weights_bytes)} + KV cache {units.nbytes(m.kv_cache_bytes)} + activations "
            f"{units.nbytes(m.activation_bytes)} = {units.nbytes(m.total_bytes)}")
    if m.device_bytes is None:
        return line + " (give --device PROFILE to check it against a device's memory)"
    verdict = "fits" if m.fits else "DOES NOT FIT"
    line += f" of {units.nbytes(m.device_bytes)}: {verdict}"
    if m.max_batch is not None:
        line += f"; largest batch that fits {m.max_batch:,}"
    if m.max_context is not None:
        line += f"; longest context at batch {llm.batch}: {m.max_context:,} tokens"
    if not m.fits:
        line += f"; tensor parallelism over {m.tp_to_fit} devices would fit" if m.tp_to_fit else "; not even over 64 devices"
    return line


def kv_line(llm: LlmSection) -> str:
    kv = llm.kv_cache
    window = f", at most {kv.window:,} positions per sequence (sliding window)" if kv.window else ""
    return (f"KV cache: {units.nbytes(kv.bytes_per_token)} per token ({kv.bytes_per_token:,} B, {kv.dtype}, {len(kv.layers)} layers); "
            f"{units.nbytes(kv.bytes)} for {kv.tokens:,} tokens{window}")


def phase_rows(llm: LlmSection) -> tuple[list[str], list[list[str]]]:
    """A column per phase (prefill, first and last decode step), a row per figure."""
    columns: list[tuple[str, PhaseFigures]] = [("prefill", llm.prefill)]
    if llm.decode.first is not None:
        columns.append(("decode, first step", llm.decode.first))
    if llm.decode.last is not None and llm.decode.last.context != (llm.decode.first.context if llm.decode.first else -1):
        columns.append(("decode, last step", llm.decode.last))
    times = _phase_times(llm)
    rows = [
        ["context (keys)", *[f"{f.context:,}" for _, f in columns]],
        ["tokens", *[f"{f.tokens:,}" for _, f in columns]],
        ["MACs", *[units.count(f.totals.macs) for _, f in columns]],
        ["FLOPs", *[units.count(f.totals.flops) for _, f in columns]],
        ["bytes read", *[units.nbytes(f.totals.bytes_read) for _, f in columns]],
        ["bytes written", *[units.nbytes(f.totals.bytes_written) for _, f in columns]],
        ["MACs per token", *[units.count(f.macs_per_token) for _, f in columns]],
        ["bytes per token", *[units.nbytes(f.bytes_per_token) for _, f in columns]],
        ["runs", "1", *[f"{llm.decode.steps:,} steps" if k == 1 else "" for k in range(1, len(columns))]],
    ]
    if times:
        rows.append(["predicted", *times[: len(columns)]])
    return ["", *[name for name, _ in columns]], rows


def _phase_times(llm: LlmSection) -> list[str]:
    p = llm.predicted
    if p is None:
        return []
    return [units.seconds(p.ttft_s), units.seconds(p.tpot_s), units.seconds(p.tpot_last_s)]


def sweep_rows(points: list[BatchPoint]) -> tuple[list[str], list[list[str]]]:
    """A row per batch: memory (with NO when it does not fit), predicted times, tokens/s, decode's bound."""
    head = ["batch", "memory", "TTFT", "TPOT 1st", "TPOT last", "tok/s seq", "tok/s all", "decode"]
    measured = any(p.measured_tpot_s is not None for p in points)
    if measured:
        head += ["meas. TTFT", "meas. TPOT"]
    rows = [[f"{p.batch:,}", units.nbytes(p.total_bytes, 1) + (" NO" if p.fits is False else ""),
             _time(p.ttft_s), _time(p.tpot_s), _time(p.tpot_last_s), _rate(p.tokens_per_s), _rate(p.aggregate_tokens_per_s),
             p.decode_bound or "-", *([_time(p.measured_ttft_s), _time(p.measured_tpot_s)] if measured else [])] for p in points]
    return head, rows


def _time(value: float | None) -> str:
    return units.seconds(value, 1)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def crossover_line(points: list[BatchPoint]) -> str | None:
    """Where decode stops being memory-bound over the sweep."""
    timed = [p for p in points if p.decode_bound]
    if not timed:
        return None
    compute = [p.batch for p in timed if p.decode_bound == "compute"]
    if compute:
        return f"decode stops being memory-bound at batch {min(compute):,} (of the batches swept)"
    return f"decode is memory-bound at every batch swept (up to {max(p.batch for p in timed):,})"


def footer(report: Report, llm: LlmSection) -> list[str]:
    lines = [f"decode: {llm.decode.derivation}"]
    if llm.decode.macs_per_context:
        lines.append(f"each further key adds {units.count(llm.decode.macs_per_context)} MACs and "
                     f"{units.nbytes(llm.decode.bytes_per_context)} moved to a decode step")
    lines.append(f"cache: {llm.cache}")
    lines.append(coverage_line(report))
    lines.extend(llm.notes)
    if llm.predicted is not None:
        lines.extend(llm.predicted.notes)
    return lines


def render_llm_table(report: Report, width: int | None = None, color: bool = False, **_: Any) -> str:
    """The generation report as terminal text ``width`` columns wide."""
    llm = report.llm
    assert llm is not None
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or DEFAULT_WIDTH, force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, highlight=False, legacy_windows=False)
    for line in headline(report, llm):
        console.print(line, markup=False)
    console.print()
    console.print(_table(*phase_rows(llm)))
    if llm.sweep:
        console.print(_table(*sweep_rows(llm.sweep)))
        cross = crossover_line(llm.sweep)
        if cross:
            console.print(cross, markup=False)
    for line in footer(report, llm):
        console.print(line, markup=False, style="dim" if color else None)
    return buffer.getvalue()


def _table(head: list[str], rows: list[list[str]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    for k, title in enumerate(head):
        table.add_column(title, justify="left" if k == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def render_llm_markdown(report: Report, **_: Any) -> str:
    """The generation report as Markdown."""
    llm = report.llm
    assert llm is not None
    out = [f"# {report.model.name}: generation", ""]
    out += [f"- {line}" for line in headline(report, llm)[1:]] + [""]
    out += _md(*phase_rows(llm)) + [""]
    if llm.sweep:
        out += _md(*sweep_rows(llm.sweep)) + [""]
        cross = crossover_line(llm.sweep)
        if cross:
            out += [cross, ""]
    out += [f"- {line}" for line in footer(report, llm)]
    return "\n".join(out) + "\n"


def _md(head: list[str], rows: list[list[str]]) -> list[str]:
    cells = [head, ["---", *["---:" for _ in head[1:]]], *rows]
    return ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
