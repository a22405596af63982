"""``howfast analyze model.onnx``: the analyze command's options applied to an ONNX file.

``cli/analyze.py`` hands an ``.onnx`` model argument here with its parsed options, so the ONNX
path keeps the command's output forms (formats, ``--depth``, ``--output``, ``--plots``, the
``--hardware`` roofline) without touching the PyTorch path. Options that run a PyTorch model
(``--until``, ``--train``, ``--grad``, ``--bench``) and ``--dtype`` do not apply to an ONNX graph
and are refused with a one-line usage error.
"""

from __future__ import annotations

import warnings
from typing import Any

import click

from howfast.errors import UsageError


def analyze_onnx_command(params: dict[str, Any], conventions: Any) -> None:
    """Run ``analyze`` for ``params["model"]`` (an .onnx path) and write its output."""
    from howfast.cli.common import emit
    from howfast.onnx.analyze import analyze_onnx

    for option, flag in (("until", "--until"), ("train", "--train"), ("grad", "--grad"), ("bench", "--bench")):
        if params.get(option):
            raise UsageError(f"{flag} applies to PyTorch models only, not to ONNX files")
    context = click.get_current_context()
    if "dtype" in params and context.get_parameter_source("dtype") != click.core.ParameterSource.DEFAULT:
        raise UsageError("--dtype applies to PyTorch models only: an ONNX file fixes its own dtypes (an input's is checked against --input NAME=SHAPE:DTYPE)")
    model = params["model"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = analyze_onnx(model, list(params.get("inputs") or ()), conventions, strict=bool(params.get("strict")),
                              fused=bool(params.get("fused")))
    for warning in caught:
        if str(warning.message).startswith("howfast:"):
            click.echo(f"warning: {str(warning.message).removeprefix('howfast: ')}", err=True)
    fmt, depth = params.get("fmt", "table"), params.get("depth")
    extra = _roofline(report, params, fmt, depth)
    emit(report.render(fmt, depth=depth) + extra, params.get("output"))
    if params.get("plots") is not None:
        from howfast.report.plots import write_plots

        written = write_plots(report, params["plots"])
        click.echo(f"wrote {len(written)} plots to {params['plots']}", err=True)


def _roofline(report: Any, params: dict[str, Any], fmt: str, depth: int | None) -> str:
    """The ``--hardware`` roofline, where this version of the CLI has it."""
    hardware = params.get("hardware")
    if hardware is None and params.get("plot_roofline") is None:
        return ""
    try:
        from howfast.cli.devices import hardware_from_device, roofline_for_cli
    except ImportError:  # pragma: no cover - a CLI without hardware profiles
        return ""
    device, hardware = hardware_from_device(params.get("device", "cpu"), hardware)
    source = click.get_current_context().get_parameter_source("memory_model")
    memory_model = params.get("memory_model") if source != click.core.ParameterSource.DEFAULT else None
    return roofline_for_cli(report, hardware, None, (), {}, device=device, fused=bool(params.get("fused")), bench=False,
                            plot=params.get("plot_roofline"), fmt=fmt, depth=depth, memory_model=memory_model)
