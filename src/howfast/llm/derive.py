"""A decode step at any context length, derived exactly from captures at two lengths.

A decode step's costs grow linearly with the context ``C`` (the keys its token attends to): the
attention products are ``2 C d`` MACs per layer, the cache reads and the cache concatenation move
``C`` rows, and nothing else depends on ``C``. So every integer in a decode phase — each op's
MACs, FLOPs and bytes, each layer's sums, the shapes, the live-bytes timeline — is
``a + b C`` for that phase's ``a`` and ``b``. ``derive_phase`` computes it from phases captured at
two contexts, in exact integer arithmetic: a value that is not an integer on that line, or a
structure that differs (another op list), means the phase is not linear and raises ``NotLinear``.
``howfast.llm`` checks the line against a third capture before using it, and falls back to
capturing every context it needs when the check fails (a sliding window the context crosses).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from howfast.report.report import Phase


class NotLinear(ValueError):
    """The two phases do not lie on one exact line in the context length."""


def derive_phase(a: Phase, ca: int, b: Phase, cb: int, context: int, name: str) -> Phase:
    """The decode phase at ``context`` on the line through ``a`` (at ``ca``) and ``b`` (at ``cb``)."""
    if ca == cb:
        raise ValueError("two different context lengths are needed")
    phase: Phase = _line(a, b, context - ca, cb - ca, "")
    phase.name, phase.count = name, 1
    return phase


def _line(x: Any, y: Any, num: int, den: int, where: str) -> Any:
    """``x + (y - x) * num / den`` for every integer in ``x`` and ``y`` (records, lists, dicts), exactly."""
    if type(x) is int and type(y) is int:
        value, rest = divmod(x * den + (y - x) * num, den)
        if rest:
            raise NotLinear(f"{where} is not an integer on the line")
        return value
    if isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            raise NotLinear(f"{where} has {len(x)} vs {len(y)} entries")
        return [_line(u, v, num, den, where) for u, v in zip(x, y, strict=True)]
    if isinstance(x, dict) and isinstance(y, dict):
        if x.keys() != y.keys():
            raise NotLinear(f"{where} has other keys")
        return {k: _line(x[k], y[k], num, den, where) for k in x}
    if dataclasses.is_dataclass(x) and type(x) is type(y) and not isinstance(x, type):
        return type(x)(**{f.name: _line(getattr(x, f.name), getattr(y, f.name), num, den, f"{where}.{f.name}")
                          for f in dataclasses.fields(x) if f.init})
    if isinstance(x, float) and isinstance(y, float):
        return x + (y - x) * num / den
    if x != y and where not in (".name", ".count"):
        raise NotLinear(f"{where or 'phase'} differs: {x!r} vs {y!r}")
    return x


def same_costs(a: Phase, b: Phase) -> bool:
    """Whether two phases have the same figures (names and counts aside)."""
    return {**a.to_dict(), "name": "", "count": 0} == {**b.to_dict(), "name": "", "count": 0}
