"""Analysis cost, measured side by side in one run (issue 2's targets).

1. ResNet-50 and MobileNet V2, 1x3x224x224, real tensors: the time of ``howfast.analyze`` as a
   ratio to one plain forward pass of the same model (both under no_grad; medians of repeats,
   interleaved so machine noise hits both alike). PyTorch's FlopCounterMode is timed the same way
   for reference. Targets: <= 2 (ResNet-50), <= 4 (MobileNet V2).
2. The Llama-2-70B-shaped decoder on the meta device, 1x2048 tokens: wall time of the analysis
   call and peak RSS of a fresh process that builds and analyses it. Targets: < 2 s, < 500 MB.

Run: python benchmarks/analysis_speed.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import warnings

import torch

import howfast

REPEATS = 7


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ratio_to_forward(name: str) -> dict[str, float]:
    model = howfast.zoo.build(name)
    x = torch.randn(1, 3, 224, 224)
    from torch.utils.flop_counter import FlopCounterMode

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def analyse() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            howfast.analyze(model, x)

    def flop_counter() -> None:
        with torch.no_grad(), FlopCounterMode(display=False):
            model(x)

    for fn in (forward, analyse, flop_counter):  # warm-up
        fn()
    times: dict[str, list[float]] = {"forward": [], "howfast": [], "flop_counter": []}
    for _ in range(REPEATS):
        times["forward"].append(_time(forward))
        times["howfast"].append(_time(analyse))
        times["flop_counter"].append(_time(flop_counter))
    medians = {k: statistics.median(v) for k, v in times.items()}
    return {
        "forward_s": medians["forward"],
        "howfast_s": medians["howfast"],
        "flop_counter_s": medians["flop_counter"],
        "howfast_ratio": medians["howfast"] / medians["forward"],
        "flop_counter_ratio": medians["flop_counter"] / medians["forward"],
    }


_CHILD = """
import json, resource, time, warnings
import howfast
model = howfast.zoo.build("llama2_70b", device="meta")
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    report = howfast.analyze(model, "1x2048:int64")
elapsed = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"analysis_s": elapsed, "peak_rss_mb": rss, "macs": report.totals.macs, "ops": len(report.ops)}))
"""


def llama_70b() -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, repeats {REPEATS} (medians)")
    print(f"{'model':14s} {'forward':>9s} {'howfast':>9s} {'ratio':>6s} {'target':>6s} {'FlopCounterMode':>16s}")
    for name, target in (("resnet50", 2.0), ("mobilenet_v2", 4.0)):
        r = ratio_to_forward(name)
        verdict = "ok" if r["howfast_ratio"] <= target else "MISS"
        print(f"{name:14s} {r['forward_s'] * 1e3:7.1f}ms {r['howfast_s'] * 1e3:7.1f}ms {r['howfast_ratio']:6.2f} {target:6.1f} "
              f"{r['flop_counter_ratio']:9.2f} ({r['flop_counter_s'] * 1e3:.1f}ms)  {verdict}")
    big = llama_70b()
    print(f"llama2_70b (meta, 1x2048): analysis {big['analysis_s']:.2f} s (target < 2), peak RSS {big['peak_rss_mb']:.0f} MB "
          f"(target < 500), {big['ops']} ops, {big['macs'] / 1e12:.1f} TMACs")


if __name__ == "__main__":
    main()
