"""Every op name the ONNX handlers can emit has a cost registration (a formula, or a free op).

The names are collected statically from the source of the handler modules (``howfast.onnx.handlers``):

* every string literal starting with ``aten.``, the values of the name tables (``UNARY``,
  ``BINARY``, ``REDUCTIONS``, ``MAX_POOL``...) included;
* the op argument of every ``emit``, ``emit_view`` and ``record`` call, followed through the local
  variables and module tables it reads (so names outside ``aten.``, such as ``lstm`` or
  ``scaled_dot_product_attention``, are checked too). An op argument this cannot follow (an
  f-string, a computed name) fails ``test_every_op_argument_resolves``: write the names out.

Records named ``onnx.<OpType>`` (a node without a handler, or one a handler gives up on with
``n.unknown()``) are deliberately unregistered: the report lists them as uncounted.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import howfast.onnx.handlers as handlers_package
from howfast.costs.registry import registration
from howfast.onnx.context import HANDLERS
from howfast.onnx.handlers.lists import RECORDS_NOTHING

HANDLER_DIR = Path(handlers_package.__file__).parent
PACKAGE = handlers_package.__name__
EMITTERS = {"emit", "emit_view", "record"}  # NodeContext.emit, NodeContext.emit_view, Walker.record


class Unresolved(Exception):
    """An op argument that is not made of literal names."""


@dataclass
class Scan:
    """What the scan of the handler modules found."""

    literals: set[str] = field(default_factory=set)  # "aten." string literals
    by_function: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (module, function) -> names it emits
    unresolved: list[str] = field(default_factory=list)  # "module.function: expression" of op arguments not followed
    formatted: list[str] = field(default_factory=list)  # f-strings starting with "aten."

    def names(self) -> set[str]:
        emitted = set().union(*self.by_function.values()) if self.by_function else set()
        return self.literals | emitted


def handler_modules() -> list[Path]:
    return sorted(p for p in HANDLER_DIR.glob("*.py") if p.name != "__init__.py")


def module_assignments(tree: ast.Module) -> dict[str, list[ast.expr]]:
    """Module-level ``NAME = value`` assignments (the name tables)."""
    return assignments(tree.body)


def assignments(statements: list[ast.stmt]) -> dict[str, list[ast.expr]]:
    """``NAME = value`` and ``NAME: type = value`` assignments anywhere in ``statements``."""
    found: dict[str, list[ast.expr]] = {}
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                found.setdefault(node.target.id, []).append(node.value)
    return found


def names_of(expr: ast.expr, local: dict[str, list[ast.expr]], tables: dict[str, list[ast.expr]]) -> set[str]:
    """The op names ``expr`` can evaluate to: literals, branches, tables and the variables holding them."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        return names_of(expr.body, local, tables) | names_of(expr.orelse, local, tables)
    if isinstance(expr, ast.Dict):
        return set().union(*(names_of(v, local, tables) for v in expr.values))
    if isinstance(expr, ast.Subscript):  # TABLE[key]
        return names_of(expr.value, local, tables)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "get" and len(expr.args) == 1:
        return names_of(expr.func.value, local, tables)  # TABLE.get(key): a name, or None for n.unknown()
    if isinstance(expr, ast.Name) and expr.id in local:
        return set().union(*(names_of(v, {}, tables) for v in local[expr.id]))  # every value it is given
    if isinstance(expr, ast.Name) and expr.id in tables:
        return set().union(*(names_of(v, {}, tables) for v in tables[expr.id]))
    raise Unresolved(ast.unparse(expr))


def op_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "op"), None)


def emitted_names(function: ast.FunctionDef, module: str, tables: dict[str, list[ast.expr]], scan: Scan) -> set[str]:
    local = assignments(function.body)
    names: set[str] = set()
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EMITTERS):
            continue
        argument = op_argument(node)
        try:
            if argument is None:
                raise Unresolved("(no op argument)")
            names |= names_of(argument, local, tables)
        except Unresolved as exc:
            scan.unresolved.append(f"{module}.{function.name}: {exc}")
    return names


def scan_module(path: Path, scan: Scan) -> None:
    module = f"{PACKAGE}.{path.stem}"
    tree = ast.parse(path.read_text(), filename=str(path))
    tables = module_assignments(tree)
    in_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("aten.") and id(node) not in in_fstrings:
            scan.literals.add(node.value)
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            if str(node.values[0].value).startswith("aten."):
                scan.formatted.append(f"{module}: {ast.unparse(node)}")
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef):
            scan.by_function[(module, statement.name)] = emitted_names(statement, module, tables, scan)


def scan_handlers() -> Scan:
    scan = Scan()
    for path in handler_modules():
        scan_module(path, scan)
    return scan


SCAN = scan_handlers()
NAMES = sorted(SCAN.names())


def test_the_scan_finds_a_substantial_number_of_names() -> None:
    assert len(handler_modules()) >= 5
    assert len(SCAN.literals) >= 100, sorted(SCAN.literals)
    assert len(NAMES) >= 100
    for expected in ("aten.convolution.default", "aten.relu.default", "aten.mean.dim", "aten.max_pool2d.default", "lstm", "dropout"):
        assert expected in NAMES


def test_every_op_argument_resolves() -> None:
    assert SCAN.unresolved == []
    assert SCAN.formatted == []


@pytest.mark.parametrize("name", NAMES)
def test_every_emitted_name_is_registered(name: str) -> None:
    assert registration(name) is not None, f"{name!r} is emitted by the ONNX translation but has no formula and is not declared free"


def test_every_handled_op_type_maps_to_a_name() -> None:
    assert len(HANDLERS) >= 100
    for op_type, handler in sorted(HANDLERS.items()):
        key = (handler.__module__, handler.__name__)
        assert key in SCAN.by_function, f"{op_type}: handler {key} is not a top-level function of a module in {HANDLER_DIR}"
        if op_type in RECORDS_NOTHING:  # sequence indexing and building: Python list operations, no op
            assert not SCAN.by_function[key], f"{op_type}: declared to record nothing, but emits {SCAN.by_function[key]}"
            continue
        assert SCAN.by_function[key], f"{op_type}: handler {key} emits no name the scan can find"


def test_the_package_imports_every_handler_module() -> None:
    """``howfast.onnx.handlers`` imports each module explicitly, so the walk's table is complete."""
    tree = ast.parse((HANDLER_DIR / "__init__.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == PACKAGE for alias in node.names}
    assert imported == {p.stem for p in handler_modules()}
