"""``howfast zoo``: the built-in models and their options."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from howfast.cli.app import app
from howfast.zoo import entries


@app.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def zoo(as_json: bool) -> None:
    """List the built-in models, their default inputs and options."""
    rows: list[dict[str, Any]] = [
        {
            "name": e.name,
            "description": e.description,
            "default_input": e.default_input,
            "options": [{"name": o.name, "type": o.type.__name__, "default": o.default, "help": o.help} for o in e.options],
        }
        for e in entries()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="howfast zoo", header_style="bold")
    for title in ("Model", "Default input", "Options", "Description"):
        table.add_column(title, overflow="fold")
    for row in rows:
        options = ", ".join(f"{o['name']}={o['default']} ({o['type']})" for o in row["options"])
        table.add_row(row["name"], row["default_input"], options, row["description"])
    Console(width=160).print(table)
