"""Checks of howfast's timing method (issue 4). Run: ``python benchmarks/bench_method.py``.

Sections (``--sections``, default all):

* ``method``: resnet50 and mobilenet_v2 at 1x3x224x224. In each of ``--rounds`` rounds, in the
  same process and on the same tensors: ``howfast.benchmark`` (median of ``--runs`` timed runs),
  ``torch.utils.benchmark.Timer.blocked_autorange`` (its median) and a plain
  ``perf_counter`` loop (median of ``--runs`` runs). Methods are interleaved round by round (the
  order rotating each round) so drift in machine load hits them alike. Prints each method's median (the median of its round
  medians), the ratios howfast / Timer and howfast / loop (target: within 5%), and the spread of
  the five howfast medians, (max - min) / median (target: within 5%).
* ``repeat``: the acceptance check as a user would make it: ``howfast bench MODEL --input
  1x3x224x224 --threads T --format json`` run ``--rounds`` times as separate processes, with the
  command's default run policy (no ``--runs``/``--budget``), for resnet50 and mobilenet_v2; prints
  each run's median and the spread (max - min) / median of the five (target: within 5%).
* ``layers``: resnet18 per-layer times (``per_layer_times``): leaves' sum, with ``(other)``,
  against the plain whole-model median (target: within 15%), and the hook overhead.
* ``ort``: ONNX Runtime latency (``runtime="onnxruntime"``) of every zoo model except
  ``llama2_70b`` (a meta-only shape), beside PyTorch eager, at each model's default input.

Timings on a shared machine are noisy: the script prints the 1-minute load average before and
after each section, so a reader can judge the figures; ``--wait-load 1.5`` waits for a quieter
machine before each round (it gates on the machine, never on the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from typing import Any

import torch
import torch.utils.benchmark as tbench

from howfast.bench import benchmark, per_layer_times
from howfast.bench.checks import num_threads
from howfast.graph.inputs import materialise, parse_inputs
from howfast.zoo import build, entries


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def wait_for_load(limit: float | None, max_wait_s: float = 300.0) -> None:
    """With ``--wait-load``, wait (up to 5 min) until the 1-minute load average is below ``limit``."""
    if limit is None:
        return
    deadline = time.monotonic() + max_wait_s
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values)


def plain_loop(model: torch.nn.Module, x: torch.Tensor, runs: int, warmup: int) -> float:
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        for _ in range(runs):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timer_median(model: torch.nn.Module, x: torch.Tensor, threads: int, min_run_time: float) -> float:
    def forward() -> None:
        with torch.inference_mode():
            model(x)

    forward()
    timer = tbench.Timer(stmt="forward()", globals={"forward": forward}, num_threads=threads)
    return timer.blocked_autorange(min_run_time=min_run_time).median


def section_method(args: argparse.Namespace, out: dict[str, Any]) -> None:
    print(f"\n== method: howfast vs torch.utils.benchmark.Timer vs plain loop  (threads {args.threads}, "
          f"{args.rounds} rounds, {args.runs} runs each; load {load()})")
    header = (f"{'model':<14}{'howfast ms':>12}{'Timer ms':>12}{'loop ms':>12}{'hf/Timer':>10}{'hf/loop':>10}  "
              "howfast medians (ms)  spread  [Timer spread, loop spread: the machine's own noise]")
    print(header)
    for name in ("resnet50", "mobilenet_v2"):
        model = build(name)
        x = torch.randn(1, 3, 224, 224)
        hf, tm, lp = [], [], []
        with torch.inference_mode():
            model(x)
        def run_howfast() -> None:
            hf.append(benchmark(model, x, runs=args.runs, warmup=args.warmup, threads=args.threads).stats.median)

        def run_timer() -> None:
            tm.append(timer_median(model, x, args.threads, args.timer_time))

        def run_loop() -> None:
            with num_threads(args.threads):
                lp.append(plain_loop(model, x, args.runs, args.warmup))

        methods = [run_howfast, run_timer, run_loop]
        for round_index in range(args.rounds):
            wait_for_load(args.wait_load)
            for k in range(3):  # rotate the order each round, so no method always goes first
                methods[(round_index + k) % 3]()
        m_hf, m_tm, m_lp = statistics.median(hf), statistics.median(tm), statistics.median(lp)
        print(f"{name:<14}{m_hf * 1e3:>12.2f}{m_tm * 1e3:>12.2f}{m_lp * 1e3:>12.2f}{m_hf / m_tm:>10.3f}{m_hf / m_lp:>10.3f}  "
              f"{' '.join(f'{v * 1e3:.2f}' for v in hf)}  {100 * spread(hf):.1f}%  "
              f"[{100 * spread(tm):.1f}%, {100 * spread(lp):.1f}%]")
        out.setdefault("method", {})[name] = {
            "howfast_medians_s": hf, "timer_medians_s": tm, "loop_medians_s": lp,
            "howfast_s": m_hf, "timer_s": m_tm, "loop_s": m_lp,
            "ratio_timer": m_hf / m_tm, "ratio_loop": m_hf / m_lp, "howfast_spread": spread(hf),
            "timer_spread": spread(tm), "loop_spread": spread(lp),
        }
    print(f"(targets: ratios within 0.95..1.05; spread within 5%; load after {load()})")


def cli_median(name: str, threads: int) -> tuple[float, int]:
    """One ``howfast bench`` process with its default run policy: (median latency s, timed runs)."""
    command = [sys.executable, "-m", "howfast", "bench", name, "--input", "1x3x224x224", "--threads", str(threads),
               "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)["benchmark"]
    return result["latency_s"]["median"], result["runs"]


def section_repeat(args: argparse.Namespace, out: dict[str, Any]) -> None:
    print(f"\n== repeat: {args.rounds} separate `howfast bench MODEL --input 1x3x224x224 --threads {args.threads}` "
          f"processes, default run policy (load {load()})")
    print(f"{'model':<14}{'medians (ms) [timed runs]':<60}{'spread':>8}")
    for name in ("resnet50", "mobilenet_v2"):
        medians, counts = [], []
        for _ in range(args.rounds):
            wait_for_load(args.wait_load)
            median, count = cli_median(name, args.threads)
            medians.append(median)
            counts.append(count)
        shown = " ".join(f"{m * 1e3:.2f}[{c}]" for m, c in zip(medians, counts))
        print(f"{name:<14}{shown:<60}{100 * spread(medians):>7.1f}%")
        out.setdefault("repeat", {})[name] = {"medians_s": medians, "runs": counts, "spread": spread(medians)}
    print(f"(target: spread within 5%; load after {load()})")


def section_layers(args: argparse.Namespace, out: dict[str, Any]) -> None:
    print(f"\n== layers: resnet18 per-layer times (threads {args.threads}, {args.layer_runs} hooked runs; load {load()})")
    model = build("resnet18")
    x = torch.randn(1, 3, 224, 224)
    wait_for_load(args.wait_load)
    times = per_layer_times(model, (x,), {}, runs=args.layer_runs, warmup=3, threads=args.threads)
    whole = benchmark(model, x, runs=args.runs, warmup=args.warmup, threads=args.threads).stats.median
    with_other = sum(times.self_by_module.values())
    top = sorted(((v, k) for k, v in times.self_by_module.items()), reverse=True)[:5]
    print(f"leaf modules timed:                 {len(times.self_by_module) - 1}")
    print(f"sum of leaf medians:                {times.leaf_sum_s * 1e3:9.2f} ms")
    print(f"(other):                            {times.self_by_module['(other)'] * 1e3:9.2f} ms")
    print(f"per-layer sum incl. (other):        {with_other * 1e3:9.2f} ms  (= hooked whole-model median)")
    print(f"plain whole-model median (paired):  {times.plain_total_s * 1e3:9.2f} ms")
    print(f"howfast.benchmark median (separate):{whole * 1e3:9.2f} ms")
    print(f"per-layer sum / plain median:       {with_other / times.plain_total_s:9.3f}   (target within 0.85..1.15)")
    print(f"leaves only / plain median:         {times.leaf_sum_s / times.plain_total_s:9.3f}")
    print(f"per-layer sum / benchmark median:   {with_other / whole:9.3f}")
    print(f"hook overhead (hooked/plain):       {times.overhead_ratio:9.3f}   ({100 * (times.overhead_ratio - 1):+.1f}%)")
    print("largest: " + ", ".join(f"{k} {v * 1e3:.2f} ms" for v, k in top))
    out["layers"] = {
        "leaf_sum_s": times.leaf_sum_s, "with_other_s": with_other, "plain_total_s": times.plain_total_s,
        "benchmark_median_s": whole, "overhead_ratio": times.overhead_ratio,
        "sum_over_plain": with_other / times.plain_total_s, "leaves_over_plain": times.leaf_sum_s / times.plain_total_s,
    }
    print(f"(load after {load()})")


def section_ort(args: argparse.Namespace, out: dict[str, Any]) -> None:
    print(f"\n== ort: ONNX Runtime vs PyTorch eager, every zoo model but llama2_70b (threads {args.threads}, "
          f"{args.ort_runs} runs; load {load()})")
    print(f"{'model':<14}{'input':<16}{'ORT ms':>10}{'torch ms':>10}{'ORT/torch':>11}{'export+run s':>14}")
    results = out.setdefault("ort", {})
    for entry in entries():
        if entry.name == "llama2_70b" or (args.models and entry.name not in args.models):
            continue
        model = build(entry.name)
        inputs = materialise(parse_inputs(entry.default_input), "cpu", torch.float32)[0]
        t0 = time.perf_counter()
        try:
            ort = benchmark(model, inputs, runs=args.ort_runs, warmup=2, threads=args.threads, runtime="onnxruntime").stats.median
        except Exception as exc:  # noqa: BLE001 - report and go on
            print(f"{entry.name:<14}{entry.default_input:<16}  FAILED: {exc}")
            results[entry.name] = {"error": str(exc)}
            continue
        wall = time.perf_counter() - t0
        eager = benchmark(model, inputs, runs=args.ort_runs, warmup=2, threads=args.threads).stats.median
        print(f"{entry.name:<14}{entry.default_input:<16}{ort * 1e3:>10.2f}{eager * 1e3:>10.2f}{ort / eager:>11.3f}{wall:>14.1f}")
        results[entry.name] = {"input": entry.default_input, "ort_median_s": ort, "torch_median_s": eager}
        del model
    print(f"(load after {load()})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="method,repeat,layers,ort",
                        help="comma-separated: method, repeat, layers, ort")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="intra-op threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=5, help="repeated howfast medians (and Timer/loop rounds)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per howfast median and per plain loop")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--timer-time", type=float, default=2.0, help="min_run_time of Timer.blocked_autorange, seconds")
    parser.add_argument("--layer-runs", type=int, default=20)
    parser.add_argument("--ort-runs", type=int, default=10)
    parser.add_argument("--models", nargs="*", help="ORT section: only these zoo models")
    parser.add_argument("--wait-load", type=float, help="before each round, wait (up to 5 min) until the 1-minute load "
                                                         "average is below this (a shared machine)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"howfast bench_method: torch {torch.__version__}, {os.cpu_count()} CPUs, threads {args.threads}, load {load()}")
    out: dict[str, Any] = {"threads": args.threads, "torch": torch.__version__, "load_start": load()}
    sections = {"method": section_method, "repeat": section_repeat, "layers": section_layers, "ort": section_ort}
    for name in args.sections.split(","):
        sections[name.strip()](args, out)
    out["load_end"] = load()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(out, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
