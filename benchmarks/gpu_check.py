"""The GPU check of issue 17 item 5: predicted against measured latency on a CUDA device, in one run.

Run (on a machine with a GPU, e.g. the lent H200; under 5 minutes):
``python benchmarks/gpu_check.py [--out DIR] [--batches 1 32] [--budget 0.4] [--deadline 270]``
A smoke run of the same code on this CPU: ``python benchmarks/gpu_check.py --device cpu --models
resnet18 --batches 1 --budget 0.2``.

1. The environment: torch version, device name, its memory.
2. ``howfast.bench.calibrate.calibrate(device=..., quick=True)``: the device's GEMM peaks, copy
   bandwidth, per-op overhead and per-class figures; the profile is written to ``DIR/calibrated.toml``.
3. Every zoo model that fits at batch 1 (meta-sized shapes such as ``llama2_70b`` and ``mixtral_8x7b``
   are skipped), at its default input with the batch dimension set to each of ``--batches``
   (token models 1x128): ``howfast.analyze`` on the device, then ``howfast.roofline`` on the
   calibrated profile and on the vendor profile (``--vendor``, default ``h200``); the measured latency
   is ``howfast.bench.benchmark`` on the device (CUDA-event timing, warm-up, median of the timed runs
   in ``--budget`` seconds). A model that runs out of memory at a batch is reported as such.
4. One table: model, batch, measured ms, predicted ms (calibrated, vendor) and predicted / measured
   for both; the median absolute error and share within +-10%, +-25% of each; the same as JSON in
   ``DIR/gpu_check.json``. The run stops starting new models after ``--deadline`` seconds and says
   which it skipped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import howfast
from howfast.bench import benchmark
from howfast.bench.calibrate import calibrate
from howfast.hardware.profiles import get_profile
from howfast.hardware.roofline import roofline
from howfast.zoo import registry

MAX_PARAMS = 2_000_000_000  # larger zoo shapes are meant for --device meta


def shape_at(default_input: str, batch: int) -> str:
    """``1x3x224x224`` at batch ``batch``: ``32x3x224x224`` (a dtype suffix kept)."""
    dims, _, dtype = default_input.partition(":")
    first, _, rest = dims.partition("x")
    return f"{batch}x{rest}" + (f":{dtype}" if dtype else "")


def runnable_models(names: list[str] | None) -> tuple[list[str], list[str]]:
    """(models to run, models skipped as meta-sized)."""
    registry._load_models()
    chosen = names or sorted(registry.ZOO)
    run, skipped = [], []
    for name in chosen:
        params = sum(p.numel() for p in registry.build(name, {}, device="meta").parameters())
        (skipped if params > MAX_PARAMS else run).append(name)
    return run, skipped


def check_one(name: str, batch: int, device: str, profiles: dict[str, Any], budget_s: float) -> dict[str, Any]:
    entry = registry.ZOO[name]
    shape = shape_at(entry.default_input, batch)
    row: dict[str, Any] = {"model": name, "batch": batch, "input": shape}
    try:
        model = registry.build(name, {}, device=device).eval()
        report = howfast.analyze(model, shape)
        for label, profile in profiles.items():
            row[f"predicted_{label}_s"] = roofline(report, profile).roofline.predicted_latency_s  # type: ignore[union-attr]
        try:
            result = benchmark(model, shape, device=device, budget_s=budget_s, warmup=5)
        except howfast.HowfastError:  # one run is longer than the budget: three runs instead
            result = benchmark(model, shape, device=device, runs=3, warmup=1)
        row["measured_s"] = result.stats.median
        row["macs"] = report.totals.macs
    except torch.cuda.OutOfMemoryError:
        row["error"] = "out of memory"
    except howfast.HowfastError as exc:
        row["error"] = str(exc).splitlines()[0]
    finally:
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return row


def summary(rows: list[dict[str, Any]], label: str) -> dict[str, float]:
    errors = [abs(r[f"predicted_{label}_s"] / r["measured_s"] - 1) for r in rows if "measured_s" in r]
    if not errors:
        return {}
    return {"median_abs_error": statistics.median(errors), "within_10": sum(e <= 0.10 for e in errors) / len(errors),
            "within_25": sum(e <= 0.25 for e in errors) / len(errors), "points": len(errors)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", nargs="+")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--budget", type=float, default=0.4, help="seconds of timed runs per model and batch")
    parser.add_argument("--vendor", default="h200", help="the vendor profile predicted beside the calibrated one")
    parser.add_argument("--deadline", type=float, default=270.0, help="start no model after this many seconds")
    parser.add_argument("--out", default=".", help="folder for calibrated.toml and gpu_check.json")
    options = parser.parse_args(argv)
    start = time.perf_counter()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    if options.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False); --device cpu runs the same on this CPU",
              file=sys.stderr)
        return 2
    env = {"torch": torch.__version__, "device": options.device}
    if options.device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(options.device))
        env.update(name=props.name, memory_bytes=props.total_memory, capability=f"{props.major}.{props.minor}")
    print(f"environment: {env}", flush=True)
    calibration = calibrate(device=options.device, quick=True, name="gpu_check")
    (out / "calibrated.toml").write_text(calibration.profile.to_toml())
    print(f"calibrated in {calibration.elapsed_s:.1f} s", flush=True)
    profiles = {"calibrated": calibration.profile, "vendor": get_profile(options.vendor)}
    names, skipped = runnable_models(options.models)
    rows, late = [], []
    for name in names:
        for batch in options.batches:
            if time.perf_counter() - start > options.deadline:
                late.append(f"{name}@{batch}")
                continue
            row = check_one(name, batch, options.device, profiles, options.budget)
            rows.append(row)
            measured = f"{row['measured_s'] * 1e3:9.3f}" if "measured_s" in row else f"{row.get('error', '-'):>9}"
            ratios = "  ".join(f"{row[f'predicted_{k}_s'] / row['measured_s']:5.2f}" if "measured_s" in row else "  -  "
                               for k in profiles)
            print(f"{name:22} b={batch:<3} measured {measured} ms  pred/meas calibrated, {options.vendor}: {ratios}", flush=True)
    result = {"environment": env, "rows": rows, "skipped_meta_sized": skipped, "skipped_deadline": late,
              "summary": {label: summary(rows, label) for label in profiles}, "elapsed_s": time.perf_counter() - start}
    (out / "gpu_check.json").write_text(json.dumps(result, indent=2))
    for label, figures in result["summary"].items():
        print(f"{label}: {figures}")
    if skipped or late:
        print(f"skipped (meta-sized): {skipped}; not started before the deadline: {late}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
