"""The ``howfast`` command line (click). Each command lives in its own module under ``cli/``.

Errors: a ``HowfastError`` prints one line ``howfast: error: ...`` and exits with its code
(``docs/cli.md`` lists them); usage errors exit 2; anything else is a bug: one line, exit 1, and
``--debug`` shows the traceback. Ctrl-C is one line and exit 130 from the first instant: this
module imports nothing heavy, and a command's module (and PyTorch) is imported under that handler,
only when that command runs (``LazyGroup``: ``--help`` and ``--version`` import no command). Every
line printed on an error has its control characters escaped (``units.printable``).
"""

from __future__ import annotations

import importlib
import io
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from howfast.errors import BAD_INPUT, INTERNAL, HowfastError, first_line
from howfast.units import printable, printable_lines
from howfast.version import __version__

INTERRUPTED = 130
_state = {"debug": False}


# Every command: the module under ``cli/`` that defines it (importing it adds the command to ``app``)
# and the first paragraph of its help, which ``howfast --help`` lists without importing the module.
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("howfast.cli.analyze", "Count parameters, MACs, FLOPs and memory traffic per layer of MODEL."),
    "bench": ("howfast.cli.bench", "Time forward passes of MODEL: warm-up, timed runs, min/median/mean/std/p90/p99 and throughput."),
    "calibrate": ("howfast.cli.calibrate", "Measure this machine and print every figure with how it was measured."),
    "compare": ("howfast.cli.compare", "Compare MODELS side by side: params, size, MACs, FLOPs, memory, ratios to the first."),
    "devices": ("howfast.cli.devices", "List hardware profiles (peak fp32, bandwidth, ridge point), or show one profile's figures and "
                                       "sources."),
    "export": ("howfast.cli.export", "Export MODEL to the ONNX file OUTPUT, traced with the given (or the zoo's default) input."),
    "fold": ("howfast.cli.fold", "Fold every eval-mode conv/linear -> batch-norm pair of MODEL and verify the outputs match."),
    "llm": ("howfast.cli.llm", "How fast MODEL generates text: prefill, decode steps, KV cache, memory, TTFT and TPOT."),
    "show": ("howfast.cli.show", "Render REPORT.json, saved by `analyze -f json` or `compare -f json`, again as a table, md, csv, "
                                 "html or json."),
    "zoo": ("howfast.cli.zoo", "List the built-in models, their default inputs and options."),
}


class LazyGroup(click.Group):
    """The command group, importing a command's module only when that command is run, completed or
    asked for its help: ``howfast --help`` and ``--version`` import no command, ``howfast zoo`` only its
    own (not the capture stack, PyTorch's dynamo or rich's progress bars)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            with _importing():
                importlib.import_module(COMMANDS[cmd_name][0])
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands' list as click writes it, from ``COMMANDS`` for those not imported."""
        listed = [(name, self.commands.get(name) or click.Command(name, help=COMMANDS[name][1]))
                  for name in self.list_commands(ctx)]
        listed = [(name, command) for name, command in listed if not command.hidden]
        if not listed:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in listed)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in listed])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(__version__, prog_name="howfast")
def app(debug: bool) -> None:
    """How fast is my model, and why? Parameters, MACs, FLOPs, memory traffic, latency and roofline."""
    _state["debug"] = debug


def register_commands() -> None:
    """Import every command (``main`` imports only the one it runs)."""
    for module, _ in COMMANDS.values():
        importlib.import_module(module)


def _interrupted_while_importing(_signum: int, _frame: FrameType | None) -> None:
    """Ctrl-C while the commands (PyTorch, ...) are imported: nothing to clean up yet, and an
    exception raised inside an import would surface as whatever that import makes of it."""
    os.write(2, b"howfast: error: interrupted\n")
    os._exit(INTERRUPTED)


@contextmanager
def _importing() -> Iterator[None]:
    """The Ctrl-C handler of the import phase (main thread only: signals cannot be set elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _interrupted_while_importing)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
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
        shown = io.StringIO()
        exc.show(file=shown)
        sys.stderr.write(printable_lines(shown.getvalue()))
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        return _fail("interrupted", INTERRUPTED, None)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in one line
        if out_of_memory(exc):
            return _fail(f"out of memory: {first_line(exc)}: use smaller inputs or --device meta (counts without allocating)",
                         BAD_INPUT, exc)
        return _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", INTERNAL, exc)


_ALLOCATION_FAILED = ("can't allocate memory", "cannot allocate memory", "out of memory")


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation the machine refused (``MemoryError``, PyTorch's
    ``OutOfMemoryError``, its CPU allocator's ``RuntimeError``) -- a resource limit, not a bug: the
    checks before allocating go by the memory free, which a process limit (``ulimit -v``) may undercut."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and any(text in str(exc).lower() for text in _ALLOCATION_FAILED)


def _fail(message: str, code: int, exc: BaseException | None) -> int:
    if _state["debug"] and exc is not None:
        traceback.print_exception(exc)
    first = message.strip().splitlines()[0] if message.strip() else "error"
    click.echo(f"howfast: error: {printable(first)}", err=True)
    return code
