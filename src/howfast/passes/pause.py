"""Python's cyclic garbage collector paused while an analysis makes its many small objects.

A capture and its report make a few objects per op (records, costs, rows) that all stay alive; each
full collection walks every one of them, and on a graph of thousands of ops the collections cost as
much as the analysis itself. Nothing made there is cyclic garbage, so ``gc_paused()`` turns the
collector off for the duration and back on after (reference counting still frees everything at once).
Pauses nest and may overlap across threads: the collector comes back when the last one ends, and only
if it was on when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_state = {"pauses": 0, "was_enabled": False}


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector off while the block runs (as it was, after the last overlapping pause)."""
    with _lock:
        if _state["pauses"] == 0:
            _state["was_enabled"] = gc.isenabled()
            gc.disable()
        _state["pauses"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["pauses"] -= 1
            if _state["pauses"] == 0 and _state["was_enabled"]:
                gc.enable()
