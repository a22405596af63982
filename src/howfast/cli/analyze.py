"""``howfast analyze MODEL``: per-layer parameters, MACs, FLOPs and memory traffic."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from howfast.api import analyze as analyze_model
from howfast.cli.app import app
from howfast.cli.common import conventions_from, conventions_options, emit, input_options, resolve, tensors_for, with_batch
from howfast.report.render import FORMATS


@app.command()
@click.argument("model")
@input_options
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
@click.option("--depth", "-d", type=click.IntRange(min=0), help="Show layers down to this module depth (0 = the model only).")
@click.option("--until", help="Stop after this module (a dotted path, e.g. features.11).")
@conventions_options
@click.option("--strict", is_flag=True, help="Fail (exit 5) if an op has no cost formula.")
@click.option("--grad", is_flag=True, help="Run with autograd enabled (default: no_grad).")
@click.option("--train", is_flag=True, help="Run the model in training mode (batch-norm statistics, dropout).")
@click.option("--batch", "-b", type=int, help="Set the first dimension of every input (peak activation memory for that batch).")
@click.option("--fused", is_flag=True, help="Show the fused program: BN folded, element-wise chains fused (savings in JSON 'fusion').")
@click.option("--plots", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the report's charts as PNG and SVG files into this folder (needs matplotlib).")
@click.option("--hardware", help="Hardware profile (name from `howfast devices`, or a .toml file): adds the roofline "
                                 "(intensity, bound, predicted time per layer). --device NAME does the same.")
@click.option("--plot-roofline", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a roofline chart of the layers on the --hardware device to this .png/.svg file.")
@click.option("--bench", is_flag=True, help="With --hardware: measure time per layer and show it beside the predicted time.")
def analyze(model: str, inputs: tuple[str, ...], dtype: str, device: str, fmt: str, output: Path | None, depth: int | None,
            until: str | None, flops: str, bias: bool, memory_model: str, strict: bool, grad: bool, train: bool,
            fused: bool = False, plots: Path | None = None, conv_reads: str = "window", hardware: str | None = None,
            plot_roofline: Path | None = None, bench: bool = False, batch: int | None = None) -> None:
    """Count parameters, MACs, FLOPs and memory traffic per layer of MODEL.

    MODEL is a zoo name (see `howfast zoo`; options as mobilenet_v2:width=1.4), file.py:factory,
    package.module:factory (a callable returning a torch.nn.Module), or an .onnx file (its symbolic
    dimensions sized by --input).
    """
    from howfast.cli.devices import hardware_from_device, roofline_for_cli

    device, hardware = hardware_from_device(device, hardware)
    conventions = conventions_from(flops, bias, memory_model, conv_reads)
    from howfast.onnx.load import is_onnx_path

    if is_onnx_path(model):  # an .onnx file: the ONNX front end, same formulas and report (docs/onnx.md)
        from howfast.onnx.cli import analyze_onnx_command

        return analyze_onnx_command(click.get_current_context().params, conventions)
    loaded, specs = resolve(model, inputs, device, dtype)
    args, kwargs = tensors_for(with_batch(specs, batch), device, dtype)
    if train:
        loaded.module.train()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = analyze_model(loaded.module, args, kwargs=kwargs, conventions=conventions, until=until,
                               no_grad=not grad, strict=strict, name=loaded.name, fused=fused)
    for warning in caught:
        if str(warning.message).startswith("howfast:"):
            click.echo(f"warning: {str(warning.message).removeprefix('howfast: ')}", err=True)
    extra = roofline_for_cli(report, hardware, loaded.module, args, kwargs, device=device, fused=fused, bench=bench,
                             plot=plot_roofline, fmt=fmt, depth=depth,
                             memory_model=memory_model if click.get_current_context().get_parameter_source("memory_model")
                             != click.core.ParameterSource.DEFAULT else None)
    emit(report.render(fmt, depth=depth) + extra, output)
    if plots is not None:
        from howfast.report.plots import write_plots

        written = write_plots(report, plots)
        click.echo(f"wrote {len(written)} plots to {plots}", err=True)
