"""JSON renderer: the report's data as a versioned document (``schema_version``).

The text is ``json.dumps(report.to_dict(), indent=2)`` byte for byte, written faster: Python's encoder
runs in pure Python once it indents (its C encoder does not indent), a few hundred milliseconds on a
report of thousands of ops. ``dumps_indented`` walks in Python only the containers that hold
non-empty containers; every run of plain items (numbers, text, empty containers) goes to the C
encoder in one call, with the item separator of its depth (``",\\n"`` and the indentation), which is
the indented layout of those items exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from howfast.passes.pause import gc_paused
from howfast.report.report import Report

INDENT = 2
_CONTAINERS = (dict, list, tuple)


def render_json(report: Report, include_ops: bool = True, **_: Any) -> str:
    with gc_paused():  # the document is hundreds of thousands of small objects, all alive until written
        return dumps_indented(report.to_dict(include_ops=include_ops))


def dumps_indented(value: Any) -> str:
    """``json.dumps(value, indent=2)``, the same text."""
    if not isinstance(value, _CONTAINERS):
        return json.dumps(value)
    parts: list[str] = []
    _container(value, 0, parts)
    return "".join(parts)


def _container(value: dict | list | tuple, depth: int, parts: list[str]) -> None:
    """A dict, list or tuple at ``depth``, indented as ``json.dumps`` indents it."""
    is_dict = isinstance(value, dict)
    if not value:
        parts.append("{}" if is_dict else "[]")
        return
    newline = _newline(depth + 1)
    close = _newline(depth) + ("}" if is_dict else "]")
    for item in value.values() if is_dict else value:  # type: ignore[union-attr]
        if isinstance(item, _CONTAINERS) and item:
            break
    else:  # plain items only: one call
        parts.append(("{" if is_dict else "[") + newline + _plain(value, depth + 1) + close)
        return
    parts.append("{" if is_dict else "[")
    if is_dict:
        _mixed_dict(value, depth + 1, parts)  # type: ignore[arg-type]
    else:
        _mixed_list(value, depth + 1, parts)  # type: ignore[arg-type]
    parts.append(close)


def _mixed_dict(value: dict, depth: int, parts: list[str]) -> None:
    newline = _newline(depth)
    separator, between = newline, "," + newline
    encode = _encoder(depth)
    run: dict = {}
    for key, item in value.items():
        if not (isinstance(item, _CONTAINERS) and item):
            run[key] = item
            continue
        if run:
            parts.append(separator + encode(run)[1:-1])
            separator, run = between, {}
        parts.append(separator + _key(key) + ": ")
        separator = between
        _container(item, depth, parts)
    if run:
        parts.append(separator + encode(run)[1:-1])


def _mixed_list(value: list | tuple, depth: int, parts: list[str]) -> None:
    newline = _newline(depth)
    separator, between = newline, "," + newline
    encode = _encoder(depth)
    run: list = []
    for item in value:
        if not (isinstance(item, _CONTAINERS) and item):
            run.append(item)
            continue
        if run:
            parts.append(separator + encode(run)[1:-1])
            separator, run = between, []
        parts.append(separator)
        separator = between
        _container(item, depth, parts)
    if run:
        parts.append(separator + encode(run)[1:-1])


def _plain(run: dict | list | tuple, depth: int) -> str:
    """Items with no non-empty container among them, as they stand at ``depth``: one C-encoded
    document with the separator of that depth, its brackets taken off."""
    return _encoder(depth)(run)[1:-1]


@lru_cache(maxsize=64)
def _newline(depth: int) -> str:
    return "\n" + " " * (INDENT * depth)


@lru_cache(maxsize=64)
def _encoder(depth: int) -> Callable[[Any], str]:
    """The compact encoder with the item separator of ``depth`` (``json.dumps``' own choices otherwise; the
    document is a tree, so no check for cycles)."""
    separators = ("," + _newline(depth), ": ")
    if c_make_encoder is None:  # no C accelerator: the Python encoder, which takes the separators as well
        return json.JSONEncoder(separators=separators).encode
    make = c_make_encoder(None, json.JSONEncoder().default, encode_basestring_ascii, None, separators[1], separators[0],
                          False, False, True)
    return lambda value: "".join(make(value, 0))


def _key(key: Any) -> str:
    """A dict key as ``json.dumps`` writes it: text as it is; a number, bool or None as its JSON text, quoted."""
    if isinstance(key, str):
        return encode_basestring_ascii(key)
    if isinstance(key, (int, float)) or key is None:
        return encode_basestring_ascii(json.dumps(key))  # true/false/null, an int's digits, a float's repr
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")
