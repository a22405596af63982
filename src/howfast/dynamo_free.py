"""Meta kernels without the import of dynamo (issue 18: a second of every meta run).

Many of PyTorch's meta kernels are its Python references (``torch._refs``), and each is wrapped by
``torch._disable_dynamo``, which imports ``torch._dynamo`` (over a second: sympy, the tracer) on the
wrapper's first call, only to make the disabled version of the function it runs: the function under
a context that turns dynamo's frame hook off. The wrapper caches that version on the function as
``__dynamo_disable``. While dynamo is not imported, no frame hook is installed, so the disabled
version *is* the function itself: ``refs_without_dynamo`` caches exactly that for the time of a meta
build or capture, so that nothing imports dynamo, and removes what it cached afterwards (a wrapper
called later, after dynamo is loaded, makes its real disabled version as before). Nothing is done
once dynamo is loaded (then the wrappers make their own) or where PyTorch's wrapper is not the one
this module knows (its code is compared with a probe's).
"""

from __future__ import annotations

import gc
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

_CACHED = "__dynamo_disable"  # the attribute torch._compile._disable_dynamo caches on the function it wraps
_lock = threading.Lock()
_wrapped: list[types.FunctionType] | None = None  # the functions wrapped by _disable_dynamo, found once
_users = 0


def _probe() -> None:
    return None


def _find_wrapped() -> list[types.FunctionType]:
    """The functions that ``torch._disable_dynamo`` wraps (every wrapper shares one code object)."""
    try:
        from torch._compile import _disable_dynamo
    except ImportError:
        return []
    code = getattr(_disable_dynamo(_probe), "__code__", None)
    if code is None:
        return []
    if "fn" not in code.co_freevars:
        return []
    cell = code.co_freevars.index("fn")  # the wrapper's closure holds the function it caches on
    found = []
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType and obj.__code__ is code and obj.__closure__ is not None:
            inner = obj.__closure__[cell].cell_contents
            if type(inner) is types.FunctionType:
                found.append(inner)
    return found


@contextmanager
def refs_without_dynamo() -> Iterator[None]:
    """While it is entered (and dynamo not loaded), PyTorch's reference kernels run without importing
    dynamo; nested and concurrent uses share one setting, removed by the last to leave."""
    global _wrapped, _users
    if "torch._dynamo" in sys.modules:
        yield
        return
    with _lock:
        if _users == 0:
            if _wrapped is None:
                _wrapped = _find_wrapped()
            for fn in _wrapped:
                if _CACHED not in fn.__dict__:
                    fn.__dict__[_CACHED] = fn
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                for fn in _wrapped or []:
                    if fn.__dict__.get(_CACHED) is fn:
                        del fn.__dict__[_CACHED]
