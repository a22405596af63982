"""Predicted generation times on a hardware profile, from the roofline of each captured phase.

* TTFT: the prefill phase's predicted time (prompt tokens of every sequence in one pass);
* TPOT at a context ``C``: the decode step's predicted time (``decode_at``: captured, or on the
  exactly checked line). A decode step's traffic is priced at the memory bandwidth, never at a
  cache level: the KV cache and the weights it reads were written steps ago, and its activations
  are one token per sequence;
* the curve: TPOT at evenly spaced contexts; each step in between takes the linear interpolation
  of its neighbours on the curve (each op's time is piecewise linear in ``C``), and the decode
  time is their sum over the ``steps`` steps;
* total = TTFT + decode time; tokens/s per sequence = new tokens / total; aggregate = batch x that;
* with tensor parallelism (``parallel.py``) each phase is one device's share, and its all-reduces'
  time on the interconnect is added to TTFT and to every TPOT.
"""

from __future__ import annotations

import dataclasses

from howfast.hardware.profiles import HardwareProfile
from howfast.hardware.roofline import phase_roofline, report_dtype, roofline, workload_roofline
from howfast.llm.workload import Captured, Generation, decode_at, sample_contexts
from howfast.report.llm import LlmPrediction, TensorParallel, TimePoint
from howfast.report.report import Phase, Report
from howfast.report.sections import Roofline


def decode_profile(profile: HardwareProfile) -> HardwareProfile:
    """``profile`` without its cache level: what a decode step's traffic is priced at."""
    return dataclasses.replace(profile, cache_bandwidth=None)


def predict(captured: Captured, gen: Generation, profile: HardwareProfile, parallel: TensorParallel | None = None) -> LlmPrediction:
    """Predicted TTFT, TPOT at the first and last step, the TPOT curve and the totals; with
    ``parallel``, one device's share of each phase plus its all-reduces on the interconnect."""
    link_prefill = (parallel.prefill_allreduce_s or 0.0) if parallel is not None else 0.0
    link_decode = (parallel.decode_allreduce_s or 0.0) if parallel is not None else 0.0
    report = captured.report
    roofline(report, profile)
    decoding = decode_profile(profile)
    for phase in report.phases[1:]:
        phase.roofline = _step_roofline(report, phase, decoding)
    if len(report.phases) > 1:
        report.roofline = workload_roofline(report)
    prefill = report.phases[0].roofline
    assert prefill is not None
    curve = [TimePoint(c, _step_roofline(report, decode_at(captured, gen, c), decoding).predicted_latency_s + link_decode)
             for c in sample_contexts(gen)]
    decode_s = interpolated_sum(curve, gen.first_context, gen.last_context) if curve else 0.0
    ttft = prefill.predicted_latency_s + link_prefill
    total = ttft + decode_s
    last = _step_roofline(report, decode_at(captured, gen, gen.last_context), decoding) if curve else None
    return LlmPrediction(
        device=profile.name, dtype=report_dtype(report), ttft_s=ttft,
        tpot_s=curve[0].tpot_s if curve else 0.0, tpot_last_s=curve[-1].tpot_s if curve else 0.0,
        decode_s=decode_s, total_s=total, tokens_per_s=gen.new_tokens / total if total > 0 else 0.0,
        aggregate_tokens_per_s=gen.batch * gen.new_tokens / total if total > 0 else 0.0,
        prefill_bound=bound(prefill), decode_bound=bound(last) if last is not None else "",
        curve=curve, notes=list(dict.fromkeys(prefill.notes)))


def _step_roofline(report: Report, phase: Phase, profile: HardwareProfile) -> Roofline:
    return phase_roofline(report, phase, profile, None, report.memory_model, False)


def bound(section: Roofline) -> str:
    """``compute`` or ``memory``: where most of the phase's predicted time goes."""
    s = section.summary
    return "compute" if s.compute_bound_time_s > s.memory_bound_time_s else "memory"


def interpolated_sum(curve: list[TimePoint], first: int, last: int) -> float:
    """Sum over every integer context from ``first`` to ``last`` of the curve's linear interpolation."""
    total = 0.0
    for k, point in enumerate(curve):
        if k + 1 == len(curve):
            total += point.tpot_s
            break
        nxt = curve[k + 1]
        span = nxt.context - point.context
        # contexts point.context .. nxt.context - 1: n terms of a linear sequence
        total += span * point.tpot_s + (nxt.tpot_s - point.tpot_s) * (span - 1) / 2
    return total
