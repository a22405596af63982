"""Training: one step (forward with the loss, backward, an optimizer step) captured phase by phase,
costed by the one pipeline, with its memory by category, and its measured time and MFU
(``docs/training.md``)."""

from __future__ import annotations

from howfast.training.api import analyze_training
from howfast.training.bench import benchmark_training

__all__ = ["analyze_training", "benchmark_training"]
