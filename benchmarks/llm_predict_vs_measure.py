"""Predicted against measured generation (issue 13): TTFT and TPOT of the zoo's small decoders.

Run: ``python benchmarks/llm_predict_vs_measure.py [--profile FILE] [--clock cpu] [--rounds 5]``

1. Calibrate this machine, one thread (``howfast.bench.calibrate.calibrate``), or read ``--profile``.
2. For ``llama`` and ``gpt2`` (zoo defaults), prompt 128, 64 new tokens, batch 1, 2, 4 and 8:
   ``howfast.llm.analyze_llm`` on the meta device with that profile gives the predicted TTFT and
   TPOT (the median step: the curve's middle context), and ``howfast.llm.measure.measure_generation``
   on real CPU weights, the same thread count and clock, the measured ones.
3. The configurations are measured *interleaved*: each round times every configuration once (one
   generation each, in an order that rotates per round) after one untimed warm-up generation, and a
   configuration's figure is its median over the rounds — a drift of the machine's speed lands on
   every configuration alike.
4. One table: predicted, measured, ratio per point; the median absolute error and the largest, for
   TTFT and TPOT together (target: median under 20%, no point beyond 40%).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="use this calibrated profile instead of calibrating now")
    parser.add_argument("--save-profile", help="write the calibration to this .toml file")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="cpu", help="wall or the thread's CPU time (default cpu)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--models", nargs="*", default=["llama", "gpt2"])
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--new", type=int, default=64)
    args = parser.parse_args(argv)

    import torch

    from howfast.bench.allocator import retain_freed_memory
    from howfast.bench.calibrate import calibrate
    from howfast.capture.loader import load_model
    from howfast.hardware.profiles import get_profile
    from howfast.llm import Generation, analyze_llm
    from howfast.llm.measure import measure_generation

    torch.set_num_threads(1)
    print(f"llm predict vs measure: 1 thread, clock {args.clock}; torch {torch.__version__}; "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.profile:
        profile = get_profile(args.profile)
    else:
        result = calibrate(threads=1, statistic="median", name="this_cpu", clock=args.clock)
        profile = result.profile
        print(f"calibrated in {result.elapsed_s:.1f} s")
        if args.save_profile:
            with open(args.save_profile, "w", encoding="utf-8") as handle:
                handle.write(profile.to_toml())
    retain_freed_memory()
    batches = [int(b) for b in args.batches.split(",")]
    cases = []
    for name in args.models:
        meta = load_model(name, device="meta").model.eval()
        real = load_model(name, device="cpu").model.eval()
        for batch in batches:
            predicted = analyze_llm(meta, prompt=args.prompt, new_tokens=args.new, batch=batch, device=profile).llm.predicted
            middle = predicted.curve[len(predicted.curve) // 2].tpot_s  # the median step's context
            cases.append({"model": name, "batch": batch, "model_obj": real, "ttft_pred": predicted.ttft_s,
                          "tpot_pred": middle, "ttft": [], "tpot": []})
    for case in cases:  # warm-up
        measure_generation(case["model_obj"], Generation(args.prompt, args.new, case["batch"]), rounds=1, warmup=0, clock=args.clock)
    start = time.perf_counter()
    for r in range(args.rounds):
        order = cases[r % len(cases):] + cases[: r % len(cases)]
        for case in order:
            m = measure_generation(case["model_obj"], Generation(args.prompt, args.new, case["batch"]), rounds=1, warmup=0,
                                   clock=args.clock)
            case["ttft"].append(m.ttft_s)
            case["tpot"].append(m.tpot_s)
        print(f"  round {r + 1}/{args.rounds} done ({time.perf_counter() - start:.0f} s)")
    errors = []
    print(f"\n{'model':8s} {'batch':>5s} {'TTFT pred':>10s} {'TTFT meas':>10s} {'ratio':>6s} "
          f"{'TPOT pred':>10s} {'TPOT meas':>10s} {'ratio':>6s}")
    for case in cases:
        ttft, tpot = statistics.median(case["ttft"]), statistics.median(case["tpot"])
        rt, rp = case["ttft_pred"] / ttft, case["tpot_pred"] / tpot
        errors += [abs(rt - 1), abs(rp - 1)]
        print(f"{case['model']:8s} {case['batch']:5d} {case['ttft_pred'] * 1e3:8.2f}ms {ttft * 1e3:8.2f}ms {rt:6.2f} "
              f"{case['tpot_pred'] * 1e3:8.2f}ms {tpot * 1e3:8.2f}ms {rp:6.2f}")
    print(f"\nmedian absolute error {100 * statistics.median(errors):.1f}% (target < 20%), largest {100 * max(errors):.1f}% "
          f"(target <= 40%), over {len(errors)} points; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
