"""Activation memory from tensor lifetimes over the captured graph.

Walks the ops in execution order. A storage is allocated when an op first creates it and freed
after the last op that reads any tensor living in it (views and in-place results share their
base's storage, so an in-place ReLU allocates nothing). The model's inputs are live from the
start; its outputs stay live to the end. Parameters and buffers are not activations and are
excluded. At each op the live set includes the op's inputs and its outputs together, so a chain
of layers peaks at its largest adjacent input + output pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from howfast.graph.records import OpRecord, TensorKind, TensorMeta

_COUNTED_KINDS = (TensorKind.ACTIVATION, TensorKind.INPUT)


@dataclass(frozen=True, slots=True)
class Liveness:
    """Peak live activation bytes, where it happens, and the live bytes after every op."""

    peak_bytes: int
    peak_op_index: int
    timeline: tuple[int, ...]


def liveness(ops: list[OpRecord], inputs: list[TensorMeta], outputs: list[TensorMeta], virtual: set[int] | None = None) -> Liveness:
    """Peak live activation bytes; storages in ``virtual`` (fused intermediates) take no memory."""
    virtual = virtual or set()
    sizes: dict[int, int] = {}
    last_use: dict[int, int] = {}
    end = len(ops)
    for t in inputs:
        if t.kind in _COUNTED_KINDS:
            sizes[t.storage] = max(sizes.get(t.storage, 0), t.nbytes)
            last_use[t.storage] = -1
    born = [0] * end  # bytes each op allocates, and (below) frees after it runs
    for op in ops:
        index = op.index
        for t in op.shared_inputs():
            if t.storage in sizes and last_use[t.storage] < index:
                last_use[t.storage] = index
        for t in op.outputs:
            if t.kind in _COUNTED_KINDS and t.storage not in sizes:
                sizes[t.storage] = size = 0 if t.storage in virtual else t.nbytes
                last_use[t.storage] = index
                born[index] += size
    for t in outputs:
        if t.storage in last_use:
            last_use[t.storage] = end
    dying = [0] * (end + 1)
    for storage, index in last_use.items():
        dying[max(index, 0) if index < end else end] += sizes[storage]
    live = sum(sizes[s] for s in {t.storage for t in inputs if t.storage in sizes})
    peak, peak_index, timeline = live, -1, []
    for op in ops:
        live += born[op.index]
        if live > peak:
            peak, peak_index = live, op.index
        live -= dying[op.index]
        timeline.append(live)
    return Liveness(peak_bytes=peak, peak_op_index=peak_index, timeline=tuple(timeline))
