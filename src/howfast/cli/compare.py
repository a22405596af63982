"""``howfast compare A B C``: models side by side, ratios to the first, and why they differ."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from howfast.api import analyze
from howfast.capture.loader import split_until
from howfast.cli.app import app
from howfast.cli.common import OutputFile, conventions_from, conventions_options, emit, input_options, resolve, tensors_for, terminal
from howfast.cli.output import RAW_FORMATS
from howfast.compare import Comparison, explain, measured_all
from howfast.errors import UsageError
from howfast.report.render.comparison import FORMATS, render_comparison
from howfast.zoo import registry


@app.command()
@click.argument("models", nargs=-1, required=True)
@input_options
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", "-o", type=OutputFile(), help="Write to this file instead of stdout.")
@click.option("--features", is_flag=True, help="Cut each zoo model at its feature layer (MobileNet V1: conv_pw_11, V2: expanded_conv_12, VGG16: features, ResNet: layer4).")
@click.option("--fused", is_flag=True, help="Compare the fused programs (BN folded, element-wise ops fused), as the write-up does.")
@click.option("--bench", "with_bench", is_flag=True, help="Also measure each model's latency and FPS (whole model; ignores --features cuts).")
@click.option("--runs", type=int, default=30, show_default=True, help="Timed runs per model with --bench.")
@click.option("--rounds", type=int, default=5, show_default=True,
              help="With --bench, the models are timed in this many interleaved rounds (drift lands on all alike).")
@click.option("--threads", "-t", type=int, help="With --bench: torch.set_num_threads for the runs (restored after).")
@click.option("--width", type=click.IntRange(min=40), help="Lay the table out for this many columns (default: the terminal's).")
@conventions_options
def compare(models: tuple[str, ...], inputs: tuple[str, ...], dtype: str | None, device: str, fmt: str, output: Path | None,
            features: bool, fused: bool, flops: str, bias: bool, memory_model: str, conv_reads: str = "window",
            with_bench: bool = False, runs: int = 30, rounds: int = 5, threads: int | None = None, width: int | None = None) -> None:
    """Compare MODELS side by side: params, size, MACs, FLOPs, memory, ratios to the first.

    A model may end in @LAYER to cut it after that module (mobilenet_v1@features.conv_pw_11).

    \b
    Examples:
      howfast compare resnet18 resnet50 mobilenet_v2
      howfast compare mobilenet_v1 mobilenet_v2:width=1.4 --input 1x3x126x224 --features --fused
      howfast compare resnet18 mobilenet_v2 --bench -f json -o cmp.json
    """
    if len(models) < 2:
        raise UsageError("compare needs at least two models")
    conventions = conventions_from(flops, bias, memory_model, conv_reads)
    if with_bench and device == "meta":
        raise UsageError("--bench times real runs: use --device cpu (or cuda), not meta")
    labels, reports, cases = [], [], []
    for spec in models:
        name, cut = split_until(spec)
        loaded, specs = resolve(name, inputs, device, dtype)
        if cut is None and features:
            cut = _feature_layer(name)
        args, kwargs = tensors_for(specs, device, dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reports.append(analyze(loaded.model, args, kwargs=kwargs, conventions=conventions, until=cut, name=spec, fused=fused))
        if with_bench:
            cases.append((loaded.model, args, kwargs))
        labels.append(spec)
    benches, notes = measured_all(cases, labels, runs=runs, rounds=rounds, threads=threads) if with_bench else ([], [])
    comparison = Comparison(labels=labels, reports=reports, explanation=explain(labels, reports), benchmarks=benches,
                            measurement_notes=notes)
    columns, colour = terminal(output, width)
    emit(render_comparison(comparison, fmt, width=columns, color=colour), output, raw=fmt in RAW_FORMATS)


def _feature_layer(spec: str) -> str | None:
    entry = registry.get(spec.partition(":")[0])
    return entry.feature_layer if entry else None
