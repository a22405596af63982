"""The ``howfast`` command line (click). Each command lives in its own module under ``cli/``.

Errors: a ``HowfastError`` prints one line ``howfast: error: ...`` and exits with its code
(``docs/cli.md`` lists them); usage errors exit 2; anything else is a bug: one line, exit 1, and
``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys
import traceback

import click

from howfast.errors import INTERNAL, HowfastError
from howfast.version import __version__

_state = {"debug": False}


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(__version__, prog_name="howfast")
def app(debug: bool) -> None:
    """How fast is my model, and why? Parameters, MACs, FLOPs, memory traffic, latency and roofline."""
    _state["debug"] = debug


def register_commands() -> None:
    # Importing a command module adds its command to ``app``.
    from howfast.cli import analyze, bench, calibrate, compare, devices, export, fold, llm, show, zoo  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    register_commands()
    args = sys.argv[1:] if argv is None else list(argv)
    _state["debug"] = "--debug" in args
    try:
        app.main(args=args, prog_name="howfast", standalone_mode=False)
        return 0
    except HowfastError as exc:
        return _fail(str(exc), exc.exit_code, exc)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        return _fail("interrupted", 130, None)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line
        return _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", INTERNAL, exc)


def _fail(message: str, code: int, exc: BaseException | None) -> int:
    if _state["debug"] and exc is not None:
        traceback.print_exception(exc)
    first = message.strip().splitlines()[0] if message.strip() else "error"
    click.echo(f"howfast: error: {first}", err=True)
    return code
