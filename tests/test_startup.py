"""Start-up (issue 18): a command imports only what it needs.

``howfast --help``, ``--version`` and ``devices`` import neither PyTorch nor the capture stack nor
rich's progress bars; ``howfast zoo`` builds no model, so it imports no capture stack either (the zoo
itself imports PyTorch). Each command runs in a fresh interpreter, which reports the modules it
ended with. The command list that ``--help`` prints from ``cli.app.COMMANDS`` without importing the
commands is the one click prints from the commands themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from howfast.cli.app import COMMANDS, app, register_commands

_REPORT = """
import json, sys
from howfast.cli.app import main
code = main({args!r})
with open({out!r}, "w") as f:
    json.dump({{"code": code, "modules": sorted(sys.modules)}}, f)
"""

HEAVY = ("torch", "torch._dynamo", "rich.progress", "howfast.capture", "howfast.capture.torch_capture", "howfast.api",
         "howfast.pipeline")


def modules_after(args: list[str], tmp_path: Path) -> tuple[int, set[str]]:
    out = tmp_path / "modules.json"
    subprocess.run([sys.executable, "-c", _REPORT.format(args=args, out=str(out))], check=True, capture_output=True, timeout=300)
    found = json.loads(out.read_text())
    return found["code"], set(found["modules"])


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["devices"], ["devices", "--help"]])
def test_light_commands_import_no_pytorch_capture_or_progress_bars(args: list[str], tmp_path: Path) -> None:
    code, modules = modules_after(args, tmp_path)
    assert code == 0
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    assert not any(m.startswith(("howfast.capture", "howfast.onnx", "howfast.bench", "torch.")) for m in modules)


def test_zoo_imports_no_capture_stack(tmp_path: Path) -> None:
    code, modules = modules_after(["zoo"], tmp_path)
    assert code == 0
    assert not any(m.startswith(("howfast.capture", "howfast.onnx", "howfast.bench")) for m in modules)
    assert not {"rich.progress", "torch._dynamo", "howfast.api", "howfast.pipeline"} & modules


def test_a_command_runs_when_asked_for(tmp_path: Path) -> None:
    code, modules = modules_after(["analyze", "--help"], tmp_path)
    assert code == 0 and "howfast.cli.analyze" in modules


def test_the_static_command_list_is_the_commands_own() -> None:
    register_commands()
    assert set(COMMANDS) == set(app.commands)
    for name, (module, first_paragraph) in COMMANDS.items():
        command = app.commands[name]
        assert command.callback is not None and command.callback.__module__ == module
        stand_in = click.Command(name, help=first_paragraph)
        for limit in (20, 45, 60, 75, 100, 200):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


def test_a_meta_analysis_imports_no_dynamo_nor_the_timing_stack(tmp_path: Path) -> None:
    """PyTorch's reference meta kernels import dynamo on their first call (``torch._disable_dynamo``):
    over a second of every meta run, for a frame hook that is not installed (``howfast.dynamo_free``)."""
    out = tmp_path / "report.json"
    code, modules = modules_after(["analyze", "llama", "--device", "meta", "-i", "1x64:int64", "-f", "json", "-o", str(out)], tmp_path)
    assert code == 0 and json.loads(out.read_text())["totals"]["macs"] > 0
    assert "torch._dynamo" not in modules
    assert not any(m.startswith(("howfast.bench", "howfast.training.bench", "howfast.report.render.plots")) for m in modules)


_WRAPPERS = """
import json, sys, torch
import howfast.dynamo_free as free
from torch._refs import mul
with free.refs_without_dynamo():
    a = torch.ones(2, device="meta") * 3  # a reference kernel: cached to run as itself
    inside = sum(free._CACHED in fn.__dict__ for fn in free._wrapped)
    dynamo_inside = "torch._dynamo" in sys.modules
after = sum(free._CACHED in fn.__dict__ for fn in free._wrapped)
b = mul(torch.ones(2), torch.ones(2))  # a wrapper after the context: makes its real disabled version
print(json.dumps({"found": len(free._wrapped), "inside": inside, "after": after, "dynamo_inside": dynamo_inside,
                  "dynamo_after": "torch._dynamo" in sys.modules, "value": b.tolist()}))
"""


def test_the_cached_versions_are_removed_after_the_run() -> None:
    out = subprocess.run([sys.executable, "-c", _WRAPPERS], check=True, capture_output=True, text=True, timeout=300)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["found"] > 50 and found["inside"] == found["found"]
    assert not found["dynamo_inside"]
    assert found["after"] == 0  # nothing of ours is left on PyTorch's functions
    assert found["dynamo_after"] and found["value"] == [1.0, 1.0]  # PyTorch's own path, dynamo and all, afterwards
