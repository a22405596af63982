"""The op registry: every name is a real op, every registration has a class and a fusion role, and
the roles are what the fusion pass and the roofline rely on (``costs/registry.py``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import howfast
from howfast.capture import capture
from howfast.capture.torch_capture import COMPOSITE_FUNCTIONS
from howfast.conventions import Conventions
from howfast.costs.evaluate import evaluate
from howfast.costs.registry import REGISTRY, Cost, Fusion, OpClass, cost, registration


def _aten(name: str) -> tuple[str, str | None]:
    parts = name.split(".")
    return parts[1], (parts[2] if len(parts) > 2 else None)


def test_the_registry_is_loaded_and_large():
    registration("aten.relu.default")  # loads every formula module
    assert len(REGISTRY) > 400


def test_every_aten_name_is_a_real_op_or_overload():
    registration("aten.relu.default")
    unknown = []
    for name in REGISTRY:
        if not name.startswith("aten."):
            continue
        packet, overload = _aten(name)
        if not hasattr(torch.ops.aten, packet):
            unknown.append(name)
        elif overload is not None and overload not in getattr(torch.ops.aten, packet).overloads():
            unknown.append(name)
    assert unknown == []


def test_names_without_a_namespace_are_the_captured_composite_functions():
    registration("aten.relu.default")
    composite = {name for name in REGISTRY if not name.startswith(("aten.", "quantized."))}
    assert composite == set(COMPOSITE_FUNCTIONS.values())


def test_every_quantized_name_is_a_real_quantized_op():
    registration("aten.relu.default")
    names = [name for name in REGISTRY if name.startswith("quantized.")]
    assert names
    unknown = [name for name in names if not hasattr(torch.ops.quantized, name.split(".")[1])]
    assert unknown == []


def test_every_registration_has_a_class_and_a_fusion_role():
    registration("aten.relu.default")
    for name, entry in REGISTRY.items():
        assert isinstance(entry.op_class, OpClass) and isinstance(entry.fusion, Fusion), name
        assert (entry.formula is None) == (entry.op_class is OpClass.VIEW), name  # free ops are the views


def test_a_registration_needs_a_class():
    with pytest.raises(TypeError):
        cost("aten.definitely_not_an_op", op_class="gemm")  # type: ignore[arg-type]  # a string, not an OpClass
    with pytest.raises(TypeError):
        cost("aten.definitely_not_an_op")  # type: ignore[call-arg]


def test_a_name_registered_twice_fails_loudly():
    registration("aten.relu.default")
    with pytest.raises(ValueError, match="registered twice"):
        cost("aten.relu", op_class=OpClass.ELEMENTWISE)(lambda op, conv: Cost())


def test_in_place_variants_use_their_out_of_place_registration():
    assert registration("aten.relu_.default") is registration("aten.relu.default")
    assert registration("aten.add_.Tensor") is registration("aten.add.Tensor")
    assert registration("aten.no_such_op.default") is None


@pytest.mark.parametrize(("layer", "shape", "expected"), [
    (nn.Conv2d(16, 16, 3, padding=1, groups=16), "1x16x8x8", "dwconv"),
    (nn.Conv2d(16, 32, 3, padding=1, groups=16), "1x16x8x8", "dwconv"),  # depthwise with a channel multiplier
    (nn.Conv2d(16, 16, 3, padding=1, groups=4), "1x16x8x8", "conv"),  # grouped, not depthwise
    (nn.Conv2d(1, 8, 3, padding=1), "1x1x8x8", "conv"),  # one input channel is not depthwise
    (nn.Conv2d(16, 8, 1, stride=2), "1x16x8x8", "pwconv"),
    (nn.ConvTranspose2d(8, 8, 2, stride=2), "1x8x4x4", "conv"),
    (nn.Linear(8, 8), "2x8", "gemm"),
    (nn.ReLU(), "2x8", "elementwise"),
    (nn.GELU(), "2x8", "activation"),
    (nn.LayerNorm(8), "2x8", "norm"),
    (nn.MaxPool2d(2), "1x1x4x4", "pool"),
])
def test_the_class_is_decided_when_the_op_is_costed(layer, shape, expected):
    report = howfast.analyze(layer.eval(), shape)
    main = next(op for op in report.ops if op.counted and op.op_class != "view")
    assert main.op_class == expected


def test_fusion_roles_follow_the_mode_of_a_batch_norm():
    bn = nn.BatchNorm2d(4)
    x = torch.randn(2, 4, 3, 3)
    roles = {}
    for training in (False, True):
        bn.train(training)
        graph = capture(bn, (x,))
        (entry,) = [c for c in evaluate(graph.ops, Conventions()) if "batch_norm" in c.op]
        roles[training] = entry.fusion
    assert roles == {False: Fusion.BATCHNORM, True: Fusion.NONE}
