"""Hold-out validation of the calibrated roofline on this CPU, and the calibration's repeatability (issue 17).

Run: ``python benchmarks/validate_prediction.py [--rounds 3] [--quick] [--json FILE]``

1. **Two calibrations in a row**: ``howfast calibrate --threads 1 --clock cpu --output DIR/cal1.toml
   --format json`` and then the same to ``cal2.toml``, each a separate process as a user would run
   it, into a temporary folder (never the user's ``~/.config/howfast/devices``); ``--quick`` adds
   ``--quick`` to both, ``--profiles A B`` uses two profiles made before instead.
2. **Hold-out**: the calibration fits its per-class figures on the representative layers of
   ``howfast.bench.calibrate.representatives`` (and the int8 ones of ``quantized_layers``),
   single modules chosen by op class and shape, timed alone; it never runs a zoo model. Every zoo
   model scored here is therefore one the fit never saw. The script checks how close the
   representatives come to the scored models anyway: each float representative is analysed by
   howfast and its counted ops (op, op class, FLOPs, bytes read and written, output shape without
   leading 1s) compared with the ops of every scored model; a representative all of whose ops occur
   in a model is a *copy of a layer of that model*, and the script names it (a copy still fits a
   class, not a model, but the reader should know).
3. **Models**: every zoo model that runs on this CPU at batch 1: those with more than
   ``--max-params`` parameters (counted on the meta device: ``llama2_70b``, ``mixtral_8x7b``, shapes
   meant for ``--device meta``) are skipped and listed; image models at their default input (1x3x224x224),
   token models (``gpt2``, ``llama``, ``mixtral``, ``bert_base``) at 1x``--seq`` (default 128).
   ``howfast.analyze`` once per model, then ``howfast.roofline`` on each profile gives the two
   predictions.
4. **Measurement**: torch eager, ``torch.set_num_threads(1)``, ``torch.inference_mode``, GC off
   while timing, freed memory retained (``retain_freed_memory``, as ``howfast bench`` and the
   calibration do), every model built and warmed first. ``--rounds`` interleaved rounds (default
   3), each giving every model, in an order rotating per round, one untimed run and then timed runs
   for ``--budget / --rounds`` seconds (at least 2, at most ``--runs / --rounds``). Each run is
   timed on the thread's CPU time (``time.thread_time``, the profiles' clock) and on the wall clock
   (shown, not scored; ``--clock wall`` scores it). A model's measured latency is the median of all
   its timed runs; its median per round gives its range over the rounds.
5. **Table** per model: predicted with calibration 1 and 2, measured, predicted / measured for each,
   the spread of the two predictions ``|p1 - p2| / mean(p1, p2)`` (with the op class whose predicted
   time moved most between them), and the measured spread over the rounds ``(max - min) / median``.
   **Summary**, for each calibration: median absolute percentage error, share of models within
   +-10% and +-25%, the worst model, the largest calibration spread, and *rank agreement*: over the
   pairs whose per-round ranges (min to max of the round medians) do not overlap (the measurement
   resolves their order), the share the predicted order agrees with; the others are not scored. The issue-17 targets are printed with
   PASS/FAIL: median <= 10%, >= 70% within +-10%, every model within +-30%, every resolved order
   agreed, two calibrations within 5% of each other for every model.

The 1-minute load average and a reference speed (``reference_speed``) are printed at each stage: on
a busy machine caches and memory bandwidth are shared and the speed drifts, an error no profile
removes. ``--quick`` (four models, one round, quick calibrations) is a one-minute smoke check; the
full run takes 3-5 minutes on a 2-core machine. ``--json FILE`` writes every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

QUICK_MODELS = ("resnet18", "mobilenet_v2", "vit_tiny", "llama")
TARGETS = {"median": 0.10, "within10": 0.70, "worst": 0.30, "spread": 0.05}


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def reference_speed() -> tuple[float, float]:
    """(GFLOP/s, GB/s) on the thread's CPU time of a 512 x 512 fp32 ``torch.mm`` and a 64 MiB copy, median of 5."""
    import torch
    a, b, src, dst = torch.randn(512, 512), torch.randn(512, 512), torch.ones(16 << 20), torch.empty(16 << 20)

    def med(call: Any) -> float:
        call()
        return statistics.median(cpu_seconds(call) for _ in range(5))

    return 2 * 512 ** 3 / med(lambda: torch.mm(a, b)) / 1e9, 2 * src.numel() * 4 / med(lambda: dst.copy_(src)) / 1e9


def cpu_seconds(call: Any) -> float:
    start = time.thread_time()
    call()
    return time.thread_time() - start


def probe(stage: str, speeds: list[tuple[str, float, float]]) -> str:
    """Run ``reference_speed`` and remember it under ``stage``; its figures as text."""
    flops, bw = reference_speed()
    speeds.append((stage, flops, bw))
    return f"reference {flops:.1f} GFLOP/s, {bw:.1f} GB/s"


def cpu_name() -> str:
    from howfast.bench.environment import cpu_model

    return cpu_model()


# ---------------------------------------------------------------------------------- calibration


def run_calibration(path: Path, name: str, quick: bool, clock: str) -> dict[str, Any]:
    """One ``howfast calibrate`` process writing ``path``; its JSON output (figures, elapsed_s) and wall seconds."""
    command = [sys.executable, "-m", "howfast", "calibrate", "--threads", "1", "--clock", clock, "--output", str(path),
               "--name", name, "--format", "json", *(["--quick"] if quick else [])]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    for line in done.stderr.splitlines():
        if line.strip():
            print(f"    [calibrate] {line.strip()}")
    data = json.loads(done.stdout)
    data["process_s"] = took
    return data


def figures_of(calibration: dict[str, Any]) -> dict[str, float]:
    return {m["key"]: m["value"] for m in calibration["measurements"]}


def print_calibrations(cals: list[dict[str, Any]]) -> None:
    """The figures of both calibrations side by side, with their relative difference."""
    a, b = figures_of(cals[0]), figures_of(cals[1])
    print(f"  {'figure':34s} {'calibration 1':>14s} {'calibration 2':>14s} {'diff':>7s}")
    for key in a:
        if key not in b:
            continue
        va, vb = a[key], b[key]
        diff = abs(va - vb) / (abs(va + vb) / 2) if va + vb else 0.0
        print(f"  {key:34s} {va:14.4g} {vb:14.4g} {100 * diff:6.1f}%")


# ---------------------------------------------------------------------------------- hold-out check


def op_keys(report: Any) -> set[tuple[Any, ...]]:
    """The counted ops of a report that cost anything, as (op, class, FLOPs, bytes read, written, output shape)."""
    keys = set()
    for row in report.ops:
        if not row.counted or (row.flops == 0 and row.bytes_read == 0 and row.bytes_written == 0):
            continue
        shape = list(row.output_shape[0]) if row.output_shape else []
        while len(shape) > 1 and shape[0] == 1:
            shape.pop(0)
        keys.add((row.op, row.op_class, row.flops, row.bytes_read, row.bytes_written, tuple(shape)))
    return keys


def representative_keys(quick: bool) -> list[tuple[str, set[tuple[Any, ...]]]]:
    """(label, op keys) of every float representative layer the calibration times."""
    import torch

    import howfast
    from howfast.bench.calibrate.representatives import is_quantized, make_input, representatives

    out = []
    for rep in representatives(quick):
        if is_quantized(rep):
            continue
        label, factory, shapes = rep
        module = factory()
        inputs = [make_input(s, torch.device("cpu")) for s in shapes]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = howfast.analyze(module, inputs if len(inputs) > 1 else inputs[0], name=label)
        out.append((label, op_keys(report)))
    return out


# ---------------------------------------------------------------------------------- models


def model_list(args: argparse.Namespace) -> tuple[list[tuple[str, str]], list[str]]:
    """([(zoo name, input)], [skipped with why]): every zoo model within ``--max-params``, token models at 1x``--seq``."""
    from howfast.zoo import build, entries

    chosen, skipped = [], []
    wanted = args.models or (list(QUICK_MODELS) if args.quick else None)
    for entry in entries():
        if wanted is not None and entry.name not in wanted:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta = build(entry.name, device="meta")
        params = sum(p.numel() for p in meta.parameters())
        del meta
        if params > args.max_params:
            skipped.append(f"{entry.name} ({params / 1e9:.1f}B parameters: a shape for --device meta)")
            continue
        spec = entry.default_input
        if spec.endswith(":int64") and spec.count("x") == 1:
            spec = f"1x{args.seq}:int64"
        chosen.append((entry.name, spec))
    missing = sorted(set(wanted or []) - {name for name, _ in chosen} - {s.split()[0] for s in skipped})
    if missing:
        raise SystemExit(f"not in the zoo: {', '.join(missing)}")
    return chosen, skipped


def measure(model: Any, inputs: tuple[Any, ...], kwargs: dict[str, Any], runs: int, budget_s: float, warmup: int = 1,
            min_runs: int = 2) -> tuple[list[float], list[float]]:
    """Wall and thread-CPU seconds of each timed forward pass (a plain loop, inference mode, GC off)."""
    import torch

    wall: list[float] = []
    cpu: list[float] = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(*inputs, **kwargs)
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            while len(wall) < runs and (len(wall) < min_runs or time.perf_counter() - start < budget_s):
                c0, w0 = time.thread_time(), time.perf_counter()
                model(*inputs, **kwargs)
                w1, c1 = time.perf_counter(), time.thread_time()
                wall.append(w1 - w0)
                cpu.append(c1 - c0)
        finally:
            gc.enable()
    return wall, cpu


def spread_driver(classes_1: dict[str, Any], classes_2: dict[str, Any]) -> str:
    """The op class whose predicted time differs most between the two calibrations (and by how much)."""
    best, delta = "", 0.0
    for cls in set(classes_1) | set(classes_2):
        t1 = classes_1[cls].predicted_s if cls in classes_1 else 0.0
        t2 = classes_2[cls].predicted_s if cls in classes_2 else 0.0
        if abs(t1 - t2) > abs(delta):
            best, delta = cls, t2 - t1
    return f"{best} {delta * 1e3:+.2f} ms" if best else "-"


def main_class(classes: dict[str, Any]) -> str:
    if not classes:
        return "-"
    cls, figures = max(classes.items(), key=lambda kv: kv[1].predicted_s)
    return f"{cls} {100 * figures.share:.0f}%"


# ---------------------------------------------------------------------------------- scoring


def resolved_pairs(rows: list[dict[str, Any]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(resolved, unresolved) pairs (i, j), i faster in every round when resolved: the round ranges do not overlap."""
    resolved, unresolved = [], []
    for i, a in enumerate(rows):
        for j in range(i + 1, len(rows)):
            b = rows[j]
            if max(a["rounds"]) < min(b["rounds"]):
                resolved.append((i, j))
            elif max(b["rounds"]) < min(a["rounds"]):
                resolved.append((j, i))
            else:
                unresolved.append((i, j))
    return resolved, unresolved


def score(rows: list[dict[str, Any]], key: str, resolved: list[tuple[int, int]]) -> dict[str, Any]:
    """Error figures and rank agreement of the predictions ``row[key]`` against ``row["measured"]``."""
    errors = [abs(r[key] / r["measured"] - 1) for r in rows]
    worst = max(range(len(rows)), key=lambda i: errors[i])
    wrong = [(rows[i]["model"], rows[j]["model"]) for i, j in resolved if not rows[i][key] < rows[j][key]]
    return {
        "median_abs_error": statistics.median(errors),
        "within_10": sum(e <= 0.10 for e in errors) / len(errors),
        "within_25": sum(e <= 0.25 for e in errors) / len(errors),
        "within_30": sum(e <= 0.30 for e in errors) / len(errors),
        "worst_model": rows[worst]["model"], "worst_ratio": rows[worst][key] / rows[worst]["measured"],
        "worst_error": errors[worst],
        "resolved_pairs": len(resolved), "agreed_pairs": len(resolved) - len(wrong),
        "rank_agreement": (len(resolved) - len(wrong)) / len(resolved) if resolved else math.nan,
        "misordered": wrong,
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_summary(rows: list[dict[str, Any]], scores: list[dict[str, Any]], unresolved: list[tuple[int, int]]) -> dict[str, bool]:
    max_spread = max(r["cal_spread"] for r in rows)
    widest = max(rows, key=lambda r: r["cal_spread"])
    print()
    print(f"{'':34s} {'calibration 1':>18s} {'calibration 2':>18s}")
    lines = [
        ("median absolute error", [f"{100 * s['median_abs_error']:.1f}%" for s in scores]),
        ("within +-10%", [f"{100 * s['within_10']:.0f}% ({round(s['within_10'] * len(rows))}/{len(rows)})" for s in scores]),
        ("within +-25%", [f"{100 * s['within_25']:.0f}% ({round(s['within_25'] * len(rows))}/{len(rows)})" for s in scores]),
        ("within +-30%", [f"{100 * s['within_30']:.0f}% ({round(s['within_30'] * len(rows))}/{len(rows)})" for s in scores]),
        ("worst model (pred/meas)", [f"{s['worst_model']} {s['worst_ratio']:.2f}x" for s in scores]),
        ("rank agreement (resolved pairs)", [f"{100 * s['rank_agreement']:.0f}% ({s['agreed_pairs']}/{s['resolved_pairs']})"
                                             for s in scores]),
    ]
    for label, values in lines:
        print(f"{label:34s} {values[0]:>18s} {values[1]:>18s}")
    print(f"max calibration spread |p1-p2|/mean: {100 * max_spread:.1f}% ({widest['model']}, {widest['driver']})")
    print(f"measured pairs unresolved by the rounds (ranges overlap, not scored): {len(unresolved)} of "
          f"{len(unresolved) + scores[0]['resolved_pairs']}")
    for i, j in unresolved:
        a, b = rows[i], rows[j]
        print(f"  tie: {a['model']} {min(a['rounds']) * 1e3:.2f}-{max(a['rounds']) * 1e3:.2f} ms / "
              f"{b['model']} {min(b['rounds']) * 1e3:.2f}-{max(b['rounds']) * 1e3:.2f} ms")
    for k, s in enumerate(scores, start=1):
        for a, b in s["misordered"]:
            print(f"  calibration {k}: predicted order wrong for {a} (measured faster) / {b}")
    checks = {
        "median": [s["median_abs_error"] <= TARGETS["median"] for s in scores],
        "within10": [s["within_10"] >= TARGETS["within10"] for s in scores],
        "worst": [s["worst_error"] <= TARGETS["worst"] for s in scores],
        "order": [not s["misordered"] for s in scores],
    }
    print()
    print("issue-17 targets (calibration 1 / calibration 2):")
    print(f"  median absolute error <= 10%:           {' / '.join(verdict(v) for v in checks['median'])}")
    print(f"  >= 70% of models within +-10%:          {' / '.join(verdict(v) for v in checks['within10'])}")
    print(f"  every model within +-30%:               {' / '.join(verdict(v) for v in checks['worst'])}")
    print(f"  every resolved measured order agreed:   {' / '.join(verdict(v) for v in checks['order'])}")
    spread_ok = max_spread <= TARGETS["spread"]
    print(f"  two calibrations within 5% every model: {verdict(spread_ok)} (max {100 * max_spread:.1f}%)")
    return {**{k: all(v) for k, v in checks.items()}, "spread": spread_ok}


def print_table(rows: list[dict[str, Any]], clock: str) -> None:
    other = "wall" if clock == "cpu" else "cpu"
    header = (f"| {'model':18s} | {'input':12s} | {'pred 1':>9s} | {'pred 2':>9s} | {'measured':>9s} | {'p1/meas':>7s} | "
              f"{'p2/meas':>7s} | {'cal spread':>10s} | {'spread driver':>22s} | {'rounds':>6s} | {other + ' clock':>10s} | "
              f"{'main class (p1)':>18s} |")
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        print(f"| {r['model']:18s} | {r['input']:12s} | {r['p1'] * 1e3:9.2f} | {r['p2'] * 1e3:9.2f} | {r['measured'] * 1e3:9.2f} | "
              f"{r['p1'] / r['measured']:7.2f} | {r['p2'] / r['measured']:7.2f} | {100 * r['cal_spread']:9.1f}% | "
              f"{r['driver']:>22s} | {100 * r['round_spread']:5.1f}% | {r['other'] * 1e3:10.2f} | {r['main_class']:>18s} |")
    print("(times in ms; cal spread = |p1-p2|/mean; rounds = (max-min)/median of the per-round medians)")


# ---------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="interleaved measurement rounds (default 3; 1 with --quick)")
    parser.add_argument("--budget", type=float, help="seconds of timed runs per model, all rounds (default 6; 1.5 with --quick)")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per model at most, all rounds (default 30)")
    parser.add_argument("--models", nargs="*", help="zoo names (default: every zoo model within --max-params)")
    parser.add_argument("--seq", type=int, default=128, help="sequence length of the token models (default 128)")
    parser.add_argument("--max-params", type=float, default=1e9, help="skip zoo models with more parameters (default 1e9)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: quick calibrations, 1 round, models " + ", ".join(QUICK_MODELS))
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                        help="calibrate and score on the thread's CPU time (default) or the wall clock")
    parser.add_argument("--profiles", nargs=2, metavar="TOML", help="score these two profiles instead of calibrating now")
    parser.add_argument("--keep", help="write the two calibrated profiles to this folder (default: a temporary one)")
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 3)
    budget = args.budget if args.budget is not None else (1.5 if args.quick else 6.0)

    import torch

    import howfast
    from howfast.bench.allocator import retain_freed_memory
    from howfast.graph.inputs import materialise, parse_inputs
    from howfast.hardware.profiles import get_profile
    from howfast.zoo import build

    t0 = time.perf_counter()
    torch.set_num_threads(1)
    print(f"validate prediction: {cpu_name()}, {os.cpu_count()} logical CPU(s), torch {torch.__version__}, 1 thread, "
          f"clock {args.clock}, median; {rounds} round(s){'; quick' if args.quick else ''}")
    speeds: list[tuple[str, float, float]] = []
    print(f"load average (1/5/15 min) at start: {load()}; {probe('start', speeds)}")

    # 1. two calibrations in a row
    calibrations: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="howfast-validate-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.profiles:
            profiles = [get_profile(p) for p in args.profiles]
            print(f"profiles: {args.profiles[0]}, {args.profiles[1]} (not calibrated now)")
        else:
            profiles = []
            for k in (1, 2):
                path = folder / f"cal{k}.toml"
                data = run_calibration(path, f"validate_cal{k}", args.quick, args.clock)
                calibrations.append(data)
                profiles.append(get_profile(path))
                print(f"calibration {k}: {data['elapsed_s']:.1f} s measuring ({data['process_s']:.1f} s process), "
                      f"{'quick' if args.quick else 'full'}, written to {path if args.keep else 'a temporary file'}; "
                      f"load {load()}; {probe(f'calibration {k}', speeds)}")
            print_calibrations(calibrations)
    t_cal = time.perf_counter() - t0

    # 2. models, predictions, the hold-out check
    chosen, skipped = model_list(args)
    for text in skipped:
        print(f"skipped: {text}")
    retain_freed_memory()
    cases = []
    model_keys: dict[str, set[tuple[Any, ...]]] = {}
    for name, spec in chosen:
        model = build(name)
        inputs, kwargs = materialise(parse_inputs([spec]), "cpu", torch.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = howfast.analyze(model, inputs, kwargs=kwargs, name=name)
        model_keys[name] = op_keys(report)
        predicted, classes = [], []
        for profile in profiles:
            howfast.roofline(report, profile)
            predicted.append(report.roofline.predicted_latency_s)
            classes.append(dict(report.roofline.classes))
        cases.append({"model": name, "input": spec, "macs": report.totals.macs, "p1": predicted[0], "p2": predicted[1],
                      "driver": spread_driver(classes[0], classes[1]), "main_class": main_class(classes[0]),
                      "module": model, "inputs": inputs, "kwargs": kwargs, "wall": [], "cpu": [], "rounds": []})
        del report
        measure(model, inputs, kwargs, runs=0, budget_s=0.0, warmup=2, min_runs=0)  # warm every model once
    t_pred = time.perf_counter() - t0 - t_cal
    print(f"{len(cases)} models built, analysed and predicted in {t_pred:.0f} s; load {load()}")

    reps = representative_keys(args.quick)
    copies = []
    for label, keys in reps:
        found = [name for name, mk in model_keys.items() if keys and keys <= mk]
        if found:
            copies.append((label, found))
    print(f"hold-out: the calibration fits on {len(reps)} float representative layers (plus int8 ones, which no fp32 "
          f"model here runs), never on a zoo model: all {len(cases)} models scored are hold-outs.")
    if copies:
        print(f"  {len(copies)} of the {len(reps)} representatives are identical (op, shapes, FLOPs, bytes) to a layer of "
              f"a scored model:")
        for label, found in copies:
            print(f"    {label:30s} = a layer of {', '.join(found)}")
    else:
        print("  no representative is identical to a layer of a scored model")

    # 3. interleaved measurement
    per_round_runs = max(2, args.runs // rounds)
    for round_index in range(rounds):
        shift = round_index % len(cases)
        for case in cases[shift:] + cases[:shift]:
            wall, cpu = measure(case["module"], case["inputs"], case["kwargs"], runs=per_round_runs,
                                budget_s=budget / rounds, warmup=1, min_runs=2)
            case["rounds"].append(statistics.median(cpu if args.clock == "cpu" else wall))
            case["wall"].extend(wall)
            case["cpu"].extend(cpu)
        print(f"  round {round_index + 1}/{rounds} done ({time.perf_counter() - t0:.0f} s; load {load()}; "
              f"{probe(f'round {round_index + 1}', speeds)})", flush=True)
    t_meas = time.perf_counter() - t0 - t_cal - t_pred

    rows = []
    for case in cases:
        wall, cpu = case.pop("wall"), case.pop("cpu")
        for key in ("module", "inputs", "kwargs"):
            case.pop(key)
        measured = statistics.median(cpu if args.clock == "cpu" else wall)
        other = statistics.median(wall if args.clock == "cpu" else cpu)
        rows.append({**case, "measured": measured, "other": other, "runs": len(wall),
                     "cal_spread": abs(case["p1"] - case["p2"]) / ((case["p1"] + case["p2"]) / 2),
                     "round_spread": (max(case["rounds"]) - min(case["rounds"])) / statistics.median(case["rounds"])})
    cases.clear()
    rows.sort(key=lambda r: r["measured"])

    # 4. table and summary
    print()
    print_table(rows, args.clock)
    resolved, unresolved = resolved_pairs(rows)
    scores = [score(rows, "p1", resolved), score(rows, "p2", resolved)]
    met = print_summary(rows, scores, unresolved)
    ranges = [f"{min(v):.1f}-{max(v):.1f} {unit} ({100 * (max(v) / min(v) - 1):.0f}% apart)"
              for v, unit in (([f for _, f, _ in speeds], "GFLOP/s"), ([b for _, _, b in speeds], "GB/s"))]
    print(f"\nreference speed over the run (start, each calibration, each round): GEMM {ranges[0]}, copy {ranges[1]}")
    took = time.perf_counter() - t0
    print(f"\ntook {took:.0f} s (calibrations {t_cal:.0f} s, analysis and predictions {t_pred:.0f} s, "
          f"measurement {t_meas:.0f} s); load average at end: {load()}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "torch": torch.__version__, "clock": args.clock,
                       "rounds": rounds, "quick": args.quick, "rows": rows, "scores": scores, "targets_met": met,
                       "skipped": skipped, "copies": copies, "calibrations": [figures_of(c) for c in calibrations],
                       "elapsed_s": took, "load_end": load(), "reference_speeds": speeds}, handle, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
