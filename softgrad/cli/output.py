"""Writing results: a report rendered in the chosen format, to stdout or to a file written atomically
(temporary file + rename) that is never one of the inputs."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from softgrad.errors import InputError


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def write_output(text: str | IO[str], output: str | None, inputs: Iterable[str] = ()) -> None:
    """Write ``text`` (a string, or a text stream copied from its start) to stdout (``output`` None or ``-``)
    or atomically to the file ``output``."""
    if output is None or output == "-":
        _copy(text, sys.stdout)
        sys.stdout.flush()
        return
    target = Path(output)
    for src in inputs:
        if src != "-" and (_same_file(target, Path(src)) or target.resolve() == Path(src).resolve()):
            raise InputError("--output", f"refusing to overwrite the input file {src}")
    if target.is_dir():
        raise InputError("--output", f"{output} is a directory")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError("--output", f"directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            _copy(text, fh)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _copy(text: str | IO[str], out: IO[str]) -> None:
    if isinstance(text, str):
        out.write(text)
    else:
        text.seek(0)
        shutil.copyfileobj(text, out, 1 << 20)


def use_color(no_color: bool) -> bool:
    """Colour on a terminal, unless ``--no-color`` or ``NO_COLOR``."""
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def emit(
    data: dict[str, Any],
    document: Callable[[], Any],
    fmt: str,
    output: str | None,
    no_color: bool,
    sources: Iterable[str],
    text: str | IO[str] | None = None,
) -> None:
    """Render (json, or a document as table/plain text; or ready ``text``) and write to stdout or --output."""
    if text is None and fmt == "json":
        from softgrad.render.json_out import render_json

        text = render_json(data)
    elif text is None:
        from softgrad.render.text import render_text

        terminal = output is None and sys.stdout.isatty()
        text = render_text(document(), terminal=terminal, color=terminal and use_color(no_color))
    write_output(text, output, sources)
