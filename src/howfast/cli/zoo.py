"""``howfast zoo``: the built-in models and their options."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from howfast.cli.app import app
from howfast.cli.common import OutputFile, emit, terminal
from howfast.zoo import entries


@app.command()
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output format.")
@click.option("--json", "as_json", is_flag=True, help="The same as -f json.")
@click.option("--output", "-o", type=OutputFile(), help="Write to this file instead of stdout.")
@click.option("--width", type=click.IntRange(min=40), help="Lay the table out for this many columns (default: the terminal's).")
def zoo(fmt: str, as_json: bool, output: Path | None, width: int | None) -> None:
    """List the built-in models, their default inputs and options.

    \b
    Examples:
      howfast zoo
      howfast zoo -f json
    """
    rows: list[dict[str, Any]] = [
        {
            "name": e.name,
            "description": e.description,
            "default_input": e.default_input,
            "options": [{"name": o.name, "type": o.type.__name__, "default": o.default, "help": o.help} for o in e.options],
        }
        for e in entries()
    ]
    if as_json or fmt == "json":
        emit(json.dumps(rows, indent=2) + "\n", output)
        return
    table = Table(title="howfast zoo", header_style="bold")
    for title in ("Model", "Default input", "Options", "Description"):
        table.add_column(title, overflow="fold")
    for row in rows:
        options = ", ".join(f"{o['name']}={o['default']} ({o['type']})" for o in row["options"])
        table.add_row(row["name"], row["default_input"], options, row["description"])
    columns, colour = terminal(output, width)
    buffer = io.StringIO()
    Console(file=buffer, width=columns, force_terminal=colour, no_color=not colour).print(table)
    emit(buffer.getvalue(), output)
