"""``howfast export MODEL OUT.onnx``: write a PyTorch model as an ONNX file (batch norm kept)."""

from __future__ import annotations

from pathlib import Path

import click

from howfast.cli.app import app
from howfast.cli.common import input_options, resolve, tensors_for
from howfast.onnx.export import export_model


@app.command("export")
@click.argument("model")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@input_options
@click.option("--opset", type=click.IntRange(min=7), help="ONNX opset version (default: the exporter's).")
def export_command(model: str, output: Path, inputs: tuple[str, ...], dtype: str | None, device: str, opset: int | None) -> None:
    """Export MODEL to the ONNX file OUTPUT, traced with the given (or the zoo's default) input.

    The export keeps the model's structure: BatchNormalization nodes are not folded into convs and
    the weights keep their PyTorch names, so `howfast analyze OUTPUT` lines up with
    `howfast analyze MODEL` module by module (docs/onnx.md). Build on cpu: a meta model has no
    weights to write.

    \b
    Examples:
      howfast export resnet18 resnet18.onnx
      howfast export vit_tiny vit.onnx --opset 18
    """
    loaded, specs = resolve(model, inputs, device, dtype)
    args, kwargs = tensors_for(specs, device, dtype)
    path = export_model(loaded.model, args, kwargs, output, opset)
    click.echo(f"wrote {path}", err=True)
