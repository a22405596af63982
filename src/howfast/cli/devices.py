"""``howfast devices [NAME]``: the hardware profiles (built-in and saved) and their sourced figures."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from howfast.cli.app import app
from howfast.cli.common import emit
from howfast.errors import UsageError


def _flops(value: float) -> str:
    for scale, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}FLOP/s"
    return f"{value:.3g} FLOP/s"


def _rate(value: float) -> str:
    for scale, suffix in ((1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s")):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value:.3g} B/s"


def figure_table(title: str, note_title: str, rows: list[tuple[str, float, str]]) -> Table:
    """A profile's figures: name, value in human units, and where it comes from (a source or a method)."""
    table = Table(title=title, header_style="bold")
    table.add_column("Figure")
    table.add_column("Value", justify="right")
    table.add_column(note_title, overflow="fold")
    for key, value, note in rows:
        table.add_row(key, _figure_text(key, value), escape(note))
    return table


def _figure_text(key: str, value: float) -> str:
    if key.startswith("peak_flops."):
        return _flops(value)
    if key in ("memory.bandwidth", "memory.cache_bandwidth"):
        return _rate(value)
    if key.startswith(("cache.", "memory.capacity")):
        from howfast.units import nbytes

        return nbytes(value)
    if key.endswith("_s_per_byte"):
        return f"{value * 1e9:.3f} ns/B"
    if key.endswith(("_s", "overhead_s")):
        return f"{value * 1e6:.2f} us"
    if key.endswith("_w"):
        return f"{value:g} W"
    if key.endswith("_pj"):
        return f"{value:g} pJ"
    return f"{value:.4g}"


@app.command()
@click.argument("name", required=False)
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
def devices(name: str | None, fmt: str, output: Path | None) -> None:
    """List hardware profiles (peak fp32, bandwidth, ridge point), or show one profile's figures and sources.

    NAME is a built-in or saved profile name, or a .toml file. Saved profiles live in
    $HOWFAST_DEVICES_DIR or ~/.config/howfast/devices/ (see `howfast calibrate --save`).
    """
    from howfast.hardware.profiles import get_profile, list_profiles, user_dirs

    if name:
        profile = get_profile(name)
        if fmt == "json":
            emit(json.dumps(profile.to_dict(), indent=2) + "\n", output)
            return
        buffer = io.StringIO()
        console = Console(file=buffer, width=160, no_color=True, highlight=False)
        console.print(figure_table(f"{escape(profile.title)} ({escape(profile.name)}, {profile.kind}, {profile.origin})", "Source",
                                   [(key, fig.value, fig.source) for key, fig in profile.figures().items()]))
        console.print(f"ridge point (fp32): {profile.ridge_point('fp32'):.2f} FLOP/byte")
        if profile.description:
            console.print(escape(profile.description))
        if profile.path:
            console.print(f"file: {escape(profile.path)}")
        emit(buffer.getvalue(), output)
        return
    profiles = list_profiles()
    if fmt == "json":
        emit(json.dumps([p.summary() for p in profiles], indent=2) + "\n", output)
        return
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, no_color=True, highlight=False)
    table = Table(title="howfast devices", header_style="bold")
    for col in ("Name", "Device", "Kind", "Peak fp32", "Bandwidth", "Ridge (FLOP/B)", "Dtypes", "Origin"):
        table.add_column(col, justify="right" if col in ("Peak fp32", "Bandwidth", "Ridge (FLOP/B)") else "left")
    for p in profiles:
        s = p.summary()
        table.add_row(p.name, escape(p.title), p.kind, _flops(s["peak_fp32_flops"]), _rate(s["bandwidth_bytes_per_s"]),
                      f"{s['ridge_point']:.2f}", ", ".join(s["dtypes"]), p.origin + (" (calibrated)" if p.calibrated else ""))
    console.print(table)
    console.print("show one with `howfast devices NAME` (every figure with its source); saved profiles are read from: "
                  + ", ".join(str(d) for d in user_dirs()))
    emit(buffer.getvalue(), output)


# ---------------------------------------------------------------------------------- analyze --hardware


def hardware_from_device(device: str, hardware: str | None) -> tuple[str, Any]:
    """``--device`` is polymorphic: cpu, cuda, cuda:N and meta are torch devices; anything else names a
    hardware profile (the model then runs on cpu). Returns (torch device, loaded profile or None): the
    profile is read here, so a bad one fails before the model is built."""
    from howfast.hardware.profiles import get_profile, is_torch_device

    if not is_torch_device(device):
        if hardware is not None:
            raise UsageError(f"--device {device!r} is not a torch device, so it names a hardware profile; "
                             f"--hardware {hardware!r} names another: give one of them")
        device, hardware = "cpu", device
    return device, (get_profile(hardware) if hardware is not None else None)


def roofline_for_cli(report: Any, hardware: Any, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *,
                     device: str, fused: bool, bench: bool, plot: Path | None, fmt: str, depth: int | None,
                     memory_model: str | None) -> str:
    """``analyze --hardware``: the roofline pass, the measured join (--bench), the plot; returns text to append."""
    if hardware is None:
        if bench or plot is not None:
            raise UsageError("--bench and --plot-roofline need a hardware profile: --hardware NAME|FILE (see `howfast devices`)")
        return ""
    from howfast.passes.roofline import join_measured, plot_roofline, render_roofline_markdown, render_roofline_table
    from howfast.passes.roofline import roofline as roofline_pass

    roofline_pass(report, hardware, memory_model=memory_model, fused=fused)
    if bench:
        if device == "meta":
            raise UsageError("--bench runs the model: use --device cpu or cuda (meta tensors hold no data)")
        import torch

        from howfast.bench.layers import per_layer_times
        from howfast.passes.energy import measure_rapl

        from howfast.hardware.profiles import get_profile

        # a calibrated CPU profile holds for the thread count it was measured with: time with that count
        calibration = get_profile(hardware).calibration
        threads = calibration.get("threads") if device == "cpu" and isinstance(calibration.get("threads"), int) else None
        times = per_layer_times(module, args, kwargs, runs=20, warmup=3, threads=threads)
        join_measured(report, times)
        report.roofline["measured"]["threads"] = threads if threads is not None else torch.get_num_threads()
        with torch.inference_mode():
            rapl = measure_rapl(lambda: module(*args, **kwargs), runs=10)
        if rapl is not None:
            report.roofline["measured"]["energy"] = rapl
    if plot is not None:
        written = plot_roofline(report, str(plot))
        click.echo(f"wrote {written}", err=True)
    if fmt == "table":
        return "\n" + render_roofline_table(report, depth=depth)
    if fmt == "md":
        return "\n" + render_roofline_markdown(report, depth=depth)
    return ""
