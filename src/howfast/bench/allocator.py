"""Keep freed memory in the process while timing, so a run does not pay page faults set by history.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves a block above its *mmap
threshold* with a fresh ``mmap`` and unmaps it on ``free``; below it, from the heap, whose top it
returns to the system once more than the *trim threshold* is free. Both thresholds move with what
the process freed before (glibc's dynamic threshold). So the activations of a forward pass are
either reused memory or new pages that the kernel must fault in and zero on every run, depending
on what the process happened to allocate earlier. On the 2-core VM this project is measured on
(``docs/benchmarking.md``, "Allocator"), MobileNet V2 at batch 1 and one thread took 20 ms per run
in a fresh process and 13 ms once freed memory was kept, and filling a fresh 100 MiB tensor took
32 ms against 3.3 ms on retained memory: the history, not the model, decided the figure.

``retain_freed_memory`` fixes both thresholds so freed blocks up to 1 GiB stay in the heap for the
next run, as a caching allocator (PyTorch's on CUDA, jemalloc or tcmalloc on servers) keeps them in
a long-running process. It is a process-wide setting, applied once and not undone: memory freed
after it stays mapped by the process for reuse. ``allocator="system"`` leaves malloc as it is.
Other C libraries (macOS, Windows, musl) are left alone and say so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

ALLOCATORS = ("retain", "system")
M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 30  # blocks up to 1 GiB come from the heap ...
FALLBACK_MMAP_THRESHOLD = 32 << 20  # ... or 32 MiB, the largest older glibc accepts
TRIM_THRESHOLD = (1 << 31) - 1  # ... and the heap is never trimmed (mallopt takes an int)

_state: dict[str, str] = {}


def retain_freed_memory() -> str:
    """Make glibc keep freed memory for reuse (once per process); returns what is in effect."""
    if "retain" in _state:
        return _state["retain"]
    libc_name, _ = platform.libc_ver()
    if libc_name != "glibc":
        _state["retain"] = f"system (freed memory is kept only by glibc's malloc; this C library is {libc_name or 'not glibc'})"
        return _state["retain"]
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    threshold = next((t for t in (MMAP_THRESHOLD, FALLBACK_MMAP_THRESHOLD) if libc.mallopt(M_MMAP_THRESHOLD, t)), None)
    if threshold is None or not libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD):
        _state["retain"] = "system (glibc's mallopt refused the thresholds; malloc left as it was)"
    else:
        _state["retain"] = f"retain (glibc: freed blocks up to {threshold >> 20} MiB reused, heap not trimmed)"
    return _state["retain"]


def apply(allocator: str) -> str:
    """Apply the named allocator policy; returns the text recorded in ``environment.allocator``."""
    if allocator == "retain":
        return retain_freed_memory()
    return _state.get("retain", "system (malloc as the process found it)")
