"""Mixture of experts in generation: active against total parameters, decode MACs per token, and
nothing uncounted (zoo Mixtral and Hugging Face's, both grouped-GEMM experts)."""

from __future__ import annotations

import pytest
import torch

from howfast.capture.loader import load_model
from howfast.llm import analyze_llm

L, D, HEADS, KV, HD, FFN, E, K, V = 32, 4096, 32, 8, 128, 14336, 8, 2, 32000


def mixtral_params(experts_used: int) -> int:
    """Per layer q, k, v, o, the router, the experts (gate, up, down) and two norms; embeddings, head, norm."""
    attention = 2 * D * D + 2 * D * KV * HD
    layer = attention + D * E + experts_used * 3 * D * FFN + 2 * D
    return L * layer + 2 * V * D + D


def mixtral_decode_macs(context: int) -> int:
    """One token at context C: attention projections, router, top-2 experts, attention over C keys, head."""
    return L * (2 * D * D + 2 * D * KV * HD + D * E + K * 3 * D * FFN + 2 * context * D) + D * V


def check(llm) -> None:
    assert llm.moe is not None
    assert llm.moe.total_params == mixtral_params(E) == 46_702_792_704
    assert llm.moe.active_params == mixtral_params(K) == 12_879_925_248
    assert round(llm.moe.total_params / 1e9, 1) == 46.7 and round(llm.moe.active_params / 1e9, 1) == 12.9
    assert (llm.moe.experts, llm.moe.rows_per_token) == (E, K)
    assert llm.decode.first.macs_per_token == mixtral_decode_macs(llm.decode.first.context)


def test_zoo_mixtral_8x7b_active_params_and_decode_macs():
    model = load_model("mixtral_8x7b", device="meta").model.to(torch.bfloat16).eval()
    report = analyze_llm(model, prompt=16, new_tokens=2)
    assert report.uncounted_ops == []
    check(report.llm)


def test_hugging_face_mixtral_8x7b_on_meta():
    transformers = pytest.importorskip("transformers")
    config = transformers.MixtralConfig(num_hidden_layers=L, hidden_size=D, num_attention_heads=HEADS, num_key_value_heads=KV,
                                        intermediate_size=FFN, num_local_experts=E, num_experts_per_tok=K, vocab_size=V)
    with torch.device("meta"):
        hf = transformers.MixtralForCausalLM(config).to(torch.bfloat16).eval()
    report = analyze_llm(hf, prompt=16, new_tokens=2)
    assert report.uncounted_ops == []
    check(report.llm)


def test_a_decode_step_reads_the_experts_its_tokens_use():
    """Balanced routing: a step of B tokens reads min(E, 2B) of the 8 experts' weights."""
    model = load_model("mixtral", device="meta").model.to(torch.bfloat16).eval()
    reads = {}
    for batch in (1, 4):
        report = analyze_llm(model, prompt=8, new_tokens=2, batch=batch)
        step = report.phases[1]
        reads[batch] = sum(o.traffic("compulsory")["weights_bytes"] for o in step.ops if o.op.startswith("aten._grouped_mm"))
        assert report.llm.moe.experts_read_per_step == min(8, 2 * batch)
    assert reads[4] == reads[1] * 4  # 8 experts against 2
