"""Every op name the ONNX handlers can emit has a registration in the cost registry, so a typo in a
handler cannot silently make an op uncounted (``onnx/handlers/``, ``costs/registry.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

import howfast.onnx.handlers as handlers
from howfast.costs.registry import registration
from howfast.onnx.handlers import HANDLERS

HANDLER_DIR = Path(handlers.__file__).parent


def _emitted_names() -> dict[str, str]:
    """Every aten op name the handler modules can emit, with where it is written: string literals
    (tables included), f-strings over the spatial rank (``f"aten.max_pool{spatial}d.default"``, for
    ranks 1 to 3) and Resize's ``f"aten.{name}.vec"`` over its table of upsample kernels."""
    found: dict[str, str] = {}
    for path in sorted(HANDLER_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_fstrings = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_fstrings:
                if node.value.startswith("aten."):
                    found.setdefault(node.value, where)
                elif node.value.startswith("upsample_"):
                    found.setdefault(f"aten.{node.value}.vec", where)
            elif isinstance(node, ast.JoinedStr) and _text(node.values[0]).startswith("aten."):
                for name in _expand(node):
                    found.setdefault(name, where)
    return found


def _text(value: ast.expr) -> str:
    return value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else ""


def _expand(node: ast.JoinedStr) -> list[str]:
    """The names an f-string can take: ``{spatial}`` over 1..3; ``{name}`` is Resize's table (scanned
    as its ``upsample_*`` literals), so it adds nothing here."""
    parts: list[list[str]] = []
    for value in node.values:
        if isinstance(value, ast.FormattedValue):
            variable = value.value.id if isinstance(value.value, ast.Name) else ""
            if variable != "spatial":
                assert variable == "name", ast.unparse(node)  # a new kind of f-string: teach the scan
                return []
            parts.append(["1", "2", "3"])
        else:
            parts.append([_text(value)])
    names = [""]
    for options in parts:
        names = [prefix + option for prefix in names for option in options]
    return names


def test_the_scan_finds_the_handlers_names():
    names = _emitted_names()
    assert len(names) > 60
    assert {"aten.convolution.default", "aten.addmm.default", "aten.max_pool2d.default", "aten.upsample_bilinear2d.vec"} <= set(names)
    assert len(HANDLERS) > 80  # ONNX op types with a translation


def test_every_emitted_name_is_registered():
    unregistered = {name: where for name, where in _emitted_names().items() if registration(name) is None}
    assert unregistered == {}
