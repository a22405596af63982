"""Multi-output views (unbind, split, chunk, split_with_sizes) and ``_unsafe_view`` share their
input's storage: liveness allocates nothing for them, and their input stays live while any of
them is read (docs/memory-models.md §4, §7). Peaks derived by hand; all tensors float32 (4 bytes).

The schemas of these ops return ``Tensor(a)[]``: Python exposes the list's alias annotation with
empty sets (the element's ``(a)`` is not visible), so the capture once gave every piece a new
storage, and liveness allocated them while ``activation_elements`` counted 0 (vit_tiny with
depth 2: two ``unbind``s of q, k, v, each 1x3x197x64 = 37,824 elements: 2 x 3 x 37,824 = 226,944
phantom elements).
``_unsafe_view`` (the second half of a reshape that must copy) has no alias annotation at all.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import howfast
from howfast.capture.torch_capture import capture
from tests.conftest import analyze_quiet


class _Halves(nn.Module):
    """x of 2x3x4 cut into two 12-element halves along dim 0, which are added."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def forward(self, x):
        if self.how == "unbind":
            a, b = torch.unbind(x, 0)  # two 3x4 views
        elif self.how == "chunk":
            a, b = torch.chunk(x, 2, 0)  # two 1x3x4 views
        elif self.how == "split":
            a, b = torch.split(x, 1, 0)
        else:  # split_with_sizes
            a, b = torch.split(x, [1, 1], 0)
        return a + b


# chunk dispatches to split.Tensor; a list of sizes to split_with_sizes
_OPS = {"unbind": "aten.unbind.int", "chunk": "aten.split.Tensor", "split": "aten.split.Tensor",
        "split_with_sizes": "aten.split_with_sizes.default"}


@pytest.mark.parametrize("how", sorted(_OPS))
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_halves_share_the_input_storage(how, device):
    x = torch.randn(2, 3, 4, device=device)
    graph = capture(_Halves(how), (x,))
    cut, add = graph.ops
    assert cut.op == _OPS[how] and add.op == "aten.add.Tensor"
    (source,) = cut.inputs
    # both pieces are views: aliased outputs living in x's storage, no new memory
    assert cut.aliases == frozenset({0, 1}) and cut.new_outputs == []
    assert [t.storage for t in cut.outputs] == [source.storage, source.storage]


@pytest.mark.parametrize("how", sorted(_OPS))
def test_halves_peak(how):
    report = analyze_quiet(_Halves(how), "2x3x4")
    # x: 24 elements = 96 B, live from the start and, through the two views, until the add.
    # the cut allocates nothing: live 96 B. The add: x (96 B) + its 12-element output (48 B) = 144 B;
    # then x dies and the output (48 B) stays. (With the pieces in new storages the cut itself
    # peaked at x + 2 x 48 B = 192 B.)
    assert report.totals.peak_activation_bytes == 96 + 48 == 144
    assert report.timeline == [96, 48]
    # only the add's output is new memory: 12 elements
    assert report.totals.activation_elements == 12


class _OneHalfLater(nn.Module):
    """b is read last: it keeps the whole of x alive through two ReLUs of a."""

    def forward(self, x):
        a, b = torch.unbind(x, 0)
        return torch.relu(torch.relu(a)) + b


def test_a_live_view_keeps_its_base_alive():
    report = analyze_quiet(_OneHalfLater(), "2x3x4")
    # x 96 B. unbind: nothing new, 96. relu(a): + 48 -> 144 (x stays: b is read later).
    # relu(relu(a)): + 48 -> 192 at the op, the first ReLU's output dies -> 144.
    # add: + 48 -> 192 at the op, then x and the second ReLU's output die -> 48 (the model output).
    assert report.timeline == [96, 144, 144, 48]
    assert report.totals.peak_activation_bytes == 96 + 48 + 48 == 192
    # three new 12-element tensors: two ReLUs and the add
    assert report.totals.activation_elements == 3 * 12


class _CopyingReshape(nn.Module):
    def forward(self, x):
        # an expanded tensor cannot be viewed as 12: reshape runs clone + _unsafe_view
        return x.expand(4, 3).reshape(12)


def test_unsafe_view_is_a_view_of_the_copy():
    graph = capture(_CopyingReshape(), (torch.randn(1, 3),))
    assert [op.op for op in graph.ops] == ["aten.expand.default", "aten.clone.default", "aten._unsafe_view.default"]
    clone, unsafe = graph.ops[1], graph.ops[2]
    assert unsafe.aliases == frozenset({0}) and unsafe.outputs[0].storage == clone.outputs[0].storage
    report = analyze_quiet(_CopyingReshape(), "1x3")
    # x 3 elements (12 B); expand: nothing new, 12 B; clone: x 12 B + the 12-element copy 48 B = 60 B,
    # then x dies: 48 B; _unsafe_view: nothing new, 48 B (was 48 + 48 = 96 B with a new storage)
    assert report.timeline == [12, 48, 48]
    assert report.totals.peak_activation_bytes == 12 + 48 == 60
    assert report.totals.activation_elements == 12


def test_vit_unbind_outputs_are_views_of_qkv():
    graph = capture(howfast.zoo.build("vit_tiny", {"depth": 2}, device="meta"), (torch.empty(1, 3, 224, 224, device="meta"),))
    unbinds = [op for op in graph.ops if op.op == "aten.unbind.int"]
    assert len(unbinds) == 2  # one per block
    for op in unbinds:
        # q, k, v: 3 views of 1x3x197x64 = 37,824 elements each, in the qkv projection's storage
        (qkv,) = op.inputs
        assert [t.shape for t in op.outputs] == [(1, 3, 197, 64)] * 3
        assert op.new_outputs == [] and {t.storage for t in op.outputs} == {qkv.storage}
