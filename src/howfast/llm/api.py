"""``analyze_llm``: the report of a text generation — prefill, decode steps, KV cache, memory, and
with a device profile the predicted times, for one batch or a sweep of batches."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from howfast.conventions import Conventions
from howfast.errors import UsageError
from howfast.graph.inputs import parse_dtype
from howfast.hardware.profiles import HardwareProfile, get_profile
from howfast.llm.experts import mixture_of_experts
from howfast.llm.memory import footprint
from howfast.llm.predict import predict
from howfast.llm.workload import Captured, Generation, capture_generation
from howfast.report.llm import BatchPoint, KvCache, LlmSection, MixtureOfExperts
from howfast.report.report import Report


def analyze_llm(model: nn.Module, *, prompt: int = 512, new_tokens: int = 128, batch: int | Sequence[int] = 1,
                device: str | HardwareProfile | None = None, kv_dtype: str | None = None,
                conventions: Conventions | None = None, strict: bool = False, name: str | None = None) -> Report:
    """Count, size and (with ``device``) time the generation of ``new_tokens`` tokens after a
    ``prompt``-token prompt by the causal LM ``model``, from captures of its own code and cache.

    ``batch``: sequences generated together, or a list of them (a sweep: the report is the first
    batch's, ``report.llm.sweep`` has a point per batch). ``kv_dtype`` re-prices the cache's size
    (``float16``, ``int8``, ...; the decode steps' traffic stays the model's). Build ``model`` on
    the meta device to analyse any size without allocating weights. The model is left unchanged.
    """
    batches = [batch] if isinstance(batch, int) else list(batch)
    if not batches:
        raise UsageError("give at least one batch size")
    profile = get_profile(device) if device is not None else None
    kv_itemsize = _itemsize(kv_dtype) if kv_dtype is not None else None
    points: list[BatchPoint] = []
    first: Report | None = None
    for b in batches:
        gen = Generation(prompt=prompt, new_tokens=new_tokens, batch=b)
        report = _one(model, gen, profile, kv_dtype, kv_itemsize, conventions, strict, name)
        points.append(_point(report))
        first = first or report
    assert first is not None and first.llm is not None
    if len(batches) > 1:
        first.llm.sweep = points
    return first


def _one(model: nn.Module, gen: Generation, profile: HardwareProfile | None, kv_dtype: str | None, kv_itemsize: int | None,
         conventions: Conventions | None, strict: bool, name: str | None) -> Report:
    captured = capture_generation(model, gen, conventions=conventions, strict=strict, name=name)
    report = captured.report
    kv = _repriced(captured.kv, kv_dtype, kv_itemsize)
    totals = report.phases[0].totals
    memory = footprint(totals.param_bytes + totals.buffer_bytes, kv, captured.transient_bytes, gen.batch, profile)
    section = LlmSection(prompt=gen.prompt, new_tokens=gen.new_tokens, batch=gen.batch, dtype=_weights_dtype(report),
                         kv_cache=kv, prefill=captured.prefill, decode=captured.decode, memory=memory,
                         cache=captured.cache_note)
    section.moe = _experts(captured, gen, totals.params)
    if kv_dtype is not None:
        section.notes.append(f"what-if: the KV cache sized at {kv.dtype} ({kv.model_dtype} in the model); the decode "
                             "steps' traffic is the model's")
    if profile is not None:
        section.predicted = predict(captured, gen, profile)
    report.llm = section
    return report


def _experts(captured: Captured, gen: Generation, params: int) -> MixtureOfExperts | None:
    graph = captured.prefill_graph
    return mixture_of_experts(graph, gen.batch * gen.prompt, params) if graph is not None else None


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


KV_DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1, "int8": 1, "int4": 0}


def _kv_name(kv_dtype: str) -> str:
    name = kv_dtype.strip().lower().removeprefix("torch.")
    aliases = {"fp32": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16", "fp8": "float8_e4m3fn"}
    return aliases.get(name, name)


def _itemsize(kv_dtype: str) -> int:
    name = _kv_name(kv_dtype)
    if name not in KV_DTYPES:
        raise UsageError(f"unknown KV-cache dtype {kv_dtype!r}; use one of {', '.join(KV_DTYPES)} (or fp32, fp16, bf16, fp8)")
    if name not in ("int8", "int4"):
        parse_dtype(name)  # a torch dtype
    return KV_DTYPES[name]


def _repriced(kv: KvCache, kv_dtype: str | None, itemsize: int | None) -> KvCache:
    if kv_dtype is None or itemsize is None:
        return kv
    import dataclasses

    old = getattr(torch, kv.model_dtype).itemsize if hasattr(torch, kv.model_dtype) else 4
    scale = (lambda n: n // (2 * old)) if itemsize == 0 else (lambda n: n * itemsize // old)  # int4: half a byte
    layers = [dataclasses.replace(layer, bytes_per_token=scale(layer.bytes_per_token), bytes=scale(layer.bytes)) for layer in kv.layers]
    return dataclasses.replace(kv, dtype=_kv_name(kv_dtype), bytes_per_token=scale(kv.bytes_per_token), bytes=scale(kv.bytes), layers=layers)
