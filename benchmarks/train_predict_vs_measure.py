"""Predicted training step time (roofline on a calibrated profile of this CPU) against measured (issue 14).

Run: ``python benchmarks/train_predict_vs_measure.py [--threads 1] [--clock wall|cpu] [--profile FILE]``

1. Calibrate this machine (``howfast.bench.calibrate.calibrate``, as ``benchmarks/predict_vs_measure.py``
   does: GEMM peak, copy and cache bandwidth, per-op overhead, per-op-class efficiencies), or read
   ``--profile FILE``; ``--save-profile FILE`` keeps the calibration.
2. For every zoo model that trains on a CPU in reasonable time — all but the meta-only shapes
   ``llama2_70b`` and ``mixtral_8x7b`` — at its default input (batch 1; the language models 1x128
   token ids): ``howfast.analyze_training`` (loss ``cross_entropy``, optimizer ``--optimizer``,
   AdamW by default) then ``howfast.roofline`` on the profile gives the predicted step time, the sum
   of the forward, backward and optimizer phases' predicted times; ``howfast.training.benchmark_training``
   (the machinery of ``howfast bench --backward``: the step on a deep copy, gradients set to None,
   forward, loss, backward, optimizer step, in the one timing loop) gives the measured median step,
   with the same thread count and clock as the calibration.
3. One table: the step's counted FLOPs, predicted and measured step time, their ratio and absolute
   percentage error, the predicted share of each phase, and the MFU (measured, against the
   calibrated fp32 peak); then the median absolute percentage error (target < 25%).

Single-threaded by default, as ``predict_vs_measure.py``: a 1-thread calibration holds for 1 thread.
On a machine that other work shares, ``--clock cpu`` (with ``--threads 1``) times the thread's CPU
time, which does not count the slices the scheduler gave to other processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

SKIP = ("llama2_70b", "mixtral_8x7b")  # built only on meta: 69B and 47B parameters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for calibration and measurement (default 1)")
    parser.add_argument("--profile", help="use this calibrated profile instead of calibrating now")
    parser.add_argument("--save-profile", help="write the calibration to this .toml file")
    parser.add_argument("--quick", action="store_true", help="quick calibration")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="calibrate and measure on this clock")
    parser.add_argument("--optimizer", default="adamw", help="optimizer of the step (sgd, momentum, adam, adamw; default adamw)")
    parser.add_argument("--runs", type=int, default=5, help="timed steps per model at most (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model (default 2)")
    parser.add_argument("--budget", type=float, default=6.0, help="seconds of timed steps per model at most (default 6)")
    parser.add_argument("--models", nargs="*", help="zoo names (default: every zoo model but llama2_70b and mixtral_8x7b)")
    args = parser.parse_args(argv)

    import torch

    import howfast
    from howfast.bench.allocator import retain_freed_memory
    from howfast.bench.calibrate import calibrate
    from howfast.graph.inputs import materialise, parse_inputs
    from howfast.hardware.profiles import get_profile
    from howfast.training import benchmark_training
    from howfast.zoo import build, entries

    torch.set_num_threads(args.threads)
    print(f"train predict vs measure: {args.threads} thread(s), clock {args.clock}, optimizer {args.optimizer}; "
          f"torch {torch.__version__}")
    load_before = os.getloadavg()[0]
    print(f"load average before: {load_before:.2f}")
    t0 = time.perf_counter()
    if args.profile:
        profile = get_profile(args.profile)
        print(f"profile: {profile.path} ({profile.title})")
    else:
        result = calibrate(threads=args.threads, quick=args.quick, name="this_cpu", clock=args.clock)
        profile = result.profile
        print(f"calibrated in {result.elapsed_s:.1f} s: {profile.title}")
        if args.save_profile:
            with open(args.save_profile, "w", encoding="utf-8") as handle:
                handle.write(profile.to_toml())
            print(f"  wrote {args.save_profile}")
    peak = profile.peak("fp32")
    names = args.models or [e.name for e in entries() if e.name not in SKIP]
    retain_freed_memory()  # as howfast bench (the calibration did the same)
    rows = []
    for name in names:
        entry = next(e for e in entries() if e.name == name)
        model = build(name)
        inputs, kwargs = materialise(parse_inputs([entry.default_input]), "cpu", torch.float32)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = howfast.analyze_training(model, inputs, kwargs=kwargs, loss="cross_entropy", optimizer=args.optimizer,
                                              name=name)
        howfast.roofline(report, profile)
        predicted = report.roofline.predicted_latency_s
        shares = [p.roofline.predicted_latency_s / predicted for p in report.phases]
        measured_result = benchmark_training(model, inputs, kwargs=kwargs, loss="cross_entropy", optimizer=args.optimizer,
                                             runs=args.runs, warmup=args.warmup, budget_s=args.budget, threads=args.threads,
                                             allocator="retain", profile=profile, clock=args.clock, name=name)
        measured = measured_result.stats.median
        mfu = measured_result.efficiency.mfu if measured_result.efficiency is not None else None
        rows.append({"model": name, "input": entry.default_input, "flops": report.totals.flops, "predicted": predicted,
                     "measured": measured, "ape": abs(predicted - measured) / measured, "shares": shares, "mfu": mfu,
                     "runs": measured_result.stats.n})
        print(f"  {name:18s} predicted {predicted * 1e3:9.1f} ms  measured {measured * 1e3:9.1f} ms "
              f"({measured_result.stats.n} steps; {time.perf_counter() - started:.0f} s; load {os.getloadavg()[0]:.2f})", flush=True)
        del model, report
    print()
    header = (f"| {'model':18s} | {'input':12s} | {'GFLOP/step':>10s} | {'predicted':>10s} | {'measured':>10s} | "
              f"{'pred/meas':>9s} | {'abs err':>7s} | {'fwd/bwd/opt predicted':>21s} | {'MFU':>6s} |")
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        shares = "/".join(f"{100 * s:.0f}%" for s in r["shares"])
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "-"
        print(f"| {r['model']:18s} | {r['input']:12s} | {r['flops'] / 1e9:10.2f} | {r['predicted'] * 1e3:7.1f} ms | "
              f"{r['measured'] * 1e3:7.1f} ms | {r['predicted'] / r['measured']:9.2f} | {100 * r['ape']:6.1f}% | {shares:>21s} | "
              f"{mfu:>6s} |")
    mdape = statistics.median(r["ape"] for r in rows)
    print()
    print(f"median absolute percentage error: {100 * mdape:.1f}% (target < 25%): {'PASS' if mdape < 0.25 else 'FAIL'}")
    print(f"MFU against the calibrated fp32 peak of {peak / 1e9:.1f} GFLOP/s (achieved = counted step FLOPs / measured median)")
    print(f"load average before {load_before:.2f}, after {os.getloadavg()[0]:.2f}; took {time.perf_counter() - t0:.0f} s")
    return 0 if mdape < 0.25 else 1


if __name__ == "__main__":
    sys.exit(main())
