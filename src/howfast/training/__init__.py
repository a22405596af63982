"""Training: one step (forward with the loss, backward, an optimizer step) captured phase by phase,
costed by the one pipeline, with its memory by category, and its measured time and MFU
(``docs/training.md``).

The two entry points are imported on first use (PEP 562), so that a command reading only the names of
the losses and optimizers (``training.step``) does not import the capture and timing stacks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from howfast.training.api import analyze_training
    from howfast.training.bench import benchmark_training

__all__ = ["analyze_training", "benchmark_training"]


def __getattr__(name: str) -> Any:
    if name == "analyze_training":
        from howfast.training.api import analyze_training

        return analyze_training
    if name == "benchmark_training":
        from howfast.training.bench import benchmark_training

        return benchmark_training
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
