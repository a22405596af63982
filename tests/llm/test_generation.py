"""Generation: prefill and decode steps from the model's own cache, against hand-derived formulas
(docs/llm.md): KV bytes per token, decode MACs at a context, the exact line in the context."""

from __future__ import annotations

import pytest
import torch

import howfast
from howfast.capture.loader import load_model
from howfast.llm import Generation, analyze_llm
from howfast.llm.derive import NotLinear, derive_phase, same_costs
from howfast.llm.workload import capture_generation, decode_at, phase_counts

LLAMA_7B = "llama:layers=32,d_model=4096,heads=32,kv_heads=32,ffn=11008,vocab=32000"


def build(spec: str, dtype: torch.dtype = torch.float32, device: str = "meta") -> torch.nn.Module:
    return load_model(spec, device=device).model.to(dtype).eval()


def kv_bytes_per_token(layers: int, kv_heads: int, head_dim: int, itemsize: int) -> int:
    """K and V, each kv_heads x head_dim per layer per token."""
    return 2 * layers * kv_heads * head_dim * itemsize


def llama_decode_macs(layers: int, d: int, kv_heads: int, hd: int, ffn: int, vocab: int, context: int) -> int:
    """docs/llm.md: L (2 d^2 + 2 d kv hd + 3 d ffn + 2 C d) + d V for one token attending to C keys."""
    return layers * (2 * d * d + 2 * d * kv_heads * hd + 3 * d * ffn + 2 * context * d) + d * vocab


def test_kv_bytes_per_token_llama2_7b_fp16():
    report = analyze_llm(build(LLAMA_7B, torch.float16), prompt=8, new_tokens=2)
    assert report.llm.kv_cache.bytes_per_token == kv_bytes_per_token(32, 32, 128, 2) == 524_288
    assert report.llm.kv_cache.bytes == 524_288 * (8 + 2)
    assert [layer.bytes_per_token for layer in report.llm.kv_cache.layers] == [524_288 // 32] * 32


def test_kv_bytes_per_token_llama2_70b_fp16_grouped_query():
    report = analyze_llm(build("llama2_70b", torch.float16), prompt=4, new_tokens=1)
    assert report.llm.kv_cache.bytes_per_token == kv_bytes_per_token(80, 8, 128, 2) == 327_680


@pytest.mark.parametrize("context", [1, 512, 4096])
def test_decode_macs_per_token_llama2_7b(context):
    model = build(LLAMA_7B, torch.float16)
    if context == 1:  # one token, no cache yet: a prefill of one token
        figures = analyze_llm(model, prompt=1, new_tokens=1).llm.prefill
    else:
        figures = analyze_llm(model, prompt=context - 1, new_tokens=2).llm.decode.first
    assert figures.context == context
    assert figures.macs_per_token == llama_decode_macs(32, 4096, 32, 128, 11008, 32000, context)


def test_decode_macs_grouped_query_and_batch():
    spec = "llama:layers=3,d_model=256,heads=8,kv_heads=2,ffn=688,vocab=1000"
    llm = analyze_llm(build(spec), prompt=40, new_tokens=9, batch=3).llm
    for point in (llm.decode.first, llm.decode.last):
        assert point.totals.macs == 3 * llama_decode_macs(3, 256, 2, 32, 688, 1000, point.context)
        assert point.macs_per_token == llama_decode_macs(3, 256, 2, 32, 688, 1000, point.context)
    assert (llm.decode.first.context, llm.decode.last.context) == (41, 48)
    assert llm.decode.macs_per_context == 3 * 3 * 2 * 256  # batch x layers x 2d per key


def test_prefill_equals_analyze_at_batch_by_prompt():
    model = build("gpt2:layers=2,d_model=128,heads=4,vocab=500")
    llm_report = analyze_llm(model, prompt=32, new_tokens=4, batch=2)
    plain = howfast.analyze(model, "2x32:int64")
    assert llm_report.llm.prefill.totals.macs == plain.totals.macs
    assert llm_report.llm.prefill.totals.flops == plain.totals.flops


def test_derived_step_equals_a_capture_at_any_context():
    model = build("llama:layers=2,d_model=128,heads=4,kv_heads=2,ffn=344,vocab=300")
    gen = Generation(prompt=20, new_tokens=31)
    captured = capture_generation(model, gen)
    assert captured.decode.linear
    for context in (22, 37, 49):  # none of them captured
        derived = decode_at(captured, gen, context)
        direct = capture_generation(model, Generation(prompt=context - 1, new_tokens=2)).decode_phases[context]
        assert same_costs(derived, direct), context


def test_workload_totals_are_the_sum_over_every_step():
    model = build("llama:layers=2,d_model=128,heads=4,kv_heads=4,ffn=344,vocab=300")
    for new_tokens in (2, 3, 6, 9):
        gen = Generation(prompt=10, new_tokens=new_tokens)
        captured = capture_generation(model, gen)
        every = sum(decode_at(captured, gen, c).totals.macs for c in range(gen.first_context, gen.last_context + 1))
        assert captured.report.totals.macs == captured.prefill.totals.macs + every, new_tokens
        assert sum(phase_counts(gen, sorted(captured.decode_phases), True).values()) == gen.steps


def test_sliding_window_crossed_is_not_linear_and_is_captured():
    model = build("llama:layers=2,d_model=128,heads=4,kv_heads=4,ffn=344,vocab=300,sliding_window=16")
    gen = Generation(prompt=8, new_tokens=21)  # contexts 9..28 cross the window of 16
    captured = capture_generation(model, gen)
    assert not captured.decode.linear
    assert "not linear" in captured.decode.derivation
    last = captured.decode_phases[gen.last_context]
    first = captured.decode_phases[gen.first_context]
    # beyond the window each step attends to 16 keys: 2 layers x 2 x 16 x d MACs of attention
    assert last.totals.macs - first.totals.macs == 2 * 2 * (16 - 9) * 128
    assert captured.kv.window is not None and captured.kv.window < gen.prompt + gen.new_tokens


def test_derive_refuses_different_structures():
    model = build("gpt2:layers=1,d_model=64,heads=2,vocab=100")
    prefill = capture_generation(model, Generation(prompt=4, new_tokens=2))
    step = prefill.decode_phases[5]
    with pytest.raises(NotLinear):
        derive_phase(prefill.report.phases[0], 4, step, 5, 6, "x")


def test_hugging_face_llama_matches_the_zoo_shape():
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(num_hidden_layers=2, hidden_size=128, num_attention_heads=4, num_key_value_heads=2,
                                      intermediate_size=344, vocab_size=300)
    with torch.device("meta"):
        hf = transformers.LlamaForCausalLM(config).to(torch.float16).eval()
    llm = analyze_llm(hf, prompt=16, new_tokens=3).llm
    assert llm.kv_cache.bytes_per_token == kv_bytes_per_token(2, 2, 32, 2)
    assert llm.decode.first.macs_per_token == llama_decode_macs(2, 128, 2, 32, 344, 300, 17)
    assert llm.cache.startswith("hf")


def test_model_left_unchanged():
    model = build("llama:layers=1,d_model=64,heads=2,kv_heads=1,ffn=128,vocab=100", device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    analyze_llm(model, prompt=6, new_tokens=3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("layers, kv_heads, per_token", [(32, 32, 524_288), (80, 8, 327_680)])
def test_hugging_face_llama_2_shapes_kv_bytes_per_token(layers, kv_heads, per_token):
    transformers = pytest.importorskip("transformers")
    hidden, ffn = (4096, 11008) if layers == 32 else (8192, 28672)
    config = transformers.LlamaConfig(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=hidden // 128,
                                      num_key_value_heads=kv_heads, intermediate_size=ffn, vocab_size=32000)
    with torch.device("meta"):
        hf = transformers.LlamaForCausalLM(config).to(torch.float16).eval()
    llm = analyze_llm(hf, prompt=4, new_tokens=2).llm
    assert llm.kv_cache.bytes_per_token == per_token
    assert llm.decode.first.macs_per_token == llama_decode_macs(layers, hidden, kv_heads, 128, ffn, 32000, 5)
