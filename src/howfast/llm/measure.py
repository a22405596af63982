"""A real generation timed on this machine (``howfast llm --bench``): the model's own cache, a loop.

Each round runs the prefill over the prompt (ids all zero; the next token is the argmax of the last
logits), then ``steps`` decode steps, each timed with ``time.perf_counter`` around the model call
and the argmax (or on the thread's CPU clock). After ``warmup`` untimed rounds, ``rounds`` timed ones: TTFT is the median prefill
time; each step's time is its median over the rounds; TPOT is the median of those, and the first
and last TPOT are the medians of the first and last quarter of the steps (at least one step);
the total is TTFT + the sum of the steps' medians.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from howfast.errors import BenchmarkError
from howfast.llm.cache import CacheCall, cache_call, cache_of, logits_of, run_step, token_ids
from howfast.llm.workload import Generation
from howfast.report.llm import LlmMeasured

CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def measure_generation(model: nn.Module, gen: Generation, *, rounds: int = 3, warmup: int = 1,
                       threads: int | None = None, clock: str = "wall") -> LlmMeasured:
    """Time ``gen`` on ``model`` (real weights, on its device): medians over ``rounds``. ``clock``:
    ``wall`` (``time.perf_counter``) or ``cpu`` (the thread's CPU time, ``time.thread_time``: steady
    on a busy machine for one thread)."""
    if clock not in CLOCKS:
        raise BenchmarkError(f"unknown clock {clock!r}; use wall or cpu")
    gen.check()
    if rounds < 1 or warmup < 0:
        raise BenchmarkError("rounds must be at least 1 and warm-up rounds not negative")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if device.type == "meta":
        raise BenchmarkError("--bench runs the model: it needs real weights (build it on cpu or cuda, not meta)")
    call = cache_call(model)
    prefills: list[float] = []
    steps: list[list[float]] = []
    with _threads(threads):
        for r in range(warmup + rounds):
            prefill_s, step_s = _one_round(model, call, gen, device, CLOCKS[clock])
            if r >= warmup:
                prefills.append(prefill_s)
                steps.append(step_s)
        used = torch.get_num_threads()
    per_step = [statistics.median(times) for times in zip(*steps, strict=True)] if gen.steps else []
    ttft = statistics.median(prefills)
    total = ttft + sum(per_step)
    quarter = max(1, len(per_step) // 4)
    return LlmMeasured(
        ttft_s=ttft, tpot_s=statistics.median(per_step) if per_step else 0.0,
        tpot_first_s=statistics.median(per_step[:quarter]) if per_step else 0.0,
        tpot_last_s=statistics.median(per_step[-quarter:]) if per_step else 0.0,
        total_s=total, tokens_per_s=gen.new_tokens / total, aggregate_tokens_per_s=gen.batch * gen.new_tokens / total,
        rounds=rounds, threads=used, device=device.type)


def available_memory() -> int | None:
    """Bytes of memory this machine can still give (``MemAvailable`` of ``/proc/meminfo``; None elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_fits_machine(needed_bytes: int, batch: int) -> None:
    """Refuse (``BenchmarkError``, exit 7) a timed generation whose weights, KV cache and activations
    would not fit the memory this machine has available."""
    available = available_memory()
    if available is not None and needed_bytes > available:
        raise BenchmarkError(f"--bench at batch {batch} needs about {needed_bytes / 2**30:.2f} GiB (weights + KV cache + "
                             f"activations) but this machine has {available / 2**30:.2f} GiB available: lower --batch, "
                             "--prompt or --new, or leave out --bench")


def _one_round(model: nn.Module, call: CacheCall, gen: Generation, device: torch.device,
               now: Callable[[], float]) -> tuple[float, list[float]]:
    ids = token_ids(gen.batch, gen.prompt, device)
    start = now()
    out = run_step(model, call, ids, None)
    token = logits_of(out)[:, -1:].argmax(-1)
    _sync(device)
    prefill = now() - start
    past = cache_of(out)
    times = []
    for _ in range(gen.steps):
        start = now()
        out = run_step(model, call, token, past)
        token = logits_of(out)[:, -1:].argmax(-1)
        _sync(device)
        times.append(now() - start)
        past = cache_of(out)
    return prefill, times


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
