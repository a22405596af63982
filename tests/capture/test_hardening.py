"""Issue 16, the capture's share: inputs and models that cannot fit are refused before they are
allocated, `--until` a layer that never runs, threads, TorchScript and torch.compile, a tuple-like
input, factories that cannot be built on meta, duplicate keyword inputs, deep and cyclic module
trees, and factories that raise ``SystemExit``. One test per item, named after it."""

from __future__ import annotations

import sys
import textwrap
import threading
import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import howfast
from howfast import errors
from howfast.capture.loader import load_model
from howfast.cli.app import main
from howfast.graph.inputs import parse_inputs

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # torch.compile and jit say so


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, expected_code: int, *fragments: str) -> str:
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("howfast: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def quiet_analyze(model, inputs, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return howfast.analyze(model, inputs, **kwargs)


def layer_flops(report) -> dict[str, int]:
    return {layer.name: layer.flops for layer in report.layers}


class Net(nn.Module):
    """conv -> relu -> fc, and a module that the forward never calls."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8 * 6 * 6, 10)
        self.unused = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(self.relu(self.conv(x)).flatten(1))


# --- item 2: inputs and models that cannot fit --------------------------------------------------


def test_item2_inputs_that_cannot_fit_are_refused_before_allocating(capsys, monkeypatch):
    # 1.2 TB of float32: more than any machine this runs on has; refused before torch allocates it
    code, _, err = run(capsys, "analyze", "resnet18", "-i", "1x3x1000000x100000")
    line = assert_one_line_error(code, err, errors.BAD_INPUT, "1x3x1000000x100000", "--device meta", "available")
    assert "TiB" in line
    code, _, err = run(capsys, "analyze", "resnet18", "-b", "100000000")
    assert_one_line_error(code, err, errors.BAD_INPUT, "100000000x3x224x224", "--device meta")
    # beyond what PyTorch can address at all, even on meta (no memory needed)
    for spec in ("1x3x99999999999999999999x2", "1x3x4000000000x4000000000", "1x" + "9" * 5000):
        code, _, err = run(capsys, "analyze", "resnet18", "-i", spec, "--device", "meta")
        assert_one_line_error(code, err, errors.BAD_INPUT, "2^63")
    for batch in ("99999999999999999999", "9" * 400):
        code, _, err = run(capsys, "analyze", "resnet18", "-b", batch, "--device", "meta")
        assert_one_line_error(code, err, errors.BAD_INPUT, "2^63")
    # the figure, against a known amount of memory; the Python door refuses the same way
    monkeypatch.setattr("howfast.graph.memory.available_bytes", lambda device: (1 << 30, "MemAvailable"))
    with pytest.raises(errors.InputSpecError, match=r"would allocate 1.12 GiB.*1x3x1000x1000 float32, 11.44 MiB.*1.00 GiB available"):
        howfast.analyze(Net().eval(), ["1x3x1000x1000"] * 100)  # 100 inputs of 11.44 MiB: 1.12 GiB in all
    # what fits is still analysed, and meta allocates nothing, so it is never refused for memory
    assert quiet_analyze(Net().eval(), "1x3x8x8").totals.macs == 10656
    assert quiet_analyze(Net().to("meta").eval(), "1000000x3x8x8").totals.macs == 10656 * 1000000


def test_item2_zoo_model_that_cannot_fit_is_refused_before_building(capsys, monkeypatch):
    monkeypatch.setattr("howfast.graph.memory.available_bytes", lambda device: (16 << 20, "MemAvailable"))
    code, _, err = run(capsys, "analyze", "resnet18")
    assert_one_line_error(code, err, errors.MODEL_LOAD, "resnet18", "44.63 MiB", "16.00 MiB", "--device meta")
    with pytest.raises(errors.ModelLoadError, match="--device meta"):
        load_model("resnet18", device="cpu")
    assert load_model("resnet18", device="meta").model.fc.weight.is_meta  # meta needs no memory
    monkeypatch.setattr("howfast.graph.memory.available_bytes", lambda device: (64 << 30, "MemAvailable"))
    code, _, err = run(capsys, "analyze", "llama2_70b", "-i", "1x16:int64")  # 257 GiB of weights: not even tried
    assert_one_line_error(code, err, errors.MODEL_LOAD, "llama2_70b", "256.96 GiB", "64.00 GiB", "--device meta")


# --- item 4: --until a layer that never runs -----------------------------------------------------


def test_item4_until_never_executed_is_refused(capsys, tmp_path):
    with pytest.raises(errors.InputSpecError, match="'unused' never ran"):
        quiet_analyze(Net().eval(), "1x3x8x8", until="unused")
    assert quiet_analyze(Net().eval(), "1x3x8x8", until="relu").totals.macs == 7776  # a layer that runs still cuts
    source = tmp_path / "net.py"
    source.write_text(textwrap.dedent("""
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.unused = nn.Linear(4, 4)
            def forward(self, x):
                return self.fc(x)
        def make():
            return Net()
    """))
    code, _, err = run(capsys, "analyze", f"{source}:make", "-i", "1x4", "--until", "unused")
    assert_one_line_error(code, err, errors.BAD_INPUT, "'unused' never ran")


# --- item 5: threads ------------------------------------------------------------------------------


def test_item5_concurrent_threads_attribute_by_thread():
    start, entered, release = threading.Event(), threading.Event(), threading.Event()
    other = {"thread": None}

    class Gate(nn.Module):
        def forward(self, x):
            if threading.current_thread() is other["thread"]:
                entered.set()  # the other thread is inside `gate` ...
                release.wait(5)  # ... while the analysis runs the model's own ops
            return x + 1

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gate = Gate()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            if other["thread"] is not None and threading.current_thread() is not other["thread"]:
                start.set()
                entered.wait(5)
            y = self.gate(x) * 3
            release.set()
            return self.fc(y)

    model = Model().eval()
    alone = quiet_analyze(model, "2x4")
    assert layer_flops(alone) == {"": 88, "gate": 8, "fc": 72}

    def run_gate() -> None:
        start.wait(5)
        model.gate(torch.randn(2, 4))

    other["thread"] = threading.Thread(target=run_gate)
    other["thread"].start()
    beside = quiet_analyze(model, "2x4")
    other["thread"].join()
    assert entered.is_set()
    assert layer_flops(beside) == layer_flops(alone)
    assert {layer.name: layer.calls for layer in beside.layers} == {layer.name: layer.calls for layer in alone.layers}

    # two analyses of one model at once, their forwards interleaved at a barrier
    barrier = threading.Barrier(2, timeout=10)

    class Meet(nn.Module):
        def forward(self, x):
            barrier.wait()
            return x * 2

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 8)
            self.meet = Meet()
            self.b = nn.Linear(8, 2)

        def forward(self, x):
            return self.b(self.meet(self.a(x)))

    twice = Twice().eval()
    results: list = [None, None]

    def analyse(i: int) -> None:
        results[i] = quiet_analyze(twice, "3x4")

    threads = [threading.Thread(target=analyse, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {"": 2 * 3 * 4 * 8 + 3 * 8 + 3 * 8 + 2 * 3 * 8 * 2 + 3 * 2, "a": 2 * 3 * 4 * 8 + 3 * 8, "meet": 3 * 8,
                "b": 2 * 3 * 8 * 2 + 3 * 2}
    for report in results:
        assert layer_flops(report) == expected


# --- item 6: TorchScript and torch.compile ---------------------------------------------------------


def test_item6_torch_compile_keeps_the_module_tree():
    model = Net().eval()
    eager = quiet_analyze(model, "1x3x8x8")
    compiled = quiet_analyze(torch.compile(model), "1x3x8x8")
    assert layer_flops(compiled) == layer_flops(eager)
    assert compiled.model.name == "Net"
    assert not any("_orig_mod" in layer.name for layer in compiled.layers)

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.compile(Net())
            self.head = nn.Linear(10, 2)

        def forward(self, x):
            return self.head(self.net(x))

    outer = quiet_analyze(Outer().eval(), "1x3x8x8")
    names = {layer.name for layer in outer.layers}
    assert {"net", "net.conv", "net.fc", "head"} <= names and not any("_orig_mod" in n for n in names)
    assert layer_flops(outer)["net.conv"] == layer_flops(eager)["conv"]
    assert {layer.name: layer.type for layer in outer.layers}["net"] == "Net"


def test_item6_torchscript_says_per_layer_attribution_is_unavailable(capsys, tmp_path):
    model = Net().eval()
    eager = quiet_analyze(model, "1x3x8x8")
    for scripted in (torch.jit.script(model), torch.jit.trace(model, torch.randn(1, 3, 8, 8))):
        with pytest.warns(UserWarning, match="per-layer attribution is unavailable"):
            report = howfast.analyze(scripted, "1x3x8x8")
        assert report.totals.flops == eager.totals.flops
        assert any("per-layer attribution is unavailable" in note for note in report.notes)
        assert report.to_dict()["notes"] == report.notes
    source = tmp_path / "scripted.py"
    source.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        def make():
            return torch.jit.script(nn.Sequential(nn.Linear(4, 4), nn.ReLU()))
    """))
    code, out, err = run(capsys, "analyze", f"{source}:make", "-i", "1x4")
    assert code == 0, err
    assert "per-layer attribution is unavailable" in err and "Traceback" not in err


# --- item 8: a tuple-like input that is one argument -----------------------------------------------


def test_item8_packed_sequence_stays_one_argument():
    class Packed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(4, 8)

        def forward(self, packed):
            out, _ = self.lstm(packed)
            return out.data

    packed = pack_padded_sequence(torch.randn(5, 2, 4), [5, 3])
    report = quiet_analyze(Packed().eval(), packed)
    assert report.totals.macs == quiet_analyze(Packed().eval(), (packed,)).totals.macs > 0


# --- item 9: factories that cannot be built on meta ------------------------------------------------


def test_item9_factory_that_reads_values_builds_for_meta(capsys, tmp_path):
    source = tmp_path / "regnet_like.py"
    source.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        def make(width=8):
            # like torchvision's RegNet: widths computed as tensors, then read with .tolist()
            widths = (torch.arange(1, 3) * width).tolist()
            return nn.Sequential(nn.Linear(4, widths[0]), nn.ReLU(), nn.Linear(widths[0], widths[1]))
        def huge():
            n = int(torch.tensor(1 << 20).item())
            return nn.Sequential(nn.Linear(n, n), nn.Linear(n, n))
    """))
    loaded = load_model(f"{source}:make", device="meta")
    assert all(p.is_meta for p in loaded.model.parameters())
    assert sum(p.numel() for p in loaded.model.parameters()) == 4 * 8 + 8 + 8 * 16 + 16
    code, out, err = run(capsys, "analyze", f"{source}:make", "-i", "1x4", "--device", "meta", "-f", "json")
    assert code == 0, err
    assert '"params": 184' in out
    # on the cpu it would allocate 8 TiB: the fallback build is watched and refused in one line
    code, _, err = run(capsys, "analyze", f"{source}:huge", "-i", "1x4", "--device", "meta")
    assert_one_line_error(code, err, errors.MODEL_LOAD, "cannot be built on meta", "available")


# --- item 11: duplicate keyword inputs --------------------------------------------------------------


def test_item11_duplicate_keyword_inputs_are_refused(capsys):
    with pytest.raises(errors.InputSpecError, match="'x' is given twice"):
        parse_inputs(["x=1x4", "x=1x8"])
    code, _, err = run(capsys, "analyze", "gpt2:layers=1", "--device", "meta", "-i", "x=1x4:int64", "-i", "x=1x8:int64")
    assert_one_line_error(code, err, errors.BAD_INPUT, "'x' is given twice")
    with pytest.raises(errors.InputSpecError, match="'x' is given twice"):
        howfast.analyze(nn.Linear(4, 4), "x=1x4", kwargs={"x": torch.randn(1, 4)})
    assert len(parse_inputs(["x=1x4", "y=1x8", "1x2", "1x2"])) == 4  # positional inputs may repeat


# --- item 14: deep and cyclic module trees; SystemExit from a factory ---------------------------------


class Wrap(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def nested(depth: int) -> nn.Module:
    model: nn.Module = nn.Linear(2, 2)
    for _ in range(depth):
        model = Wrap(model)
    return model  # no mode to set (and eval() itself recurses)


def deepest(runs) -> int:
    low, high = 1, 2000
    while low < high:
        middle = (low + high + 1) // 2
        try:
            runs(nested(middle))
            low = middle
        except RecursionError:
            high = middle - 1
    return low


def test_item14_deep_module_tree_runs_as_deep_as_pytorch():
    x = torch.randn(1, 2)
    torch_depth = deepest(lambda model: model(x))
    before = sys.getrecursionlimit()
    report = quiet_analyze(nested(torch_depth), "1x2")
    assert report.totals.macs == 4
    assert report.layer("inner." * (torch_depth - 1) + "inner").macs == 4
    assert sys.getrecursionlimit() == before
    # deeper than PyTorch itself runs: a clean error, not a RecursionError
    with pytest.raises(errors.ModelRunError, match="RecursionError"):
        quiet_analyze(nested(torch_depth * 2), "1x2")


def test_item14_cyclic_module_tree_is_analysed(capsys, tmp_path):
    class Child(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(x)

    class Parent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.child = Child()
            self.child.parent = self  # a back-reference registered as a submodule: a cycle

        def forward(self, x):
            return self.child(x)

    model = Parent()
    report = quiet_analyze(model, "1x4", train=False)
    assert report.totals.macs == 16 and report.layer("child.fc").macs == 16
    assert report.totals.params == 20
    assert model.training  # the cycle is left as it was
    source = tmp_path / "cyclic.py"
    source.write_text(textwrap.dedent("""
        from torch import nn
        class Child(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)
            def forward(self, x):
                return self.fc(x)
        class Parent(nn.Module):
            def __init__(self):
                super().__init__()
                self.child = Child()
                self.child.parent = self  # PyTorch's own eval() never returns on this tree
            def forward(self, x):
                return self.child(x)
        def make():
            return Parent()
    """))
    code, out, err = run(capsys, "analyze", f"{source}:make", "-i", "1x4", "-f", "json")
    assert code == 0, err
    assert '"macs": 16' in out


def test_item14_factory_base_exception_is_a_load_error(capsys, tmp_path):
    source = tmp_path / "exits.py"
    source.write_text(textwrap.dedent("""
        import sys
        class Stop(BaseException):
            pass
        def exits():
            sys.exit(3)
        def stops():
            raise Stop("no more")
        def interrupted():
            raise KeyboardInterrupt
    """))
    code, _, err = run(capsys, "analyze", f"{source}:exits", "-i", "1x4")
    assert_one_line_error(code, err, errors.MODEL_LOAD, "SystemExit")
    code, _, err = run(capsys, "analyze", f"{source}:stops", "-i", "1x4")
    assert_one_line_error(code, err, errors.MODEL_LOAD, "Stop: no more")
    code, _, err = run(capsys, "analyze", f"{source}:interrupted", "-i", "1x4")
    assert_one_line_error(code, err, 130, "interrupted")
    at_import = tmp_path / "exits_at_import.py"
    at_import.write_text("import sys\nsys.exit(0)\n")
    code, _, err = run(capsys, "analyze", f"{at_import}:make", "-i", "1x4")
    assert_one_line_error(code, err, errors.MODEL_LOAD, "SystemExit")
