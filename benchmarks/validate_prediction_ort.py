"""Hold-out validation of the ONNX Runtime prediction on this CPU (issue 17 item 3).

Run: ``python benchmarks/validate_prediction_ort.py [--rounds 3] [--budget 24] [--models ...] [--json FILE]``

1. **Two calibrations in a row** with ``howfast.bench.calibrate.onnxruntime.calibrate_onnxruntime``
   (one intra-op thread, thread CPU time): its representative layers (``ORT_LAYERS``) are single
   layers chosen by op class and shape range, exported alone; no zoo model is ever timed by it, so
   every model scored here is a hold-out.
2. **Models**: every zoo model of at most ``--max-params`` parameters at its default input (image
   models 1x3x224x224; token models 1x``--seq``), exported to ONNX (``howfast.onnx.export``) and
   opened in an ``InferenceSession`` (1 thread, CPU execution provider, ORT's default graph
   optimizations: batch norms folded, activations fused). A model the exporter or ORT refuses is
   listed as skipped, with why.
3. **Prediction**: ``howfast.analyze(model, input, fused=True)`` (the fused program: what ORT runs)
   priced by ``howfast.roofline`` on each ORT profile, what ``analyze --runtime onnxruntime`` does.
4. **Measurement**: ``--rounds`` interleaved rounds, the order rotating per round, each giving every
   model one untimed run and then timed runs for ``--budget / --rounds`` seconds (at least 2); each
   run timed on the thread's CPU time (ORT with one intra-op thread runs on the calling thread).
   A model's latency is the median of all its timed runs.
5. **Table and summary** per calibration: predicted, measured, ratio, the two calibrations' spread;
   median absolute error, share within +-10%, +-25%, +-35%, worst model, and the issue-17 ORT
   targets (median <= 15%, every model within +-35%) with PASS/FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

import howfast
from howfast.bench.calibrate.onnxruntime import Session, calibrate_onnxruntime
from howfast.hardware.roofline import roofline
from howfast.onnx.export import export_model
from howfast.zoo import build, entries


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def cases(args: argparse.Namespace) -> tuple[list[tuple[str, str]], list[str]]:
    chosen, skipped = [], []
    for entry in entries():
        if args.models and entry.name not in args.models:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            params = sum(p.numel() for p in build(entry.name, device="meta").parameters())
        if params > args.max_params:
            skipped.append(f"{entry.name}: {params / 1e9:.1f}B parameters")
            continue
        spec = entry.default_input
        chosen.append((entry.name, f"1x{args.seq}:int64" if spec.endswith(":int64") else spec))
    return chosen, skipped


def inputs_for(spec: str) -> torch.Tensor:
    shape, _, dtype = spec.partition(":")
    dims = tuple(int(d) for d in shape.split("x"))
    if dtype == "int64":
        return torch.randint(0, 100, dims)
    return torch.randn(*dims)


def prepare(name: str, spec: str, folder: Path) -> tuple[Any, Session]:
    """(the fused report, a session of the exported model)."""
    model = build(name).eval()
    x = inputs_for(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = howfast.analyze(model, x, fused=True, name=name)
        path = export_model(model, (x,), None, folder / f"{name}.onnx")
    session = Session(path, {}, threads=1)
    session.feeds = {session.session.get_inputs()[0].name: x.numpy()}
    return report, session


def measure(sessions: dict[str, Session], rounds: int, budget_s: float) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in sessions}
    names = list(sessions)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            session = sessions[name]
            session()
            start = time.perf_counter()
            runs: list[float] = []
            while len(runs) < 2 or time.perf_counter() - start < budget_s / rounds:
                t0 = time.thread_time()
                session()
                runs.append(time.thread_time() - t0)
            times[name] += runs
        print(f"  round {r + 1}/{rounds}, {load()}", file=sys.stderr)
    return times


def summarize(ratios: dict[str, float]) -> dict[str, Any]:
    errors = {name: abs(r - 1) for name, r in ratios.items()}
    worst = max(errors, key=errors.__getitem__)
    n = len(errors)
    return {"median_abs_error": statistics.median(errors.values()), "within_10": sum(e <= 0.10 for e in errors.values()) / n,
            "within_25": sum(e <= 0.25 for e in errors.values()) / n, "within_35": sum(e <= 0.35 for e in errors.values()) / n,
            "worst": worst, "worst_ratio": ratios[worst]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=24.0, help="seconds of timed runs per model over all rounds")
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--max-params", type=float, default=1e9)
    parser.add_argument("--quick", action="store_true", help="quick calibrations")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"calibrating ONNX Runtime twice, {load()}", file=sys.stderr)
    profiles = [calibrate_onnxruntime(threads=1, quick=args.quick, clock="cpu", name=f"ort{i}").profile for i in (1, 2)]
    chosen, skipped = cases(args)
    reports: dict[str, Any] = {}
    sessions: dict[str, Session] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in chosen:
            try:
                reports[name], sessions[name] = prepare(name, spec, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - a model the exporter or ORT refuses is reported, not fatal
                skipped.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}")
        print(f"timing {len(sessions)} models, {load()}", file=sys.stderr)
        times = measure(sessions, args.rounds, args.budget)
    measured = {name: statistics.median(ts) for name, ts in times.items()}
    predicted = [{name: roofline(report, p).roofline.predicted_latency_s for name, report in reports.items()} for p in profiles]
    ratios = [{name: pred[name] / measured[name] for name in measured} for pred in predicted]
    print(f"\nONNX Runtime {profiles[0].calibration.get('onnxruntime')}, 1 thread, CPU time; {load()}\n")
    print("| model | measured ms | predicted ms (cal 1) | pred/meas 1 | pred/meas 2 | spread |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in measured:
        p1, p2 = predicted[0][name], predicted[1][name]
        spread = abs(p1 - p2) / ((p1 + p2) / 2)
        print(f"| {name} | {measured[name] * 1e3:.2f} | {p1 * 1e3:.2f} | {ratios[0][name]:.2f} | {ratios[1][name]:.2f} | {spread:.1%} |")
    summaries = [summarize(r) for r in ratios]
    for i, s in enumerate(summaries, start=1):
        ok_median = "PASS" if s["median_abs_error"] <= 0.15 else "FAIL"
        ok_all = "PASS" if s["within_35"] == 1.0 else "FAIL"
        print(f"calibration {i}: median |error| {s['median_abs_error']:.1%} ({ok_median} <= 15%), within 10% {s['within_10']:.0%}, "
              f"25% {s['within_25']:.0%}, 35% {s['within_35']:.0%} ({ok_all}: all), worst {s['worst']} {s['worst_ratio']:.2f}x")
    if skipped:
        print("skipped: " + "; ".join(skipped))
    if args.json:
        Path(args.json).write_text(json.dumps({"measured": measured, "predicted": predicted, "summaries": summaries,
                                               "skipped": skipped, "profiles": [p.to_toml() for p in profiles]}, indent=2))
    return 0


if __name__ == "__main__":
    np.random.seed(0)
    raise SystemExit(main())
