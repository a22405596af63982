"""Measured time per module: timed forward pre/post hooks, medians over several runs.

Method (``docs/benchmarking.md``): every module gets a forward pre-hook and a forward hook that
read ``time.perf_counter_ns`` (after ``torch.cuda.synchronize()`` on CUDA, so the clock reads
when the module's kernels have finished). A module's time in one run is the sum over its calls
in that run of (post - pre): inclusive of its children. Over ``runs`` runs each module's time is
the median. Leaf modules (no children) carry self-time; ``"(other)"`` is the hooked whole-model
median minus the leaves' medians: functional ops in non-leaf ``forward``s (residual adds,
reshapes, attention written with ``F.scaled_dot_product_attention``), Python glue, and the hooks'
own cost outside the leaves. So the per-layer times sum to the hooked whole-model median exactly.

Hooks cost time. Plain (unhooked) and hooked runs alternate — the plain runs are timed by the one
timing loop (``bench/timing.py``), each hooked run goes between two of them — and ``overhead_ratio``
is the hooked whole-model median over the plain one: 1.04 means the hooks added 4%.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import nn

from howfast.bench.allocator import apply as apply_allocator
from howfast.bench.checks import check_allocator, check_counts, num_threads
from howfast.bench.inputs import model_device
from howfast.bench.state import model_kept
from howfast.bench.timing import Plan, Progress, guarded, prefixed, time_calls
from howfast.report.measurements import OTHER, LayerTimes

__all__ = ["OTHER", "LayerTimes", "per_layer_times"]


class _Hooks:
    """Timed forward pre/post hooks on every module: inclusive seconds and calls per module, per run."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.device = device
        names: dict[int, str] = {}
        for name, module in model.named_modules():
            names.setdefault(id(module), name)
        self.modules = [(names[id(m)], m) for _, m in model.named_modules()]
        self.acc: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self.starts: dict[str, list[int]] = {}

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def _pair(self, name: str) -> tuple[Any, Any]:
        stack = self.starts.setdefault(name, [])

        def pre(_module: nn.Module, _inputs: Any) -> None:
            self._sync()
            stack.append(time.perf_counter_ns())

        def post(_module: nn.Module, _inputs: Any, _output: Any) -> None:
            self._sync()
            now = time.perf_counter_ns()
            if stack:
                self.acc[name] = self.acc.get(name, 0) + now - stack.pop()
                self.calls[name] = self.calls.get(name, 0) + 1

        return pre, post

    def run(self, call: Any) -> tuple[float, dict[str, int], dict[str, int]]:
        """One hooked run of ``call``: its whole time in seconds, and ns and calls per module."""
        self.acc, self.calls = {}, {}
        for stack in self.starts.values():
            stack.clear()
        handles = []
        for name, module in self.modules:
            pre, post = self._pair(name)
            handles.append(module.register_forward_pre_hook(pre))
            handles.append(module.register_forward_hook(post))
        try:
            self._sync()
            t0 = time.perf_counter_ns()
            guarded(call, "a hooked per-layer run")
            self._sync()
            elapsed = (time.perf_counter_ns() - t0) / 1e9
        finally:
            for handle in handles:
                handle.remove()
        return elapsed, self.acc, self.calls


def per_layer_times(
    model: nn.Module,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    runs: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    allocator: str = "retain",
    progress: Progress | None = None,
) -> LayerTimes:
    """Median measured time per module of ``model(*args, **kwargs)`` over ``runs`` hooked runs.

    Runs ``warmup`` plain and hooked passes first, then ``runs`` pairs of one hooked and one plain
    pass (alternating, so drift in machine load hits both alike), all under ``inference_mode``.
    ``allocator`` as for ``benchmark``; ``progress`` gets the plain runs' ticks (a fixed count), the
    phase prefixed with ``per-layer``.
    """
    check_counts(runs=runs, warmup=warmup, threads=threads)
    check_allocator(allocator)
    apply_allocator(allocator)
    kwargs = dict(kwargs or {})
    if not isinstance(args, tuple):
        args = tuple(args) if isinstance(args, list) else (args,)
    device = model_device(model, args, kwargs)
    leaves = {name for name, module in model.named_modules() if next(iter(module.children()), None) is None}
    types = {name: type(module).__name__ for name, module in model.named_modules()}
    hooks = _Hooks(model, device)

    def forward() -> None:
        model(*args, **kwargs)

    hooked_times: list[float] = []
    per_run: list[dict[str, int]] = []
    last_calls: dict[str, int] = {}

    def hooked() -> None:
        nonlocal last_calls
        elapsed, acc, last_calls = hooks.run(forward)
        hooked_times.append(elapsed)
        per_run.append(dict(acc))

    with num_threads(threads), model_kept(model), torch.inference_mode():
        for _ in range(warmup):
            hooks.run(forward)
        plain_times, _ = time_calls(forward, Plan(warmup=warmup, max_runs=runs), device, before=hooked,
                                    progress=prefixed(progress, "per-layer"))
    called = list(dict.fromkeys(name for name, _ in hooks.modules if any(name in r for r in per_run)))
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
