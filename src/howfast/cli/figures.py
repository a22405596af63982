"""A hardware profile's figures as a table: name, value in human units, and where it comes from
(``howfast devices NAME`` and ``howfast calibrate``)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from howfast import units


def figure_table(title: str, note_title: str, rows: list[tuple[str, float, str]]) -> tuple[Table, list[str]]:
    """A profile's figures: name, value in human units, and where it comes from (a source or a method).

    A note shared by several figures (a calibration fit explains its class's efficiency, overhead and
    weight cost at once) is printed once: the table shows ``[n]`` and the notes come back as a list.
    """
    table = Table(title=title, header_style="bold")
    table.add_column("Figure")
    table.add_column("Value", justify="right")
    table.add_column(note_title, overflow="fold")
    notes: list[str] = []
    counts = {note: sum(1 for _, _, n in rows if n == note) for _, _, note in rows}
    for key, value, note in rows:
        if counts[note] > 1 or len(note) > 120:
            if note not in notes:
                notes.append(note)
            note = f"[{notes.index(note) + 1}]"
        table.add_row(key, figure_text(key, value), escape(note))
    return table, [f"[{i}] {note}" for i, note in enumerate(notes, 1)]


def figure_text(key: str, value: float) -> str:
    """A figure's value in the human unit its key implies (``peak_flops.*``: FLOP/s, ``*_s``: seconds, ...)."""
    if key.startswith("peak_flops."):
        return units.flop_rate(value)
    if key in ("memory.bandwidth", "memory.cache_bandwidth"):
        return units.byte_rate(value)
    if key.startswith(("cache.", "memory.capacity", "memory.cache_capacity")):
        return units.nbytes(value)
    if key.endswith("_s_per_byte"):
        return f"{value * 1e9:.3f} ns/B"
    if key.endswith(("_s", "overhead_s")):
        return units.seconds(value)
    if key.endswith("_w"):
        return f"{value:g} W"
    if key.endswith("_pj"):
        return f"{value:g} pJ"
    return f"{value:.4g}"
