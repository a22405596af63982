"""Module paths from ONNX node names, so a graph's rows form a tree like a PyTorch model's.

* Scoped names, as the PyTorch exporters write them (``/layer1/layer1.0/conv1/Conv``): the
  components before the last are the module scopes, the last is the op. The TorchScript exporter
  names a child of a ``Sequential``/``ModuleList`` by its parent's attribute name plus the index
  (``layer1.0`` inside ``layer1``), so a component that repeats the path so far and adds numeric
  atoms only extends it: ``/layer1/layer1.0/conv1/Conv`` -> ``layer1.0.conv1``, the module path
  PyTorch itself uses. The op lands in its scope, as a PyTorch op lands in its module.
* Other names (``conv1``, ``block1/conv``, ``encoder.layer.0.fc``) are the node's own path: ``/``
  and ``.`` both separate levels, and the node is a leaf of the tree.
* Nodes from the dynamo exporter (``torch.onnx.export(dynamo=True)``) carry the module scopes
  in their metadata (``pkg.torch.onnx.name_scopes``: ``['', 'layer1', 'layer1.0', 'layer1.0.conv1',
  'conv2d']``): the innermost module's path is used, whatever the node's own name.
* Unnamed nodes are called ``<OpType>_<n>``.

Every prefix of a path is a module of the tree: a prefix is typed ``Group``; a leaf takes the op
type(s) of the nodes in it.
"""

from __future__ import annotations


def module_path(node_name: str, op_type: str, unnamed: dict[str, int], scopes: list[str] | None = None) -> str:
    """Dotted module path for a node (see the module docstring)."""
    if scopes:
        return scopes[-2].strip() if len(scopes) >= 2 else ""
    if isinstance(node_name, bytes):  # protobuf hands back bytes for a name that is not UTF-8
        node_name = node_name.decode("utf-8", "replace")
    name = (node_name or "").strip()
    if not name:
        n = unnamed.get(op_type, 0)
        unnamed[op_type] = n + 1
        return _clean(f"{op_type}_{n}")
    if name.startswith("/"):
        parts = [p for p in name.split("/") if p]
        return ".".join(scope_atoms(parts[:-1]))
    atoms = [a for part in name.split("/") for a in part.split(".")]
    return ".".join(_clean(a) for a in atoms if a.strip())


def scope_atoms(scopes: list[str]) -> list[str]:
    atoms: list[str] = []
    for component in scopes:
        parts = [_clean(a) for a in component.split(".") if a.strip()]
        if not parts:
            continue
        overlap = _overlap(atoms, parts) if len(parts) > 1 else 0
        atoms.extend(parts[overlap:])
    return atoms


def _overlap(path: list[str], parts: list[str]) -> int:
    """Longest k with path[-k:] == parts[:k] and parts[k:] all numeric (an indexed child)."""
    for k in range(min(len(path), len(parts) - 1), 0, -1):
        if path[-k:] == parts[:k] and all(p.isdigit() for p in parts[k:]):
            return k
    return 0


def _clean(atom: str) -> str:
    return atom.strip().replace(" ", "_")


def metadata_scopes(node: object) -> list[str] | None:
    """The dynamo exporter's ``pkg.torch.onnx.name_scopes`` of a node, if it has them."""
    import ast

    for prop in getattr(node, "metadata_props", ()):
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                value = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return None
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
            return None
    return None
