"""What ``howfast calibrate`` prints: the measured figures, then the fitted op classes, every
explanation once.

The figures (peak FLOP/s, bandwidths, overhead) are a table with how each was measured, followed
by what could not be measured here (``CalibrationResult.notes``: no int8 or fp8 kernel). The op
classes are a second table, one row per class (efficiency, overhead, weight cost, which model was
fitted, how many layers); under it each fitted model is written out once, then one line says how
the representative layers were timed and each class's layers follow with their times.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from howfast import units
from howfast.bench.calibrate import FORMULAS, CalibrationResult, ClassFit
from howfast.cli.figures import figure_table


def render(result: CalibrationResult, width: int, colour: bool, written: str = "") -> str:
    """The figures, the op classes, the ridge point and ``written`` (where the profile went), laid out
    for ``width`` columns."""
    buffer = io.StringIO()
    out = Console(file=buffer, width=width, force_terminal=colour, no_color=not colour, highlight=False)
    measured = [m for m in result.measurements if not m.key.startswith("classes.")]
    table, notes = figure_table(f"howfast calibrate: {escape(result.profile.title)}", "How it was measured",
                                [(m.key, m.value, m.method.split(": ", 1)[-1]) for m in measured])
    out.print(table)
    for note in notes:
        out.print(escape(note))
    for note in result.notes:  # what does not run here: "no int8 kernel on this machine ..."
        out.print(escape(f"not measured: {note}"))
    fits = list(result.fits.values())
    if fits:
        out.print(class_table(fits))
        for formula in dict.fromkeys(fit.formula for fit in fits):
            out.print(escape(f"{formula_name(formula)}: {formula}, fitted by least squares on relative error over the class's layers"
                             f"{CHAIN_NOTE if any(s.chain for fit in fits for s in fit.samples) else ''}"))
        for timing in dict.fromkeys(fit.timing for fit in fits):
            out.print(escape(f"representative layers, {timing}:" if timing else "representative layers:"))
            out.print(layer_list([fit for fit in fits if fit.timing == timing]))
    for check in result.checks:
        out.print(escape(f"check: {check}"))
    out.print(f"ridge point (fp32): {result.profile.ridge_point('fp32'):.2f} FLOP/byte; {result.threads} thread(s); "
              f"took {result.elapsed_s:.1f} s")
    if written:
        out.print(escape(written))
    return buffer.getvalue()


CHAIN_NOTE = (", through the per-op time of the class's chain of tiny layers where it has one (overhead = that time "
              "less the chained layer's roof / efficiency and weight cost)")


def formula_name(formula: str) -> str:
    """The short name of a fitted model (``FORMULAS``): ``plain``, ``weights``; the formula itself otherwise."""
    return next((name for name, text in FORMULAS.items() if text == formula), formula)


def class_table(fits: list[ClassFit]) -> Table:
    """One row per op class: its fitted figures (``classes.<class>.*`` of the profile) and model; the
    weight cost (and the window cost) only when a class was fitted with one."""
    weights = any(fit.formula == FORMULAS["weights"] for fit in fits)
    windows = any(fit.formula == FORMULAS["window"] for fit in fits)
    table = Table(title="Op classes (classes.<class>.*)", header_style="bold")
    for title in ("Class", "Efficiency", "Overhead", *(["Weight cost"] if weights else []),
                  *(["Window cost"] if windows else []), "Model", "Layers"):
        table.add_column(title, justify="left" if title in ("Class", "Model") else "right")
    for fit in fits:
        weight = f"{fit.weight_s_per_byte * 1e9:.3f} ns/B" if fit.formula == FORMULAS["weights"] else "-"
        window = f"{fit.window_s_per_read * 1e9:.3f} ns/read" if fit.formula == FORMULAS["window"] else "-"
        table.add_row(fit.op_class, f"{fit.efficiency:.4g}", units.seconds(fit.overhead_s), *([weight] if weights else []),
                      *([window] if windows else []), escape(formula_name(fit.formula)), str(len(fit.samples)))
    return table


def layer_list(fits: list[ClassFit]) -> Table:
    """Each class's representative layers and their times, the class on the left, the layers wrapping beside it."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    for fit in fits:
        grid.add_row(f"  {fit.op_class}:", escape("; ".join(f"{s.label} {units.seconds(s.measured_s)}" for s in fit.samples)))
    return grid
