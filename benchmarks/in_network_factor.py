"""How much slower (or faster) a layer runs inside its network than alone, as the calibration times it.

The calibration fits each op class on single layers, each call after an untimed evicting copy
(``bench/calibrate/measure.py``, ``Evictor``); a model's prediction sums those fits over its layers.
Where the hold-out validation finds a bias by model kind (small mobile nets and transformers
predicted low, dense conv nets high: docs/roofline.md, "Validation"), this script measures the
factor behind it directly, on the zoo's real layers:

* **in the network**: every leaf module of the model timed by ``howfast.bench.layers.per_layer_times``
  (forward pre/post hooks, hooked and plain passes alternating, wall clock on one thread), median
  per module;
* **alone**: the same module called on its own recorded inputs, each call after the calibration's
  evicting copy, median of its runs;
* interleaved: ``--rounds`` rounds, each one network pass set and one pass over the modules alone,
  so that the machine's drift hits both alike.

Printed per model and module type: the summed in-network and alone times and their ratio, and per
model the plain forward (no hooks) against the sum of the leaves in the network (the rest is Python
between modules and the hooks' own cost). The alone times are thread CPU time. With ``--profile`` (a calibration of this machine), each
type's predicted time beside them: predicted / alone is the class fits' error on these layers,
network / alone the context the fits cannot see. One thread, inference mode, freed memory retained.

Run: ``python benchmarks/in_network_factor.py [--models mobilenet_v3_small resnet18 ...] [--rounds 3]
[--profile FILE.toml]``
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time
from typing import Any

DEFAULT_MODELS = ("mobilenet_v3_small", "shufflenet_v2_x1_0", "mobilenet_v2", "resnet18", "vit_tiny", "swin_t")


def leaves(model: Any) -> list[tuple[str, Any]]:
    return [(name, mod) for name, mod in model.named_modules() if name and not list(mod.children())]


def record_inputs(model: Any, x: Any) -> dict[str, tuple[Any, ...]]:
    """Each leaf module's inputs in one forward pass (copies), to call it alone on them."""
    inputs: dict[str, tuple[Any, ...]] = {}

    def keep(name: str) -> Any:
        def hook(_mod: Any, args: tuple[Any, ...]) -> None:
            inputs.setdefault(name, tuple(a.clone() if hasattr(a, "clone") else a for a in args))
        return hook

    handles = [mod.register_forward_pre_hook(keep(name)) for name, mod in leaves(model)]
    model(x)
    for handle in handles:
        handle.remove()
    return inputs


def time_alone(module: Any, inputs: tuple[Any, ...], evict: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs + 2):
        evict()
        start = time.thread_time()
        module(*inputs)
        out.append(time.thread_time() - start)
    return out[2:]


def predicted_by_layer(model: Any, x: Any, profile: str | None) -> dict[str, float]:
    """Each module's predicted seconds on ``profile`` (howfast's roofline layers), or nothing without one."""
    if profile is None:
        return {}
    import howfast

    report = howfast.roofline(howfast.analyze(model, x), profile)
    assert report.roofline is not None
    return {layer.name: layer.predicted_s for layer in report.roofline.layers}


def measure(name: str, rounds: int, runs: int, profile: str | None = None, detail: tuple[str, ...] = ()) -> None:
    import torch

    from howfast.bench.calibrate.measure import Evictor, cpu_caches, last_level_cache_bytes
    from howfast.bench.layers import per_layer_times
    from howfast.zoo import registry

    model = registry.build(name).eval()
    x = torch.randn(1, 3, 224, 224)
    predicted = predicted_by_layer(model, x, profile)
    l2 = cpu_caches().get("l2")
    evict = Evictor(torch.device("cpu"), l2[1] if l2 else None, last_level_cache_bytes())
    plain: list[float] = []
    in_network: dict[str, list[float]] = collections.defaultdict(list)
    alone: dict[str, list[float]] = collections.defaultdict(list)
    modules = dict(leaves(model))
    with torch.inference_mode():
        inputs = record_inputs(model, x)
    for _ in range(rounds):
        times = per_layer_times(model, (x,), runs=runs, warmup=1)  # hooked and plain passes, alternating
        plain.append(times.plain_total_s)
        for key in inputs:
            in_network[key].append(times.by_module.get(key, 0.0))
        with torch.inference_mode():
            for key, args in inputs.items():
                alone[key].extend(time_alone(modules[key], args, evict, max(2, runs // 2)))
    network = {k: statistics.median(v) for k, v in in_network.items()}
    solo = {k: statistics.median(v) for k, v in alone.items()}
    by_type: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    for key, t in network.items():
        row = by_type[type(modules[key]).__name__]
        row[0] += t
        row[1] += solo.get(key, 0.0)
        row[2] += predicted.get(key, 0.0)
        row[3] += 1
    total_net, total_solo = sum(network.values()), sum(solo.values())
    total_pred = sum(predicted.get(key, 0.0) for key in network)
    print(f"\n{name}: plain forward {statistics.median(plain) * 1e3:.2f} ms; leaves in the network {total_net * 1e3:.2f} ms, "
          f"alone after the evictor {total_solo * 1e3:.2f} ms (network / alone {total_net / total_solo:.2f})"
          + (f"; leaves predicted {total_pred * 1e3:.2f} ms (predicted / alone {total_pred / total_solo:.2f}), "
             f"model predicted {predicted.get('', 0.0) * 1e3:.2f} ms" if predicted else ""))
    print(f"  {'module type':22s} {'n':>4s} {'network ms':>11s} {'alone ms':>9s} {'net/alone':>9s}"
          + (f" {'pred ms':>8s} {'pred/alone':>10s}" if predicted else ""))
    for kind, (t_net, t_solo, t_pred, n) in sorted(by_type.items(), key=lambda kv: -kv[1][0]):
        ratio = f"{t_net / t_solo:.2f}" if t_solo > 0 else "-"
        pred = f" {t_pred * 1e3:8.3f} {t_pred / t_solo:10.2f}" if predicted and t_solo > 0 else ""
        print(f"  {kind:22s} {int(n):4d} {t_net * 1e3:11.3f} {t_solo * 1e3:9.3f} {ratio:>9s}{pred}")
    for key, t in network.items():  # --detail TYPE: each layer of those module types
        if type(modules[key]).__name__ in detail and solo.get(key):
            shapes = " ".join("x".join(map(str, a.shape)) for a in inputs[key] if hasattr(a, "shape"))
            pred = f" pred {predicted.get(key, 0.0) * 1e6:8.1f} us ({predicted.get(key, 0.0) / solo[key]:.2f})" if predicted else ""
            print(f"    {key:40s} {shapes:18s} network {t * 1e6:8.1f} us alone {solo[key] * 1e6:8.1f} us{pred}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=6, help="network passes per round (and alone runs: half)")
    parser.add_argument("--profile", help="a calibrated profile (.toml or name): adds each layer's predicted time")
    parser.add_argument("--detail", nargs="*", default=[], help="module types (BatchNorm2d, ...) to list layer by layer")
    args = parser.parse_args(argv)
    import torch

    from howfast.bench.allocator import retain_freed_memory

    torch.set_num_threads(1)
    print(f"one thread; allocator: {retain_freed_memory()}; {args.rounds} interleaved rounds")
    for name in args.models:
        measure(name, args.rounds, args.runs, args.profile, tuple(args.detail))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
