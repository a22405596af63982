"""Terminal renderer: the answer first, then the heaviest layers, then a module tree that fits.

The page, top to bottom: a summary (model, inputs, totals; predicted and measured latency when the
report has them; whether every op was counted), the five heaviest layers with their share, the
module tree as an indented tree of short names (repeated blocks folded, a depth that fits about
a screen: ``render/tree.py``), the roofline's figures when there is one, and one line of
conventions (``conventions=True`` prints them in full).

It fits the width it is given: columns are dropped, least wanted first, until the table fits, in
this order (first dropped first): write-up accesses (only with ``writeup=True``), Output, FLOPs,
Type, Params, FLOP/B and Bound (with a roofline), Pred/Meas, the time share, the bytes share, the
MACs share, Predicted (beside a measured time), the time (measured, else predicted), Bytes, MACs;
the layer name is never dropped but is cut with an ellipsis last. Colour only with ``color=True``
(the CLI turns it on for a terminal, off when piped or with ``NO_COLOR``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from howfast import units
from howfast.errors import InputSpecError
from howfast.report.render import tree
from howfast.report.render.columns import measured_times
from howfast.report.render.summary import compute_line, coverage_line, phases_line, roofline_lines, size_line
from howfast.report.render.training import print_training
from howfast.report.report import LayerRow, Report
from howfast.units import printable

DEFAULT_WIDTH = 100
TREE_ROWS = 34
TOP_LAYERS = 5


@dataclass(frozen=True)
class Col:
    """A column: its title, how to show one row, right-aligned or not, and its priority (kept longest: 0)."""

    key: str
    title: str
    cell: Callable[[tree.TreeRow], str]
    priority: float
    numeric: bool = True


def render_table(report: Report, depth: int | str | None = None, width: int | None = None, color: bool = False,
                 sort: str | None = None, top: int | None = None, filter: str | None = None, flat: bool = False,  # noqa: A002
                 conventions: bool = False, writeup: bool = False, **_: Any) -> str:
    """The report as terminal text ``width`` columns wide (see the module's docstring)."""
    width = width or DEFAULT_WIDTH
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=not color, color_system="standard" if color else None,
                      highlight=False, legacy_windows=False)
    figures = _Figures(report)
    _print_summary(console, report, figures, width)
    print_training(console, report, width)  # a training step: its phases side by side and memory (render/training.py)
    console.print()
    console.print(_layers(report, figures, depth, sort, top, filter, flat, writeup, width))
    if report.roofline is not None:
        rl = report.roofline
        console.print()
        console.print(f"[bold]roofline: {escape(printable(report.model.name))} on {escape(printable(rl.device.label))}[/bold] "
                      f"({rl.device.dtype}, {rl.memory_model} bytes)")
        for line in roofline_lines(rl):
            console.print(escape(line))
    console.print()
    for line in _conventions(report, conventions):
        console.print(line)
    return without_trailing_spaces(buffer.getvalue())


def without_trailing_spaces(text: str) -> str:
    """``text`` with each line's trailing spaces dropped (rich leaves the space where it wraps a line, and
    pads some lines to the width): pasted output and diffs carry no trailing whitespace."""
    return "\n".join(line.rstrip(" ") for line in text.split("\n"))


def render_summary(report: Report, width: int = DEFAULT_WIDTH, color: bool = False) -> str:
    """The summary and the heaviest layers alone (what ``repr(report)`` shows)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=not color, color_system="standard" if color else None,
                      highlight=False, legacy_windows=False)
    _print_summary(console, report, _Figures(report), width)
    return buffer.getvalue()


def _print_summary(console: Console, report: Report, figures: _Figures, width: int) -> None:
    for line in _summary(report, figures):
        console.print(line)
    heavy = _heaviest(report, figures, width)
    if heavy is not None:
        console.print()
        console.print(heavy)


class _Figures:
    """What the rows show, per layer: MACs, bytes under the report's memory model, time (measured,
    else predicted), and the whole model's of each for the shares."""

    def __init__(self, report: Report) -> None:
        self.model = report.memory_model
        self.measured = measured_times(report)
        predicted = {layer.name: layer.predicted_s for layer in report.roofline.layers} if report.roofline else {}
        self.predicted = predicted
        self.times = self.measured or predicted
        self.time_kind = "measured" if self.measured else ("predicted" if predicted else "")
        self.bounds = {layer.name: layer.bound for layer in report.roofline.layers} if report.roofline else {}
        self.intensity = {layer.name: layer.intensity for layer in report.roofline.layers} if report.roofline else {}
        root = report.totals
        self.total_macs = root.macs
        self.total_bytes = root.traffic(self.model).get("bytes", 0)
        self.total_time = self.times.get("", 0.0) or sum(self.times.get(layer.name, 0.0) for layer in report.layers if layer.depth == 1)

    def bytes(self, layer: LayerRow) -> int:
        return layer.traffic(self.model).get("bytes", 0)

    def time(self, layer: LayerRow) -> float:
        return self.times.get(layer.name, 0.0)


def _intensity(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _columns(figures: _Figures, writeup: bool) -> list[Col]:
    f = figures
    cols = [
        Col("macs", "MACs", lambda r: units.count(r.total(lambda x: x.macs)), 0),
        Col("macs_share", "%", lambda r: _share(r.total(lambda x: x.macs), f.total_macs), 4),
        Col("bytes", "Bytes", lambda r: units.nbytes(r.total(f.bytes)), 1),
        Col("bytes_share", "%", lambda r: _share(r.total(f.bytes), f.total_bytes), 5),
        Col("params", "Params", lambda r: units.params(r.total(lambda x: x.params)), 7),
        Col("type", "Type", lambda r: escape(printable(r.layer.type)), 8, numeric=False),
        Col("flops", "FLOPs", lambda r: units.count(r.total(lambda x: x.flops)), 10),
        Col("output", "Output", lambda r: units.shape(r.layer.output_shape), 11, numeric=False),
    ]
    if f.time_kind:
        cols[4:4] = [Col("time", "Measured" if f.measured else "Predicted", lambda r: units.seconds(r.total(f.time)), 2),
                     Col("time_share", "%", lambda r: _share(r.total(f.time), f.total_time), 6)]
    if f.measured and f.predicted:  # predicted beside measured, and their ratio
        predicted = (lambda r: r.total(lambda x: f.predicted.get(x.name, 0.0)))
        measured = (lambda r: r.total(f.time))
        cols[6:6] = [Col("predicted", "Predicted", lambda r: units.seconds(predicted(r)), 3),
                     Col("ratio", "Pred/Meas", lambda r: f"{predicted(r) / measured(r):.2f}" if measured(r) else "-", 6.5)]
    if f.bounds:  # a roofline: where each layer sits on it matters more than its parameters
        cols.append(Col("bound", "Bound", lambda r: f.bounds.get(r.layer.name, ""), 6.8, numeric=False))
        cols.append(Col("intensity", "FLOP/B", lambda r: _intensity(f.intensity.get(r.layer.name)), 6.9))  # copies: the same
    if writeup:
        cols.append(Col("writeup", "Write-up accesses", lambda r: units.count(r.total(lambda x: x.mem_accesses)), 12))
    return cols


def _fitted(rows: list[tree.TreeRow], labels: list[str], cols: list[Col], width: int) -> tuple[list[Col], int]:
    """The columns that fit ``width`` beside the labels (least wanted dropped first, while the labels
    would get fewer than 24 characters), and the width the labels get."""
    kept = list(cols)
    label_need = max((len(label) for label in labels), default=5)
    # each column: its widest cell, a space of padding on each side and the one-space divider
    widths = {c.key: max([len(c.title)] + [len(c.cell(r)) for r in rows]) + 3 for c in kept}
    while kept and min(label_need, 24) + 1 + sum(widths[c.key] for c in kept) > width:
        kept.remove(max(kept, key=lambda c: c.priority))
    return kept, max(min(label_need, width - 1 - sum(widths[c.key] for c in kept)), 8)


def _table(title: str, rows: list[tree.TreeRow], labels: list[str], cols: list[Col], width: int, header: str = "Layer") -> Table:
    labels = [printable(label) for label in labels]  # names from a model or a file: no control character reaches a terminal
    kept, label_width = _fitted(rows, labels, cols, width)
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, header_style="bold", expand=False)
    table.add_column(header, no_wrap=True, overflow="ellipsis", max_width=label_width)
    for col in kept:
        table.add_column(col.title, justify="right" if col.numeric else "left", no_wrap=True, overflow="ellipsis")
    for row, label in zip(rows, labels):
        style = "bold" if row.layer.depth == 0 and not row.layer.name else None
        table.add_row(escape(label), *(col.cell(row) for col in kept), style=style)
    return table


def _layers(report: Report, figures: _Figures, depth: int | str | None, sort: str | None, top: int | None,
            pattern: str | None, flat: bool, writeup: bool, width: int) -> Table:
    key = _sort_key(figures, sort)
    if top and key is None:  # the N heaviest
        heaviness = _heaviness(figures)[1]
        key = lambda r: r.total(heaviness)  # noqa: E731
    if flat or pattern or top or sort:
        rows = tree.flat_rows(report, pattern)
        if pattern and not rows:
            raise InputSpecError(tree.unmatched(report, pattern))
        if key is not None:
            rows.sort(key=key, reverse=True)
        shown = rows[:top] if top else rows
        what = ", ".join(part for part in (f"matching {pattern!r}" if pattern else "leaf layers",
                                           f"by {sort}" if sort else "", f"top {top}" if top else "") if part)
        return _table(f"layers: {what} ({len(shown)} of {len(rows)}); bytes: {figures.model} model", shown, [r.label for r in shown], _columns(figures, writeup), width)
    every = depth == "all"
    root = tree.build_tree(report, fold=not every)
    assert root is not None
    if key is not None:
        tree.sort_children(root, key)
    deepest = max(row.depth for row in tree.flatten(root, None))
    limit = None if every else (int(depth) if depth is not None else tree.fitting_depth(root, TREE_ROWS))
    rows = tree.flatten(root, limit)
    labels = ["  " * row.depth + row.label for row in rows]
    level = deepest if limit is None else min(limit, deepest)
    more = "" if level >= deepest else " (--depth all: every layer)"
    title = f"layers, depth {level} of {deepest}{more}; bytes: {figures.model} model"
    return _table(title, rows, labels, _columns(figures, writeup), width)


def _sort_key(figures: _Figures, sort: str | None) -> Callable[[tree.TreeRow], float] | None:
    if sort is None:
        return None
    values: dict[str, Callable[[LayerRow], float]] = {
        "macs": _macs, "flops": lambda x: float(x.flops), "bytes": figures.bytes, "params": lambda x: float(x.params),
        "time": figures.time,
    }
    value = values[sort]
    return lambda r: r.total(value)


def _heaviness(figures: _Figures) -> tuple[str, Callable[[LayerRow], float]]:
    """What "heaviest" means for this report: time when it has times, else MACs, else bytes."""
    if figures.time_kind:
        return f"{figures.time_kind} time", figures.time
    if figures.total_macs:
        return "MACs", _macs
    return "bytes", figures.bytes


def _macs(layer: LayerRow) -> float:
    return layer.macs


def _heaviest(report: Report, figures: _Figures, width: int) -> Table | None:
    """The leaf layers that cost most (``_heaviness``), a layer repeated in identical blocks summed
    over its copies (``tree.repeated_leaves``)."""
    leaves = tree.repeated_leaves(report)
    if len(leaves) < 2:
        return None
    by, value = _heaviness(figures)
    ranked = sorted(leaves, key=lambda r: r.total(value), reverse=True)[:TOP_LAYERS]
    cols = [c for c in _columns(figures, False) if c.key not in ("output", "flops")]
    repeats = "; repeated layers summed" if any(r.count > 1 for r in ranked) else ""
    return _table(f"heaviest layers (by {by}{repeats})", ranked, [r.label for r in ranked], cols, width)


def _summary(report: Report, figures: _Figures) -> list[str]:
    t = report.totals
    model = report.model
    inputs = ", ".join(f"{i.name} {'x'.join(map(str, i.shape))} {i.dtype}" for i in report.inputs) or "none"
    head = f"[bold]howfast: {escape(printable(model.name))}[/bold] ({escape(printable(model.type))})"
    if model.truncated_at:
        head += f" up to {escape(printable(model.truncated_at))}"
    lines = [head + f" · inputs {escape(printable(inputs))}",
             f"params [bold]{units.params(t.params)}[/bold] ({units.nbytes(t.param_bytes)}) · MACs [bold]{units.count(t.macs)}[/bold]"
             f" · FLOPs [bold]{units.count(t.flops)}[/bold]",
             f"bytes moved [bold]{units.nbytes(figures.total_bytes)}[/bold] ({figures.model} model) · peak activation memory "
             f"[bold]{units.nbytes(t.peak_activation_bytes)}[/bold]"]
    lines.extend(escape(line) for line in (size_line(report), compute_line(report)) if line)
    rl = report.roofline
    if rl is not None:
        memory = rl.summary.memory_bound_time_s / rl.predicted_latency_s if rl.predicted_latency_s else 0.0
        line = (f"predicted [bold]{units.seconds(rl.predicted_latency_s)}[/bold] on {escape(printable(rl.device.label))} "
                f"({100 * memory:.0f}% of it in memory-bound ops)")
        if rl.measured is not None and rl.measured.total.measured_s:
            line += f" · measured [bold]{units.seconds(rl.measured.total.measured_s)}[/bold] (predicted / measured {rl.measured.total.ratio:.2f})"
        lines.append(line)
    if len(report.phases) > 1 and report.training is None:  # a training step's phases get their own table
        lines.append(escape(phases_line(report)))
    if report.fusion is not None:
        saved = report.fusion.saved
        lines.append(f"fused program: {saved.groups} groups ({saved.folded_batchnorms} batch norms folded) save "
                     f"{units.count(saved.flops)} FLOPs and {units.nbytes(saved.bytes)}")
    coverage = escape(coverage_line(report))
    lines.append(f"[bold red]{coverage} (totals are incomplete)[/bold red]" if report.uncounted_ops else coverage)
    lines.extend(f"note: {escape(printable(note))}" for note in report.notes)
    return lines


def _conventions(report: Report, full: bool) -> list[str]:
    c = report.conventions
    if full:
        return ["conventions:"] + [f"  {key}: {escape(text)}" for key, text in c.describe().items()]
    flops = "FLOPs = 2 x MACs" if c.flops == "2mac" else "FLOPs = 2n-1 per dot product"
    bias = "bias counted" if c.count_bias else "bias not counted"
    return [f"[dim]conventions: {flops}, {bias}, {c.memory_model} bytes (docs/conventions.md)[/dim]"]
