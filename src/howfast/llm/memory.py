"""Does the generation fit? Weights + KV cache + transient activations against the device's memory.

* ``weights_bytes``: the model's parameters and buffers at their stored dtype;
* ``kv_cache_bytes``: the model's own cache holding batch x (prompt + new) tokens (``KvCache.bytes``,
  re-priced at ``--kv-dtype``);
* ``activation_bytes``: the peak live activations of a forward over the prompt that keeps no cache
  (the working memory of the prefill beyond the cache; decode steps need far less);
* ``max_batch``: the most sequences for which weights + batch x (KV + activations per sequence)
  fit, with both per-sequence figures taken as this batch's over the batch (linear in the batch);
* ``max_context``: the most tokens per sequence at this batch whose cache fits beside the weights
  and activations (None when the cache is bounded by a sliding window);
* ``tp_to_fit``: when it does not fit, the smallest tensor-parallel degree (1, 2, 4 ... 64) for which
  weights / N + KV / min(N, KV heads) + activations fit one device (weights split N ways, as
  Megatron splits heads and FFN columns, the cache by its heads; activations not split — an
  estimate, ``docs/llm.md``); with ``--tp N`` every figure is one device's share.
"""

from __future__ import annotations

from howfast.hardware.profiles import HardwareProfile
from howfast.report.llm import KvCache, LlmMemory, TensorParallel

TP_DEGREES = (1, 2, 4, 8, 16, 32, 64)


def footprint(weights_bytes: int, kv: KvCache, activation_bytes: int, batch: int, profile: HardwareProfile | None,
              parallel: TensorParallel | None = None) -> LlmMemory:
    """The memory section of a generation of ``batch`` sequences, against ``profile``'s capacity;
    with ``parallel``, one device's share (weights / n, the cache / its split, activations whole)."""
    kv_bytes, per_token = kv.bytes, kv.bytes_per_token
    if parallel is not None:
        weights_bytes //= parallel.degree
        kv_bytes, per_token = kv_bytes // parallel.kv_split, per_token // parallel.kv_split
    total = weights_bytes + kv_bytes + activation_bytes
    memory = LlmMemory(weights_bytes=weights_bytes, kv_cache_bytes=kv_bytes, activation_bytes=activation_bytes, total_bytes=total,
                       per_device=parallel is not None)
    if profile is None or profile.memory_capacity is None:
        return memory
    device = int(profile.memory_capacity.value)
    memory.device_bytes = device
    memory.fits = total <= device
    per_sequence = (kv_bytes + activation_bytes) / batch
    memory.max_batch = max(0, int((device - weights_bytes) // per_sequence)) if per_sequence > 0 else None
    room = device - weights_bytes - activation_bytes
    if kv.window is None and per_token > 0:
        memory.max_context = max(0, room // (batch * per_token))
    if not memory.fits and parallel is None:
        memory.tp_to_fit = next((n for n in TP_DEGREES if weights_bytes / n + kv_bytes / min(n, kv.heads or n) + activation_bytes
                                 <= device), None)
    return memory
