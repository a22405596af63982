"""Options and steps shared by commands: loading the model and its inputs, devices, writing output."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from howfast.cli.output import OutputFile as OutputFile  # re-exported: the commands write through these
from howfast.cli.output import emit as emit
from howfast.cli.output import write_atomically as write_atomically
from howfast.conventions import Conventions
from howfast.errors import DeviceError, InputSpecError, UsageError
from howfast.hardware.profiles import HardwareProfile, get_profile, is_torch_device
from howfast.report.render.tree import SORT_KEYS
from howfast.units import printable

if TYPE_CHECKING:  # PyTorch, the loaders and rich's progress bars are imported where a command uses them
    import torch
    from rich.console import Console
    from rich.progress import Progress

    from howfast.graph.inputs import InputSpec
    from howfast.graph.request import LoadedModel

INPUT_HELP = (
    "Input shape: 1x3x224x224, 1x128:int64, or name=1x128:int64 for a keyword input. "
    "Repeat for several inputs. Default: the zoo model's own."
)


def input_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--input/-i, --dtype and --device, shared by every command that runs a model."""
    command = click.option("--device", default="cpu", show_default=True, help="cpu, cuda, or meta (no weights allocated).")(command)
    command = click.option("--dtype", default=None, help="dtype of float inputs and weights (float32, float16, bfloat16); "
                                                         "default float32.")(command)
    return click.option("--input", "-i", "inputs", multiple=True, help=INPUT_HELP)(command)


def check_device(device: str) -> str:
    """A torch device howfast runs models on: cpu, meta, cuda or cuda:N (``hardware.profiles.is_torch_device``)."""
    if not is_torch_device(device) or device.strip().lower() == "mps":
        raise UsageError(f"unknown device {device!r}; use cpu, meta or cuda")
    if device.startswith("cuda") and not _torch().cuda.is_available():
        raise DeviceError("--device cuda asked for, but this machine has no CUDA device (torch.cuda.is_available() is False)")
    return device


def hardware_from_device(device: str, hardware: str | None) -> tuple[str, HardwareProfile | None]:
    """``--device`` is polymorphic: cpu, cuda, cuda:N and meta are torch devices; anything else names a
    hardware profile (the model then runs on cpu). Returns (torch device, loaded profile or None): the
    profile is read here, so a bad one fails before the model is built."""
    if not is_torch_device(device):
        if hardware is not None:
            raise UsageError(f"--device {device!r} is not a torch device, so it names a hardware profile; "
                             f"--hardware {hardware!r} names another: give one of them")
        device, hardware = "cpu", device
    return device, (profile_named(hardware) if hardware is not None else None)


def profile_named(name: str) -> HardwareProfile:
    """``hardware.profiles.get_profile``, with a name the file system refuses (too long, a NUL byte)
    an unknown profile (DeviceError, exit 8) rather than an OSError."""
    try:
        return get_profile(name)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DeviceError(f"no hardware profile {printable(name[:80])!r}: {reason}; see `howfast devices` for the names") from exc


def open_model(spec: str, inputs: tuple[str, ...] | list[str] | None, device: str,
               dtype: str | None = None) -> tuple[LoadedModel, list[InputSpec] | None]:
    """The model a model argument names — a PyTorch model built on ``device`` in ``dtype``, or an
    ``.onnx`` file — and its inputs (a zoo model's default when none are given; None for an ONNX
    file, whose declared inputs are used)."""
    from howfast.api import load
    from howfast.graph.inputs import parse_inputs

    torch_dtype = check_dtype(dtype)
    loaded = load(spec, device=check_device(device))
    if loaded.front_end != "torch":
        if dtype is not None:
            raise UsageError("--dtype applies to PyTorch models only: an ONNX file fixes its own dtypes "
                             "(an input's is checked against --input NAME=SHAPE:DTYPE)")
        return loaded, parse_inputs(list(inputs)) if inputs else None
    return _built(spec, loaded, inputs, torch_dtype)


def resolve(spec: str, inputs: tuple[str, ...] | list[str] | None, device: str,
            dtype: str | None = None) -> tuple[LoadedModel, list[InputSpec]]:
    """A PyTorch model for commands that run one (an ``.onnx`` file is refused in one line) and its inputs."""
    from howfast.capture.loader import load_model

    torch_dtype = check_dtype(dtype)
    return _built(spec, load_model(spec, device=check_device(device)), inputs, torch_dtype)


def check_dtype(dtype: str | None) -> torch.dtype | None:
    """``--dtype``, checked before any model is built: a floating-point dtype (UsageError otherwise,
    exit 2; an unknown name is an InputSpecError, exit 4), or None when not given."""
    from howfast.graph.inputs import parse_dtype

    torch_dtype = parse_dtype(dtype) if dtype else None
    if torch_dtype is not None and not torch_dtype.is_floating_point:
        raise UsageError(f"--dtype {dtype} is not a floating-point dtype: --dtype casts the weights and float inputs "
                         "(float32, float16, bfloat16, float64); an integer input's dtype goes in --input (1x128:int64); "
                         "for an int8 model quantize it (torch.ao.quantization) or price one with --weight-dtype int8 "
                         "--act-dtype int8 (docs/quantized.md)")
    return torch_dtype


def _built(spec: str, loaded: LoadedModel, inputs: tuple[str, ...] | list[str] | None,
           torch_dtype: torch.dtype | None) -> tuple[LoadedModel, list[InputSpec]]:
    from howfast.graph.inputs import parse_inputs

    specs = parse_inputs(list(inputs)) if inputs else None
    if torch_dtype is not None and torch_dtype != _torch().float32:
        loaded.model.to(torch_dtype)
    if specs is None:
        if not loaded.default_input:
            raise InputSpecError(f"model {spec!r} has no default input: give one with --input, e.g. --input 1x3x224x224")
        specs = parse_inputs([loaded.default_input])
    return loaded, specs


def with_batch(specs: list[InputSpec] | None, batch: int | None) -> list[InputSpec] | None:
    """The specs with their first dimension set to ``batch`` (unchanged when None)."""
    if batch is None or specs is None:
        return specs
    if batch <= 0:
        raise UsageError(f"--batch must be positive, not {batch}")
    from howfast.graph.inputs import InputSpec

    return [InputSpec(shape=(batch,) + s.shape[1:], dtype=s.dtype, name=s.name) for s in specs]


def tensors_for(specs: list[InputSpec], device: str, dtype: str | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    from howfast.graph.inputs import materialise, parse_dtype

    return materialise(specs, device, parse_dtype(dtype) if dtype else _torch().float32)


def conventions_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--conv-reads", type=click.Choice(["window", "input"]), default="window", show_default=True,
                           help="Write-up conv input reads: once per output window, or the write-up's Hin x Win formula literally.")(command)
    command = click.option("--memory-model", type=click.Choice(["compulsory", "writeup"]), default="compulsory", show_default=True,
                           help="Memory model of the table's Accesses column and of the roofline (JSON always carries both).")(command)
    command = click.option("--bias/--no-bias", default=True, show_default=True, help="Count bias additions as 1 FLOP per output.")(command)
    return click.option("--flops", type=click.Choice(["2mac", "exact"]), default="2mac", show_default=True,
                        help="FLOPs per dot product of length n: 2mac = 2n, exact = 2n-1.")(command)


def conventions_from(flops: str, bias: bool, memory_model: str, conv_reads: str = "window") -> Conventions:
    return Conventions(flops=flops, count_bias=bias, memory_model=memory_model, conv_reads=conv_reads)  # type: ignore[arg-type]


NON_TERMINAL_WIDTH = 100


def terminal(output: Path | None, width: int | None) -> tuple[int, bool]:
    """(width, colour) for text going to ``output`` (None: stdout): the real terminal's width and
    colour on a terminal (no colour with ``NO_COLOR`` set or ``TERM=dumb``); a fixed width and no
    colour when piped or written to a file. ``width`` (``--width``) overrides the width."""
    on_terminal = output is None and sys.stdout.isatty()
    colour = on_terminal and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    if width is not None:
        return width, colour
    return (shutil.get_terminal_size((NON_TERMINAL_WIDTH, 24)).columns if on_terminal else NON_TERMINAL_WIDTH), colour


def progress_display(console: Console, count: str) -> Progress:
    """The progress bar of a measurement, on ``console``, gone when done: what is being measured
    (cut to fit), the bar, ``count`` (a template of the task's fields: ``"{task.completed}/{task.total}"``),
    the time elapsed and rich's estimate of the time remaining from the pace so far."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.table import Column

    return Progress(TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
                    BarColumn(), TextColumn(count), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                    transient=True)


class DepthType(click.ParamType):
    """``--depth``: a module depth (0 = the model only) or ``all``."""

    name = "N|all"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        text = str(value).strip().lower()
        if text == "all":
            return "all"
        if text.isdigit():
            return int(text)
        self.fail(f"{value!r} is not a depth: give a whole number (0 = the model only) or all", param, ctx)


def table_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """How the terminal table is laid out: --depth, --width, --sort, --top, --filter, --flat, --conventions."""
    for option in reversed((
        click.option("--depth", "-d", type=DepthType(), help="Show layers down to this module depth (0 = the model only), "
                     "or all (every layer, nothing folded). Default: as deep as fits about a screen."),
        click.option("--width", type=click.IntRange(min=40), help="Lay the table out for this many columns (default: the terminal's; 100 when piped)."),
        click.option("--sort", type=click.Choice(SORT_KEYS), help="Order layers by this cost, largest first (a flat list of leaf layers)."),
        click.option("--top", type=click.IntRange(min=1), help="Show only the N heaviest layers (a flat list; with --sort, by that cost)."),
        click.option("--filter", "pattern", help="Show only layers whose type is this (Conv2d) or whose name matches this glob (layer3.*)."),
        click.option("--flat", is_flag=True, help="List leaf layers by their full dotted names instead of the tree."),
        click.option("--conventions", "all_conventions", is_flag=True, help="Print every counting convention in full (JSON always has them)."),
    )):
        command = option(command)
    return command


@contextmanager
def warnings_to_stderr() -> Iterator[None]:
    """howfast's own warnings (uncounted ops) as ``warning:`` lines on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        if str(warning.message).startswith("howfast:"):
            click.echo(f"warning: {printable(str(warning.message).removeprefix('howfast: '))}", err=True)


def _torch() -> Any:
    """PyTorch, imported when a step needs it (``howfast --help``, ``zoo`` and ``devices`` do not)."""
    import torch

    return torch
