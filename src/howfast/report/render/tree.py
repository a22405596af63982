"""The module tree as rows to show: parents, leaves, repeated blocks folded, a depth that fits a screen.

``report.layers`` lists modules in ``named_modules()`` order (depth first, parents before children).
``tree_rows`` turns them into the rows a terminal or page shows:

* **Repeated blocks folded**: three or more consecutive siblings named ``<parent>.<i>`` with
  consecutive indices, the same module type and the same costs (MACs, FLOPs, bytes read and
  written, parameters) become one row ``layers.0-79 (x80)`` whose figures are their sum; their
  submodules are not shown (they are the same in every block).
* **Depth**: rows down to ``depth`` (0 = the model only); by default the largest depth whose rows
  fit in ``max_rows`` (at least 1).
* **Flat**: ``flat`` lists the leaf modules (full dotted names) instead of the tree; ``pattern``
  keeps the layers whose type or name matches it (a glob, case-insensitive), ``sort`` orders
  rows by a cost key (siblings within the tree, all rows in a flat list) and ``top`` keeps the
  first N. ``pattern``, ``sort`` and ``top`` make the list flat.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from howfast.report.report import LayerRow, Report

FOLD_AT_LEAST = 3
SORT_KEYS = ("macs", "flops", "bytes", "params", "time")
_INDEXED = re.compile(r"^(?P<stem>.*?)(?P<index>\d+)$")


def parents(report: Report) -> list[int]:
    """For each layer, the index of its nearest ancestor in ``report.layers`` (-1 for the root)."""
    index = {row.name: i for i, row in enumerate(report.layers)}
    out = []
    for row in report.layers:
        parent = -1
        if row.name != "":
            parts = row.name.split(".")
            for cut in range(len(parts) - 1, -1, -1):
                candidate = ".".join(parts[:cut])
                if candidate in index and candidate != row.name:
                    parent = index[candidate]
                    break
        out.append(parent)
    return out


def leaf_indices(report: Report) -> list[int]:
    """Indices of the layers with no submodule in the report (the root alone if it has none)."""
    has_child = {p for p in parents(report) if p >= 0}
    return [i for i in range(len(report.layers)) if i not in has_child]


@dataclass(slots=True)
class TreeRow:
    """One row to show: a layer, or ``count`` identical sibling blocks folded into one (``layers`` holds
    them all; the row's figures are their sum)."""

    layers: list[LayerRow]
    depth: int
    label: str  # what the row is called: the short name in a tree, the dotted path in a flat list
    children: list[TreeRow] = field(default_factory=list)

    @property
    def layer(self) -> LayerRow:
        return self.layers[0]

    @property
    def count(self) -> int:
        return len(self.layers)

    def total(self, value: Callable[[LayerRow], float]) -> float:
        return sum(value(layer) for layer in self.layers)


def _signature(layer: LayerRow) -> tuple[object, ...]:
    return (layer.type, layer.macs, layer.flops, layer.bytes_read, layer.bytes_written, layer.params)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1] if name else "(model)"


def build_tree(report: Report, fold: bool = True) -> TreeRow | None:
    """The module tree of ``report`` with repeated sibling blocks folded (``fold``)."""
    if not report.layers:
        return None
    up = parents(report)
    nodes = [TreeRow([layer], layer.depth, _short(layer.name)) for layer in report.layers]
    root = None
    for i, node in enumerate(nodes):
        if up[i] < 0:
            root = root or node
        else:
            nodes[up[i]].children.append(node)
    if root is not None and fold:
        _fold(root)
    return root


def _fold(node: TreeRow) -> None:
    folded: list[TreeRow] = []
    i = 0
    kids = node.children
    while i < len(kids):
        j = i + 1
        while j < len(kids) and _continues(kids[j - 1], kids[j]):
            j += 1
        if j - i >= FOLD_AT_LEAST:
            first, last = kids[i].layer.name, kids[j - 1].layer.name
            label = f"{_short(first)}-{_INDEXED.match(last).group('index')} (x{j - i})"  # type: ignore[union-attr]
            folded.append(TreeRow([k.layer for k in kids[i:j]], kids[i].depth, label))
        else:
            for kid in kids[i:j]:
                _fold(kid)
                folded.append(kid)
        i = j
    node.children = folded


def _continues(a: TreeRow, b: TreeRow) -> bool:
    """``b`` is the block after ``a``: the next index under the same stem, the same type and costs."""
    ma, mb = _INDEXED.match(a.layer.name), _INDEXED.match(b.layer.name)
    if ma is None or mb is None or ma.group("stem") != mb.group("stem") or not ma.group("stem").endswith("."):
        return False
    return int(mb.group("index")) == int(ma.group("index")) + 1 and _signature(a.layer) == _signature(b.layer)


def flatten(root: TreeRow, depth: int | None) -> list[TreeRow]:
    """The rows of ``root``'s tree down to ``depth`` (None: all), parents before children."""
    rows: list[TreeRow] = []

    def visit(node: TreeRow) -> None:
        if depth is not None and node.depth > depth:
            return
        rows.append(node)
        for kid in node.children:
            visit(kid)

    visit(root)
    return rows


def fitting_depth(root: TreeRow, max_rows: int) -> int:
    """The largest depth whose rows fit in ``max_rows`` (1 at least, the deepest level at most)."""
    deepest = max((row.depth for row in flatten(root, None)), default=0)
    best = min(1, deepest)
    for depth in range(1, deepest + 1):
        if len(flatten(root, depth)) > max_rows:
            break
        best = depth
    return best


def sort_children(node: TreeRow, key: Callable[[TreeRow], float]) -> None:
    """Siblings ordered by ``key``, largest first, at every level."""
    node.children.sort(key=key, reverse=True)
    for kid in node.children:
        sort_children(kid, key)


def flat_rows(report: Report, pattern: str | None = None) -> list[TreeRow]:
    """Leaf layers (full dotted names), or the layers whose type or name matches ``pattern``."""
    if pattern:
        chosen = [layer for layer in report.layers if _matches(layer, pattern)]
    else:
        chosen = [report.layers[i] for i in leaf_indices(report)]
    return [TreeRow([layer], 0, layer.name or "(model)") for layer in chosen]


def unmatched(report: Report, pattern: str) -> str:
    """Why no layer matches ``pattern``, with the closest layer types and names to try instead."""
    types = sorted({layer.type for layer in report.layers if layer.name})
    names = [layer.name for layer in report.layers if layer.name]
    close = difflib.get_close_matches(pattern, types, n=2, cutoff=0.6) + difflib.get_close_matches(pattern, names, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    shown = ", ".join(types[:12]) + (", ..." if len(types) > 12 else "")
    return (f"no layer's type or name matches {pattern!r}{hint}; --filter takes a type ({shown}) "
            "or a glob of dotted names (layer3.*)")


def repeated_leaves(report: Report) -> list[TreeRow]:
    """The leaf layers, those that are the same layer of repeated blocks (names that differ only in
    their first numbered part, the block's index; identical type and costs) in one row:
    ``layers.0-79.mlp.up_proj (x80)``."""
    groups: dict[tuple[object, ...], list[LayerRow]] = {}
    for i in leaf_indices(report):
        layer = report.layers[i]
        parts = layer.name.split(".")
        block = next((k for k, part in enumerate(parts) if part.isdigit()), None)
        pattern = tuple("#" if k == block else part for k, part in enumerate(parts))
        groups.setdefault((pattern, _signature(layer)), []).append(layer)
    return [TreeRow(members, 0, _repeated_label(members)) for members in groups.values()]


def _repeated_label(layers: list[LayerRow]) -> str:
    if len(layers) == 1:
        return layers[0].name or "(model)"
    columns = zip(*(layer.name.split(".") for layer in layers))
    parts = [_index_range(sorted({int(v) for v in values})) if len(set(values)) > 1 else values[0] for values in columns]
    return f"{'.'.join(parts)} (x{len(layers)})"


def _index_range(indices: list[int]) -> str:
    if indices == list(range(indices[0], indices[-1] + 1)):
        return f"{indices[0]}-{indices[-1]}"
    return "{" + ",".join(map(str, indices)) + "}"


def _matches(layer: LayerRow, pattern: str) -> bool:
    text = pattern.lower()
    glob = text if any(c in text for c in "*?[") else f"*{text}*"
    return layer.type.lower() == text or fnmatch.fnmatchcase(layer.name.lower(), glob)
