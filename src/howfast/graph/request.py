"""What a front end is asked for: a model to load, and a run to capture.

The Python door (``api``) and the command line hand every front end the same two records, so a
front end never sees click's options or another front end's: ``LoadedModel`` (a model argument
made into something a front end can capture) and ``CaptureRequest`` (the inputs and the options
that shape one run). A front end that cannot honour an option refuses it in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A model to analyse: an ``nn.Module`` or an ``.onnx`` path, the name to show for it, its
    default input (zoo models), and the front end that reads it."""

    model: Any
    name: str
    default_input: str | None = None
    front_end: str = "torch"


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    """One run to capture.

    * ``inputs``: tensors, shapes (``"1x3x224x224"``, ``InputSpec``s...) or, for ONNX, sizes of
      symbolic dimensions; ``kwargs``: keyword inputs;
    * ``until``: stop after this module; ``grad``: run with autograd enabled;
    * ``train``: True runs the model in training mode, False in eval mode, None as it is (the model's
      own flags are restored after);
    * ``dtype``: the dtype of float inputs made from shapes; ``name``: the model's name in the report.
    """

    inputs: Any = None
    kwargs: dict[str, Any] | None = None
    until: str | None = None
    grad: bool = False
    train: bool | None = None
    dtype: Any = None
    name: str | None = None

    def options_given(self) -> list[str]:
        """The options set away from their defaults (``until``, ``grad``, ``train``, ``dtype``, ``kwargs``)."""
        given = []
        for option, default in (("until", None), ("grad", False), ("train", None), ("dtype", None), ("kwargs", None)):
            if getattr(self, option) != default:
                given.append(option)
        return given
