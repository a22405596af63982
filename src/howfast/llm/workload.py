"""Generation as a workload: one prefill over the prompt, then decode steps, each captured from the
model's own code with its own KV cache.

``capture_generation`` captures the prefill (batch x prompt tokens, the cache it returns) and
decode steps (batch x 1 token after a cache of ``C - 1`` positions, made by the model itself) at
the first, middle and last context of the generation. A decode step's costs are linear in the
context (``derive.py``): the middle capture checks the line through the first and last exactly,
and the report's phases weight the captured steps so that their sum is the sum over every step
(``phase_counts``). When the check fails (a sliding window the context crosses), every context
sampled for the time curve is captured instead, and the sum weights each by its share of the
steps, which the section says.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from howfast.capture import capture
from howfast.capture.inputs import model_device_dtype
from howfast.conventions import Conventions
from howfast.errors import InputSpecError, UsageError
from howfast.graph.records import CapturedGraph
from howfast.llm.cache import CacheCall, build_cache, cache_call, cache_dtype, layer_bytes, token_ids
from howfast.llm.derive import NotLinear, derive_phase, same_costs
from howfast.llm.whatif import WhatIf, difference, reprice
from howfast.pipeline import PhaseGraph, analyze_phases
from howfast.report.build import build_report
from howfast.report.llm import DecodeFigures, KvCache, KvLayer, PhaseFigures
from howfast.report.report import Phase, Report

PREFILL = "prefill"
MAX_TOKENS = 1 << 24  # prompt + new tokens per sequence, and the batch: beyond any model's context
SAMPLES = 9  # decode contexts on the time curve (and captured when the line check fails)


@dataclass(frozen=True, slots=True)
class Generation:
    """What to generate: ``new_tokens`` after a ``prompt``-token prompt, for ``batch`` sequences."""

    prompt: int = 512
    new_tokens: int = 128
    batch: int = 1

    def check(self) -> None:
        for label, value in (("prompt", self.prompt), ("new tokens", self.new_tokens), ("batch", self.batch)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"{label} must be a positive whole number, got {value!r}")
            if value > MAX_TOKENS:
                raise UsageError(f"{label} of {value:,} is beyond any model's reach: at most {MAX_TOKENS:,}")

    @property
    def steps(self) -> int:
        """Decode steps: the prefill yields the first new token, each step one more."""
        return self.new_tokens - 1

    @property
    def first_context(self) -> int:
        return self.prompt + 1

    @property
    def last_context(self) -> int:
        return self.prompt + self.steps

    def decode_name(self, context: int) -> str:
        return f"decode@{context}"


@dataclass(slots=True)
class Captured:
    """The captures of one generation and what was measured from the model's cache."""

    report: Report
    kv: KvCache
    prefill: PhaseFigures
    decode: DecodeFigures
    decode_phases: dict[int, Phase] = field(default_factory=dict)  # context -> one step (count 1)
    transient_bytes: int = 0
    cache_note: str = ""
    prefill_graph: CapturedGraph | None = None
    whatif: WhatIf = field(default_factory=WhatIf)
    growth: Phase | None = None  # a decode step's growth over ``span`` contexts (for --kv-bits)
    span: int = 1
    kv_itemsize: int = 2

    def priced(self, phase: Phase, context: int | None) -> Phase:
        """``phase`` under the what-ifs (``whatif.py``); ``context`` None for the prefill."""
        return reprice(phase, self.whatif, self.kv_itemsize, context, self.growth if context is not None else None, self.span)


def capture_generation(model: nn.Module, gen: Generation, *, conventions: Conventions | None = None, strict: bool = False,
                       name: str | None = None, whatif: WhatIf | None = None) -> Captured:
    """Capture the prefill and decode steps of ``gen`` on ``model`` (built on any device; meta allocates
    nothing); the report's phases are priced under ``whatif`` (``whatif.py``), the captures are not."""
    gen.check()
    whatif = whatif or WhatIf()
    call = cache_call(model)
    device, _ = model_device_dtype(model)
    name = name or type(model).__name__
    graphs: list[PhaseGraph] = [PhaseGraph(PREFILL, _capture_step(model, call, gen.batch, gen.prompt, None, device, name))]
    after_prompt = build_cache(model, call, gen.batch, gen.prompt, device)
    prompt_bytes = layer_bytes(after_prompt)  # before a step grows it (an HF cache grows in place)
    contexts = _contexts(gen)
    if whatif.kv_bits is not None and len(contexts) == 1:
        contexts.append(contexts[0] + 1)  # a second context for the growth of the step (not a phase)
    for context in contexts:
        past = after_prompt if context == gen.first_context else build_cache(model, call, gen.batch, context - 1, device)
        graphs.append(PhaseGraph(gen.decode_name(context), _capture_step(model, call, gen.batch, 1, past, device, name)))
    plain = analyze_phases(graphs, conventions, strict=strict)
    steps = {c: plain.phases[k + 1] for k, c in enumerate(contexts)}
    growth_contexts = sorted(steps)
    decode, linear_note = _decode_figures(gen, {c: p for c, p in steps.items() if c <= gen.last_context})
    if not decode.linear:
        if whatif.kv_bits is not None:
            raise UsageError("--kv-bits prices the bytes of a decode step that grow with the context, which needs the step "
                             "linear in the context; here it is not (a sliding window the generation crosses)")
        steps.update(_sampled(model, call, gen, device, name, conventions, strict, steps))
    kv = _kv_cache(model, call, gen, device, prompt_bytes)
    captured = Captured(report=plain, kv=kv, prefill=_figures(plain.phases[0], gen.batch * gen.prompt, gen.prompt), decode=decode,
                        decode_phases=steps, transient_bytes=_transient_bytes(model, gen, device, name, conventions),
                        prefill_graph=graphs[0].graph, whatif=whatif, kv_itemsize=_itemsize(after_prompt),
                        cache_note=f"{call.family} cache ({'HF Cache object' if call.family == 'hf' else 'per-layer (key, value) tuples'})")
    if whatif.kv_bits is not None and len(growth_contexts) >= 2:
        lo, hi = growth_contexts[0], growth_contexts[-1]
        captured.growth, captured.span = difference(steps[lo], steps[hi]), hi - lo
    counts = phase_counts(gen, sorted(c for c in steps if c <= gen.last_context), decode.linear)
    weighted = [replace(captured.priced(steps[c], c), count=n) for c, n in sorted(counts.items())]
    prefill_phase = captured.priced(plain.phases[0], None)
    captured.report = build_report(graphs[0].graph, [prefill_phase, *weighted], conventions or Conventions())
    captured.report.notes.append(linear_note)
    if whatif.any:
        captured.report.notes.append(whatif.describe())
    captured.prefill = _figures(prefill_phase, gen.batch * gen.prompt, gen.prompt)
    if gen.steps > 0:
        priced = {c: captured.priced(decode_at_raw(captured, gen, c), c) for c in (gen.first_context, gen.last_context)}
        decode.first = _figures(priced[gen.first_context], gen.batch, gen.first_context)
        decode.last = _figures(priced[gen.last_context], gen.batch, gen.last_context)
        _slopes(decode, priced)
    return captured


def _itemsize(cache: Any) -> int:
    dtype = cache_dtype(cache)
    return dtype.itemsize if dtype is not None else 4


def _contexts(gen: Generation) -> list[int]:
    """The decode contexts captured: the first, the middle and the last step (fewer for short runs)."""
    if gen.steps <= 0:
        return []
    first, last = gen.first_context, gen.last_context
    return sorted({first, (first + last) // 2, last})


def phase_counts(gen: Generation, contexts: list[int], linear: bool) -> dict[int, int]:
    """How many decode steps each captured context stands for, so that the weighted sum of the
    captured steps is the sum over all ``gen.steps`` steps.

    On a line ``f(C)``, the steps pair up from both ends: ``f(first + k) + f(last - k) =
    f(first) + f(last)``, so ``steps // 2`` of each end, plus the middle step once when the count
    is odd, sum exactly. Without a line, each sampled context stands for the steps nearest to it.
    """
    if gen.steps <= 0:
        return {}
    first, last = gen.first_context, gen.last_context
    if linear:
        if first == last:
            return {first: 1}
        counts = {first: gen.steps // 2, last: gen.steps // 2}
        if gen.steps % 2:
            counts[(first + last) // 2] = counts.get((first + last) // 2, 0) + 1
        return {c: n for c, n in counts.items() if n}
    counts = dict.fromkeys(contexts, 0)
    for context in range(first, last + 1):
        counts[min(contexts, key=lambda c: (abs(c - context), c))] += 1
    return {c: n for c, n in counts.items() if n}


def _capture_step(model: nn.Module, call: CacheCall, batch: int, tokens: int, past: Any, device: torch.device,
                  name: str) -> CapturedGraph:
    args, kwargs = call.arguments(token_ids(batch, tokens, device), past)
    return capture(model, args, kwargs, no_grad=True, model_name=name)


def _decode_figures(gen: Generation, steps: dict[int, Phase]) -> tuple[DecodeFigures, str]:
    figures = DecodeFigures(steps=gen.steps, captured_contexts=sorted(steps))
    if not steps:
        return figures, "decode: no decode step (one new token comes from the prefill)"
    first, last = gen.first_context, gen.last_context
    figures.first = _figures(steps[first], gen.batch, first)
    figures.last = _figures(steps[last], gen.batch, last)
    if len(steps) < 3:
        figures.derivation = f"every decode step captured (contexts {', '.join(str(c) for c in sorted(steps))})"
        _slopes(figures, steps)
        return figures, f"decode: {figures.derivation}"
    middle = sorted(steps)[1]
    try:
        derived = derive_phase(steps[first], first, steps[last], last, middle, gen.decode_name(middle))
        figures.linear = same_costs(derived, steps[middle])
    except NotLinear:
        figures.linear = False
    if figures.linear:
        _slopes(figures, steps)
        figures.derivation = (f"captured at contexts {first}, {middle} and {last}; every figure of a step is a + b x context "
                              f"(the line through {first} and {last}, checked exactly at {middle})")
    else:
        figures.derivation = (f"not linear in the context (checked at {middle}): every figure is from a capture, at "
                              f"{SAMPLES} contexts; each stands for the steps nearest to it")
    return figures, f"decode: {figures.derivation}"


def _slopes(figures: DecodeFigures, steps: dict[int, Phase]) -> None:
    lo, hi = min(steps), max(steps)
    if hi == lo:
        return
    a, b = steps[lo].totals, steps[hi].totals
    figures.macs_per_context = (b.macs - a.macs) // (hi - lo)
    figures.bytes_per_context = ((b.bytes_read + b.bytes_written) - (a.bytes_read + a.bytes_written)) // (hi - lo)


def _figures(phase: Phase, tokens: int, context: int) -> PhaseFigures:
    t = phase.totals
    return PhaseFigures(phase=phase.name, tokens=tokens, context=context, totals=t, macs_per_token=t.macs // tokens,
                        bytes_per_token=(t.bytes_read + t.bytes_written) // tokens)


def sample_contexts(gen: Generation, samples: int = SAMPLES) -> list[int]:
    """Evenly spaced decode contexts from the first to the last step (each once)."""
    if gen.steps <= 0:
        return []
    first, last = gen.first_context, gen.last_context
    if last - first + 1 <= samples:
        return list(range(first, last + 1))
    return sorted({first + round(k * (last - first) / (samples - 1)) for k in range(samples)})


def decode_at(captured: Captured, gen: Generation, context: int) -> Phase:
    """The decode step at ``context`` (captured, or derived on the checked line), under the what-ifs."""
    return captured.priced(decode_at_raw(captured, gen, context), context)


def decode_at_raw(captured: Captured, gen: Generation, context: int) -> Phase:
    """The decode step at ``context`` as captured, or derived on the checked line."""
    steps = captured.decode_phases
    if context in steps:
        return steps[context]
    if not captured.decode.linear:
        raise ValueError(f"context {context} was not captured and the decode step is not linear in it")
    first, last = gen.first_context, gen.last_context
    return derive_phase(steps[first], first, steps[last], last, context, gen.decode_name(context))


def _sampled(model: nn.Module, call: CacheCall, gen: Generation, device: torch.device, name: str,
             conventions: Conventions | None, strict: bool, have: dict[int, Phase]) -> dict[int, Phase]:
    wanted = [c for c in sample_contexts(gen) if c not in have]
    graphs = [PhaseGraph(gen.decode_name(c), _capture_step(model, call, gen.batch, 1,
                                                           build_cache(model, call, gen.batch, c - 1, device), device, name))
              for c in wanted]
    if not graphs:
        return {}
    report = analyze_phases(graphs, conventions, strict=strict)
    return dict(zip(wanted, report.phases, strict=True))


def _kv_cache(model: nn.Module, call: CacheCall, gen: Generation, device: torch.device, per_layer_prompt: list[int]) -> KvCache:
    total_tokens = gen.prompt + gen.new_tokens
    after_all = build_cache(model, call, gen.batch, total_tokens, device)
    per_layer = layer_bytes(after_all)
    if not per_layer or sum(per_layer) == 0:
        raise InputSpecError(f"{type(model).__name__} returned an empty KV cache")
    held = _positions_held(after_all, gen.batch, total_tokens)
    dtype = cache_dtype(after_all)
    tokens = gen.batch * gen.prompt
    layers = [KvLayer(index=k, bytes_per_token=p // tokens, bytes=b) for k, (p, b) in enumerate(zip(per_layer_prompt, per_layer,
                                                                                                   strict=True))]
    return KvCache(dtype=str(dtype).removeprefix("torch."), model_dtype=str(dtype).removeprefix("torch."),
                   bytes_per_token=sum(per_layer_prompt) // tokens, bytes=sum(per_layer), tokens=gen.batch * total_tokens,
                   layers=layers, window=held if held < total_tokens else None, heads=_heads(after_all))


def _heads(cache: Any) -> int:
    from howfast.llm.cache import cache_layers

    for tensors in cache_layers(cache):
        for t in tensors:
            if t.dim() == 4:
                return int(t.shape[1])
    return 0


def _positions_held(cache: Any, batch: int, tokens: int) -> int:
    """The most positions any layer's cache holds per sequence (the longest sequence dimension)."""
    from howfast.llm.cache import cache_layers

    longest = 0
    for tensors in cache_layers(cache):
        for t in tensors:
            if t.dim() >= 3:
                longest = max(longest, int(t.shape[-2]))
    return longest or tokens


def _transient_bytes(model: nn.Module, gen: Generation, device: torch.device, name: str, conventions: Conventions | None) -> int:
    """Peak live activations of a forward over the prompt that keeps no cache: the working memory a
    prefill needs beyond the cache (``docs/llm.md``, memory)."""
    ids = token_ids(gen.batch, gen.prompt, device)
    call = cache_call(model)
    args, kwargs = call.arguments(ids, None)
    kwargs["use_cache"] = False
    graph = capture(model, args, kwargs, no_grad=True, model_name=name)
    return analyze_phases([PhaseGraph(PREFILL, graph)], conventions).totals.peak_activation_bytes
