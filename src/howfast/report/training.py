"""The ``training_memory`` section of a report: one training step's memory by category (``howfast.training``).

A plain typed record, filled by ``howfast.training`` from the captured step and read back from JSON by
``report/load.py`` field by field. Every figure is in bytes and defined in ``docs/training.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class CheckpointFigures:
    """Activation checkpointing of the step (``analyze_training(checkpoint=...)``).

    * ``types``: the class names asked for; ``modules``: the paths of the modules checkpointed (the
      outermost of those classes);
    * ``recompute_flops``, ``recompute_macs``, ``recompute_ops``: the forward ops re-run in backward
      (counted in the backward phase, in the modules they belong to: ``recompute_by_layer``, FLOPs);
    * ``saved_without`` and ``saved_with``: ``saved_activations`` of the same step without and with
      checkpointing, ``bytes_saved`` their difference; ``peak_without`` and ``peak_with``: the peak
      likewise.
    """

    types: list[str]
    modules: list[str]
    recompute_flops: int
    recompute_macs: int
    recompute_ops: int
    saved_without: int
    saved_with: int
    peak_without: int
    peak_with: int
    recompute_by_layer: dict[str, int] = field(default_factory=dict)

    @property
    def bytes_saved(self) -> int:
        """Saved-activation bytes checkpointing saves."""
        return self.saved_without - self.saved_with

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data.update(types=list(self.types), modules=list(self.modules), recompute_by_layer=dict(self.recompute_by_layer),
                    bytes_saved=self.bytes_saved)
        return data


@dataclass(slots=True)
class TrainingMemory:
    """Memory of one training step by category.

    * ``parameters``: every parameter (frozen ones included); ``gradients``: the ``.grad`` tensors the
      backward produced; ``optimizer_state``: the tensors the optimizer allocated in ``opt.state``
      (``step_counters`` of them: Adam's ``step`` scalars);
    * ``saved_activations``: forward activations (and inputs) that backward reads, i.e. saved for
      backward — all alive when backward starts; ``saved_by_layer``: those bytes by the module whose
      forward created them, ``heaviest_layer`` the largest;
    * ``peak``: the peak of live bytes over forward, backward and the optimizer step from tensor
      lifetimes, parameters, buffers, gradients and optimizer state included (``peak_phase``: where);
    * ``peak_by_category``: what is live at that peak: parameters, buffers, gradients, optimizer
      state, the saved activations still held, and temporaries (everything else); the parts sum to
      ``peak``;
    * ``checkpoint``: with activation checkpointing, its recomputation and the memory it saves.
    """

    parameters: int
    gradients: int
    optimizer_state: int
    saved_activations: int
    peak: int
    buffers: int = 0
    step_counters: int = 0
    peak_phase: str = ""
    heaviest_layer: str = ""
    heaviest_layer_bytes: int = 0
    saved_by_layer: dict[str, int] = field(default_factory=dict)
    loss: str = "sum"
    optimizer: str | None = None
    notes: list[str] = field(default_factory=list)
    checkpoint: CheckpointFigures | None = None
    peak_by_category: dict[str, int] = field(default_factory=dict)

    @property
    def model_states(self) -> int:
        """Parameters, gradients and optimizer state: what lives for the whole of training."""
        return self.parameters + self.gradients + self.optimizer_state

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["saved_by_layer"] = dict(self.saved_by_layer)
        data["notes"] = list(self.notes)
        data["peak_by_category"] = dict(self.peak_by_category)
        data["checkpoint"] = self.checkpoint.to_dict() if self.checkpoint is not None else None
        return data
