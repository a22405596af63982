"""Errors howfast raises on purpose, each with the CLI exit code it maps to.

The CLI turns any ``HowfastError`` into one line on stderr and its ``exit_code``; anything else is
a bug and exits with ``INTERNAL`` (the traceback is shown with ``--debug``).
"""

from __future__ import annotations

OK = 0
INTERNAL = 1
USAGE = 2
MODEL_LOAD = 3
BAD_INPUT = 4
UNCOUNTED = 5
BAD_FILE = 6
BENCH = 7
DEVICE = 8


class HowfastError(Exception):
    """Base class: a user-facing problem explained in one line."""

    exit_code = INTERNAL


class ModelLoadError(HowfastError):
    """The model argument names nothing we can build (unknown zoo name, missing factory...)."""

    exit_code = MODEL_LOAD


class InputSpecError(HowfastError):
    """An ``--input`` shape or dtype is malformed, or the model rejects the inputs."""

    exit_code = BAD_INPUT


class ModelRunError(InputSpecError):
    """The model raised while running on the given inputs."""


class UncountedOpError(HowfastError):
    """``strict`` analysis met an op with no cost formula."""

    exit_code = UNCOUNTED


class BadFileError(HowfastError):
    """A file (ONNX model, profile, report) is missing, truncated or malformed."""

    exit_code = BAD_FILE


class BenchmarkError(HowfastError):
    """A benchmark cannot run as asked (bad counts, budget too small, model failed)."""

    exit_code = BENCH


class DeviceError(HowfastError):
    """A device or hardware profile is unavailable or invalid."""

    exit_code = DEVICE


class UsageError(HowfastError):
    """Options that contradict each other or values out of range."""

    exit_code = USAGE


class GraphError(HowfastError):
    """A formula or pass failed on a captured graph: a malformed graph from a file (its front end
    turns this into a ``BadFileError``), otherwise a bug; the message names the op."""

    exit_code = INTERNAL


class ExportError(HowfastError):
    """A PyTorch model could not be exported (to ONNX)."""

    exit_code = BAD_FILE


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-empty line of ``exc``'s message (its type's name when it has none), cut at ``limit``."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(exc: BaseException, limit: int = 300) -> str:
    """``"TypeError: the first line of its message"``, or the type's name alone when it has no message."""
    name = type(exc).__name__
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return f"{name}: {first_line(exc, limit)}" if lines else name
