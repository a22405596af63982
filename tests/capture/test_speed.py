"""The fast paths of issue 18 give what the plain ones gave.

* the JSON renderer's text is ``json.dumps(report.to_dict(), indent=2)``, byte for byte;
* module totals summed module by module are the per-op, per-ancestor sums, paths in the same order;
* the tensor table never answers for a dead tensor whose id a new one reuses;
* ``walk_modules`` lists what ``named_modules`` lists, and one ``ModelTree`` what the walks it replaces list;
* views and in-place ops share their source's storage on the fast path;
* a ``torch.compile``'d function called inside the model runs eagerly (nothing is compiled), counted
  as the eager run; a CPU analysis does not import dynamo; ``gc_paused`` nests and restores.
"""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
from enum import Enum, IntEnum
from typing import Any

import torch
from torch import nn

import howfast
from howfast.capture.tensors import TensorIds
from howfast.capture.torch_capture import capture
from howfast.capture.tree import ModelTree, unique_tensors, walk_modules
from howfast.costs.evaluate import OpCost, Traffic
from howfast.graph.records import ModuleInfo, OpRecord, TensorKind, TensorMeta, ancestors
from howfast.passes.pause import gc_paused
from howfast.passes.tree import ModuleTotals, aggregate
from howfast.report.render.json import dumps_indented, render_json


class Word(str, Enum):
    A = "a\u00e9"


class Number(IntEnum):
    X = 3


def _value(rnd: random.Random, depth: int) -> Any:
    r = rnd.random()
    if depth > 4 or r < 0.5:
        return rnd.choice([0, -3, 10**30, 1.5, -0.0, 1e300, float("nan"), float("inf"), True, False, None, "x", "\u00e9\n\"\\\t", "",
                           Word.A, Number.X, 2.5e-10, [], {}, ()])
    if r < 0.75:
        return [_value(rnd, depth + 1) for _ in range(rnd.randint(0, 5))]
    if r < 0.85:
        return tuple(_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3)))
    keys = ["k", "\u00e9", 1, 2.5, True, None, "a\nb", Word.A, Number.X, float("nan")]
    return {rnd.choice(keys): _value(rnd, depth + 1) for _ in range(rnd.randint(0, 5))}


def test_indented_json_is_json_dumps_byte_for_byte() -> None:
    rnd = random.Random(18)
    for _ in range(3000):
        value = _value(rnd, 0)
        assert dumps_indented(value) == json.dumps(value, indent=2)


def test_the_json_report_is_json_dumps_of_to_dict() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4)).eval()
    report = howfast.analyze(model, "2x3x8x8", fused=True)
    assert render_json(report) == json.dumps(report.to_dict(), indent=2)
    assert render_json(report, include_ops=False) == json.dumps(report.to_dict(include_ops=False), indent=2)


def _per_op_totals(costs: list[OpCost], modules: dict[str, ModuleInfo]) -> dict[str, ModuleTotals]:
    totals: dict[str, ModuleTotals] = {}
    for cost in costs:
        if not cost.free:
            for path in ancestors(cost.module):
                totals.setdefault(path, ModuleTotals()).add(cost)
    for path, info in modules.items():
        if info.calls:
            for parent in ancestors(path):
                totals.setdefault(parent, ModuleTotals())
    return totals


def test_module_totals_are_the_per_op_sums_in_the_same_order() -> None:
    rnd = random.Random(7)

    def path() -> str:
        if rnd.random() < 0.1:
            return rnd.choice(["", ".", ".a", "a.", "..b"])  # odd ONNX scopes: the root twice among ancestors
        return ".".join(rnd.choice(["a", "b", "0", ""]) for _ in range(rnd.randint(0, 4)))

    def traffic() -> Traffic:
        return Traffic(*(rnd.randint(0, 9) for _ in range(6)))

    for _ in range(2000):
        costs = [OpCost(OpRecord(i, "op", path(), (), {}, ()), True, rnd.random() < 0.1, macs=rnd.randint(0, 99),
                        flops=rnd.randint(0, 99), writeup=traffic(), compulsory=traffic(), activation_elements=rnd.randint(0, 5))
                 for i in range(rnd.randint(0, 12))]
        modules = {p: ModuleInfo(p, "T", 0, calls=rnd.randint(0, 2)) for p in (path() for _ in range(rnd.randint(0, 6)))}
        fast, plain = aggregate(costs, modules), _per_op_totals(costs, modules)
        assert list(fast) == list(plain)
        assert all(repr(fast[p]) == repr(plain[p]) for p in fast)


def test_a_dead_tensors_entry_never_answers_for_a_new_tensor() -> None:
    ids = TensorIds()
    meta = TensorMeta(1, 1, (1,), "float32", 4, TensorKind.ACTIVATION)
    kept = torch.zeros(1)
    ids[kept] = meta
    assert ids.get(kept) is meta
    dead = torch.zeros(2)
    ids[dead] = meta
    key = id(dead)
    del dead
    gc.collect()
    newcomer = torch.zeros(3)
    ids.entries[id(newcomer)] = ids.entries.pop(key)  # as if the new tensor had the dead one's address
    assert ids.get(newcomer) is None and ids.get(kept) is meta


def test_walk_modules_lists_what_named_modules_lists() -> None:
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.Sequential(shared, nn.ReLU()), nn.ModuleList([nn.Identity(), shared]))
    for built in (model, howfast.zoo.build("mobilenet_v2"), howfast.zoo.build("gpt2")):
        for remove_duplicate in (True, False):
            ours = [(p, id(m)) for p, m in walk_modules(built, remove_duplicate)]
            assert ours == [(p, id(m)) for p, m in built.named_modules(remove_duplicate=remove_duplicate)]


def test_model_tree_is_the_walks_it_replaces() -> None:
    """One walk serves every reader of a capture: its unique list, first occurrences of the full walk, is
    ``walk_modules(model)``, and its tensors are ``unique_tensors``, on shared and cyclic trees too."""
    shared = nn.Linear(4, 4)
    inner = nn.Sequential(shared, nn.ReLU())
    model = nn.Sequential(shared, inner, nn.ModuleList([nn.Identity(), inner, shared]))
    cyclic = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    cyclic[1].add_module("back", cyclic)  # a back-reference registered as a submodule
    for built in (model, cyclic, howfast.zoo.build("mobilenet_v2"), howfast.zoo.build("gpt2")):
        tree = ModelTree(built)
        assert [(p, id(m)) for p, m in tree.every] == [(p, id(m)) for p, m in walk_modules(built, remove_duplicate=False)]
        assert [(p, id(m)) for p, m in tree.unique] == [(p, id(m)) for p, m in walk_modules(built)]
        for kind in ("parameters", "buffers"):
            assert [(n, id(t)) for n, t in tree.tensors(kind)] == [(n, id(t)) for n, t in unique_tensors(built, kind)]


def test_views_and_in_place_ops_share_their_source_storage() -> None:
    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            y = x * 2
            v = y.view(-1)
            y.add_(1)
            a, b = y.split(2, dim=1)
            return v, a, b, y.t()

    graph = capture(Net(), (torch.randn(3, 4),))
    ops = {op.op: op for op in graph.ops}
    made = ops["aten.mul.Tensor"].outputs[0]
    assert ops["aten.mul.Tensor"].aliases == frozenset()
    for name in ("aten.view.default", "aten.add_.Tensor", "aten.t.default"):
        assert ops[name].aliases == frozenset({0}) and ops[name].outputs[0].storage == made.storage
    assert ops["aten.add_.Tensor"].inplace
    assert ops["aten.split.Tensor"].aliases == frozenset({0, 1})
    assert {t.storage for t in ops["aten.split.Tensor"].outputs} == {made.storage}


def test_a_compiled_function_inside_the_model_runs_eagerly() -> None:
    compiled: list[Any] = []

    def backend(graph: Any, example_inputs: Any) -> Any:
        compiled.append(graph)
        return graph.forward

    def block(x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ x.T) + 1

    fast_block = torch.compile(block, backend=backend)

    class Net(nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(self.fc(x))

    eager = howfast.analyze(Net(block).eval(), "4x4")
    report = howfast.analyze(Net(fast_block).eval(), "4x4")
    assert not compiled
    assert [(o.op, o.flops) for o in report.ops] == [(o.op, o.flops) for o in eager.ops]


def test_a_cpu_analysis_does_not_import_dynamo() -> None:
    code = ("import sys, torch, howfast\n"
            "howfast.analyze(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval(), '1x3x8x8')\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_gc_paused_nests_and_restores() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
