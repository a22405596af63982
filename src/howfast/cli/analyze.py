"""``howfast analyze MODEL``: per-layer parameters, MACs, FLOPs and memory traffic (any front end),
with the roofline on a device and measured time per layer beside it; ``--backward``: a training
step's phases (forward, backward, optimizer) side by side and its memory by category."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from howfast.api import analyze as analyze_model
from howfast.capture.inputs import resolve_inputs
from howfast.cli.app import app
from howfast.cli.common import (
    OutputFile,
    conventions_from,
    conventions_options,
    emit,
    hardware_from_device,
    input_options,
    open_model,
    table_options,
    terminal,
    warnings_to_stderr,
    with_batch,
)
from howfast.cli.output import RAW_FORMATS, write_file_atomically, write_files_atomically
from howfast.cli.training_options import checkpoint_classes, checkpoint_option, training_names, training_options
from howfast.errors import UsageError
from howfast.graph.inputs import InputSpec, parse_dtype
from howfast.graph.request import LoadedModel
from howfast.hardware.profiles import HardwareProfile
from howfast.hardware.roofline import roofline
from howfast.report.render import FORMATS
from howfast.report.report import Report
from howfast.report.whatif import BITS, dtype_what_if
from howfast.units import printable

RUNTIMES = ("torch", "onnxruntime")  # what --runtime predicts for


@app.command()
@click.argument("model")
@input_options
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format.")
@click.option("--output", "-o", type=OutputFile(), help="Write to this file instead of stdout.")
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
@click.option("--plot-roofline", "plot_to", type=OutputFile(),
              help="Write a roofline chart of the layers on the --hardware device to this .png/.svg file.")
@click.option("--bench", is_flag=True, help="With --hardware: measure time per layer and show it beside the predicted time.")
@click.option("--writeup-accesses", is_flag=True, help="Add the write-up's accesses column (a conv input counted once per MAC window).")
@click.option("--runtime", type=click.Choice(RUNTIMES), help="What the prediction is for: torch (PyTorch eager) or onnxruntime "
              "(the fused program, priced on a profile from `howfast calibrate --runtime onnxruntime`). Default: the "
              "runtime the profile was calibrated for, else torch.")
@click.option("--weight-dtype", type=click.Choice(sorted(BITS)), help="What-if: weights stored at this width (bytes re-priced, MACs unchanged; docs/quantized.md).")
@click.option("--act-dtype", type=click.Choice(sorted(BITS)), help="What-if: activations stored at this width (with --weight-dtype int8: int8 compute).")
@training_options
@checkpoint_option
@table_options
def analyze(model: str, inputs: tuple[str, ...], dtype: str | None, device: str, fmt: str, output: Path | None,
            depth: int | str | None, until: str | None, flops: str, bias: bool, memory_model: str, strict: bool, grad: bool,
            train: bool, fused: bool = False, plots: Path | None = None, conv_reads: str = "window",
            hardware: str | None = None, plot_to: Path | None = None, bench: bool = False,
            batch: int | None = None, writeup_accesses: bool = False, width: int | None = None, sort: str | None = None,
            top: int | None = None, pattern: str | None = None, flat: bool = False, all_conventions: bool = False,
            backward: bool = False, loss: str | None = None, optimizer: str | None = None,
            weight_dtype: str | None = None, act_dtype: str | None = None, checkpoint: tuple[str, ...] = (),
            runtime: str | None = None) -> None:
    """Count parameters, MACs, FLOPs and memory traffic per layer of MODEL.

    MODEL is a zoo name (see `howfast zoo`; options as mobilenet_v2:width=1.4), file.py:factory,
    package.module:factory (a callable returning a torch.nn.Module), or an .onnx file (its symbolic
    dimensions sized by --input).

    \b
    Examples:
      howfast analyze resnet50
      howfast analyze mobilenet_v2 --input 1x3x160x160 --top 10
      howfast analyze gpt2 --device meta -i 1x128:int64 --depth all
      howfast analyze resnet18 --device t4 --fused
      howfast analyze mobilenet_v2 --device my_ort_box --runtime onnxruntime
      howfast analyze my_model.py:make_model -i 1x3x32x32 -f html -o report.html
      howfast analyze model.onnx -i x=1x3x224x224
      howfast analyze gpt2 -i 1x1024:int64 --backward --loss cross_entropy --optimizer adamw --device a100
    """
    loss_name = training_names(backward, loss, optimizer)
    checkpoint_types = checkpoint_classes(backward, checkpoint)
    if backward and (bench or fused or until is not None):
        raise UsageError("--backward counts a whole training step: drop --until, --fused and --bench "
                         "(time a step with `howfast bench MODEL --backward`)")
    device, profile = hardware_from_device(device, hardware)
    if profile is None and (bench or plot_to is not None):
        raise UsageError("--bench and --plot-roofline need a hardware profile: --hardware NAME|FILE (see `howfast devices`)")
    runtime = runtime or profile_runtime(profile)
    if runtime == "onnxruntime":
        if backward or bench:
            raise UsageError("a prediction for ONNX Runtime (--runtime onnxruntime, or a profile calibrated for it) is for "
                             "inference: drop --backward and --bench (time the exported file with `howfast bench model.onnx`), "
                             "or give --runtime torch")
        fused = True  # ONNX Runtime runs the fused program: batch norms folded, activations fused
    conventions = conventions_from(flops, bias, memory_model, conv_reads)
    loaded, specs = open_model(model, inputs, device, dtype)
    if (bench or backward) and loaded.front_end != "torch":
        raise UsageError(f"{'--backward' if backward else '--bench'} applies to PyTorch models only, not to ONNX files")
    if loaded.front_end == "onnx" and batch is not None:
        from howfast.onnx import batch_inputs

        specs = batch_inputs(loaded.model, specs, batch)
    else:
        specs = with_batch(specs, batch)
    with warnings_to_stderr():
        if backward:
            from howfast.training import analyze_training  # the training stack, only for --backward

            report = analyze_training(loaded.model, specs, loss=loss_name, optimizer=optimizer, conventions=conventions,
                                      strict=strict, dtype=parse_dtype(dtype) if dtype else None, name=loaded.name,
                                      checkpoint=checkpoint_types)
        else:
            report = analyze_model(loaded.model, specs, conventions=conventions, until=until, no_grad=not grad,
                                   train=True if train else None, strict=strict, dtype=parse_dtype(dtype) if dtype else None,
                                   name=loaded.name, fused=fused)
    report = dtype_what_if(report, weight_dtype, act_dtype)
    if profile is not None:
        roofline(report, profile)
        note_runtime(report, profile, runtime)
        if bench:
            _measure(report, loaded, specs or [], profile, device)
        if plot_to is not None:
            from howfast.report.render.plots import plot_roofline

            written_plot = write_file_atomically(plot_to, lambda staged: plot_roofline(report, str(staged)))
            click.echo(f"wrote {printable(str(written_plot))}", err=True)
    columns, colour = terminal(output, width)
    emit(report.render(fmt, depth=depth if fmt == "table" else (None if depth == "all" else depth), width=columns, color=colour,
                       sort=sort, top=top, filter=pattern, flat=flat, conventions=all_conventions, writeup=writeup_accesses), output,
         raw=fmt in RAW_FORMATS)
    if plots is not None:
        from howfast.report.render.plots import write_plots

        written = write_files_atomically(plots, lambda staging: write_plots(report, staging))
        click.echo(f"wrote {len(written)} plots to {printable(str(plots))}", err=True)


def profile_runtime(profile: HardwareProfile | None) -> str:
    """The runtime a profile was calibrated for (``calibration.runtime``): torch unless it says onnxruntime."""
    return "onnxruntime" if profile is not None and profile.calibration.get("runtime") == "onnxruntime" else "torch"


def note_runtime(report: Report, profile: HardwareProfile, runtime: str) -> None:
    """Say in the roofline's notes which runtime the prediction is for, and when the profile was calibrated
    for another one (a vendor profile is for neither: its figures are the hardware's)."""
    if report.roofline is None:
        return
    calibrated = profile.calibration.get("runtime", "torch") if profile.calibration else None
    if runtime == "onnxruntime":
        report.roofline.notes.append("runtime onnxruntime: the fused program (BN folded, activations fused), as ONNX Runtime runs it")
    if calibrated is not None and calibrated != runtime:
        report.roofline.notes.append(f"profile {profile.name} was calibrated for {calibrated}, the prediction is for {runtime}: "
                                     f"its class figures are {calibrated}'s kernels (howfast calibrate --runtime {runtime})")


def _measure(report: Report, loaded: LoadedModel, specs: list[InputSpec], profile: HardwareProfile, device: str) -> None:
    """``--bench``: time every layer, join the times to the roofline, and read RAPL where it can."""
    from howfast.bench import attach  # the timing stack, only for --bench
    from howfast.bench.checks import max_threads
    from howfast.bench.layers import per_layer_times
    from howfast.bench.rapl import measure_rapl

    if device == "meta":
        raise UsageError("--bench runs the model: use --device cpu or cuda (meta tensors hold no data)")
    module = loaded.model
    args, kwargs = resolve_inputs(module, specs)
    # a calibrated CPU profile holds for the thread count it was measured with: time with that count
    calibrated = profile.calibration.get("threads")
    threads = min(calibrated, max_threads()) if device == "cpu" and isinstance(calibrated, int) else None  # at most this machine's cores
    attach(report, per_layer_times(module, args, kwargs, runs=20, warmup=3, threads=threads))  # joins them to the roofline
    measured = report.roofline.measured if report.roofline is not None else None
    assert measured is not None
    measured.threads = threads if threads is not None else torch.get_num_threads()
    with torch.inference_mode():
        measured.energy = measure_rapl(lambda: module(*args, **kwargs), runs=10)
