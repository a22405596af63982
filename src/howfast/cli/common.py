"""Options and steps shared by commands: loading the model and its inputs, writing output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import torch

from howfast.graph.inputs import InputSpec, materialise, parse_dtype, parse_inputs
from howfast.capture.loader import LoadedModel, load_model
from howfast.conventions import Conventions
from howfast.errors import DeviceError, InputSpecError, UsageError

INPUT_HELP = (
    "Input shape: 1x3x224x224, 1x128:int64, or name=1x128:int64 for a keyword input. "
    "Repeat for several inputs. Default: the zoo model's own."
)


def input_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--input/-i, --dtype and --device, shared by every command that runs a model."""
    command = click.option("--device", default="cpu", show_default=True, help="cpu, cuda, or meta (no weights allocated).")(command)
    command = click.option("--dtype", default="float32", show_default=True, help="dtype of float inputs and weights (float32, float16, bfloat16).")(command)
    return click.option("--input", "-i", "inputs", multiple=True, help=INPUT_HELP)(command)


def check_device(device: str) -> str:
    if device not in ("cpu", "meta", "cuda") and not device.startswith("cuda:"):
        raise UsageError(f"unknown device {device!r}; use cpu, meta or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError("--device cuda asked for, but this machine has no CUDA device (torch.cuda.is_available() is False)")
    return device


def resolve(model_spec: str, inputs: tuple[str, ...] | list[str] | None, device: str, dtype: str = "float32") -> tuple[LoadedModel, list[InputSpec]]:
    """Build the model on ``device`` in ``dtype`` and parse its inputs (the zoo default when none given)."""
    torch_dtype = parse_dtype(dtype)
    specs = parse_inputs(list(inputs)) if inputs else None
    loaded = load_model(model_spec, device=check_device(device))
    if torch_dtype != torch.float32:
        loaded.module.to(torch_dtype)
    if specs is None:
        if not loaded.default_input:
            raise InputSpecError(f"model {model_spec!r} has no default input: give one with --input, e.g. --input 1x3x224x224")
        specs = parse_inputs([loaded.default_input])
    return loaded, specs


def with_batch(specs: list[InputSpec], batch: int | None) -> list[InputSpec]:
    """The specs with their first dimension set to ``batch`` (unchanged when None)."""
    if batch is None:
        return specs
    if batch <= 0:
        raise UsageError(f"--batch must be positive, not {batch}")
    return [InputSpec(shape=(batch,) + s.shape[1:], dtype=s.dtype, name=s.name) for s in specs]


def tensors_for(specs: list[InputSpec], device: str, dtype: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return materialise(specs, device, parse_dtype(dtype))


def conventions_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--conv-reads", type=click.Choice(["window", "input"]), default="window", show_default=True,
                           help="Write-up conv input reads: once per output window, or the write-up's Hin x Win formula literally.")(command)
    command = click.option("--memory-model", type=click.Choice(["writeup", "compulsory"]), default="writeup", show_default=True,
                           help="Memory model of the table's Accesses column and of the roofline (JSON always carries both).")(command)
    command = click.option("--bias/--no-bias", default=True, show_default=True, help="Count bias additions as 1 FLOP per output.")(command)
    return click.option("--flops", type=click.Choice(["2mac", "exact"]), default="2mac", show_default=True,
                        help="FLOPs per dot product of length n: 2mac = 2n, exact = 2n-1.")(command)


def conventions_from(flops: str, bias: bool, memory_model: str, conv_reads: str = "window") -> Conventions:
    return Conventions(flops=flops, count_bias=bias, memory_model=memory_model, conv_reads=conv_reads)  # type: ignore[arg-type]


def emit(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` (a file) or stdout."""
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(f"wrote {output}", err=True)
