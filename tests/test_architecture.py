"""The structure CONTRIBUTING.md promises, checked on the source itself (the import contract of the
layer order is ``lint-imports``, run by ``.ci/run``; these are the rules it cannot express)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "howfast"
MAX_LINES = 500


def _modules() -> list[tuple[str, Path, ast.Module]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(("howfast", *parts)).removesuffix(".__init__")
        found.append((name, path, ast.parse(path.read_text(encoding="utf-8"))))
    return found


MODULES = _modules()


def _unit(module: str) -> str:
    """The top-level unit of a module: ``howfast.report.render.html`` -> ``report``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imported(tree: ast.Module) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) of every howfast import, function-local ones included (the
    package uses absolute imports only: ``test_imports_are_absolute``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.startswith("howfast")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("howfast"):
            found.append((node.lineno, node.module, [a.name for a in node.names]))
    return found


def test_imports_are_absolute():
    relative = [f"{path.relative_to(SRC)}:{node.lineno}" for _, path, tree in MODULES for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level]
    assert relative == []


def test_the_scan_sees_the_package():
    assert len(MODULES) > 80 and any(name == "howfast.report.report" for name, _, _ in MODULES)


def test_no_module_over_500_lines():
    long = {str(path.relative_to(SRC)): n for _, path, _ in MODULES if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_no_underscore_name_is_imported_across_modules():
    crossing = []
    for name, path, tree in MODULES:
        for line, target, names in _imported(tree):
            crossing += [f"{path.relative_to(SRC)}:{line} {target}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("howfast")
                   for a in node.names}
        aliases |= {a.asname for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
                    if a.name.startswith("howfast") and a.asname}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                crossing.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value.id}.{node.attr}")
    assert crossing == []


def test_no_import_cycle_between_top_level_units():
    edges: dict[str, set[str]] = {}
    for name, _, tree in MODULES:
        unit = _unit(name)
        for _, target, _ in _imported(tree):
            other = _unit(target)
            if unit and other and other != unit:
                edges.setdefault(unit, set()).add(other)
    assert len(edges) >= 10  # the scan found the units' imports
    cycle = _find_cycle(edges)
    assert cycle is None, " -> ".join(cycle or [])


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}}) is None


@pytest.mark.parametrize("parameter", ["report", "reports"])
def test_no_report_parameter_is_untyped(parameter):
    loose = []
    for _, path, tree in MODULES:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in node.args.args + node.args.kwonlyargs:
                    annotation = ast.unparse(arg.annotation) if arg.annotation is not None else None
                    if arg.arg == parameter and (annotation is None or "Any" in annotation):
                        loose.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}({arg.arg}: {annotation})")
    assert loose == []
