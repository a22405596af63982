"""The built-in model zoo: names, options and factories.

Every model here is written in this package (no downloads, no weights), so the zoo builds on any
device, including ``meta``. A zoo entry declares its options with types and defaults, so the CLI can
parse ``mobilenet_v2:width=1.4`` and ``howfast zoo`` can list what each model accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from howfast.errors import ModelLoadError


@dataclass(frozen=True)
class ZooOption:
    """One keyword a zoo factory accepts, with the type used to parse it from text."""

    name: str
    type: type
    default: Any
    help: str

    def parse(self, text: str) -> Any:
        if self.type is bool:
            lowered = text.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ModelLoadError(f"option {self.name!r} takes true/false, got {text!r}")
        try:
            return self.type(text)
        except ValueError:
            raise ModelLoadError(
                f"option {self.name!r} takes a {self.type.__name__}, got {text!r}"
            ) from None


@dataclass(frozen=True)
class ZooEntry:
    """A named model: its factory, the input it expects by default, and its options."""

    name: str
    factory: Callable[..., nn.Module]
    default_input: str
    description: str
    options: tuple[ZooOption, ...] = field(default_factory=tuple)
    feature_layer: str | None = None  # where `compare --features` cuts it (the write-up's case study)

    def option(self, name: str) -> ZooOption:
        for opt in self.options:
            if opt.name == name:
                return opt
        known = ", ".join(o.name for o in self.options) or "none"
        raise ModelLoadError(f"model {self.name!r} has no option {name!r}{did_you_mean(name, [o.name for o in self.options])}; "
                             f"its options: {known}")


ZOO: dict[str, ZooEntry] = {}


def did_you_mean(name: str, choices: list[str]) -> str:
    """``" (did you mean resnet18?)"`` for the closest of ``choices`` to a misspelt ``name``, else ``""``."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def register(entry: ZooEntry) -> ZooEntry:
    """Add an entry to the zoo; names are unique."""
    if entry.name in ZOO:
        raise ValueError(f"zoo name {entry.name!r} registered twice")
    ZOO[entry.name] = entry
    return entry


def parse_options(entry: ZooEntry, text: str) -> dict[str, Any]:
    """Parse ``key=value,key=value`` into typed keyword arguments for ``entry``'s factory."""
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ModelLoadError(f"zoo option {part!r} is not of the form key=value")
        key, value = (s.strip() for s in part.split("=", 1))
        options[key] = entry.option(key).parse(value)
    return options


def build(name: str, options: dict[str, Any] | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """Construct zoo model ``name`` with ``options`` on ``device`` (``meta`` allocates nothing)."""
    _load_models()
    if name not in ZOO:
        raise ModelLoadError(f"unknown zoo model {name!r}; the zoo has: {', '.join(sorted(ZOO))}")
    entry = ZOO[name]
    for key in options or {}:
        entry.option(key)
    with torch.device(device):
        model = entry.factory(**(options or {}))
    return model.eval()


def get(name: str) -> ZooEntry | None:
    """The zoo entry named ``name``, or None."""
    _load_models()
    return ZOO.get(name)


def names() -> list[str]:
    """The zoo's model names, sorted."""
    _load_models()
    return sorted(ZOO)


def entries() -> list[ZooEntry]:
    """All zoo entries, sorted by name."""
    _load_models()
    return [ZOO[k] for k in sorted(ZOO)]


def _load_models() -> None:
    # Importing the model modules registers them; done lazily so `import howfast` stays light.
    from howfast.zoo import models  # noqa: F401
