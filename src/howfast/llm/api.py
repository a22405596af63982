"""``analyze_llm``: the report of a text generation — prefill, decode steps, KV cache, memory, and
with a device profile the predicted times, for one batch or a sweep of batches, under what-ifs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from torch import nn

from howfast.conventions import Conventions
from howfast.errors import UsageError
from howfast.hardware.profiles import HardwareProfile, get_profile
from howfast.llm.experts import mixture_of_experts
from howfast.llm.memory import footprint
from howfast.llm.parallel import tensor_parallel
from howfast.llm.predict import predict
from howfast.llm.whatif import WhatIf
from howfast.llm.workload import Captured, Generation, capture_generation
from howfast.report.llm import BatchPoint, KvCache, LlmSection, MixtureOfExperts
from howfast.report.report import Report

# bits per element of the cache dtypes --kv-dtype names
KV_DTYPE_BITS = {"float32": 32, "float16": 16, "bfloat16": 16, "float8_e4m3fn": 8, "float8_e5m2": 8, "int8": 8, "int4": 4}
KV_ALIASES = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp8": "float8_e4m3fn"}
BITS = (4, 8, 16)


def analyze_llm(model: nn.Module, *, prompt: int = 512, new_tokens: int = 128, batch: int | Sequence[int] = 1,
                device: str | HardwareProfile | None = None, kv_dtype: str | None = None, weight_bits: int | None = None,
                kv_bits: int | None = None, tp: int = 1, conventions: Conventions | None = None, strict: bool = False,
                name: str | None = None) -> Report:
    """Count, size and (with ``device``) time the generation of ``new_tokens`` tokens after a
    ``prompt``-token prompt by the causal LM ``model``, from captures of its own code and cache.

    ``batch``: sequences generated together, or a list of them (a sweep: the report is the first
    batch's, ``report.llm.sweep`` has a point per batch). What-ifs (``docs/llm.md``): ``weight_bits``
    and ``kv_bits`` (16, 8 or 4) price weights and the KV cache at that width (``kv_dtype``, e.g.
    ``int8`` or ``fp8``, names the cache's width by its dtype); ``tp`` splits the model Megatron-style
    over that many devices (per-device figures, all-reduces on the profile's interconnect). Build
    ``model`` on the meta device to analyse any size without allocating weights. The model is left
    unchanged.
    """
    batches = [batch] if isinstance(batch, int) else list(batch)
    if not batches:
        raise UsageError("give at least one batch size")
    whatif = WhatIf(weight_bits=_bits(weight_bits, "weight"), kv_bits=_kv_bits(kv_dtype, kv_bits), tp=_degree(tp))
    profile = get_profile(device) if device is not None else None
    if whatif.tp > 1 and profile is not None and profile.interconnect_bandwidth is None:
        raise UsageError(f"--tp {whatif.tp}: the profile {profile.name} has no memory.interconnect_bandwidth figure (the link "
                         "the all-reduces run over): use a profile with one (a100, h100, rtx4090, t4) or add it")
    points: list[BatchPoint] = []
    first: Report | None = None
    for b in batches:
        gen = Generation(prompt=prompt, new_tokens=new_tokens, batch=b)
        report = _one(model, gen, profile, whatif, kv_dtype, conventions, strict, name)
        points.append(_point(report))
        first = first or report
    assert first is not None and first.llm is not None
    if len(batches) > 1:
        first.llm.sweep = points
    return first


def _one(model: nn.Module, gen: Generation, profile: HardwareProfile | None, whatif: WhatIf, kv_dtype: str | None,
         conventions: Conventions | None, strict: bool, name: str | None) -> Report:
    captured = capture_generation(model, gen, conventions=conventions, strict=strict, name=name, whatif=whatif)
    report = captured.report
    kv = _kv_at_bits(captured.kv, whatif.kv_bits, kv_dtype_name(kv_dtype) if kv_dtype else None)
    totals = report.phases[0].totals
    weights = totals.param_bytes if whatif.weight_bits is None else totals.params * whatif.weight_bits // 8
    parallel = tensor_parallel(captured, gen, whatif.tp, profile) if whatif.tp > 1 else None
    memory = footprint(weights + totals.buffer_bytes, kv, captured.transient_bytes, gen.batch, profile, parallel)
    section = LlmSection(prompt=gen.prompt, new_tokens=gen.new_tokens, batch=gen.batch, dtype=_weights_dtype(report),
                         kv_cache=kv, prefill=captured.prefill, decode=captured.decode, memory=memory,
                         cache=captured.cache_note, tp=parallel)
    section.moe = _experts(captured, gen, totals.params)
    if whatif.any:
        section.whatif = whatif.describe()
        section.notes.append(section.whatif)
    if profile is not None:
        section.predicted = predict(captured, gen, profile, parallel)
    report.llm = section
    return report


def _experts(captured: Captured, gen: Generation, params: int) -> MixtureOfExperts | None:
    graph = captured.prefill_graph
    return mixture_of_experts(graph, gen.batch * gen.prompt, params, gen.batch) if graph is not None else None


def _point(report: Report) -> BatchPoint:
    llm = report.llm
    assert llm is not None
    point = BatchPoint(batch=llm.batch, total_bytes=llm.memory.total_bytes, fits=llm.memory.fits)
    p = llm.predicted
    if p is not None:
        point.ttft_s, point.tpot_s, point.tpot_last_s, point.total_s = p.ttft_s, p.tpot_s, p.tpot_last_s, p.total_s
        point.tokens_per_s, point.aggregate_tokens_per_s, point.decode_bound = p.tokens_per_s, p.aggregate_tokens_per_s, p.decode_bound
    return point


def _weights_dtype(report: Report) -> str:
    dtypes = report.model.param_dtypes
    return max(dtypes.items(), key=lambda kv: kv[1])[0].removeprefix("torch.") if dtypes else "float32"


def _bits(bits: int | None, what: str) -> int | None:
    if bits is not None and bits not in BITS:
        raise UsageError(f"--{what}-bits must be one of {', '.join(map(str, BITS))}, got {bits!r}")
    return bits


def _degree(tp: int) -> int:
    if not isinstance(tp, int) or isinstance(tp, bool) or not 1 <= tp <= 1024:
        raise UsageError(f"--tp must be a whole number of devices from 1 to 1024, got {tp!r}")
    return tp


def kv_dtype_name(kv_dtype: str) -> str:
    """The canonical name of a cache dtype (``fp16`` -> ``float16``); UsageError for an unknown one."""
    name = kv_dtype.strip().lower().removeprefix("torch.")
    name = KV_ALIASES.get(name, name)
    if name not in KV_DTYPE_BITS:
        raise UsageError(f"unknown KV-cache dtype {kv_dtype!r}; use one of {', '.join(KV_DTYPE_BITS)} (or fp32, fp16, bf16, fp8)")
    return name


def _kv_bits(kv_dtype: str | None, kv_bits: int | None) -> int | None:
    bits = _bits(kv_bits, "kv")
    if kv_dtype is None:
        return bits
    from_dtype = KV_DTYPE_BITS[kv_dtype_name(kv_dtype)]
    if bits is not None and bits != from_dtype:
        raise UsageError(f"--kv-dtype {kv_dtype} is {from_dtype} bits but --kv-bits says {bits}: give one of them")
    return from_dtype


def _kv_at_bits(kv: KvCache, bits: int | None, label: str | None) -> KvCache:
    """The cache sized at ``bits`` per element (its own dtype's when None)."""
    if bits is None:
        return kv
    old_bits = 8 * _itemsize_of(kv.model_dtype)
    if bits == old_bits:
        return kv

    def scale(n: int) -> int:
        return n * bits // old_bits

    layers = [dataclasses.replace(layer, bytes_per_token=scale(layer.bytes_per_token), bytes=scale(layer.bytes)) for layer in kv.layers]
    return dataclasses.replace(kv, dtype=label or f"{bits}-bit", bytes_per_token=scale(kv.bytes_per_token), bytes=scale(kv.bytes), layers=layers)


def _itemsize_of(dtype: str) -> int:
    import torch

    value = getattr(torch, dtype, None)
    return value.itemsize if isinstance(value, torch.dtype) else 4
