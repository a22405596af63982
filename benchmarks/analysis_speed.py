"""Analysis cost, measured side by side in one run (issue 18's targets).

Every figure comes from a fresh process (one per model and tree), timing interleaved rounds so that
machine noise hits all contenders alike; the best round is the figure (the least disturbed on a busy
machine), the median round beside it.

1. ResNet-50, MobileNet V2 and a ViT-B-like model (zoo ``vit_tiny`` with 768 dims, 12 heads),
   1x3x224x224, real tensors, PyTorch's default threads: each contender's time as a ratio to one
   plain forward pass (all under no_grad): ``howfast.analyze``, PyTorch's ``FlopCounterMode``, and the
   floor, a pass-through ``TorchDispatchMode`` that counts nothing. Targets: ResNet-50 <= 1.3,
   MobileNet V2 <= 1.8, both below FlopCounterMode.
2. The Llama-2-70B-shaped decoder on the meta device, 1x2048 tokens: seconds of the bare forward, the
   floor, FlopCounterMode and the analysis call. Targets: analysis <= 0.6 s and <= 1.7x the floor.
   Peak RSS of a fresh process that builds and analyses it: target <= 450 MB.
3. The command line end to end, ``howfast analyze llama2_70b --device meta -i 1x2048:int64 -f json -o
   FILE``, against ``python -c "import torch"`` (target: at most 1.5 s more) and, for reference,
   ``import torch, torch._dynamo`` (PyTorch's meta kernels import dynamo on their first call, so any
   meta run pays that import), with the command's peak RSS.

Run: ``python benchmarks/analysis_speed.py`` (``--baseline SRC``: the same figures for another source
tree, e.g. a ``git worktree`` of the previous commit's ``src``, measured in the same run, alternately;
``--threads N`` sets PyTorch's threads in parts 1 and 2; ``--cpu-time`` runs them on one thread timed
by the thread's CPU time, steadier on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROUNDS = 7
CLI_ROUNDS = 3

_COMMON = """
import json, os, resource, statistics, sys, time, warnings
import torch
import howfast
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode
warnings.simplefilter("ignore")
THREADS = int(os.environ.get("HOWFAST_BENCH_THREADS", "0"))
CPU_TIME = os.environ.get("HOWFAST_BENCH_CPU_TIME") == "1"  # the thread's CPU time, on one thread
if CPU_TIME or THREADS:
    torch.set_num_threads(1 if CPU_TIME else THREADS)
clock = time.thread_time if CPU_TIME else time.perf_counter

class PassThrough(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))

def timed(contenders, rounds):
    for fn in contenders.values():  # warm-up
        fn()
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: {"min": min(v), "median": statistics.median(v)} for name, v in times.items()}
"""

_RATIOS = _COMMON + """
name, options, rounds = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
model = howfast.zoo.build(name, options).eval()
x = torch.randn(1, 3, 224, 224)

def forward():
    with torch.no_grad():
        model(x)

def analyse():
    howfast.analyze(model, x)

def flop_counter():
    with torch.no_grad(), FlopCounterMode(display=False):
        model(x)

def floor():
    with torch.no_grad(), PassThrough():
        model(x)

medians = timed({"forward": forward, "howfast": analyse, "flop_counter": flop_counter, "floor": floor}, rounds)
print(json.dumps({"threads": torch.get_num_threads(), **medians}))
"""

_META = _COMMON + """
rounds = int(sys.argv[1])
model = howfast.zoo.build("llama2_70b", device="meta")
x = torch.zeros(1, 2048, dtype=torch.int64, device="meta")

def forward():
    with torch.no_grad():
        model(x)

def analyse():
    howfast.analyze(model, "1x2048:int64")

def flop_counter():
    with torch.no_grad(), FlopCounterMode(display=False):
        model(x)

def floor():
    with torch.no_grad(), PassThrough():
        model(x)

print(json.dumps(timed({"forward": forward, "floor": floor, "flop_counter": flop_counter, "howfast": analyse}, rounds)))
"""

_RSS = """
import json, resource, time, warnings
import howfast
warnings.simplefilter("ignore")
model = howfast.zoo.build("llama2_70b", device="meta")
start = time.perf_counter()
report = howfast.analyze(model, "1x2048:int64")
elapsed = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"analysis_s": elapsed, "peak_rss_mb": rss, "macs": report.totals.macs, "ops": len(report.ops)}))
"""

# (label, zoo name, options, target ratio)
MODELS = (("resnet50", "resnet50", {}, 1.3), ("mobilenet_v2", "mobilenet_v2", {}, 1.8),
          ("vit_b_like", "vit_tiny", {"dim": 768, "heads": 12}, None))


SETTINGS: dict[str, str] = {}  # the children's HOWFAST_BENCH_* settings (--threads, --cpu-time)


def environment(src: str | None) -> dict[str, str]:
    env = dict(os.environ, **SETTINGS)
    if src is not None:
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def child(code: str, args: list[str], src: str | None) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=environment(src))
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_timed(command: list[str], src: str | None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment(src))
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed")
    return elapsed, usage.ru_maxrss / 1024


def trees(baseline: str | None) -> list[tuple[str, str | None]]:
    return [("before", baseline), ("after", None)] if baseline else [("howfast", None)]


def print_ratios(baseline: str | None) -> None:
    print("\nanalysis / one plain forward, real tensors 1x3x224x224: best round (median round)")
    print(f"{'model':13s} {'tree':7s} {'forward':>16s} {'howfast':>12s} {'FlopCounterMode':>15s} {'floor':>12s} {'target':>6s}")
    for label, name, options, target in MODELS:
        for tree, src in trees(baseline):
            r = child(_RATIOS, [name, json.dumps(options), str(ROUNDS)], src)
            ratio = {k: r[k]["min"] / r["forward"]["min"] for k in ("howfast", "flop_counter", "floor")}
            median = {k: r[k]["median"] / r["forward"]["median"] for k in ("howfast", "flop_counter", "floor")}
            verdict = "" if target is None else ("ok" if ratio["howfast"] <= target and ratio["howfast"] < ratio["flop_counter"] else "MISS")
            shown = {k: f"{ratio[k]:.2f} ({median[k]:.2f})" for k in ratio}
            forward = f"{r['forward']['min'] * 1e3:.1f} ({r['forward']['median'] * 1e3:.1f}) ms"
            print(f"{label:13s} {tree:7s} {forward:>16s} {shown['howfast']:>12s} {shown['flop_counter']:>15s} {shown['floor']:>12s} "
                  f"{target or '':>6} {verdict}  threads {r['threads']}")


def print_meta(baseline: str | None) -> None:
    rounds = ROUNDS // 2 + 1
    print(f"\nllama2_70b on meta, 1x2048: seconds, best of {rounds} rounds (median)")
    print(f"{'tree':7s} {'forward':>14s} {'floor':>14s} {'FlopCounterMode':>15s} {'howfast':>14s} {'/floor':>6s} {'peak RSS':>9s}  "
          "targets <= 0.6 s, <= 1.7x floor, <= 450 MB")
    for tree, src in trees(baseline):
        r = child(_META, [str(rounds)], src)
        rss = child(_RSS, [], src)
        shown = {k: f"{v['min']:.3f} ({v['median']:.3f})" for k, v in r.items()}
        print(f"{tree:7s} {shown['forward']:>14s} {shown['floor']:>14s} {shown['flop_counter']:>15s} {shown['howfast']:>14s} "
              f"{r['howfast']['min'] / r['floor']['min']:5.2f}x {rss['peak_rss_mb']:6.0f} MB  ({rss['ops']} ops, {rss['macs'] / 1e12:.1f} TMACs)")


def print_cli(baseline: str | None) -> None:
    print(f"\nhowfast analyze llama2_70b --device meta -i 1x2048:int64 -f json (seconds, medians of {CLI_ROUNDS} rounds)")
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "report.json")
        commands = {"import torch": ([sys.executable, "-c", "import torch"], None),
                    "import torch, torch._dynamo": ([sys.executable, "-c", "import torch, torch._dynamo"], None)}
        for tree, src in trees(baseline):
            commands[f"cli ({tree})"] = ([sys.executable, "-m", "howfast", "analyze", "llama2_70b", "--device", "meta", "-i",
                                          "1x2048:int64", "-f", "json", "-o", out], src)
        times: dict[str, list[float]] = {name: [] for name in commands}
        rss: dict[str, float] = {}
        for _ in range(CLI_ROUNDS):
            for name, (command, src) in commands.items():
                elapsed, peak = run_timed(command, src)
                times[name].append(elapsed)
                rss[name] = max(rss.get(name, 0.0), peak)
    base = statistics.median(times["import torch"])
    for name, values in times.items():
        median = statistics.median(values)
        extra = f"  +{median - base:.2f} s over import torch (target <= 1.5)" if name.startswith("cli") else ""
        print(f"{name:28s} {median:6.2f} s  peak RSS {rss[name]:5.0f} MB{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a source tree (its src folder) to measure beside this one, e.g. the previous commit's")
    parser.add_argument("--only", choices=("ratios", "meta", "cli"), help="run one part only")
    parser.add_argument("--threads", type=int, help="PyTorch threads in parts 1 and 2 (default: PyTorch's own)")
    parser.add_argument("--cpu-time", action="store_true", help="parts 1 and 2 on one thread, timed by the thread's CPU time "
                        "(steadier on a busy machine)")
    options = parser.parse_args()
    if options.threads:
        SETTINGS["HOWFAST_BENCH_THREADS"] = str(options.threads)
    if options.cpu_time:
        SETTINGS["HOWFAST_BENCH_CPU_TIME"] = "1"
    import torch

    clock = "thread CPU time, 1 thread" if options.cpu_time else "wall time"
    print(f"torch {torch.__version__}, {os.cpu_count()} cpus, {ROUNDS} interleaved rounds ({clock}), a fresh process per figure")
    if options.only in (None, "ratios"):
        print_ratios(options.baseline)
    if options.only in (None, "meta"):
        print_meta(options.baseline)
    if options.only in (None, "cli"):
        print_cli(options.baseline)


if __name__ == "__main__":
    main()
