"""The built-in model zoo: names, options and factories.

Every model here is written in this package (no downloads, no weights), so the zoo builds on any
device, including ``meta``. A zoo entry declares its options with types and defaults, so the CLI can
parse ``mobilenet_v2:width=1.4`` and ``howfast zoo`` can list what each model accepts. The values an
option takes (a range, a set of words) and the rules between options (heads must divide d_model)
are declared there too and checked before the factory runs: a bad value is a ``ModelLoadError``
(exit 3) naming what is valid, never an error from inside the model's constructor.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from howfast.dynamo_free import refs_without_dynamo
from howfast.errors import ModelLoadError

MAX_SIZE = 2**31 - 1  # the largest whole-number option (a size PyTorch indexes with 32 bits)


@dataclass(frozen=True)
class ZooOption:
    """One keyword a zoo factory accepts, with the type used to parse it from text and the values it
    takes: whole numbers and numbers from ``low`` to ``high`` (whole numbers: 1 to ``MAX_SIZE`` unless
    given; a number must be finite), text one of ``choices`` when given."""

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, text: str) -> Any:
        if self.type is bool:
            lowered = text.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ModelLoadError(f"option {self.name!r} takes true/false, got {text!r}")
        try:
            value = self.type(text.strip())
        except (ValueError, OverflowError):
            raise ModelLoadError(f"option {self.name!r} takes {self.valid()}, got {text!r}") from None
        return self.check(value, text)

    def valid(self) -> str:
        """The values this option takes, in words: ``a whole number from 1 to 2147483647``."""
        if self.type is bool:
            return "true/false"
        if self.type is int:
            low, high = self.bounds()
            return f"a whole number from {int(low)} to {int(high)}"
        if self.type is float:
            low, high = self.bounds()
            return f"a number from {low:g} to {high:g}"
        return f"one of: {', '.join(self.choices)}" if self.choices else f"a {self.type.__name__}"

    def bounds(self) -> tuple[float, float]:
        low = self.low if self.low is not None else (1 if self.type is int else -math.inf)
        high = self.high if self.high is not None else (MAX_SIZE if self.type is int else math.inf)
        return low, high

    def check(self, value: Any, text: str | None = None) -> Any:
        """``value`` if this option takes it, else a ModelLoadError with the values it takes (exit 3)."""
        shown = repr(text) if text is not None else repr(value)
        if self.type is bool:
            ok = isinstance(value, bool)
        elif self.type in (int, float):
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and (self.type is float or isinstance(value, int))
            low, high = self.bounds()
            ok = number and math.isfinite(value) and low <= value <= high
        else:
            ok = isinstance(value, self.type) and (not self.choices or value in self.choices)
        if not ok:
            raise ModelLoadError(f"option {self.name!r} takes {self.valid()}, got {shown}")
        return value


Rule = Callable[[dict[str, Any]], "str | None"]  # the options of a model (defaults filled in) -> what is wrong, or None


def divides(part: str, whole: str) -> Rule:
    """Option ``part`` must divide option ``whole`` (heads | d_model, patch | img_size)."""

    def rule(options: dict[str, Any]) -> str | None:
        p, w = options[part], options[whole]
        if w % p == 0:
            return None
        factors = [d for d in range(1, w + 1) if w % d == 0] if w <= 1 << 20 else []
        shown = ", ".join(map(str, factors[:16])) + (", ..." if len(factors) > 16 else "")
        return f"{part}={p} must divide {whole}={w}" + (f" (valid {part}: {shown})" if shown else "")

    return rule


def at_most(part: str, whole: str) -> Rule:
    """Option ``part`` must not exceed option ``whole`` (top_k <= experts)."""

    def rule(options: dict[str, Any]) -> str | None:
        p, w = options[part], options[whole]
        return None if p <= w else f"{part}={p} must be at most {whole}={w} (valid {part}: 1 to {w})"

    return rule


def even_head_dim(width: str = "d_model", heads: str = "heads") -> Rule:
    """``width / heads`` (the head size) must be even: rotary embeddings rotate pairs of dimensions."""

    def rule(options: dict[str, Any]) -> str | None:
        w, h = options[width], options[heads]
        if w % h or (w // h) % 2 == 0:
            return None
        return f"{width}/{heads} = {w // h} (the head size) must be even for the rotary embedding: {width} a multiple of {2 * h}"

    return rule


@dataclass(frozen=True)
class ZooEntry:
    """A named model: its factory, the input it expects by default, its options and the rules
    between them (``divides``, ``at_most``...), checked before the factory runs."""

    name: str
    factory: Callable[..., nn.Module]
    default_input: str
    description: str
    options: tuple[ZooOption, ...] = field(default_factory=tuple)
    feature_layer: str | None = None  # where `compare --features` cuts it (the write-up's case study)
    rules: tuple[Rule, ...] = ()

    def option(self, name: str) -> ZooOption:
        for opt in self.options:
            if opt.name == name:
                return opt
        known = ", ".join(o.name for o in self.options) or "none"
        raise ModelLoadError(f"model {self.name!r} has no option {name!r}{did_you_mean(name, [o.name for o in self.options])}; "
                             f"its options: {known}")

    def check(self, options: dict[str, Any]) -> None:
        """Every option given takes its value, and the rules hold with the defaults filled in (ModelLoadError, exit 3)."""
        for key, value in options.items():
            try:
                self.option(key).check(value)
            except ModelLoadError as exc:
                raise ModelLoadError(f"{self.name}: {exc}") from None
        merged = {**{o.name: o.default for o in self.options}, **options}
        for rule in self.rules:
            problem = rule(merged)
            if problem:
                raise ModelLoadError(f"{self.name}: {problem}")


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
        try:
            options[key] = entry.option(key).parse(value)
        except ModelLoadError as exc:
            raise ModelLoadError(f"{entry.name}: {exc}") from None
    return options


def build(name: str, options: dict[str, Any] | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """Construct zoo model ``name`` with ``options`` on ``device`` (``meta`` allocates nothing)."""
    _load_models()
    if name not in ZOO:
        raise ModelLoadError(f"unknown zoo model {name!r}; the zoo has: {', '.join(sorted(ZOO))}")
    entry = ZOO[name]
    entry.check(dict(options or {}))
    with torch.device(device), refs_without_dynamo() if torch.device(device).type == "meta" else nullcontext():
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
