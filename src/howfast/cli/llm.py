"""``howfast llm MODEL``: how fast a causal language model generates — prefill and decode steps
captured from its own code and KV cache, the cache's size, memory against a device, and with a
hardware profile the predicted TTFT, TPOT and tokens/s (``--bench``: measured beside them)."""

from __future__ import annotations

from pathlib import Path

import click
import torch

from howfast.bench.checks import max_threads
from howfast.capture.loader import load_model
from howfast.cli.app import app
from howfast.cli.common import OutputFile, check_device, conventions_from, emit, profile_named, terminal, warnings_to_stderr
from howfast.errors import UsageError
from howfast.graph.inputs import parse_dtype
from howfast.graph.request import LoadedModel
from howfast.hardware.profiles import is_torch_device
from howfast.llm import Generation, analyze_llm
from howfast.llm.measure import check_fits_machine, measure_generation
from howfast.onnx.load import is_onnx_path
from howfast.report.render import FORMATS
from howfast.report.report import Report


@app.command()
@click.argument("model")
@click.option("--prompt", "-p", type=int, default=512, show_default=True, help="Prompt tokens per sequence (the prefill).")
@click.option("--new", "-n", "new_tokens", type=int, default=128, show_default=True, help="New tokens generated per sequence.")
@click.option("--batch", "-b", default="1", show_default=True, help="Sequences generated together, or a list (1,2,4,8): a sweep.")
@click.option("--device", "profile", help="Hardware profile (`howfast devices`, or a .toml file): predicted TTFT, TPOT, tokens/s "
                                          "and whether it fits the device's memory.")
@click.option("--on", "torch_device", default="meta", show_default=True,
              help="Where the model is built for the captures: meta (no weights allocated), cpu or cuda.")
@click.option("--dtype", default=None, help="dtype of the weights (float32, float16, bfloat16); default: the model's.")
@click.option("--kv-dtype", help="Size the KV cache at this dtype (float16, bfloat16, fp8, int8, int4): a what-if.")
@click.option("--weight-bits", type=click.Choice(["16", "8", "4"]), help="What-if: weights read at this width (weight-only quantisation).")
@click.option("--kv-bits", type=click.Choice(["16", "8", "4"]), help="What-if: KV cache stored and read at this width.")
@click.option("--tp", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="What-if: tensor parallelism over N devices (per-device figures, all-reduces on the profile's interconnect).")
@click.option("--bench", is_flag=True, help="Also run the generation for real on this machine (real weights, on cpu) and time it.")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True, help="Timed rounds of --bench.")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format.")
@click.option("--output", "-o", type=OutputFile(), help="Write to this file instead of stdout.")
@click.option("--strict", is_flag=True, help="Fail (exit 5) if an op has no cost formula.")
@click.option("--width", type=click.IntRange(min=40), help="Lay the table out for this many columns.")
def llm(model: str, prompt: int, new_tokens: int, batch: str, profile: str | None, torch_device: str, dtype: str | None,
        kv_dtype: str | None, weight_bits: str | None, kv_bits: str | None, tp: int, bench: bool, rounds: int, fmt: str, output: Path | None, strict: bool, width: int | None) -> None:
    """How fast MODEL generates text: prefill, decode steps, KV cache, memory, TTFT and TPOT.

    MODEL is a causal LM whose forward takes past_key_values and use_cache: a zoo decoder (gpt2,
    llama, llama2_70b, mixtral, mixtral_8x7b), or file.py:factory returning one (a Hugging Face
    LlamaForCausalLM(LlamaConfig(...)) works). Built on meta by default: any size, no weights.

    \b
    Examples:
      howfast llm llama2_70b --device h100 --dtype bfloat16
      howfast llm llama --prompt 128 --new 64 --batch 1,2,4,8 --device a100
      howfast llm gpt2 --prompt 128 --new 64 --device cpu_profile.toml --bench
      howfast llm llama2_70b --dtype bfloat16 --device h100 --tp 4 --weight-bits 8
      howfast llm my_llm.py:make --device h100 -f json -o gen.json
    """
    batches = batch_list(batch)
    Generation(prompt=prompt, new_tokens=new_tokens, batch=max(batches)).check()
    if profile is not None and is_torch_device(profile):
        raise UsageError(f"--device names a hardware profile (see `howfast devices`), not a torch device: use --on {profile}")
    hardware = profile_named(profile) if profile is not None else None
    if is_onnx_path(model):
        raise UsageError("howfast llm drives a PyTorch model's own KV cache: give a zoo name or file.py:factory, not an .onnx file")
    torch_dtype = parse_dtype(dtype) if dtype else None
    if torch_dtype is not None and not torch_dtype.is_floating_point:
        raise UsageError(f"--dtype {dtype} is not a floating-point dtype (float32, float16, bfloat16)")
    loaded = _built(model, check_device(torch_device), torch_dtype)
    with warnings_to_stderr():
        report = analyze_llm(loaded.model, prompt=prompt, new_tokens=new_tokens, batch=batches, device=hardware, kv_dtype=kv_dtype,
                             weight_bits=int(weight_bits) if weight_bits else None, kv_bits=int(kv_bits) if kv_bits else None, tp=tp,
                             conventions=conventions_from("2mac", True, "compulsory"), strict=strict, name=loaded.name)
    if bench:
        calibration = hardware.calibration if hardware is not None else {}
        _measure(report, model, torch_dtype, batches, prompt, new_tokens, rounds, calibration)
    columns, colour = terminal(output, width)
    emit(report.render(fmt, width=columns, color=colour), output)


def _built(model: str, device: str, dtype: torch.dtype | None) -> LoadedModel:
    loaded = load_model(model, device=device)
    if dtype is not None:
        loaded.model.to(dtype)
    loaded.model.eval()
    return loaded


def _measure(report: Report, model: str, dtype: torch.dtype | None, batches: list[int], prompt: int, new_tokens: int,
             rounds: int, calibration: dict[str, object]) -> None:
    """``--bench``: the same generation, for real on the CPU, per batch of the sweep; with the thread
    count and clock a calibrated profile was measured with."""
    assert report.llm is not None
    points = report.llm.sweep or []
    for k, b in enumerate(batches):
        check_fits_machine(points[k].total_bytes if points else report.llm.memory.total_bytes, b)
    real = _built(model, "cpu", dtype).model
    threads = calibration.get("threads")
    threads = min(threads, max_threads()) if isinstance(threads, int) else None
    clock = calibration.get("clock") if calibration.get("clock") in ("wall", "cpu") else "wall"
    for k, b in enumerate(batches):
        measured = measure_generation(real, Generation(prompt=prompt, new_tokens=new_tokens, batch=b), rounds=rounds,
                                      threads=threads if isinstance(threads, int) else None, clock=str(clock))
        if k == 0:
            report.llm.measured = measured
        if report.llm.sweep:
            report.llm.sweep[k].measured_ttft_s, report.llm.sweep[k].measured_tpot_s = measured.ttft_s, measured.tpot_s


def batch_list(text: str) -> list[int]:
    """``"1,2,4"`` -> [1, 2, 4]: positive whole numbers (UsageError otherwise)."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise UsageError(f"--batch must be positive whole numbers (1, or a list such as 1,2,4), got {text!r}")
    return [int(p) for p in parts]
