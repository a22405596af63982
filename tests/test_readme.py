"""Every example in the README runs, and the output excerpt it shows is what howfast prints.

The commands run in order (``calibrate --save this_cpu`` before the command that uses that
profile) in a temporary folder with its own profiles folder. Commands that measure time (``bench``,
``calibrate``, ``--bench``) take tens of seconds each and run only with ``HOWFAST_README_ALL=1``;
the others always run. The Python example runs as written.
"""

from __future__ import annotations

import os
import re
import shlex
import textwrap
from pathlib import Path

import pytest

import howfast
from howfast.cli.app import main

README = Path(__file__).resolve().parents[1] / "README.md"
MEASURES = ("howfast bench", "howfast calibrate", "--bench")
FACTORY = textwrap.dedent("""
    from torch import nn

    def make_model():
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 30 * 30, 10))
""")


def readme_commands() -> list[str]:
    """The ``howfast`` commands of the README's indented code blocks: comments dropped, continued
    lines joined, each ``[optional part]`` run without and with."""
    text = README.read_text(encoding="utf-8").replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        if line.startswith("    howfast ") or line.startswith("    python3 -m venv"):
            command = line.split("#")[0].strip()
            for part in (p.strip() for p in command.split("&&")):
                if part.startswith("howfast "):  # an optional part [in brackets]: without it, then with it
                    commands.append(" ".join(re.sub(r"\[[^\]]*\]", "", part).split()))
                    if "[" in part:
                        commands.append(" ".join(part.replace("[", "").replace("]", "").split()))
    return commands


def python_example() -> str:
    return README.read_text(encoding="utf-8").split("```python\n")[1].split("```")[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("readme")
    (path / "my_model.py").write_text(FACTORY)
    return path


COMMANDS = readme_commands()


def test_the_readme_has_examples():
    assert len(COMMANDS) >= 20 and any("howfast show" in c for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(command, folder, monkeypatch, capsys):
    if any(word in command for word in MEASURES) and not os.environ.get("HOWFAST_README_ALL"):
        pytest.skip("measures time: HOWFAST_README_ALL=1 runs it")
    if "this_cpu" in command and "calibrate" not in command and not (folder / "devices" / "this_cpu.toml").exists():
        pytest.skip("needs the profile `howfast calibrate --save this_cpu` writes (HOWFAST_README_ALL=1)")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("HOWFAST_DEVICES_DIR", str(folder / "devices"))
    args = shlex.split(command)[1:]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, f"{command}: {err}"
    assert out or "wrote" in err


def test_the_output_excerpt_is_real(capsys):
    text = README.read_text(encoding="utf-8")
    match = re.search(r"What `howfast analyze (.+?)` prints in a (\d+)-column terminal.*?```\n(.*?)\n\.\.\.\n```", text, re.S)
    assert match, "the README's output excerpt"
    args, width, excerpt = match.group(1).split(), match.group(2), match.group(3)
    assert main(["analyze", *args, "--width", width]) == 0
    printed = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    shown = excerpt.splitlines()
    assert printed[: len(shown)] == shown


def test_the_python_example_runs(folder, monkeypatch):
    monkeypatch.chdir(folder)
    saved = howfast.analyze(howfast.zoo.build("resnet50", device="meta"), "1x3x64x64", name="resnet50")
    (folder / "resnet50.json").write_text(saved.render("json"))
    namespace: dict = {}
    exec(compile(python_example(), "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    assert len(namespace["frame"]) == len(namespace["report"].layers)
    assert namespace["again"].to_dict() == saved.to_dict()


def test_every_file_the_readme_links_exists():
    links = re.findall(r"\]\(((?!https?:)[^)#]+)", README.read_text(encoding="utf-8"))
    assert links, "the README links its docs"
    missing = [link for link in links if not (README.parent / link).exists()]
    assert missing == []
