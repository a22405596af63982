"""What-ifs of howfast llm (docs/llm.md): weight and KV-cache widths, tensor parallelism — bytes and
splits re-priced from the captures, MACs unchanged except by the split."""

from __future__ import annotations

import pytest
import torch

from howfast.capture.loader import load_model
from howfast.cli.app import main
from howfast.llm import Generation, analyze_llm
from howfast.llm.whatif import WhatIf
from howfast.llm.workload import capture_generation, decode_at

SPEC = "llama:layers=2,d_model=128,heads=4,kv_heads=4,ffn=344,vocab=300"
L, D, FFN, V = 2, 128, 344, 300


def build(spec: str = SPEC) -> torch.nn.Module:
    return load_model(spec, device="meta").model.to(torch.float16).eval()


def test_weight_bits_reprice_every_weight_read_and_keep_the_macs():
    gen = Generation(prompt=16, new_tokens=5)
    plain = capture_generation(build(), gen)
    w8 = capture_generation(build(), gen, whatif=WhatIf(weight_bits=8))
    for context in (gen.first_context, gen.last_context, 19):
        a, b = decode_at(plain, gen, context), decode_at(w8, gen, context)
        assert b.totals.macs == a.totals.macs
        ca, cb = a.totals.traffic("compulsory"), b.totals.traffic("compulsory")
        assert cb["weights_bytes"] == sum(o.traffic("compulsory")["weights"] for o in a.ops)  # one byte per element
        assert cb["weights_bytes"] * 2 == ca["weights_bytes"]  # fp16 weights
        assert b.totals.bytes_read == a.totals.bytes_read - ca["weights_bytes"] // 2
    report = analyze_llm(build(), prompt=16, new_tokens=5, weight_bits=4)
    params = report.phases[0].totals.params
    assert report.llm.memory.weights_bytes == params * 4 // 8 + report.phases[0].totals.buffer_bytes
    assert "what-if: weights at 4 bits" in report.llm.whatif


def test_kv_bits_reprice_the_bytes_that_grow_with_the_context():
    gen = Generation(prompt=16, new_tokens=9)
    plain = capture_generation(build(), gen)
    kv8 = capture_generation(build(), gen, whatif=WhatIf(kv_bits=8))
    first, last = gen.first_context, gen.last_context
    grow = (decode_at(plain, gen, last).totals.traffic("compulsory")["bytes"]
            - decode_at(plain, gen, first).totals.traffic("compulsory")["bytes"]) // (last - first)
    # per key: K and V read by attention (2 x L x d x 2 bytes) and the cache concatenation (reads and writes them again)
    assert grow > 0
    for context in (first, 20, last):
        raw = decode_at(plain, gen, context).totals.traffic("compulsory")["bytes"]
        priced = decode_at(kv8, gen, context).totals.traffic("compulsory")["bytes"]
        assert abs(priced - (raw - grow * context // 2)) <= len(decode_at(plain, gen, context).ops)  # per-op rounding down
        assert decode_at(kv8, gen, context).totals.macs == decode_at(plain, gen, context).totals.macs
    kv = analyze_llm(build(), prompt=16, new_tokens=9, kv_bits=8).llm.kv_cache
    assert kv.bytes_per_token == 2 * L * D * 1 and kv.dtype == "8-bit"


def test_tensor_parallel_splits_the_products_and_adds_two_allreduces_per_layer():
    report = analyze_llm(build(), prompt=16, new_tokens=3, tp=2, device="h100")
    llm = report.llm
    whole = analyze_llm(build(), prompt=16, new_tokens=3, device="h100").llm
    assert llm.decode.first.totals.macs == whole.decode.first.totals.macs // 2  # every MAC is a product or attention
    t = llm.tp
    assert (t.degree, t.hidden_size, t.layers, t.allreduces_per_step, t.kv_split) == (2, D, L, 2 * L, 2)
    assert t.decode_allreduce_bytes == int(2 * L * (2 * (2 - 1) / 2) * 1 * D * 2)
    assert t.prefill_allreduce_bytes == int(2 * L * 1.0 * 16 * D * 2)
    assert t.decode_allreduce_s == pytest.approx(t.decode_allreduce_bytes / 450e9)
    assert llm.memory.per_device and llm.memory.kv_cache_bytes == whole.memory.kv_cache_bytes // 2
    assert llm.predicted.ttft_s == pytest.approx(report.phases[0].roofline.predicted_latency_s + t.prefill_allreduce_s)


def test_tp_needs_an_interconnect_figure(capsys):
    code = main(["llm", "llama", "-p", "8", "-n", "2", "--tp", "2", "--device", "xeon_8480"])
    err = capsys.readouterr().err
    assert code == 2 and "interconnect_bandwidth" in err and len(err.strip().splitlines()) == 1


def test_kv_dtype_and_kv_bits_must_agree(capsys):
    code = main(["llm", "llama", "-p", "8", "-n", "2", "--kv-dtype", "fp16", "--kv-bits", "8"])
    assert code == 2 and "give one of them" in capsys.readouterr().err
