"""Tensor parallelism (Megatron-LM, Shoeybi et al. 2019) as a what-if: each of ``n`` devices holds
1/n of the attention heads and FFN columns (and of the head's vocabulary), so the matrix products
and the attention do 1/n of their work and read 1/n of the weights on each device
(``whatif.py``); norms and element-wise ops are replicated. Each layer ends its attention and its
MLP with an all-reduce of the hidden state (``tokens x hidden x itemsize`` bytes); a ring
all-reduce sends ``2 (n - 1) / n`` of the message from each device, over the profile's
``memory.interconnect_bandwidth`` (one direction). The hidden size is the width of the embedding
the capture saw; the layers are the cache's. Latency per message is not modelled.
"""

from __future__ import annotations

from howfast.errors import UsageError
from howfast.hardware.profiles import HardwareProfile
from howfast.llm.workload import Captured, Generation
from howfast.report.llm import TensorParallel


def tensor_parallel(captured: Captured, gen: Generation, degree: int, profile: HardwareProfile | None) -> TensorParallel:
    """The all-reduce figures of ``gen`` split over ``degree`` devices (times on ``profile``'s link)."""
    hidden, itemsize = _hidden(captured)
    layers = len(captured.kv.layers)
    per_step = 2 * layers
    ring = 2 * (degree - 1) / degree

    def sent(tokens: int) -> int:
        return int(per_step * ring * tokens * hidden * itemsize)

    link = profile.interconnect_bandwidth.value if profile is not None and profile.interconnect_bandwidth is not None else None
    prefill, decode = sent(gen.batch * gen.prompt), sent(gen.batch)
    heads = captured.kv.heads or degree
    return TensorParallel(degree=degree, hidden_size=hidden, layers=layers, allreduces_per_step=per_step,
                          prefill_allreduce_bytes=prefill, decode_allreduce_bytes=decode, kv_split=min(degree, heads),
                          interconnect_bytes_per_s=link, prefill_allreduce_s=prefill / link if link else None,
                          decode_allreduce_s=decode / link if link else None)


def _hidden(captured: Captured) -> tuple[int, int]:
    graph = captured.prefill_graph
    for op in graph.ops if graph is not None else []:
        if op.op.startswith("aten.embedding") and op.outputs:
            out = op.outputs[0]
            return out.shape[-1], out.itemsize
    raise UsageError("--tp needs the model's hidden size, read from its token embedding, and the capture ran no aten.embedding")
