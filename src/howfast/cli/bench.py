"""``howfast bench MODEL``: measured latency and throughput, achieved FLOP/s and share of a peak,
per-layer time, batch/size sweeps; ``--backward``: a training step's time and MFU."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from torch import nn

from howfast.bench.checks import check_bench_device, check_counts
from howfast.bench.runner import benchmark, benchmark_onnx_file
from howfast.bench.sweep import parse_list, sweep
from howfast.bench.timing import Progress, Tick
from howfast.cli.app import app
from howfast.cli.common import (
    OutputFile,
    emit,
    hardware_from_device,
    input_options,
    open_model,
    progress_display,
    tensors_for,
    terminal,
)
from howfast.cli.training_options import training_names, training_options
from howfast.errors import UsageError
from howfast.graph.inputs import InputSpec
from howfast.hardware.profiles import HardwareProfile
from howfast.report.measurements import BenchmarkResult, SweepResult
from howfast.report.render.benchmark import render
from howfast.training.bench import benchmark_training


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress | None]:
    """A rich progress bar on stderr (only when stderr is a terminal); yields the callback.

    One bar per phase (warm-up, timing, a sweep's points, the per-layer runs), started again when
    the phase changes. It shows the phase, how far it is (``Tick.fraction``), what is known of its
    total (``Tick.text``): ``12/100 runs`` for a fixed count (``--runs N``, the warm-up); with a time
    budget, which may stop it before the run count, the seconds of the budget and the runs
    (``3.1/10 s, 42/100 runs``; ``3.1/10 s, 42 runs`` with ``--budget`` alone), then the time
    elapsed and the time remaining at the pace so far.
    """
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    bar = progress_display(console, "{task.fields[count]}")
    task = bar.add_task("warm-up", total=1.0, count="")
    phase = ["warm-up"]

    def update(tick: Tick) -> None:
        if tick.phase != phase[0]:  # a new phase: a new bar, whose pace says nothing of the last one's
            phase[0] = tick.phase
            bar.reset(task, total=1.0, description=tick.phase)
        bar.update(task, completed=tick.fraction, count=tick.text)

    with bar:
        yield update


@app.command()
@click.argument("model")
@input_options
@click.option("--batch", "-b", help="Batch size: overrides the first dim of every input. A list (1,2,4,8) sweeps it.")
@click.option("--sweep-size", help="Sweep input sizes, e.g. 160,192,224: the last two dims of image inputs, "
                                   "the sequence length of integer inputs.")
@click.option("--threads", "-t", type=int, help="torch.set_num_threads for the runs (restored after); ONNX Runtime intra-op threads.")
@click.option("--warmup", "-w", type=int, default=5, show_default=True, help="Untimed warm-up runs.")
@click.option("--runs", "-n", type=int, help="Timed runs (default: 100, or fewer if 10 s pass first).")
@click.option("--budget", type=float, help="Stop timing after this many seconds of timed runs.")
@click.option("--runtime", type=click.Choice(["torch", "onnxruntime"]), default="torch", show_default=True,
              help="PyTorch eager, or ONNX Runtime on a temporary ONNX export.")
@click.option("--allocator", type=click.Choice(["retain", "system"]), default="retain", show_default=True,
              help="retain: glibc keeps freed memory for the next run (steady, as a long-running process); "
                   "system: malloc as it is (runs may pay page faults, depending on history).")
@click.option("--per-layer", is_flag=True, help="Also measure time per layer (forward hooks; overhead reported).")
@click.option("--layer-runs", type=int, default=20, show_default=True, help="Hooked runs for --per-layer.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output format.")
@click.option("--output", "-o", type=OutputFile(), help="Write to this file instead of stdout.")
@click.option("--hardware", help="Hardware profile whose peak the achieved FLOP/s are compared with (MFU); --device NAME does "
                                 "the same. Default: this machine's calibrated profile, if one is saved.")
@training_options
def bench(model: str, inputs: tuple[str, ...], dtype: str | None, device: str, batch: str | None, sweep_size: str | None,
          threads: int | None, warmup: int, runs: int | None, budget: float | None, runtime: str, allocator: str, per_layer: bool,
          layer_runs: int, fmt: str, output: Path | None, hardware: str | None = None, backward: bool = False,
          loss: str | None = None, optimizer: str | None = None) -> None:
    """Time forward passes of MODEL: warm-up, timed runs, min/median/mean/std/p90/p99 and throughput.

    MODEL is a zoo name (with options, as resnet50 or mobilenet_v2:width=1.4), file.py:factory,
    package.module:factory, or an .onnx file (timed in ONNX Runtime; --input sizes symbolic
    dimensions). Throughput is batch / median latency, in items per second. The achieved FLOP/s
    (counted FLOPs per run / median) are printed, and their share of a profile's peak when there is
    one. --backward times training steps (forward, loss, backward, --optimizer's step) and prints
    the MFU; the model itself is never changed (the steps run on a copy).

    \b
    Examples:
      howfast bench resnet50 --threads 1
      howfast bench resnet18 --per-layer
      howfast bench mobilenet_v2 --batch 1,2,4,8,16
      howfast bench resnet18 -b 8 --backward --loss cross_entropy --optimizer adamw --device xeon_8480
      howfast bench model.onnx -i x=1x3x224x224
    """
    loss_name = training_names(backward, loss, optimizer)
    device, profile = hardware_from_device(device, hardware)
    batches = parse_list(batch, "batch")
    sizes = parse_list(sweep_size, "size")
    check_counts(runs=runs, warmup=warmup, budget_s=budget, threads=threads, layer_runs=layer_runs)
    is_sweep = bool(sizes) or (batches is not None and len(batches) > 1)
    if per_layer and is_sweep:
        raise UsageError("--per-layer measures one input shape: drop the sweep (--batch list, --sweep-size) or --per-layer")
    if per_layer and runtime != "torch":
        raise UsageError("--per-layer needs --runtime torch (it hooks PyTorch modules)")
    if backward and (is_sweep or per_layer or runtime != "torch"):
        raise UsageError("--backward times one training step in PyTorch: drop --per-layer, the sweep (--batch list, "
                         "--sweep-size) and --runtime onnxruntime")
    check_bench_device(device)
    loaded, specs = open_model(model, inputs, device, dtype)
    if backward:
        if loaded.front_end != "torch":
            raise UsageError("--backward trains a PyTorch model: give a zoo name or file.py:factory, not an .onnx file")
        assert specs is not None
        _train(loaded.model, specs, device, dtype, batches[0] if batches else None, loss_name, optimizer, profile,
               runs=runs, warmup=warmup, budget=budget, threads=threads, allocator=allocator, name=loaded.name, fmt=fmt,
               output=output)
        return
    if loaded.front_end != "torch":  # an .onnx file runs in ONNX Runtime as it is
        if is_sweep or per_layer or batches:
            raise UsageError("an .onnx file is timed as it is: size its inputs with --input (no --batch, --sweep-size or --per-layer)")
        with progress_bar() as update:
            onnx_result = benchmark_onnx_file(loaded.model, specs, runs=runs, warmup=warmup, budget_s=budget, threads=threads,
                                              device=device, progress=update)
        emit(render(onnx_result, fmt, width=terminal(output, None)[0]), output, raw=fmt == "json")
        return
    assert specs is not None
    args, kwargs = tensors_for(specs, device, dtype)
    result: BenchmarkResult | SweepResult
    with progress_bar() as update:
        if is_sweep:
            result = sweep(loaded.model, args, kwargs=kwargs, batches=batches if batches and len(batches) > 1 else None,
                           sizes=sizes, runs=runs, warmup=warmup, budget_s=budget, threads=threads, runtime=runtime,
                           progress=update, name=loaded.name, batch=batches[0] if batches and len(batches) == 1 else None,
                           allocator=allocator)
        else:
            result = benchmark(loaded.model, args, kwargs=kwargs, runs=runs, warmup=warmup, budget_s=budget, threads=threads,
                               batch=batches[0] if batches else None, runtime=runtime, per_layer=per_layer,
                               layer_runs=layer_runs, progress=update, name=loaded.name, allocator=allocator, profile=profile)
    emit(render(result, fmt, width=terminal(output, None)[0]), output, raw=fmt == "json")


def _train(model: nn.Module, specs: list[InputSpec], device: str, dtype: str | None, batch: int | None, loss: str, optimizer: str | None,
           profile: HardwareProfile | None, *, runs: int | None, warmup: int, budget: float | None, threads: int | None,
           allocator: str, name: str, fmt: str, output: Path | None) -> None:
    """``--backward``: training steps of the model timed (on a copy), with their MFU."""
    args, kwargs = tensors_for(specs, device, dtype)
    with progress_bar() as update:
        result = benchmark_training(model, args, kwargs=kwargs, loss=loss, optimizer=optimizer, runs=runs, warmup=warmup,
                                    budget_s=budget, threads=threads, batch=batch, progress=update, name=name,
                                    allocator=allocator, profile=profile)
    emit(render(result, fmt, width=terminal(output, None)[0]), output, raw=fmt == "json")

