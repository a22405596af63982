"""Issue 16, the hardening items of the CLI, the zoo, the measurements and the text renderers: one
test per item, each reproducing what a hostile or careless user met (``test_itemN_...``)."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import howfast
from howfast.bench.interleave import benchmark_interleaved
from howfast.bench.layers import per_layer_times
from howfast.bench.sweep import sweep
from howfast.cli.app import main
from howfast.transforms.fold import max_difference

ROOT = Path(__file__).resolve().parents[2]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 (bar tab and newline), DEL, C1
OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # a clipboard write
TITLE = "\x1b]0;owned\x07"  # a window title
CSI = "\x9b31m"  # C1 control sequence introducer


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, expected: int, fragment: str = "") -> str:
    assert code == expected, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("howfast: error: "), err
    assert fragment in lines[0], lines[0]
    return lines[0]


def factory(tmp_path: Path, body: str, name: str = "model.py") -> str:
    path = tmp_path / name
    path.write_text("import torch\nfrom torch import nn\n\n" + textwrap.dedent(body))
    return str(path)


def subprocess_main(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=tempfile.gettempdir())


# ------------------------------------------------------------------------------------ item 7


class ConvBN(nn.Module):
    """A conv and a batch norm, in training mode; ``fail`` raises after the batch norm ran."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.conv, self.bn, self.fail = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), fail

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.conv(x))
        if self.fail:
            raise RuntimeError("fails after the batch norm")
        return y


ENTRY_POINTS = {
    "benchmark": lambda m, x: howfast.benchmark(m, x, runs=2, warmup=1),
    "benchmark_per_layer": lambda m, x: howfast.benchmark(m, x, runs=1, warmup=1, per_layer=True, layer_runs=1),
    "benchmark_onnxruntime": lambda m, x: howfast.benchmark(m, x, runs=1, warmup=0, runtime="onnxruntime"),
    "per_layer_times": lambda m, x: per_layer_times(m, (x,), runs=1, warmup=1),
    "sweep": lambda m, x: sweep(m, x, batches=[2, 3], runs=1, warmup=1),
    "interleaved": lambda m, x: benchmark_interleaved([(m, x, None), (m, x, None)], runs=2, rounds=1, warmup=1),
    "max_difference": lambda m, x: max_difference(m, copy.deepcopy(m), x),
    "analyze": lambda m, x: howfast.analyze(m, x),
}


@pytest.mark.parametrize("fail", [False, True], ids=["runs", "raises_after_bn"])
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_item7_no_entry_point_changes_batchnorm_statistics(entry, fail):
    model = ConvBN(fail).train()
    with torch.no_grad():
        model.bn.running_mean.fill_(0.5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        ENTRY_POINTS[entry](model, torch.randn(2, 3, 8, 8))
    except Exception:  # the failing model fails however the entry point reports it; the state is what counts
        assert fail
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), [k for k in before if not torch.equal(before[k], after[k])]
    assert model.training and model.bn.training


def test_item7_export_keeps_batchnorm_statistics(tmp_path):
    from howfast.onnx.export import export_model

    model = ConvBN().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_model(model, (torch.randn(2, 3, 8, 8),), {}, tmp_path / "m.onnx")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ----------------------------------------------------------------------------------- item 12

BAD_ZOO_OPTIONS = {
    "gpt2:heads=5": "divide",
    "vit_tiny:attention=bogus": "sdpa",
    "vit_tiny:patch=512": "divide",
    "vit_tiny:heads=5": "divide",
    "mobilenet_v2:width=nan": "0.05 to 10",
    "mobilenet_v2:width=inf": "0.05 to 10",
    "mobilenet_v2:width=-1": "0.05 to 10",
    "mobilenet_v2:width=0": "0.05 to 10",
    "mobilenet_v1:width=1e-9": "0.05 to 10",
    "resnet18:num_classes=1e10": "from 1 to",
    "resnet18:num_classes=0": "from 1 to",
    "resnet18:num_classes=10000000000": "from 1 to",
    "vgg16:num_classes=-3": "from 1 to",
    "gpt2:layers=-1": "from 0 to",
    "llama:kv_heads=3": "divide",
    "llama:d_model=24,heads=8": "even",
    "llama:sliding_window=-2": "from 0 to",
    "mixtral:top_k=9": "at most",
    "mixtral:rope_theta=nan": "rope_theta",
    "mobilenet_v2:keras_padding=maybe": "true/false",
}


@pytest.mark.parametrize("spec", list(BAD_ZOO_OPTIONS))
def test_item12_zoo_option_values_out_of_range_exit_3_with_the_valid_range(capsys, spec):
    code, _, err = run(capsys, "analyze", spec, "--device", "meta", "-d", "0")
    one_line_error(code, err, 3, BAD_ZOO_OPTIONS[spec])


def test_item12_zoo_build_checks_values_given_in_python():
    with pytest.raises(howfast.errors.ModelLoadError, match="divide"):
        howfast.zoo.build("gpt2", {"heads": 5}, device="meta")
    with pytest.raises(howfast.errors.ModelLoadError, match="0.05 to 10"):
        howfast.zoo.build("mobilenet_v2", {"width": float("nan")}, device="meta")
    assert howfast.zoo.build("gpt2", {"heads": 6, "layers": 0}, device="meta") is not None  # 768 / 6


def test_item12_every_zoo_default_is_a_valid_value():
    """A new zoo model's options get whole-number ranges from 1 by default: a default outside its
    declared range (an option where 0 means off needs ``low=0``) would refuse the value it documents."""
    for entry in howfast.zoo.entries():
        entry.check({o.name: o.default for o in entry.options})


# ----------------------------------------------------------------------------------- item 13

TINY = """
def make():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
"""


@pytest.mark.parametrize("dtype", ["int8", "bool", "int64", "uint8"])
def test_item13_non_float_dtype_is_one_line_exit_2_on_every_model_command(capsys, tmp_path, dtype):
    marker = tmp_path / "built"
    spec = factory(tmp_path, f"""
def make():
    open({str(marker)!r}, "w").close()
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
""") + ":make"
    onnx_file = tmp_path / "m.onnx"
    torch.onnx.export(nn.Sequential(nn.Conv2d(3, 4, 3)), (torch.randn(1, 3, 8, 8),), str(onnx_file), dynamo=False)
    commands = [
        ["analyze", spec], ["bench", spec, "-n", "1"], ["fold", spec], ["compare", spec, spec], ["export", spec, str(tmp_path / "o.onnx")],
        ["analyze", str(onnx_file)], ["bench", str(onnx_file), "-n", "1"],
    ]
    for command in commands:
        code, _, err = run(capsys, *command, "-i", "1x3x8x8", "--dtype", dtype)
        one_line_error(code, err, 2, "dtype")
    assert not marker.exists()  # refused before the model is built (a large model would be allocated first)
    code, _, err = run(capsys, "llm", "gpt2", "--dtype", dtype, "-p", "4", "-n", "1")
    one_line_error(code, err, 2, "dtype")


# ----------------------------------------------------------------------------------- item 14

NOT_TENSORS = {
    "none": "return None",
    "text": "return 'not a tensor'",
    "number": "return 3",
    "dict_of_numbers": "return {'a': 1}",
    "empty_tensor": "return x[:0]",
}


@pytest.mark.parametrize("returns", list(NOT_TENSORS))
def test_item14_fold_of_a_model_whose_output_is_not_a_tensor(capsys, tmp_path, returns):
    spec = factory(tmp_path, f"""
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    def forward(self, x):
        x = self.bn(self.conv(x))
        {NOT_TENSORS[returns]}

def make():
    return M()
""") + ":make"
    code, out, err = run(capsys, "fold", spec, "-i", "1x3x8x8")
    assert code == 0, err
    assert "Traceback" not in err and "folded 1 batch norm" in out
    assert "not compared" in out
    code, out, _ = run(capsys, "fold", spec, "-i", "1x3x8x8", "-f", "json")
    assert code == 0 and json.loads(out)["max_abs_difference"] is None


def test_item14_bench_threads_beyond_the_cores_is_refused(capsys, tmp_path):
    cores = os.cpu_count() or 1
    with pytest.raises(howfast.errors.BenchmarkError, match="cores"):
        howfast.benchmark(nn.ReLU(), "1x4", threads=cores + 1, runs=1)
    spec = factory(tmp_path, TINY) + ":make"
    script = "import sys\nfrom howfast.cli.app import main\nsys.exit(main(sys.argv[1:]))"  # libgomp aborts the process
    for command in (["bench", spec], ["compare", spec, spec, "--bench"]):
        done = subprocess_main(script, *command, "-i", "1x3x8x8", "--threads", "10000", "--runs", "1")
        one_line_error(done.returncode, done.stderr, 7, f"{cores} cores")


# ----------------------------------------------------------------------------------- item 15

INTERRUPTED_IMPORT = """
import builtins, os, signal, sys
real_import = builtins.__import__
def importing(name, *args, **kwargs):
    if name == "torch" and "torch" not in sys.modules:  # Ctrl-C while torch is being imported
        os.kill(os.getpid(), signal.SIGINT)
    return real_import(name, *args, **kwargs)
builtins.__import__ = importing
from howfast.cli.app import main  # what the console script does
sys.exit(main(sys.argv[1:]))
"""


def test_item15_ctrl_c_while_torch_is_imported_is_one_line_exit_130():
    done = subprocess_main("import sys\nimport howfast.cli.app\nprint('torch' in sys.modules)")
    assert done.stdout.strip() == "False", done.stderr  # the handler is in place before anything heavy
    for args in (["analyze", "resnet18", "--device", "meta"], ["zoo"]):  # --version and devices never import torch
        done = subprocess_main(INTERRUPTED_IMPORT, *args)
        assert done.returncode == 130, done.stderr
        assert done.stderr.strip() == "howfast: error: interrupted", done.stderr
    done = subprocess_main(INTERRUPTED_IMPORT.replace("from howfast.cli.app import main", "import runpy")
                           .replace("sys.exit(main(sys.argv[1:]))", "sys.argv[0] = 'howfast'; runpy.run_module('howfast', run_name='__main__')"),
                           "zoo")
    assert done.returncode == 130 and done.stderr.strip() == "howfast: error: interrupted", done.stderr


# ----------------------------------------------------------------------------------- item 16

FULL_DISK = """
import json, resource, signal, sys
from howfast.cli.app import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
codes = [main(json.loads(case)) for case in sys.argv[1:]]
print(json.dumps(codes))
"""


def test_item16_a_full_disk_keeps_the_old_file_and_gives_the_file_error(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    out.mkdir()
    (out / "layers.png").write_text("old plot")
    targets = {fmt: out / f"r.{fmt}" for fmt in ("html", "json", "csv", "md")}
    for path in targets.values():
        path.write_text("the good file")
    spec = ["analyze", "resnet50", "--device", "meta", "-d", "all"]
    cases = [[*spec, "-f", fmt, "-o", str(path)] for fmt, path in targets.items()]
    cases += [[*spec, "-f", "csv", "-d", "0", "-o", str(out / "fresh.csv"), "--plots", str(out)],
              [*spec, "--hardware", "t4", "-o", str(out / "t.txt"), "--plot-roofline", str(out / "roof.svg")]]
    done = subprocess_main(FULL_DISK, *(json.dumps(case) for case in cases), timeout=300)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [6] * len(cases), done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("howfast: error: ")]
    assert len(errors) == len(cases) and all("cannot write" in line for line in errors), done.stderr
    assert "Traceback" not in done.stderr
    assert all(path.read_text() == "the good file" for path in targets.values())
    assert (out / "layers.png").read_text() == "old plot" and not (out / "roof.svg").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(["layers.png", "fresh.csv", *(p.name for p in targets.values())])


def test_item16_output_with_a_trailing_slash_is_not_written_as_a_file(capsys, tmp_path):
    for command in (["analyze", "resnet18", "--device", "meta"], ["zoo"], ["devices"]):
        code, _, err = run(capsys, *command, "-o", str(tmp_path / "dir") + "/")
        one_line_error(code, err, 2, "folder")
        assert not (tmp_path / "dir").exists()
    (tmp_path / "folder").mkdir()
    code, _, err = run(capsys, "analyze", "resnet18", "--device", "meta", "-o", str(tmp_path / "folder"))
    assert code != 1 and "Traceback" not in err and (tmp_path / "folder").is_dir()
    code, _, err = run(capsys, "analyze", "resnet18", "--device", "meta", "-f", "json", "-o", str(tmp_path / "fresh" / "r.json"))
    assert code == 0 and json.loads((tmp_path / "fresh" / "r.json").read_text())["model"]
    assert [p.name for p in (tmp_path / "fresh").iterdir()] == ["r.json"]  # no temporary left beside it


# ------------------------------------------------------------------------------- items 17, 18

EVIL = f"""
class Evil(nn.Module):
    def __init__(self):
        super().__init__()
        self.add_module('=HYPERLINK("http://x")', nn.Conv2d(3, 4, 3))
        self.add_module({OSC52!r}, nn.ReLU())
        self.add_module({TITLE!r}, nn.BatchNorm2d(4))  # after a ReLU: fold keeps it and names it
        self.add_module('+1', nn.ReLU())
        self.add_module('-1', nn.ReLU())
        self.add_module('@SUM(A1)', nn.ReLU())
        self.add_module('\\tTAB', nn.ReLU())
        self.add_module({CSI!r}, nn.ReLU())

    def forward(self, x):
        for child in self.children():
            x = child(x)
        return x

def make():
    return Evil()
"""


def test_item17_csv_formula_cells_are_escaped(capsys, tmp_path):
    spec = factory(tmp_path, EVIL) + ":make"
    code, out, err = run(capsys, "analyze", spec, "-i", "1x3x8x8", "-f", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    names = {row["name"] for row in rows}
    for name in ('=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)"):
        assert f"'{name}" in names, names
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values()), rows
    assert rows[1]["macs"].isdigit()  # numbers stay numbers


def test_item18_control_characters_never_reach_the_terminal(capsys, tmp_path):
    spec = factory(tmp_path, EVIL) + ":make"
    outputs = {}
    for fmt in ("table", "md", "csv"):
        code, outputs[fmt], err = run(capsys, "analyze", spec, "-i", "1x3x8x8", "-f", fmt, "--width", "200", "-d", "all",
                                      "--hardware", "t4")
        assert code == 0, err
    for name, command in {"flat": ["analyze", spec, "--flat"], "fold": ["fold", spec], "compare": ["compare", spec, "resnet18"],
                          "bench": ["bench", spec, "--runs", "1", "--per-layer", "--layer-runs", "1"]}.items():
        code, outputs[name], err = run(capsys, *command, "-i", "1x3x8x8")
        assert code == 0, err
    assert "x1b]52" in outputs["table"] and "x1b]0;owned" in outputs["fold"]  # shown, escaped
    for name, text in outputs.items():
        assert not CONTROL.search(text), (name, CONTROL.findall(text))
    model = howfast.analyze(nn.Sequential(nn.ReLU()), "1x4")
    model.model.name = TITLE
    assert not CONTROL.search(str(model)) and not CONTROL.search(model.render("md"))
    for command in (["analyze", spec, "-i", "1x3x8x8", "--until", TITLE + "x"], ["analyze", f"nosuch{OSC52}"], [f"{TITLE}cmd"],
                    ["analyze", "resnet18", "-f", TITLE]):
        code, out, err = run(capsys, *command)
        assert code not in (0, 1) and not CONTROL.search(err + out), (command, err)


def test_item18_onnx_node_names_are_escaped(capsys, tmp_path):
    from onnx import helper
    from tests.onnx.builders import model as onnx_model
    from tests.onnx.builders import save, value

    nodes = [helper.make_node("Relu", ["x"], ["y"], name=f"relu{OSC52}"), helper.make_node("Relu", ["y"], ["z"], name=f"/a{TITLE}/b/Relu")]
    path = save(onnx_model(nodes, [value("x", [1, 4])], [value("z", [1, 4])]), tmp_path / "evil.onnx")
    for fmt in ("table", "md", "csv"):
        code, out, err = run(capsys, "analyze", str(path), "-f", fmt, "--flat")
        assert code == 0, err
        assert not CONTROL.search(out + err), (fmt, CONTROL.findall(out))
