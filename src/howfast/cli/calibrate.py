"""``howfast calibrate``: measure this machine (GEMM FLOP/s, copy bandwidth, per-op overhead, per-class
efficiencies) and write a hardware profile."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from howfast.bench.calibrate import CalibrationResult
from howfast.bench.calibrate import calibrate as run_calibration
from howfast.bench.checks import check_counts
from howfast.cli.app import app
from howfast.cli.calibrate_output import render
from howfast.cli.common import OutputFile, emit, progress_display, terminal, write_atomically
from howfast.errors import UsageError
from howfast.hardware.profiles import save_dir


def _busy_warning(threads: int | None, clock: str) -> str | None:
    """A warning when other processes are running: timings (and OpenMP barriers) suffer."""
    import os

    import torch

    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    cores = os.cpu_count() or 1
    used = threads or torch.get_num_threads()
    if load < 0.75:
        return None
    advice = "" if (used == 1 and clock == "cpu") else "; --threads 1 --clock cpu measures steadily on a busy machine"
    if used > 1 and load + used > cores + 0.5:
        advice += f" ({used} threads on {cores} cores with other work running: OpenMP threads wait for each other)"
    return f"load average {load:.2f} on {cores} core(s): other processes are running and will slow the measurements{advice}"


@app.command()
@click.option("--output", "-o", type=OutputFile(), help="Write the profile to this .toml file.")
@click.option("--save", "save_name", help="Save the profile under this name in $HOWFAST_DEVICES_DIR or ~/.config/howfast/devices/.")
@click.option("--name", help="The profile's name (default: the --save name, else this_machine).")
@click.option("--threads", "-t", type=click.IntRange(min=1), help="torch.set_num_threads during the measurements (default: PyTorch's).")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]), help="Where to measure.")
@click.option("--quick", is_flag=True, help="Fewer representative layers and shorter runs (about half the time).")
@click.option("--no-classes", is_flag=True, help="Only peak FLOP/s, bandwidth and overhead: no per-op-class efficiencies.")
@click.option("--statistic", type=click.Choice(["median", "min"]), default="median", show_default=True,
              help="Median of the timed runs, or the fastest (steadier on a busy machine).")
@click.option("--clock", type=click.Choice(["wall", "cpu"]), default="wall", show_default=True,
              help="Wall-clock time, or the thread's CPU time (needs --threads 1; steady on a busy machine).")
@click.option("--runtime", type=click.Choice(["torch", "onnxruntime"]), default="torch", show_default=True,
              help="Whose kernels to measure: PyTorch eager, or ONNX Runtime's (a profile for analyze --runtime onnxruntime).")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the figures.")
@click.option("--width", type=click.IntRange(min=40), help="Lay the tables out for this many columns (default: the terminal's).")
def calibrate(output: Path | None, save_name: str | None, name: str | None, threads: int | None, device: str, quick: bool,
              no_classes: bool, statistic: str, clock: str, fmt: str, width: int | None, runtime: str = "torch") -> None:
    """Measure this machine and print every figure with how it was measured.

    A large GEMM gives peak FLOP/s per dtype (fp32; bf16 and fp16 when they run; int8 from
    PyTorch's quantized linear and fp8 from torch._scaled_mm where they run, else a note says
    so), a large copy the memory bandwidth, a small copy the cache bandwidth, a one-element add the
    per-op overhead, and representative layers of each op class (conv, depthwise conv, GEMM, norm,
    quantized conv and linear, ...) their efficiency against the roofline. --output or --save writes a profile for
    `howfast analyze MODEL --hardware NAME|FILE`.

    \b
    Examples:
      howfast calibrate --save this_cpu
      howfast calibrate --threads 1 --clock cpu --quick
      howfast calibrate --runtime onnxruntime --threads 1 --save ort_box
    """
    if output is not None and save_name is not None:
        raise UsageError("give --output FILE or --save NAME, not both")
    if save_name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", save_name):
        raise UsageError(f"--save takes a plain name (letters, digits, _ . -, starting with a letter or digit), got {save_name!r}")
    check_counts(threads=threads)  # no more threads than cores (OpenMP aborts on thousands)
    profile_name = name or save_name or ("this_machine_ort" if runtime == "onnxruntime" else "this_machine")
    busy = _busy_warning(threads, clock)
    if busy:
        click.echo(f"warning: {busy}", err=True)
    if runtime == "onnxruntime":
        result = _measure_onnxruntime(threads=threads, device=device, quick=quick, classes=not no_classes, name=profile_name,
                                      statistic=statistic, clock=clock)
    else:
        result = _measure(threads=threads, device=device, quick=quick, classes=not no_classes, name=profile_name,
                          statistic=statistic, clock=clock)
    target = save_dir() / f"{save_name}.toml" if save_name is not None else output
    if target is not None:
        write_atomically(target, result.profile.to_toml())
    if fmt == "json":
        emit(_as_json(result, target), None)
        return
    columns, colour = terminal(None, width)
    if target is None:
        written = "not written: add --output FILE.toml or --save NAME to keep this profile"
    else:
        written = f"wrote {target}; use it as --hardware {save_name if save_name else target}"
    emit(render(result, columns, colour, written), None)


def _as_json(result: CalibrationResult, target: Path | None) -> str:
    """The profile, the time taken, where it was written, every measurement with its method and what
    was not measured here (``notes``), and what to know before trusting the figures (``checks``)."""
    return json.dumps({"profile": result.profile.to_dict(), "elapsed_s": result.elapsed_s, "written": str(target) if target else None,
                       "measurements": [{"key": m.key, "value": m.value, "unit": m.unit, "method": m.method}
                                        for m in result.measurements], "notes": result.notes, "checks": result.checks}, indent=2) + "\n"


def _measure_onnxruntime(threads: int | None, device: str, **options: Any) -> CalibrationResult:
    """ONNX Runtime's calibration (``bench/calibrate/onnxruntime.py``), on the CPU execution provider."""
    import torch

    from howfast.bench.calibrate.onnxruntime import calibrate_onnxruntime

    if device != "cpu":
        raise UsageError("--runtime onnxruntime calibrates ONNX Runtime's CPU execution provider: drop --device cuda")
    return calibrate_onnxruntime(threads=threads or torch.get_num_threads(), **options)


def _measure(**options: Any) -> CalibrationResult:
    """The calibration, with a progress bar on stderr when it is a terminal: what is measured now, the
    bar, steps done of all, the time elapsed and the time remaining at the pace so far."""
    console = Console(stderr=True)
    if not console.is_terminal:
        return run_calibration(**options)
    bar = progress_display(console, "{task.fields[count]}")
    task = bar.add_task("calibrating", total=None, count="")

    def progress(what: str, done: int, total: int) -> None:
        bar.update(task, description=what, completed=done, total=total, count=f"{done}/{total}")

    with bar:
        return run_calibration(**options, progress=progress)
