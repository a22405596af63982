"""``howfast devices [NAME]``: the hardware profiles (built-in and saved) and their sourced figures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from howfast import units
from howfast.cli.app import app
from howfast.cli.common import OutputFile, emit, profile_named, terminal
from howfast.cli.figures import figure_table
from howfast.hardware.profiles import list_profiles, user_dirs

WIDE = 150  # columns from which the list shows each profile's dtypes


@app.command()
@click.argument("name", required=False)
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output format.")
@click.option("--output", "-o", type=OutputFile(), help="Write to this file instead of stdout.")
def devices(name: str | None, fmt: str, output: Path | None) -> None:
    """List hardware profiles (peak fp32, bandwidth, ridge point), or show one profile's figures and sources.

    NAME is a built-in or saved profile name, or a .toml file. Saved profiles live in
    $HOWFAST_DEVICES_DIR or ~/.config/howfast/devices/ (see `howfast calibrate --save`).

    \b
    Examples:
      howfast devices
      howfast devices t4
      howfast devices my_box.toml -f json
    """
    if name:
        profile = profile_named(name)
        if fmt == "json":
            emit(json.dumps(profile.to_dict(), indent=2) + "\n", output)
            return
        buffer = io.StringIO()
        columns, colour = terminal(output, None)
        console = Console(file=buffer, width=columns, force_terminal=colour, no_color=not colour, highlight=False)
        table, notes = figure_table(f"{escape(profile.title)} ({escape(profile.name)}, {profile.kind}, {profile.origin})", "Source",
                                    [(key, fig.value, fig.source) for key, fig in profile.figures().items()])
        console.print(table)
        for note in notes:
            console.print(escape(note))
        console.print(f"ridge point (fp32): {profile.ridge_point('fp32'):.2f} FLOP/byte")
        if profile.description:
            console.print(escape(profile.description))
        if profile.path:
            console.print(f"file: {escape(profile.path)}")
        emit(buffer.getvalue(), output)
        return
    profiles = list_profiles()
    if fmt == "json":
        emit(json.dumps([p.summary() for p in profiles], indent=2) + "\n", output)
        return
    buffer = io.StringIO()
    columns, colour = terminal(output, None)
    console = Console(file=buffer, width=columns, force_terminal=colour, no_color=not colour, highlight=False)
    table = Table(title="howfast devices", header_style="bold", box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    wide = columns >= WIDE  # the dtypes (shown by `howfast devices NAME`) only when there is room
    titles = ["Name", "Device", "Kind", "Peak fp32", "Bandwidth", "Ridge FLOP/B", "Origin"]
    rows = []
    for p in profiles:
        s = p.summary()
        rows.append([p.name, escape(p.title), p.kind, units.flop_rate(s["peak_fp32_flops"]), units.byte_rate(s["bandwidth_bytes_per_s"]),
                     f"{s['ridge_point']:.2f}", p.origin + (" (calibrated)" if p.calibrated else "")])
        if wide:
            rows[-1].insert(6, ", ".join(s["dtypes"]))
    if wide:
        titles.insert(6, "Dtypes")
    widest = [max([len(col)] + [len(row[k]) for row in rows]) for k, col in enumerate(titles)]
    device_room = max(columns - sum(w + 3 for k, w in enumerate(widest) if k != 1) - 4, 12)  # 3: padding and rule per column
    for k, col in enumerate(titles):  # every column as wide as its widest cell; the device name gives way
        table.add_column(col, justify="right" if col in ("Peak fp32", "Bandwidth", "Ridge FLOP/B") else "left", no_wrap=True,
                         overflow="ellipsis", max_width=device_room if k == 1 else None, min_width=None if k == 1 else widest[k])
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print("show one with `howfast devices NAME` (every figure with its source); saved profiles are read from: "
                  + ", ".join(str(d) for d in user_dirs()))
    emit(buffer.getvalue(), output)
