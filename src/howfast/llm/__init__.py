"""How fast does a language model generate? Prefill and decode steps captured from the model's own
code and cache (``workload``), its memory against a device (``memory``), predicted times on a
hardware profile (``predict``) and a real timed generation (``measure``). ``docs/llm.md``."""

from __future__ import annotations

from howfast.llm.api import analyze_llm
from howfast.llm.workload import Generation

__all__ = ["Generation", "analyze_llm"]
