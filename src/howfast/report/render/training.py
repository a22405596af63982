"""A training step's report (``report.training``) in the terminal: its phases side by side and its
memory by category (``docs/training.md``).

Phases: one column each for forward (the loss included), backward and optimizer, and one for the
step (their sum): MACs, FLOPs, bytes moved (under the report's memory model), backward's and the
optimizer's FLOPs over forward's, and with a roofline the predicted time of each phase and of the
step (the workload roofline: the phases' predicted times summed); with activation checkpointing,
the FLOPs of the forward ops recomputed in backward (part of backward's). Memory: parameters,
gradients, optimizer state, saved activations, their sum (the model states and what backward keeps)
and the peak of live bytes over the step, each with what it holds; with checkpointing, the saved
activations and the peak of the same step without it. The rows here are shared with the HTML page
(``render/html/training.py``).
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from howfast import units
from howfast.report.report import Phase, Report
from howfast.report.training import TrainingMemory

STEP = "step"


def _phases(report: Report) -> list[Phase]:
    return [p for p in report.phases if p.name in ("forward", "backward", "optimizer")]


def _bytes(report: Report, phase: Phase | Report) -> int:
    return phase.totals.traffic(report.memory_model).get("bytes", 0)


def _ratio(part: float, whole: float) -> str:
    return f"{part / whole:.2f}x" if whole else "-"


def phase_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """(head, rows) of the phases side by side: a column per phase and one for the step."""
    phases = _phases(report)
    head = ["", *(p.name for p in phases), STEP]
    forward = next((p.totals.flops for p in phases if p.name == "forward"), 0)
    rows = [
        ["MACs", *(units.count(p.totals.macs) for p in phases), units.count(report.totals.macs)],
        ["FLOPs", *(units.count(p.totals.flops) for p in phases), units.count(report.totals.flops)],
        ["FLOPs / forward", *(_ratio(p.totals.flops, forward) for p in phases), _ratio(report.totals.flops, forward)],
        ["bytes moved", *(units.nbytes(_bytes(report, p)) for p in phases), units.nbytes(_bytes(report, report))],
    ]
    checkpoint = report.training.checkpoint if report.training is not None else None
    if checkpoint is not None:
        recompute = units.count(checkpoint.recompute_flops)
        rows.insert(2, ["FLOPs recomputed", *(recompute if p.name == "backward" else "-" for p in phases), recompute])
    if report.roofline is not None and all(p.roofline is not None for p in phases):
        times = [p.roofline.predicted_latency_s for p in phases if p.roofline is not None]
        step = report.roofline.predicted_latency_s
        rows.append(["predicted", *(units.seconds(t) for t in times), units.seconds(step)])
        rows.append(["share of step", *(f"{100 * t / step:.1f}%" if step else "-" for t in times), "100.0%" if step else "-"])
    return head, rows


def memory_rows(report: Report, memory: TrainingMemory) -> tuple[list[str], list[list[str]]]:
    """(head, rows) of the memory categories: bytes and what each holds."""
    t = report.totals
    trainable = t.trainable_params
    frozen = t.params - trainable
    optimizer = memory.optimizer or "none"
    counters = f", {units.nbytes(memory.step_counters)} of step counters" if memory.step_counters else ""
    heaviest = (f"most in {memory.heaviest_layer} ({units.nbytes(memory.heaviest_layer_bytes)})"
                if memory.heaviest_layer else "the inputs and the loss's ops (module \"\")")
    rows = [
        ["parameters", units.nbytes(memory.parameters), f"{units.params(t.params)} params" + (f", {units.params(frozen)} frozen" if frozen else "")],
        ["gradients", units.nbytes(memory.gradients), f".grad of the {units.params(trainable)} trainable params"],
        ["optimizer state", units.nbytes(memory.optimizer_state), _state(optimizer, memory, counters)],
        ["saved activations", units.nbytes(memory.saved_activations), f"kept for backward; {heaviest}"],
        ["sum", units.nbytes(memory.model_states + memory.saved_activations), "the four above"],
        ["peak", units.nbytes(memory.peak), f"live at once, in {memory.peak_phase or '-'} (buffers and temporaries included)"],
    ]
    temporaries = memory.peak_by_category.get("temporaries")
    if temporaries is not None:
        rows.append(["temporaries at peak", units.nbytes(temporaries), "live at the peak, none of the categories above"])
    c = memory.checkpoint
    if c is not None:
        share = f" ({100 * c.bytes_saved / c.saved_without:.1f}%)" if c.saved_without else ""
        rows.append(["saved, no checkpointing", units.nbytes(c.saved_without),
                        f"the same step without checkpointing: checkpointing saves {units.nbytes(c.bytes_saved)}{share}"])
        rows.append(["peak, no checkpointing", units.nbytes(c.peak_without), "the same step without checkpointing"])
    return ["memory", "bytes", "what"], rows


def _state(optimizer: str, memory: TrainingMemory, counters: str) -> str:
    if not memory.optimizer:
        return "no optimizer step"
    return f"{optimizer}{counters}" if memory.optimizer_state else f"{optimizer} keeps no state"


def headline(report: Report, memory: TrainingMemory) -> str:
    """One sentence: what the step is, and where its time is predicted."""
    step = f"one {memory.optimizer} step" if memory.optimizer else "no optimizer step"
    line = f"training step: forward with loss {memory.loss}, backward, {step}"
    if memory.checkpoint is not None:
        c = memory.checkpoint
        line += f"; {len(c.modules)} {'/'.join(c.types)} module{'s' if len(c.modules) != 1 else ''} checkpointed"
    if report.roofline is not None:
        line += f"; predicted on {report.roofline.device.label} ({report.roofline.device.dtype})"
    return units.printable(line)


def print_training(console: Console, report: Report, width: int) -> None:
    """The training section: the headline, the phases table and the memory table, ``width`` wide."""
    memory = report.training
    if memory is None:
        return
    console.print()
    console.print(f"[bold]{escape(headline(report, memory))}[/bold]")
    head, rows = phase_rows(report)
    console.print(_table("phases side by side", head, rows, width))
    console.print()
    head, rows = memory_rows(report, memory)
    console.print(_table("training memory by category", head, rows, width, wrap_last=True))


def _table(title: str, head: list[str], rows: list[list[str]], width: int, wrap_last: bool = False) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  header_style="bold", expand=False, width=width if wrap_last else None)
    for k, name in enumerate(head):
        last = wrap_last and k == len(head) - 1
        table.add_column(escape(name), justify="left" if k == 0 or last else "right", no_wrap=not last,
                         overflow="fold" if last else "ellipsis")
    for row in rows:
        table.add_row(*(escape(units.printable(cell)) for cell in row), style="bold" if row[0] in (STEP, "peak") else None)
    return table
