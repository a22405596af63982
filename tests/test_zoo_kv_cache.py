"""The zoo decoders' KV cache and sliding window (``zoo/models/gpt.py``, ``zoo/models/moe.py``).

Cached generation (a prefill, then decode steps of one and several tokens) must give the logits of
one uncached run over the whole sequence, on real float64 tensors; the cache holds one
(key, value) pair per layer of shape (batch, kv_heads, length, head_dim); a sliding window of W
keeps W - 1 positions and matches a full-sequence windowed run.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

import howfast
from howfast.zoo import build, get, parse_options
from howfast.zoo.models.gpt import KVCache, attention_layout

VOCAB = 97
SMALL: dict[str, dict[str, Any]] = {
    "gpt2": dict(layers=2, d_model=32, heads=4, vocab=VOCAB, n_positions=64),
    "llama": dict(layers=2, d_model=32, heads=4, kv_heads=4, ffn=48, vocab=VOCAB),
    "llama-gqa": dict(layers=2, d_model=32, heads=4, kv_heads=2, ffn=48, vocab=VOCAB),
    "llama-mqa": dict(layers=2, d_model=32, heads=4, kv_heads=1, ffn=48, vocab=VOCAB),
    "mixtral": dict(layers=2, d_model=32, heads=4, kv_heads=2, ffn=48, vocab=VOCAB, experts=4, top_k=2),
}


def model(case: str, **extra: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    return build(case.split("-")[0], {**SMALL[case], **extra}).double()


def generate(m: torch.nn.Module, ids: torch.Tensor, steps: tuple[int, ...]) -> tuple[torch.Tensor, KVCache, list[int]]:
    """Logits of ``ids`` fed ``steps`` tokens at a time through the cache, and the cache lengths."""
    past: Any = None
    logits, lengths, pos = [], [], 0
    with torch.no_grad():
        for n in steps:
            out, past = m(ids[:, pos:pos + n], past_key_values=past, use_cache=True)
            pos += n
            logits.append(out)
            lengths.append(past[0][0].shape[2])
    return torch.cat(logits, dim=1), past, lengths


def full(m: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return m(ids)


STEPS = (5, 1, 1, 3, 1)  # a prefill, two decode steps, a 3-token step after a past, a decode step


@pytest.mark.parametrize("case", sorted(SMALL))
def test_cached_generation_matches_the_full_sequence(case: str) -> None:
    m = model(case)
    ids = torch.randint(0, VOCAB, (2, sum(STEPS)))
    expected = full(m, ids)
    got, cache, lengths = generate(m, ids, STEPS)
    assert torch.allclose(got, expected, atol=1e-10, rtol=0)
    assert isinstance(cache, tuple) and len(cache) == 2 and cache.seen == sum(STEPS)
    assert lengths == [5, 6, 7, 10, 11]
    heads = SMALL[case]["heads"]
    kv_heads = SMALL[case].get("kv_heads", heads)
    for key, value in cache:
        assert key.shape == value.shape == (2, kv_heads, sum(STEPS), SMALL[case]["d_model"] // heads)


@pytest.mark.parametrize("case", ["gpt2", "llama-gqa", "mixtral"])
def test_without_cache_arguments_the_model_returns_logits_only(case: str) -> None:
    m = model(case)
    ids = torch.randint(0, VOCAB, (1, 6))
    plain = full(m, ids)
    assert isinstance(plain, torch.Tensor) and plain.shape == (1, 6, VOCAB)
    with torch.no_grad():
        logits, cache = m(ids, use_cache=True)
    assert torch.equal(logits, plain) and isinstance(cache, KVCache) and cache.seen == 6
    assert copy.deepcopy(cache).seen == 6


def test_a_plain_tuple_of_pairs_is_a_past() -> None:
    m = model("llama-gqa")
    ids = torch.randint(0, VOCAB, (1, 7))
    with torch.no_grad():
        _, cache = m(ids[:, :4], use_cache=True)
        plain = tuple((k, v) for k, v in cache)
        out, grown = m(ids[:, 4:], past_key_values=plain)
    assert torch.allclose(out, full(m, ids)[:, 4:], atol=1e-10, rtol=0) and grown.seen == 7


def test_attention_layout_masks() -> None:
    cpu = torch.device("cpu")
    assert attention_layout(4, 4, 0, 0, cpu) == (None, True)  # no past: is_causal, as without a cache
    assert attention_layout(1, 1, 0, 0, cpu) == (None, True)
    assert attention_layout(1, 9, 8, 0, cpu) == (None, False)  # one new token sees every cached key
    assert attention_layout(1, 3, 8, 3, cpu) == (None, False)  # ... the window's worth of keys
    mask, causal = attention_layout(2, 5, 3, 0, cpu)  # queries at 3, 4 over keys 0..4
    assert not causal and mask is not None
    assert mask.tolist() == [[True, True, True, True, False], [True, True, True, True, True]]
    mask, _ = attention_layout(5, 5, 0, 2, cpu)  # a window of 2 without a past: i - 2 < j <= i
    assert mask is not None and mask.int().tolist() == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 1, 1, 0, 0],
                                                        [0, 0, 1, 1, 0], [0, 0, 0, 1, 1]]
    mask, _ = attention_layout(2, 4, 6, 3, cpu)  # queries 6, 7 over keys 4..7, window 3
    assert mask is not None and mask.int().tolist() == [[1, 1, 1, 0], [0, 1, 1, 1]]


@pytest.mark.parametrize("case", ["llama-gqa", "llama-mqa", "mixtral"])
@pytest.mark.parametrize(("window", "steps"), [(4, (6, 1, 1, 3, 1, 1)), (3, (2, 1, 1, 5, 1)), (1, (4, 1, 2))])
def test_sliding_window_cache_matches_a_windowed_full_run(case: str, window: int, steps: tuple[int, ...]) -> None:
    m = model(case, sliding_window=window)
    ids = torch.randint(0, VOCAB, (2, sum(steps)))
    got, cache, lengths = generate(m, ids, steps)
    assert torch.allclose(got, full(m, ids), atol=1e-10, rtol=0)
    seen = [sum(steps[:i + 1]) for i in range(len(steps))]
    assert lengths == [min(s, window - 1) for s in seen]  # the cache keeps the last W - 1 positions
    assert cache.seen == sum(steps)


def test_sliding_window_sees_exactly_the_last_w_tokens() -> None:
    # One layer, RoPE (relative positions) and a window of W: the logits at position i are those of an
    # unwindowed run over the W tokens ending at i (to the float32 rotary tables), and they differ
    # from the unwindowed logits.
    window, n = 3, 8
    windowed = model("llama-gqa", layers=1, sliding_window=window)
    plain = model("llama-gqa", layers=1)
    ids = torch.randint(0, VOCAB, (1, n))
    out = full(windowed, ids)
    for i in range(window - 1, n):
        alone = full(plain, ids[:, i - window + 1:i + 1])[:, -1]
        assert torch.allclose(out[:, i], alone, atol=1e-5, rtol=0)  # rotary tables are float32
    assert not torch.allclose(out[:, -1], full(plain, ids)[:, -1])


@pytest.mark.parametrize("name", ["llama", "llama2_70b", "mixtral", "mixtral_8x7b"])
def test_sliding_window_is_a_zoo_option(name: str) -> None:
    entry = get(name)
    assert entry is not None
    assert entry.option("sliding_window").default == 0 and entry.option("sliding_window").type is int
    assert parse_options(entry, "sliding_window=4096") == {"sliding_window": 4096}


def test_llama2_70b_cache_on_meta() -> None:
    m = build("llama2_70b", {"layers": 2}, device="meta")
    ids = torch.empty(1, 16, dtype=torch.int64, device="meta")
    with torch.no_grad():
        _, cache = m(ids, use_cache=True)
        logits, cache = m(ids[:, :1], past_key_values=cache)
    assert logits.shape == (1, 1, 32000) and cache.seen == 17
    assert [tuple(k.shape) for k, _ in cache] == [(1, 8, 17, 128)] * 2  # 8 kv heads, before the GQA repeat


def test_decode_step_costs_on_meta() -> None:
    # One new token after 16 cached positions of llama2_70b (2 layers): d 8192, 64 heads of 128,
    # 8 kv heads, SwiGLU 28672, vocab 32000; attention over the 17 keys.
    m = build("llama2_70b", {"layers": 2}, device="meta")
    past = KVCache([(torch.empty(1, 8, 16, 128, device="meta"),) * 2 for _ in range(2)], 16)
    ids = torch.empty(1, 1, dtype=torch.int64, device="meta")
    report = howfast.analyze(m, (ids,), kwargs={"past_key_values": past, "use_cache": True})
    projections = 2 * 8192 * 8192 + 2 * 8192 * 1024
    attention = 2 * 64 * 17 * 128
    mlp = 3 * 8192 * 28672
    assert report.uncounted_ops == []
    assert report.totals.macs == 2 * (projections + attention + mlp) + 8192 * 32000
