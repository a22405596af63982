"""Predicted latency (roofline on a calibrated profile of this CPU) against measured latency (issue 5).

Run: ``python benchmarks/predict_vs_measure.py [--threads 1] [--statistic median] [--profile FILE]``

1. Calibrate this machine (``howfast.bench.calibrate.calibrate``: GEMM peak, copy bandwidth,
   cache bandwidth, per-op overhead, per-op-class efficiencies), or read ``--profile FILE``.
2. For every zoo model except ``llama2_70b`` (a meta-only shape), at its default input (batch 1;
   gpt2 and llama 1x128): ``howfast.analyze`` then ``howfast.roofline`` on that profile gives the
   predicted latency; a plain loop under ``torch.inference_mode`` gives the measured latency, with
   the same thread count, statistic, clock and allocator policy (freed memory retained, as
   ``howfast bench`` does) as the calibration. The models are measured *interleaved*: ``--rounds``
   rounds, each giving every model (in an order that rotates per round) one untimed run and then
   timed runs for ``--budget / --rounds`` seconds (at least 2, at most ``--runs / --rounds``); a
   model's statistic is over all its timed runs. A change in the machine's speed over the minutes of
   the measurement so lands on every model alike instead of on whichever ran then, which matters
   for models whose latencies differ by a few per cent. Each run is timed on both clocks: wall
   (``time.perf_counter``) and the thread's CPU time (``time.thread_time``); ``--clock`` picks
   which one calibrates and scores. With ``--threads 1`` on an idle machine the two agree; on a
   busy one the wall time of a long run includes the slices the scheduler gave to other processes
   (with a load of 4 on 2 cores, about twice the CPU time), and ``--clock cpu`` is the steady
   measure of what the model costs.
3. One table: predicted, measured, ratio and absolute percentage error per model (and, for
   comparison, the plain roofline of the same calibration without its per-class figures); the median
   absolute percentage error (target < 35%) and whether ranking the models by predicted time gives
   the ranking by measured time (target: the same order), with Spearman's rank correlation.
4. Which measured orders the measurement itself settles: for every pair of models, the statistic
   of each round (one per model per round, taken in the same minute) is compared; a pair is
   *resolved* when every round orders it the same way, and a *tie within this machine's noise*
   otherwise. The script prints each tie and whether the predicted order agrees with the measured
   one on every resolved pair: two models that swap places from round to round cannot have a
   ranking that a prediction should be held to.

The 1-minute load average is printed before and after: other work on a shared machine slows the
measurements (run again when it is quieter). ``--statistic min`` uses the fastest run on both
sides, steadier under load. ``--save-profile FILE`` keeps the calibration.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
import warnings


def ranks(values: list[float]) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0] * len(values)
    for rank, i in enumerate(order):
        out[i] = rank
    return out


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    if n < 2:
        return 1.0
    d2 = sum((x - y) ** 2 for x, y in zip(ra, rb))
    return 1 - 6 * d2 / (n * (n * n - 1))


def measure(model, inputs, kwargs, runs: int, budget_s: float, warmup: int = 3, min_runs: int = 3,
            ) -> tuple[list[float], list[float]]:
    """Wall and thread-CPU seconds of each timed forward pass (a plain loop, inference mode, GC off)."""
    import gc

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for calibration and measurement (default 1)")
    parser.add_argument("--statistic", choices=["median", "min"], default="median")
    parser.add_argument("--profile", help="use this calibrated profile instead of calibrating now")
    parser.add_argument("--save-profile", help="write the calibration to this .toml file")
    parser.add_argument("--runs", type=int, default=40, help="timed runs per model at most, all rounds (default 40)")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of timed runs per model, all rounds (default 4)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds (default 5)")
    parser.add_argument("--models", nargs="*", help="zoo names (default: every zoo model except llama2_70b)")
    parser.add_argument("--quick", action="store_true", help="quick calibration")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="calibrate and score with wall-clock time or the thread's CPU time (--threads 1)")
    args = parser.parse_args(argv)

    import torch

    import howfast
    from howfast.bench.allocator import retain_freed_memory
    from howfast.bench.calibrate import calibrate
    from howfast.graph.inputs import materialise, parse_inputs
    from howfast.hardware.profiles import get_profile
    from howfast.zoo import build, entries

    torch.set_num_threads(args.threads)
    print(f"predict vs measure: {args.threads} thread(s), statistic {args.statistic}, clock {args.clock}; torch {torch.__version__}")
    load_before = os.getloadavg()[0]
    print(f"load average before: {load_before:.2f}")
    t0 = time.perf_counter()
    if args.profile:
        profile = get_profile(args.profile)
        print(f"profile: {profile.path} ({profile.title})")
    else:
        result = calibrate(threads=args.threads, statistic=args.statistic, quick=args.quick, name="this_cpu", clock=args.clock)
        profile = result.profile
        print(f"calibrated in {result.elapsed_s:.1f} s: {profile.title}")
        for m in result.measurements:
            if m.key.startswith("classes.") and m.key.endswith("overhead_s"):
                continue
            if m.key.startswith("classes."):
                cls = m.key.split(".")[1]
                fit = result.fits[cls]
                print(f"  {m.key:32s} {m.value:8.3f}   overhead {fit.overhead_s * 1e6:6.1f} us  "
                      f"({len(fit.samples)} layers)")
            else:
                print(f"  {m.key:32s} {m.value:.4g} {m.unit}")
        if args.save_profile:
            with open(args.save_profile, "w", encoding="utf-8") as handle:
                handle.write(profile.to_toml())
            print(f"  wrote {args.save_profile}")
    names = args.models or [e.name for e in entries() if e.name != "llama2_70b"]
    retain_freed_memory()  # as howfast bench (the calibration did the same)
    cases = []
    for name in names:  # predictions first; every model stays built for the interleaved rounds
        entry = next(e for e in entries() if e.name == name)
        model = build(name)
        specs = parse_inputs([entry.default_input])
        inputs, kwargs = materialise(specs, "cpu", torch.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = howfast.analyze(model, inputs, kwargs=kwargs, name=name)
        howfast.roofline(report, dataclasses.replace(profile, classes={}))  # plain roofline: no class figures
        plain = report.roofline.predicted_latency_s
        howfast.roofline(report, profile)
        predicted = report.roofline.predicted_latency_s
        memory_share = report.roofline.summary.memory_bound_time_s / predicted if predicted else 0.0
        cases.append({"model": name, "input": entry.default_input, "macs": report.totals.macs, "predicted": predicted,
                      "plain": plain, "memory_share": memory_share, "module": model, "inputs": inputs, "kwargs": kwargs,
                      "wall": [], "cpu": [], "rounds": []})
        measure(model, inputs, kwargs, runs=0, budget_s=0.0, warmup=3, min_runs=0)  # warm every model once
        del report
    per_round_runs = max(2, args.runs // args.rounds)
    pick = statistics.median if args.statistic == "median" else min
    for round_index in range(args.rounds):
        order = cases[round_index % len(cases):] + cases[:round_index % len(cases)]
        for case in order:
            wall, cpu = measure(case["module"], case["inputs"], case["kwargs"], runs=per_round_runs,
                                budget_s=args.budget / args.rounds, warmup=1, min_runs=2)
            case["rounds"].append(pick(cpu if args.clock == "cpu" else wall))
            case["wall"].extend(wall)
            case["cpu"].extend(cpu)
        print(f"  round {round_index + 1}/{args.rounds} done (load {os.getloadavg()[0]:.2f})", flush=True)
    rows = []
    for case in cases:
        wall, cpu = case.pop("wall"), case.pop("cpu")
        for key in ("module", "inputs", "kwargs"):
            case.pop(key)
        measured = pick(cpu if args.clock == "cpu" else wall)
        other = pick(wall if args.clock == "cpu" else cpu)
        rows.append({**case, "measured": measured, "other": other, "runs": len(wall),
                     "ape": abs(case["predicted"] - measured) / measured})
        print(f"  {case['model']:14s} predicted {case['predicted'] * 1e3:9.2f} ms  measured {measured * 1e3:9.2f} ms  "
              f"({'wall' if args.clock == 'cpu' else 'cpu'} clock {other * 1e3:9.2f} ms; {len(wall)} runs)", flush=True)
    cases.clear()
    load_after = os.getloadavg()[0]
    print()
    other_clock = "wall" if args.clock == "cpu" else "cpu"
    header = (f"| {'model':14s} | {'input':12s} | {'MACs':>8s} | {'predicted':>11s} | {'measured':>11s} | {'pred/meas':>9s} | "
              f"{'abs err':>7s} | {'mem-bound':>9s} | {other_clock + ' clock':>11s} | {'plain roof':>10s} |")
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        print(f"| {r['model']:14s} | {r['input']:12s} | {r['macs'] / 1e9:7.2f}G | {r['predicted'] * 1e3:8.2f} ms | "
              f"{r['measured'] * 1e3:8.2f} ms | {r['predicted'] / r['measured']:9.2f} | {100 * r['ape']:6.1f}% | "
              f"{100 * r['memory_share']:8.0f}% | {r['other'] * 1e3:8.2f} ms | {r['plain'] * 1e3:7.2f} ms |")
    mdape = statistics.median(r["ape"] for r in rows)
    plain_mdape = statistics.median(abs(r["plain"] - r["measured"]) / r["measured"] for r in rows)
    by_pred = [r["model"] for r in sorted(rows, key=lambda r: r["predicted"])]
    by_meas = [r["model"] for r in sorted(rows, key=lambda r: r["measured"])]
    rho = spearman([r["predicted"] for r in rows], [r["measured"] for r in rows])
    print()
    print(f"median absolute percentage error: {100 * mdape:.1f}% (target < 35%): {'PASS' if mdape < 0.35 else 'FAIL'}")
    print(f"(plain roofline of the same calibration, no per-class figures: median error {100 * plain_mdape:.1f}%)")
    print(f"ranking by predicted: {' < '.join(by_pred)}")
    print(f"ranking by measured:  {' < '.join(by_meas)}")
    print(f"same ranking: {'PASS' if by_pred == by_meas else 'FAIL'}; Spearman rank correlation {rho:.3f}")
    ties, wrong = [], []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            faster = sum(ra < rb for ra, rb in zip(a["rounds"], b["rounds"]))
            if 0 < faster < len(a["rounds"]):
                ties.append(f"{a['model']} faster than {b['model']} in {faster} of {len(a['rounds'])} rounds "
                            f"({a['measured'] * 1e3:.2f} vs {b['measured'] * 1e3:.2f} ms)")
            elif (a["predicted"] < b["predicted"]) != (faster == len(a["rounds"])):
                wrong.append(f"{a['model']} / {b['model']}")
    for tie in ties:
        print(f"measured tie (rounds disagree): {tie}")
    print(f"predicted order agrees with every pair the rounds resolve: {'PASS' if not wrong else 'FAIL: ' + ', '.join(wrong)}")
    print(f"load average before {load_before:.2f}, after {load_after:.2f}; took {time.perf_counter() - t0:.0f} s")
    return 0 if mdape < 0.35 and by_pred == by_meas else 1


if __name__ == "__main__":
    sys.exit(main())
