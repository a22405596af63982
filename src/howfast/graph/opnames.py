"""The forms of an op's name, in one place.

A captured aten op is named ``namespace.packet.overload`` (``aten.add.Tensor``, ``aten.relu_.default``);
ops recorded whole before kernel selection have plain names (``scaled_dot_product_attention``).

* ``packet``: the op without its overload, ``aten.add.Tensor`` -> ``aten.add``;
* ``family``: the packet of the out-of-place op, ``aten.relu_.default`` -> ``aten.relu`` (an in-place
  variant costs and behaves as its out-of-place op).

The names people read on charts (``batch norm``, ``ReLU``) are ``report/render/opdisplay.py``'s.
"""

from __future__ import annotations


def packet(name: str) -> str:
    """``"aten.add.Tensor"`` -> ``"aten.add"``; names of one or two parts stay as they are."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else name


def is_inplace(packet_name: str) -> bool:
    """An in-place packet ends in one underscore (``aten.relu_``); dunders (``aten.__and__``) do not count."""
    return packet_name.endswith("_") and not packet_name.endswith("__")


def family(name: str) -> str:
    """The out-of-place packet: ``"aten.relu_.default"`` -> ``"aten.relu"``."""
    p = packet(name)
    return p[:-1] if is_inplace(p) else p
