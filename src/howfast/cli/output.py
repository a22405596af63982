"""Where the commands' output goes: stdout with no control character a terminal would act on, or a
file written atomically (a temporary file in the same folder, renamed over the target), charts
included. A file that cannot be written (full disk, no permission, a folder in the way) is a
``BadFileError`` (exit 6) naming it; the file that was there is left as it was."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from howfast.errors import BadFileError, UsageError
from howfast.units import printable

# C0 (but newline and tab), DEL and C1; a colour sequence (SGR) is told apart, kept only for a terminal
_UNSAFE = re.compile(r"(\x1b\[[0-9;]*m)|([\x00-\x08\x0b-\x1f\x7f-\x9f])")
RAW_FORMATS = ("html", "json")  # a page embeds plotly.js byte for byte; JSON escapes every control itself


class OutputFile(click.ParamType):
    """``-o FILE``: a file to write. A name ending in ``/`` or naming a folder is refused (exit 2),
    rather than written as a file named after the folder."""

    name = "FILE"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
        option = "/".join(param.opts) if param is not None and param.opts else "the output"
        if text.endswith(("/", os.sep)) or os.path.isdir(text or "."):
            example = os.path.join(text.rstrip("/" + os.sep) or ".", "report.txt")
            raise UsageError(f"{option} {text!r} names a folder, not a file: give a file name, such as {example!r}")
        return Path(text)


def safe_text(text: str, colour: bool = False) -> str:
    """``text`` with every control character escaped (``units.printable``), newlines and tabs kept;
    with ``colour`` (text for a terminal that rich coloured) its colour sequences are kept too."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) is not None and colour:
            return match.group(1)
        return printable(match.group())

    return _UNSAFE.sub(one, text)


def emit(text: str, output: Path | None, *, raw: bool | None = None) -> None:
    """Write ``text`` to ``output`` (a file, replaced atomically) or stdout. Text is made safe for a
    terminal (``safe_text``) unless ``raw`` (an HTML page or JSON: ``RAW_FORMATS``); ``raw=None``
    tells an HTML page by its first line."""
    if raw is None:
        raw = text.lstrip()[:15].lower() == "<!doctype html>"
    if not raw:
        text = safe_text(text, colour=output is None and sys.stdout.isatty())
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    write_atomically(output, text)
    click.echo(f"wrote {printable(str(output))}", err=True)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, renamed over it: a
    reader never sees half a file, and a failed write (a full disk) leaves the old one."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, file_mode(path))
        os.replace(temporary, path)
        temporary = None
    except OSError as exc:
        raise BadFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if temporary is not None:
            _remove(Path(temporary))


def file_mode(path: Path) -> int:
    """The permissions a written file gets: those of the file it replaces, else the umask's default."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_files_atomically(folder: Path, write: Callable[[Path], list[Path]]) -> list[Path]:
    """Files that ``write(staging)`` draws into a fresh folder inside ``folder`` (charts: matplotlib
    writes them itself), each renamed into ``folder`` once all are written; returns their final
    paths. A failed write leaves ``folder`` as it was."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=".howfast-"))
    except OSError as exc:
        raise BadFileError(f"cannot write into {folder}: {exc.strerror or exc}") from exc
    try:
        try:
            written = write(staging)
        except (OSError, UsageError) as exc:
            error = _os_error(exc)
            if error is None:
                raise
            name = Path(error.filename).name if isinstance(error.filename, str) else ""
            raise BadFileError(f"cannot write {folder / name if name else folder}: {error.strerror or error}") from exc
        final = []
        for path in written:
            target = folder / Path(path).name
            try:
                os.chmod(path, file_mode(target))
                os.replace(path, target)
            except OSError as exc:
                raise BadFileError(f"cannot write {target}: {exc.strerror or exc}") from exc
            final.append(target)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_file_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """One file that ``write(temporary)`` draws, under ``path``'s name in a staging folder beside it,
    then renamed over ``path``."""

    def staged(staging: Path) -> list[Path]:
        write(staging / path.name)
        return [staging / path.name]

    return write_files_atomically(path.parent, staged)[0]


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (a renderer's ``UsageError("cannot write ...")`` wraps one), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
