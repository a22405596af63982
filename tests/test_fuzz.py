"""Fuzz the command line as a careless or hostile user would (issue 16, acceptance): random
``--input`` strings and option values for every command, in-process through
``howfast.cli.app.main``, and a few runs in a subprocess whose address space is capped at 1 GiB
(``resource.setrlimit(RLIMIT_AS)``) with inputs and ONNX files that would allocate far more. No run
may exit 1 (a bug) or print a traceback; an error is one ``howfast: error:`` line (click's own usage
errors excepted: usage and ``Error:``, exit 2).

Bounded in time (``HOWFAST_FUZZ_SECONDS``, 25 s in-process by default, plus the subprocesses) and
reproducible: the seed is ``HOWFAST_FUZZ_SEED`` (16 by default) and a failure prints its command.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from howfast.cli.app import main

ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("HOWFAST_FUZZ_SEED", "16"))
SECONDS = float(os.environ.get("HOWFAST_FUZZ_SECONDS", "25"))
DOCUMENTED = {0, 2, 3, 4, 5, 6, 7, 8, 130}
GIB = 1 << 30
PYTHON_WARNING = re.compile(r"^\S+:\d+: \w*Warning: ")  # "torch/utils/_device.py:122: UserWarning: ..."

DIMS = ["0", "1", "2", "3", "4", "8", "16", "-1", "1.5", "a", "", " ", "1e3", "99999999999999999999", str(2**31), str(2**63),
        "100000", "0x10", "٣", "1_0"]
DTYPES = ["float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool", "complex64", "fp8", "", "FLOAT",
          "torch.float32", "int4", "x"]
JUNK = ["", " ", "-", "--", "=", ":", ",", "x", "nan", "inf", "-inf", "1e400", "-0", "0", "-1", "3.5", "null", "[]", "{}", "'", '"',
        "\\", "\x00", "\x1b]0;t\x07", "é", "a" * 300, "../../etc/passwd", "%s%n", "$(id)", "; ls", "1,2,,3", "1,-2", "all"]


def shape_text(rng: random.Random, small: bool) -> str:
    """A random ``--input``: dims (often sensible, sometimes anything), separators, a dtype, a name."""
    n = rng.choice([0, 1, 2, 3, 4, 4, 4, 5, 7])
    if small:
        dims = [str(rng.choice([1, 1, 2, 3, 4, 8])) for _ in range(n)]
    else:
        dims = [rng.choice(DIMS) for _ in range(n)]
    text = rng.choice(["x", "x", ",", "X", " ", "*"]).join(dims)
    if rng.random() < 0.3:
        text += ":" + rng.choice(DTYPES)
    if rng.random() < 0.2:
        text = rng.choice(["x", "input_ids", "attention_mask", "1a", "a b", ""]) + "=" + text
    if rng.random() < 0.05:
        text = rng.choice(JUNK)
    return text


def value(rng: random.Random, good: list[str]) -> str:
    return rng.choice(good) if rng.random() < 0.8 else rng.choice(JUNK + DIMS)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny factory file, a tiny ONNX file with a symbolic batch, a saved report and its mutations."""
    d = tmp_path_factory.mktemp("fuzz")
    (d / "tiny.py").write_text(textwrap.dedent("""
        from torch import nn

        def make(width=4):
            return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())

        def any_shape():
            return nn.Sequential(nn.ReLU())
    """))
    onnx_file = d / "relu.onnx"
    torch.onnx.export(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), (torch.randn(2, 4),), str(onnx_file), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    assert main(["analyze", f"{d / 'tiny.py'}:make", "-i", "1x3x8x8", "-f", "json", "-o", str(d / "report.json")]) == 0
    text = (d / "report.json").read_text()
    rng = random.Random(SEED)
    saved = [d / "report.json"]
    for k in range(12):  # truncated, bytes flipped, values replaced
        cut = list(text)
        if k % 3 == 0:
            cut = cut[: rng.randrange(len(cut))]
        elif k % 3 == 1:
            for _ in range(5):
                cut[rng.randrange(len(cut))] = rng.choice('{}[]":,0a\x00')
        else:
            data = json.loads(text)
            key = rng.choice(["totals", "layers", "model", "inputs", "conventions", "schema_version", "ops"])
            data[key] = rng.choice([None, -1, "x", [], {}, 1e308, [1, 2]])
            cut = list(json.dumps(data))
        (d / f"m{k}.json").write_text("".join(cut))
        saved.append(d / f"m{k}.json")
    return {"tiny": f"{d / 'tiny.py'}:make", "any": f"{d / 'tiny.py'}:any_shape", "onnx": str(onnx_file), "saved": saved, "dir": d}


def command(rng: random.Random, f: dict) -> list[str]:
    """One random command line (cheap to run: meta devices, tiny models, a run or two)."""
    name = rng.choice(["analyze"] * 4 + ["bench"] * 2 + ["compare", "fold", "export", "llm", "show", "zoo", "devices", "calibrate"])
    # where output goes: always inside the fuzz folder (odd names, folders, a trailing slash), never a junk path
    out = str(f["dir"] / rng.choice(["o.txt", "sub/o.json", "o.csv", "dir/", "o.html", "o.md", "o\x1b]0;t\x07.txt", "é ü.md", "-o"]))
    if name == "analyze":
        meta = rng.random() < 0.5
        model = rng.choice(["resnet18", "gpt2:layers=1", "vit_tiny:depth=1", "mobilenet_v2", f["onnx"]]) if meta else rng.choice([f["tiny"], f["any"]])
        if rng.random() < 0.4:  # a shape the model takes, so that the options meet a real report
            shape = [] if model in ("resnet18", "gpt2:layers=1", "vit_tiny:depth=1", "mobilenet_v2") else ["-i", "2x3x8x8" if model != f["onnx"] else "x=3x4"]
        else:
            shape = ["-i", shape_text(rng, small=not meta)]
        args = ["analyze", model, *shape]
        if meta and model != f["onnx"]:
            args += ["--device", "meta"]
        for option, good in (("--depth", ["0", "1", "all", "7"]), ("--width", ["40", "80", "250"]), ("--sort", ["macs", "bytes", "time"]),
                             ("--top", ["1", "5"]), ("--filter", ["Conv2d", "layer1.*", "*"]), ("--batch", ["1", "2", "0", "-3"]),
                             ("--until", ["0", "layer1", "features", "nosuch"]), ("-f", ["table", "json", "csv", "md", "html"]),
                             ("--dtype", ["float16", "bfloat16", "int8"]), ("--hardware", ["t4", "h100", "nosuch", "x.toml"]),
                             ("--flops", ["2mac", "exact"]), ("--memory-model", ["writeup", "compulsory"]), ("-o", [out])):
            if rng.random() < 0.25:
                args += [option, out if option == "-o" else value(rng, good)]
        args += [flag for flag in ("--fused", "--flat", "--strict", "--train", "--grad", "--conventions", "--writeup-accesses") if rng.random() < 0.15]
        return args
    if name == "bench":
        args = ["bench", rng.choice([f["tiny"], f["any"], f["onnx"]]), "-i", shape_text(rng, small=True), "-n", rng.choice(["1", "2", "0", "-1", "x"]),
                "-w", rng.choice(["0", "1", "-1"])]
        for option, good in (("--batch", ["1", "2", "1,2", "0", ","]), ("--sweep-size", ["4,8", "0", "3"]), ("--threads", ["1", "2", "0", "100000"]),
                             ("--budget", ["0.5", "0", "-1", "nan", "inf"]), ("--runtime", ["torch", "onnxruntime"]), ("-f", ["table", "json"]),
                             ("--layer-runs", ["1", "0"]), ("--dtype", ["float16", "int8"]), ("--device", ["cpu", "meta", "cuda", "tpu"])):
            if rng.random() < 0.2:
                args += [option, value(rng, good)]
        return args + (["--per-layer", "--layer-runs", "1"] if rng.random() < 0.2 else [])
    if name == "compare":
        args = ["compare", *rng.sample(["resnet18", "gpt2:layers=1", "mobilenet_v2", "vit_tiny:depth=1", "vgg16@features", f["onnx"]], rng.choice([1, 2, 2, 3])),
                "--device", rng.choice(["meta", "meta", "cpu"]), "-i", shape_text(rng, small=True)]
        for option, good in (("-f", ["table", "json", "csv", "md"]), ("--width", ["40", "100"]), ("--runs", ["1", "0"]), ("--rounds", ["1", "0"]),
                             ("-o", [out])):
            if rng.random() < 0.2:
                args += [option, out if option == "-o" else value(rng, good)]
        return args + [flag for flag in ("--features", "--fused") if rng.random() < 0.3]
    if name in ("fold", "export"):
        args = [name, rng.choice([f["tiny"], f["any"], f["tiny"] + ":width=" + value(rng, ["2", "8"])])]
        if name == "export":
            args.append(str(f["dir"] / rng.choice(["e.onnx", "e.txt", "dir/", "sub/e.onnx"])))
            if rng.random() < 0.3:
                args += ["--opset", value(rng, ["9", "13", "17", "6", "99999"])]
        args += ["-i", shape_text(rng, small=True)]
        if rng.random() < 0.3:
            args += ["--device", value(rng, ["cpu", "meta"])]
        if name == "fold" and rng.random() < 0.3:
            args += rng.choice([["--train"], ["-f", value(rng, ["json", "table"])], ["-o", out]])
        return args
    if name == "llm":
        args = ["llm", rng.choice(["gpt2:layers=1,d_model=64,heads=2", "llama:layers=1,d_model=64,heads=2,kv_heads=1", "resnet18", f["onnx"]])]
        for option, good in (("-p", ["1", "8", "0", "-1"]), ("-n", ["1", "4", "0"]), ("--batch", ["1", "1,2", "0", "a"]),
                             ("--kv-dtype", ["int8", "fp8", "int4", "bool"]), ("--dtype", ["bfloat16", "int8"]), ("--device", ["t4", "h100", "cpu"]),
                             ("--on", ["meta", "cuda", "tpu"]), ("-f", ["table", "json", "md"])):
            if rng.random() < 0.3:
                args += [option, value(rng, good)]
        return args if "-p" in args else args + ["-p", "4", "-n", "2"]
    if name == "show":
        args = ["show", str(rng.choice(f["saved"] + [f["dir"] / "missing.json", f["dir"]]))]
        for option, good in (("-f", ["table", "json", "csv", "md", "html"]), ("--depth", ["0", "all"]), ("--top", ["2"]), ("--sort", ["bytes"])):
            if rng.random() < 0.3:
                args += [option, value(rng, good)]
        return args
    if name == "zoo":
        return ["zoo", *rng.choice([[], ["-f", value(rng, ["json", "table"])], ["--width", value(rng, ["40", "200"])], ["-o", out]])]
    if name == "devices":
        return ["devices", *rng.choice([[], [value(rng, ["t4", "h100", "nosuch", str(f["saved"][0])])], ["-f", value(rng, ["json"])]])]
    # calibrate measures for seconds when its options are valid: always one refused option among the random ones
    bad = rng.choice([["--threads", rng.choice(["0", "-1", "100000", "x"])], ["--save", rng.choice(["a/b", "..", "", "x y", ".hidden"])],
                      ["--output", out, "--save", "n"], ["--device", rng.choice(["tpu", ""])], ["--statistic", "mean"], ["--clock", "sun"]])
    extra = rng.choice([[], ["--quick"], ["--no-classes"], ["-f", "json"], ["--width", value(rng, ["40"])]])
    return ["calibrate", *bad, *extra]


def check(code: int, err: str, args: list[str]) -> None:
    shown = " ".join(repr(a) if not a or " " in a else a for a in args)
    assert code in DOCUMENTED, f"exit {code}: howfast {shown}\n{err}"
    assert "Traceback" not in err, f"traceback: howfast {shown}\n{err}"
    if code not in (0, 130) and not (code == 2 and "Usage:" in err):
        lines = [line for line in err.strip().splitlines()  # howfast's warnings, files written, and PyTorch's own warnings aside
                 if line and not line.startswith(("warning:", "wrote ", " ")) and not PYTHON_WARNING.match(line)]
        assert len(lines) == 1 and lines[0].startswith("howfast: error: "), f"not one error line: howfast {shown}\n{err}"


def test_fuzz_every_command_in_process(files, capsys, monkeypatch):
    monkeypatch.setenv("HOWFAST_DEVICES_DIR", str(files["dir"] / "devices"))  # nothing saved among the user's profiles
    (files["dir"] / "cwd").mkdir(exist_ok=True)
    monkeypatch.chdir(files["dir"] / "cwd")  # a relative name writes nowhere but here
    rng = random.Random(SEED)
    deadline = time.monotonic() + SECONDS
    runs = 0
    commands = set()
    while time.monotonic() < deadline:
        args = command(rng, files)
        code = main(args)
        _, err = capsys.readouterr()
        check(code, err, args)
        runs += 1
        commands.add(args[0])
    assert runs >= 50 and len(commands) == 10, (runs, commands)


CAPPED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from howfast.cli.app import main
sys.exit(main(sys.argv[1:]))
"""


def amplifying_onnx(directory: Path) -> list[str]:
    """ONNX files of a few hundred bytes whose constants would take gigabytes (issue 16, item 1, larger)."""
    import onnx
    from onnx import TensorProto, helper

    def saved(name: str, nodes: list, initializers: list, output: str, elem: int) -> str:
        graph = helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(output, elem, None)], initializer=initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, str(directory / f"{name}.onnx"))
        return str(directory / f"{name}.onnx")

    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [200000, 200000])
    big = saved("constant_of_shape", [helper.make_node("ConstantOfShape", ["shape"], ["y"])], [shape], "y", TensorProto.FLOAT)
    bounds = [helper.make_tensor(n, TensorProto.INT64, [], [v]) for n, v in (("start", 0), ("limit", 4_000_000_000), ("delta", 1))]
    span = saved("range", [helper.make_node("Range", ["start", "limit", "delta"], ["y"])], bounds, "y", TensorProto.INT64)
    return [big, span]


def test_fuzz_under_a_1_gib_address_space(files, tmp_path):
    """Inputs and files that would allocate far more than 1 GiB: refused in one line, never exit 1."""
    tiny, any_shape = files["tiny"], files["any"]
    cases = [["analyze", tiny, "-i", "1x3x100000x100000"], ["bench", any_shape, "-i", "1x4", "-b", "100000000", "-n", "1"],
             ["analyze", any_shape, "-i", "99999999999999999999x3"], ["analyze", "resnet18", "--device", "meta", "-i", f"1x3x{2**62}x4"],
             ["fold", tiny, "-i", "64x3x2048x2048"], ["analyze", "llama2_70b", "-i", "1x16:int64"],
             *(["analyze", path] for path in amplifying_onnx(tmp_path))]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    running = [(args, subprocess.Popen([sys.executable, "-c", CAPPED.format(limit=GIB), *args], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)) for args in cases]
    failures = []
    for args, process in running:
        try:
            _, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            failures.append(f"over 120 s: howfast {' '.join(args)}")
            continue
        try:
            check(process.returncode, err, args)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0] + " | " + err.strip()[-300:])
    assert not failures, "\n".join(failures)
