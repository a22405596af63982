"""`howfast analyze` as a user sees it in a real terminal (a pseudo-terminal of a given size) and piped.

In a terminal the table is laid out for its width and coloured; piped, it is plain and 100 columns
wide. The totals come first and the default output fits about a screen. The captures are written to
``$HOWFAST_ARTIFACTS/terminal`` when that is set (to look at them), else to the test's temporary folder.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MODELS = {
    "resnet50": ["resnet50", "--device", "meta"],
    "gpt2": ["gpt2", "--device", "meta"],
    "llama2_70b": ["llama2_70b", "--device", "meta", "-i", "1x2048:int64"],
}
WIDTHS = (80, 120, 200)
MAX_LINES = 60
TOTALS_WITHIN = 15


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    return env


def in_terminal(args: list[str], columns: int, rows: int = 50, **env: str) -> str:
    """What ``howfast ARGS`` prints in a terminal ``columns`` wide (stdout and stderr, as a user sees them)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "howfast", *args], stdin=slave, stdout=slave, stderr=slave,
                               env={**_env(), **env}, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.wait(timeout=120) == 0
    return b"".join(chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")


def piped(args: list[str]) -> str:
    result = subprocess.run([sys.executable, "-m", "howfast", *args], capture_output=True, text=True, env=_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HOWFAST_ARTIFACTS", tmp_path)) / "terminal"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_table_fits_the_terminal_and_the_totals_come_first(name, tmp_path):
    folder = _artifacts(tmp_path)
    for columns in WIDTHS:
        raw = in_terminal(["analyze", *MODELS[name]], columns)
        (folder / f"{name}-{columns}.txt").write_text(raw, encoding="utf-8")
        text = ANSI.sub("", raw)
        lines = text.rstrip("\n").split("\n")
        assert max(len(line) for line in lines) <= columns, (columns, max(lines, key=len))
        assert len(lines) <= MAX_LINES, (columns, len(lines))
        head = "\n".join(lines[:TOTALS_WITHIN])
        assert "params" in head and "MACs" in head and "bytes moved" in head and "peak activation" in head
        assert ANSI.search(raw), "no colour on a terminal"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_piped_output_is_plain_and_a_fixed_width(name, tmp_path):
    text = piped(["analyze", *MODELS[name]])
    (_artifacts(tmp_path) / f"{name}-piped.txt").write_text(text, encoding="utf-8")
    assert not ANSI.search(text)
    assert max(len(line) for line in text.splitlines()) <= 100


def test_no_color_and_width_are_honoured():
    raw = in_terminal(["analyze", "resnet18", "--device", "meta", "--width", "90"], 200, NO_COLOR="1")
    assert not ANSI.search(raw)
    assert max(len(line) for line in raw.splitlines()) <= 90


OTHER_COMMANDS = {
    "devices": ["devices"],
    "devices-h100": ["devices", "h100"],
    "zoo": ["zoo"],
    "compare": ["compare", "resnet18", "mobilenet_v2", "vgg16", "--device", "meta", "-i", "1x3x64x64"],
    "show": None,  # a saved report, rendered again
    "training-step": ["analyze", "resnet18", "-i", "2x3x64x64", "--backward", "--loss", "cross_entropy", "--optimizer", "adamw",
                      "--device", "t4"],
}


@pytest.mark.parametrize("name", sorted(OTHER_COMMANDS))
def test_every_other_command_fits_an_80_column_terminal(name, tmp_path):
    args = OTHER_COMMANDS[name]
    if args is None:
        saved = tmp_path / "r.json"
        piped(["analyze", "mobilenet_v2", "--device", "meta", "--hardware", "xeon_8480", "-f", "json", "-o", str(saved)])
        args = ["show", str(saved)]
    raw = in_terminal(args, 80)
    (_artifacts(tmp_path) / f"{name}-80.txt").write_text(raw, encoding="utf-8")
    lines = ANSI.sub("", raw).rstrip("\n").split("\n")
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)


def test_piped_table_lines_have_no_trailing_spaces():
    """rich leaves the space where it wraps a long line, and pads short ones: dropped, so that pasted
    output and diffs carry no trailing whitespace."""
    text = piped([*OTHER_COMMANDS["training-step"], "--width", "80"])
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert not [line for line in lines if line.endswith(" ")]
