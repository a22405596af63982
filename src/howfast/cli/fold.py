"""``howfast fold MODEL``: fold batch norms into convs, verify, and show what it saves."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import click

from howfast import units
from howfast.api import analyze
from howfast.cli.app import app
from howfast.cli.common import OutputFile, emit, input_options, resolve, tensors_for
from howfast.errors import UsageError
from howfast.transforms.fold import fold, max_difference
from howfast.units import printable

_ROWS = (("params", units.count), ("param_bytes", units.nbytes), ("macs", units.count), ("flops", units.count),
         ("mem_accesses", units.count), ("bytes_read", units.nbytes), ("bytes_written", units.nbytes))


@app.command(name="fold")
@click.argument("model")
@input_options
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--output", "-o", type=OutputFile(), help="Write to this file instead of stdout.")
@click.option("--train", is_flag=True, help="Put the model in training mode first (folding then refuses: for testing that path).")
def fold_command(model: str, inputs: tuple[str, ...], dtype: str | None, device: str, fmt: str, output: Path | None, train: bool) -> None:
    """Fold every eval-mode conv/linear -> batch-norm pair of MODEL and verify the outputs match.

    \b
    Examples:
      howfast fold resnet18
      howfast fold my_model.py:make_model -i 1x3x32x32 -f json -o fold.json
    """
    if device == "meta":
        raise UsageError("fold checks the folded model's outputs numerically: use --device cpu (or cuda), not meta")
    loaded, specs = resolve(model, inputs, device, dtype)
    if train:
        loaded.model.train()
    args, kwargs = tensors_for(specs, device, dtype)
    result = fold(loaded.model, args, kwargs)
    difference = max_difference(loaded.model, result.model, args, kwargs)
    absolute, relative = difference if difference is not None else (None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = analyze(loaded.model, args, kwargs=kwargs).totals
        after = analyze(result.model, args, kwargs=kwargs).totals
    data = {
        "model": model,
        "before": {key: getattr(before, key) for key, _ in _ROWS},
        "after": {key: getattr(after, key) for key, _ in _ROWS},
        "max_abs_difference": absolute,
        "max_relative_difference": relative,
        **result.as_dict(),
    }
    if fmt == "json":
        emit(json.dumps(data, indent=2) + "\n", output)
        return
    lines = [f"folded {len(result.folded)} batch norm(s) into their conv/linear; kept {len(result.kept)}",
             f"{'':14s} {'before':>12s} {'after':>12s} {'change':>12s}"]
    for key, human in _ROWS:
        b, a = data["before"][key], data["after"][key]
        lines.append(f"{key:14s} {human(b):>12s} {human(a):>12s} {('-' + human(b - a)) if b >= a else ('+' + human(a - b)):>12s}")
    lines.append(f"params: -{result.params_removed:,} (gamma, beta: 2 x C per folded BN) +{result.params_added:,} "
                 f"(a new bias of C for each layer that had none); buffers: -{result.buffers_removed:,} (running statistics)")
    if absolute is None or relative is None:
        lines.append("outputs on random inputs: not compared (the model returns no non-empty tensor)")
    else:
        lines.append(f"outputs on random inputs: max |difference| {absolute:.3g} ({relative:.3g} of the largest output)")
    lines.extend(f"kept {printable(bn)}: {reason}" for bn, reason in result.kept)
    emit("\n".join(lines) + "\n", output)
