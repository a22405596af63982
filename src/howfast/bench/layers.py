"""Measured time per module: timed forward pre/post hooks, medians over several runs.

Method (``docs/benchmarking.md``): every module gets a forward pre-hook and a forward hook that
read ``time.perf_counter_ns`` (after ``torch.cuda.synchronize()`` on CUDA, so the clock reads
when the module's kernels have finished). A module's time in one run is the sum over its calls
in that run of (post - pre): inclusive of its children. Over ``runs`` runs each module's time is
the median. Leaf modules (no children) carry self-time; ``"(other)"`` is the hooked whole-model
median minus the leaves' medians: functional ops in non-leaf ``forward``s (residual adds,
reshapes, attention written with ``F.scaled_dot_product_attention``), Python glue, and the hooks'
own cost outside the leaves. So the per-layer times sum to the hooked whole-model median exactly.

Hooks cost time. Plain (unhooked) and hooked runs alternate, and ``overhead_ratio`` is the hooked
whole-model median over the plain one: 1.04 means the hooks added 4%.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from howfast.bench.runner import _guarded, check_counts, model_device, num_threads

OTHER = "(other)"


@dataclass
class LayerTimes:
    """Per-module medians in seconds (module paths as in ``named_modules``; ``""`` is the model)."""

    by_module: dict[str, float]  # median per module, inclusive of its children
    self_by_module: dict[str, float]  # leaf modules' medians plus "(other)"; sums to total_s
    total_s: float  # median of hooked whole-model runs (timed outside the model)
    plain_total_s: float  # median of plain runs (no hooks)
    overhead_ratio: float  # total_s / plain_total_s
    runs: int = 0
    calls: dict[str, int] = field(default_factory=dict)  # calls per run
    types: dict[str, str] = field(default_factory=dict)  # module class names

    @property
    def leaf_sum_s(self) -> float:
        """Sum of the leaf modules' medians (without ``"(other)"``)."""
        return sum(v for k, v in self.self_by_module.items() if k != OTHER)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "forward pre/post hooks, perf_counter_ns (CUDA: synchronize in each hook); "
                      "median per module over runs; leaves' self time plus (other) = hooked total minus leaves",
            "runs": self.runs,
            "total_s": self.total_s,
            "plain_total_s": self.plain_total_s,
            "overhead_ratio": self.overhead_ratio,
            "leaf_sum_s": self.leaf_sum_s,
            "by_module": self.by_module,
            "self_by_module": self.self_by_module,
            "calls": self.calls,
            "types": self.types,
        }


def per_layer_times(
    model: nn.Module,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    runs: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    allocator: str = "retain",
) -> LayerTimes:
    """Median measured time per module of ``model(*args, **kwargs)`` over ``runs`` hooked runs.

    Runs ``warmup`` plain and hooked passes first, then ``runs`` pairs of one plain and one hooked
    pass (alternating, so drift in machine load hits both alike), all under ``inference_mode``.
    ``allocator`` as for ``benchmark``.
    """
    from howfast.bench.allocator import apply
    from howfast.bench.runner import check_allocator

    check_counts(runs=runs, warmup=warmup, threads=threads)
    check_allocator(allocator)
    apply(allocator)
    kwargs = dict(kwargs or {})
    if not isinstance(args, tuple):
        args = tuple(args) if isinstance(args, list) else (args,)
    device = model_device(model, args, kwargs)
    cuda = device.type == "cuda"
    names: dict[int, str] = {}
    types: dict[str, str] = {}
    leaves: set[str] = set()
    for name, module in model.named_modules():
        names.setdefault(id(module), name)
        types[name] = type(module).__name__
        if next(iter(module.children()), None) is None:
            leaves.add(name)

    acc: dict[str, int] = {}
    calls: dict[str, int] = {}
    starts: dict[str, list[int]] = {}
    clock = time.perf_counter_ns

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    def make_hooks(name: str) -> tuple[Any, Any]:
        stack = starts.setdefault(name, [])

        def pre(_module: nn.Module, _inputs: Any) -> None:
            if cuda:
                torch.cuda.synchronize(device)
            stack.append(clock())

        def post(_module: nn.Module, _inputs: Any, _output: Any) -> None:
            if cuda:
                torch.cuda.synchronize(device)
            now = clock()
            if stack:
                acc[name] = acc.get(name, 0) + now - stack.pop()
                calls[name] = calls.get(name, 0) + 1

        return pre, post

    hooks = {name: make_hooks(name) for name in set(names.values())}
    modules = [(names[id(m)], m) for _, m in model.named_modules()]

    def plain() -> float:
        sync()
        t0 = clock()
        _guarded(lambda: model(*args, **kwargs), "a plain per-layer run")
        sync()
        return (clock() - t0) / 1e9

    def hooked() -> tuple[float, dict[str, int], dict[str, int]]:
        acc.clear()
        calls.clear()
        for stack in starts.values():
            stack.clear()
        handles = []
        for name, module in modules:
            pre, post = hooks[name]
            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post))
        try:
            sync()
            t0 = clock()
            _guarded(lambda: model(*args, **kwargs), "a hooked per-layer run")
            sync()
            elapsed = (clock() - t0) / 1e9
        finally:
            for handle in handles:
                handle.remove()
        return elapsed, dict(acc), dict(calls)

    plain_times: list[float] = []
    hooked_times: list[float] = []
    per_run: list[dict[str, int]] = []
    last_calls: dict[str, int] = {}
    with num_threads(threads), torch.inference_mode():
        for _ in range(warmup):
            plain()
            hooked()
        gc.collect()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(runs):
                plain_times.append(plain())
                elapsed, run_acc, last_calls = hooked()
                hooked_times.append(elapsed)
                per_run.append(run_acc)
        finally:
            if gc_was_enabled:
                gc.enable()

    called = [name for name, _ in modules if any(name in r for r in per_run)]
    called = list(dict.fromkeys(called))  # execution-agnostic but stable (definition) order
    by_module = {name: statistics.median([r.get(name, 0) / 1e9 for r in per_run]) for name in called}
    total = statistics.median(hooked_times)
    plain_total = statistics.median(plain_times)
    self_by_module = {name: by_module[name] for name in called if name in leaves}
    self_by_module[OTHER] = total - sum(self_by_module.values())
    return LayerTimes(
        by_module=by_module,
        self_by_module=self_by_module,
        total_s=total,
        plain_total_s=plain_total,
        overhead_ratio=total / plain_total if plain_total > 0 else float("nan"),
        runs=runs,
        calls={name: last_calls.get(name, 0) for name in called},
        types={name: types[name] for name in called},
    )
