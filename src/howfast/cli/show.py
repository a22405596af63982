"""``howfast show REPORT.json``: render a saved report (or comparison) again, in any format."""

from __future__ import annotations

from pathlib import Path

import click

from howfast.cli.app import app
from howfast.cli.common import OutputFile, emit, table_options, terminal
from howfast.cli.output import RAW_FORMATS
from howfast.report.comparison import Comparison
from howfast.report.load import read_saved
from howfast.report.render import FORMATS
from howfast.report.render.comparison import render_comparison


@app.command()
@click.argument("saved", metavar="REPORT.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format.")
@click.option("--output", "-o", type=OutputFile(), help="Write to this file instead of stdout.")
@click.option("--writeup-accesses", is_flag=True, help="Add the write-up's accesses column (a conv input counted once per MAC window).")
@table_options
def show(saved: Path, fmt: str, output: Path | None, writeup_accesses: bool = False, depth: int | str | None = None,
         width: int | None = None, sort: str | None = None, top: int | None = None, pattern: str | None = None,
         flat: bool = False, all_conventions: bool = False) -> None:
    """Render REPORT.json, saved by `analyze -f json` or `compare -f json`, again as a table, md, csv, html or json.

    Nothing is recounted: the figures are the saved ones, with the table's layout options of `analyze`.

    \b
    Examples:
      howfast analyze resnet50 --device t4 -f json -o r.json
      howfast show r.json
      howfast show r.json --top 10 --sort bytes
      howfast show r.json -f html -o r.html
      howfast show cmp.json -f md
    """
    loaded = read_saved(saved)
    columns, colour = terminal(output, width)
    if isinstance(loaded, Comparison):
        emit(render_comparison(loaded, fmt, width=columns, color=colour), output, raw=fmt in RAW_FORMATS)
        return
    emit(loaded.render(fmt, depth=depth if fmt == "table" else (None if depth == "all" else depth), width=columns, color=colour,
                       sort=sort, top=top, filter=pattern, flat=flat, conventions=all_conventions, writeup=writeup_accesses), output,
         raw=fmt in RAW_FORMATS)
