"""One command line: every command that prints a result takes -f/--format and -o/--output, every
--help shows examples, and a misspelt model, zoo option, layer, type, option or command gets the
closest name back in its one-line error."""

from __future__ import annotations

import click
import pytest

from howfast import errors
from howfast.cli.app import app, main, register_commands

register_commands()
WRITES_A_FILE = {"export"}  # its OUTPUT argument is the result


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def options(command: click.Command) -> set[str]:
    return {name for param in command.params for name in getattr(param, "opts", [])}


@pytest.mark.parametrize("name", sorted(app.commands))
def test_every_command_has_format_output_and_examples(name, capsys):
    command = app.commands[name]
    if name not in WRITES_A_FILE:
        assert {"-f", "--format", "-o", "--output"} <= options(command), name
    code, out, _ = run(capsys, name, "--help")
    assert code == 0
    examples = out.split("Examples:")[1].split("Options:")[0]
    assert sum(1 for line in examples.splitlines() if line.strip().startswith("howfast ")) >= 2, out


@pytest.mark.parametrize(("args", "code", "suggestion"), [
    (["analyze", "resnt50", "--device", "meta"], errors.MODEL_LOAD, "did you mean resnet50?"),
    (["analyze", "mobilenet_v2:widht=1.4", "--device", "meta"], errors.MODEL_LOAD, "did you mean width?"),
    (["analyze", "resnet18", "--device", "meta", "--until", "layer5"], errors.BAD_INPUT, "nearest: layer4"),
    (["analyze", "resnet18", "--device", "meta", "--filter", "Conv3d"], errors.BAD_INPUT, "did you mean Conv2d?"),
    (["analyze", "resnet18", "--device", "meta", "--filter", "layr1.0.conv1"], errors.BAD_INPUT, "did you mean layer1.0.conv1"),
    (["compare", "resnet18@layr2", "resnet50", "--device", "meta"], errors.BAD_INPUT, "nearest: layer2"),
])
def test_misspelt_names_get_the_closest_one(capsys, args, code, suggestion):
    got, out, err = run(capsys, *args)
    assert got == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("howfast: error: ") and suggestion in lines[0], err


@pytest.mark.parametrize(("args", "suggestion"), [
    (["analyze", "resnet18", "--widht", "80"], "Did you mean '--width'?"),
    (["anlyze", "resnet18"], "Did you mean 'analyze'?"),
])
def test_misspelt_options_and_commands(capsys, args, suggestion):
    code, _, err = run(capsys, *args)
    assert code == errors.USAGE and suggestion in err and "Traceback" not in err


def test_a_filter_that_matches_prints_only_those_layers(capsys):
    code, out, _ = run(capsys, "analyze", "resnet18", "--device", "meta", "--filter", "Linear", "--width", "120")
    assert code == 0
    assert "matching 'Linear' (1 of 1)" in out and "\nfc " in out
