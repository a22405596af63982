"""The ``llm`` section of a report: text generation as a prefill and decode steps (``howfast llm``).

Plain typed records, filled by ``howfast.llm`` from the captures of the model's own code and read
back from JSON by ``report/load.py`` field by field. Every figure is defined in ``docs/llm.md``;
``to_dict`` writes the keys ``docs/json-schema.md`` lists under ``llm``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from howfast.report.report import Totals


def _plain(record: Any) -> Any:
    """A record as JSON: dataclasses field by field (``Totals`` by its own ``to_dict``), lists in turn."""
    if hasattr(record, "to_dict") and not isinstance(record, LlmSection):
        return record.to_dict()
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: _plain(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, list):
        return [_plain(v) for v in record]
    return record


@dataclass(slots=True)
class KvLayer:
    """One layer's share of the KV cache."""

    index: int
    bytes_per_token: int
    bytes: int


@dataclass(slots=True)
class KvCache:
    """The model's own KV cache, measured from the tensors it returns, priced at ``dtype``.

    ``bytes_per_token``: the cache after the prompt, over batch x prompt tokens (one sequence,
    all layers); ``bytes``: the cache holding ``tokens`` = batch x (prompt + new) tokens, as the
    model keeps it (a sliding window keeps at most ``window`` positions per sequence).
    """

    dtype: str
    bytes_per_token: int
    bytes: int
    tokens: int
    layers: list[KvLayer] = field(default_factory=list)
    window: int | None = None
    model_dtype: str = ""
    heads: int = 0  # key/value heads per layer (the cache tensors' second dimension)


@dataclass(slots=True)
class PhaseFigures:
    """A phase of the generation: its name in ``report.phases``, the tokens it processes and its totals."""

    phase: str
    tokens: int
    context: int
    totals: Totals
    macs_per_token: int = 0
    bytes_per_token: int = 0


@dataclass(slots=True)
class DecodeFigures:
    """The decode steps: ``steps`` of them (new tokens - 1: the prefill yields the first token), at
    contexts ``first.context`` .. ``last.context`` (keys each new token attends to)."""

    steps: int
    first: PhaseFigures | None = None
    last: PhaseFigures | None = None
    derivation: str = ""
    linear: bool = True
    captured_contexts: list[int] = field(default_factory=list)
    macs_per_context: int = 0  # per additional key, per step
    bytes_per_context: int = 0


@dataclass(slots=True)
class TensorParallel:
    """Megatron-style tensor parallelism over ``degree`` devices: per-device figures and all-reduces."""

    degree: int
    hidden_size: int
    layers: int
    allreduces_per_step: int  # two per layer (after attention, after the MLP)
    prefill_allreduce_bytes: int  # sent by each device per prefill: 2 (n - 1) / n x message, summed
    decode_allreduce_bytes: int  # per decode step
    kv_split: int  # KV heads split min(degree, kv heads) ways
    interconnect_bytes_per_s: float | None = None
    prefill_allreduce_s: float | None = None
    decode_allreduce_s: float | None = None


@dataclass(slots=True)
class LlmMemory:
    """Weights + KV cache + transient activations against the device's memory (bytes)."""

    weights_bytes: int
    kv_cache_bytes: int
    activation_bytes: int
    total_bytes: int
    device_bytes: int | None = None
    fits: bool | None = None
    max_batch: int | None = None
    max_context: int | None = None
    tp_to_fit: int | None = None
    per_device: bool = False  # with tensor parallelism: one device's share


@dataclass(slots=True)
class TimePoint:
    """Predicted time of the decode step at one context length."""

    context: int
    tpot_s: float


@dataclass(slots=True)
class LlmPrediction:
    """Predicted generation times on a device profile (roofline of each captured phase)."""

    device: str
    dtype: str
    ttft_s: float
    tpot_s: float  # the first decode step
    tpot_last_s: float
    decode_s: float
    total_s: float
    tokens_per_s: float  # per sequence: new tokens / total time
    aggregate_tokens_per_s: float  # batch x new tokens / total time
    prefill_bound: str = ""
    decode_bound: str = ""
    curve: list[TimePoint] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LlmMeasured:
    """A real generation timed on this machine (``--bench``): medians over rounds."""

    ttft_s: float
    tpot_s: float  # median decode step
    tpot_first_s: float
    tpot_last_s: float
    total_s: float
    tokens_per_s: float
    aggregate_tokens_per_s: float
    rounds: int
    threads: int
    device: str = "cpu"


@dataclass(slots=True)
class BatchPoint:
    """One batch size of a sweep: memory and, with a device, predicted times."""

    batch: int
    total_bytes: int
    fits: bool | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    tpot_last_s: float | None = None
    total_s: float | None = None
    tokens_per_s: float | None = None
    aggregate_tokens_per_s: float | None = None
    decode_bound: str = ""
    measured_ttft_s: float | None = None
    measured_tpot_s: float | None = None


@dataclass(slots=True)
class MixtureOfExperts:
    """Experts found in the capture (grouped GEMMs over 3-D expert weights) and the active parameters."""

    expert_weights: int
    experts: int
    rows_per_token: int  # expert rows a token is routed to (top-k)
    total_params: int
    active_params: int
    assumption: str = ""
    experts_read_per_step: int = 0  # of each expert layer, by a decode step of the batch: min(E, k x batch)


@dataclass(slots=True)
class LlmSection:
    """Generation of ``new_tokens`` after a ``prompt``-token prompt, ``batch`` sequences at once."""

    prompt: int
    new_tokens: int
    batch: int
    dtype: str
    kv_cache: KvCache
    prefill: PhaseFigures
    decode: DecodeFigures
    memory: LlmMemory
    predicted: LlmPrediction | None = None
    measured: LlmMeasured | None = None
    sweep: list[BatchPoint] = field(default_factory=list)
    moe: MixtureOfExperts | None = None
    cache: str = ""  # how the model's cache was driven
    notes: list[str] = field(default_factory=list)
    whatif: str = ""  # the what-ifs the figures are priced under ("" when none)
    tp: TensorParallel | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
