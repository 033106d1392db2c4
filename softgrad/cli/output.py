"""Writing results: a report rendered in the chosen format, to stdout or to ``--output PATH``.

Nothing is destroyed. ``--output`` replaces only a regular file (or the regular file a symbolic link
points to, or a new name), atomically: a temporary file in the same folder, flushed to disk, then renamed
over the old one, which keeps its mode (and, for root, its owner); a new file gets the mode the umask
allows (0644 under umask 022). A character device or a FIFO (``/dev/null``, ``/dev/stdout``, a named pipe
someone reads) is written straight through. Anything else — a folder, a block device, a socket, a FIFO
nobody reads, one of the inputs (by any name, stdin included) — is refused with one line, before a byte is
written. Write errors (a full disk, a read-only folder, a closed stdout) are one line too, and leave no
partial file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from softgrad.errors import InputError

if TYPE_CHECKING:
    from softgrad.render.ci_summary import CiSummary

#: The formats rendered from a report's CI summary.
CI_FORMATS = ("github", "markdown", "html")
META_SUMMARY_KEY = "softgrad.summary"

#: Characters of the output file name kept in its temporary sibling's name (short enough for any file system).
_TMP_NAME = 32


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _input_files(inputs: Iterable[str]) -> dict[tuple[int, int], str]:
    """(device, inode) → name of each input that is a regular file (stdin included, for ``-``)."""
    found: dict[tuple[int, int], str] = {}
    for src in inputs:
        try:
            st = os.fstat(sys.stdin.fileno()) if src == "-" else os.stat(src)
        except (OSError, ValueError, AttributeError):
            continue
        if stat.S_ISREG(st.st_mode):
            found[_identity(st)] = "stdin" if src == "-" else src
    return found


def _refuse_input(st: os.stat_result, inputs: Iterable[str], where: str) -> None:
    src = _input_files(inputs).get(_identity(st)) if stat.S_ISREG(st.st_mode) else None
    if src == "stdin":
        raise InputError(where, "refusing to overwrite the input file read from stdin")
    if src is not None:
        raise InputError(where, f"refusing to overwrite the input file {src}")


def check_output(output: str | None, inputs: Iterable[str] = ()) -> None:
    """Refuse, before any work, an ``--output`` that could not be written or would overwrite an input (and a
    closed stdout, when the report goes there)."""
    if output is None or output == "-":
        if sys.stdout is None:
            raise InputError("stdout", "is closed; nothing can be written (redirect it, or use --output PATH)")
        return
    _target(output, inputs)


def _target(output: str, inputs: Iterable[str]) -> tuple[str, os.stat_result | None]:
    """(path to write, its status if it exists), or an InputError saying why it cannot be written."""
    where = "--output"
    if not output:
        raise InputError(where, "expected a file name, got an empty one")
    try:
        st = os.stat(output)  # follows symbolic links
    except FileNotFoundError:
        st = None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise InputError(where, f"cannot create {_shown(output)}: the file name is too long") from None
        raise InputError(where, f"cannot use {_shown(output)}: {exc.strerror or exc}") from None
    if st is None:
        path = os.path.realpath(output)  # a new file, or the target of a dangling link
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            shown = os.path.dirname(output) or "."
            raise InputError(where, f"directory {shown} does not exist")
        if len(os.path.basename(path).encode("utf-8", "surrogateescape")) > 255:
            raise InputError(where, f"cannot create {_shown(output)}: the file name is too long")
        return path, None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise InputError(where, f"{output} is a directory")
    if stat.S_ISBLK(mode):
        raise InputError(where, f"{output} is a block device; refusing to write a report onto it")
    if stat.S_ISSOCK(mode):
        raise InputError(where, f"{output} is a socket; give a file, a character device or a FIFO")
    _refuse_input(st, inputs, where)
    return (os.path.realpath(output) if stat.S_ISREG(mode) else output), st


def _shown(path: str) -> str:
    """A path as a message shows it: a very long one with its middle left out."""
    return path if len(path) <= 100 else f"{path[:48]}…{path[-48:]}"


def write_output(text: str | IO[str], output: str | None, inputs: Iterable[str] = ()) -> None:
    """Write ``text`` (a string, or a text stream copied from its start) to stdout (``output`` None or ``-``)
    or to ``output``: atomically over a regular file, straight through to a device or FIFO."""
    if output is None or output == "-":
        _to_stdout(text, inputs)
        return
    path, st = _target(output, inputs)
    if st is None or stat.S_ISREG(st.st_mode):
        _replace(path, output, text, st)
    else:
        _write_through(path, text)


def _to_stdout(text: str | IO[str], inputs: Iterable[str]) -> None:
    out = sys.stdout
    if out is None:
        raise InputError("stdout", "is closed; nothing can be written (redirect it, or use --output PATH)")
    try:
        st = os.fstat(out.fileno())
    except (OSError, ValueError, AttributeError):
        st = None  # a stand-in stdout (a test runner's, a notebook's)
    if st is not None:
        _refuse_input(st, inputs, "stdout")
    try:
        _copy(text, out, stream_encoding(out))
        out.flush()
    except BrokenPipeError:
        raise
    except ValueError:  # I/O operation on a closed file
        raise InputError("stdout", "is closed; the report could not be written") from None
    except OSError as exc:
        raise InputError("stdout", f"cannot write the report: {exc.strerror or exc}") from None


def _replace(path: str, shown: str, text: str | IO[str], old: os.stat_result | None) -> None:
    """A temporary file beside ``path``, flushed to disk, then renamed over it; the mode of the old file
    (or the umask's, for a new one) and, when allowed, its owner."""
    directory = os.path.dirname(path) or "."
    name = os.path.basename(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name[:_TMP_NAME]}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise InputError("--output", f"cannot create a file in {directory}: {_reason(exc)}") from None
    try:
        if old is not None:
            os.fchmod(fd, stat.S_IMODE(old.st_mode))
            if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):
                    os.fchown(fd, old.st_uid, old.st_gid)
        else:
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            _copy(text, fh, "utf-8")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise InputError("--output", f"cannot write {shown}: {_reason(exc)}") from None
    except BaseException:
        _unlink(tmp)
        raise


def _write_through(path: str, text: str | IO[str]) -> None:
    """A character device or FIFO, written in place (never blocking on a FIFO nobody reads)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise InputError("--output", f"{path} is a FIFO that nobody is reading") from None
        raise InputError("--output", f"cannot write {path}: {_reason(exc)}") from None
    try:
        os.set_blocking(fd, True)
        with os.fdopen(fd, "w", encoding="utf-8", newline="", closefd=True) as fh:
            fd = -1
            _copy(text, fh, "utf-8")
            fh.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise InputError("--output", f"cannot write {path}: {_reason(exc)}") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _reason(exc: OSError) -> str:
    return "read-only file system" if exc.errno == errno.EROFS else exc.strerror or str(exc)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def stream_encoding(stream: Any) -> str:
    """The encoding a text stream writes (UTF-8 if it does not say)."""
    return getattr(stream, "encoding", None) or "utf-8"


def _encodable(chunk: str, encoding: str) -> str:
    """``chunk`` with anything ``encoding`` cannot write as a backslash escape (a last safety net: the
    renderers already write only what the encoding can hold)."""
    if encoding.lower().replace("-", "") in ("utf8", "utf8sig"):
        return chunk
    try:
        chunk.encode(encoding)
    except UnicodeEncodeError:
        return chunk.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return chunk
    return chunk


def _copy(text: str | IO[str], out: IO[str], encoding: str) -> None:
    if isinstance(text, str):
        out.write(_encodable(text, encoding))
        return
    text.seek(0)
    if encoding.lower().replace("-", "") in ("utf8", "utf8sig"):
        shutil.copyfileobj(text, out, 1 << 20)
        return
    while chunk := text.read(1 << 20):
        out.write(_encodable(chunk, encoding))


def say(message: str) -> None:
    """One line of talk on stderr: never a raw control character, never an encoding error, and nothing
    at all if stderr is closed."""
    from softgrad.inputs.files import printable

    err = sys.stderr
    if err is None or (message.startswith("softgrad: note:") and verbosity() < 0):
        return
    text = printable(message) + "\n"
    encoding = stream_encoding(err)
    with contextlib.suppress(OSError, ValueError, LookupError):
        err.write(text.encode(encoding, "backslashreplace").decode(encoding))
        err.flush()


def _meta(key: str, default: Any = None) -> Any:
    import click

    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(key, default) if ctx is not None else default


def verbosity() -> int:
    """-1 with ``--quiet``, 1 with ``--verbose``, else 0."""
    from softgrad.cli.options import META_VERBOSITY

    return int(_meta(META_VERBOSITY, 0))


def color_choice(no_color: bool, choice: str | None = None) -> str:
    """``always``, ``never`` or ``auto``: ``--no-color`` and ``--color`` first, then ``NO_COLOR`` (when not
    empty: never), ``FORCE_COLOR`` (when not empty: always), ``TERM=dumb`` (never)."""
    from softgrad.cli.options import META_COLOR

    choice = choice or _meta(META_COLOR)
    if no_color:
        return "never"
    if choice in ("always", "never"):
        return choice
    if os.environ.get("NO_COLOR", ""):
        return "never"
    if os.environ.get("FORCE_COLOR", ""):
        return "always"
    if os.environ.get("TERM") == "dumb":
        return "never"
    return "auto"


def use_color(no_color: bool) -> bool:
    """Colour on a terminal (or wherever ``--color always`` / ``FORCE_COLOR`` ask for it), following
    :func:`color_choice`."""
    choice = color_choice(no_color)
    if choice != "auto":
        return choice == "always"
    return is_terminal(sys.stdout)


def terminal_width(stream: Any, default: int = 100) -> int:
    """The width to draw tables at: ``COLUMNS`` if it is a sensible number, else the terminal's, else
    ``default`` (so ``COLUMNS=0`` or a terminal that reports no size still gets a readable report)."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and 20 <= int(env) <= 10_000:
        return int(env)
    try:
        cols = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        cols = 0
    return cols if 20 <= cols <= 10_000 else default


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (ValueError, AttributeError):
        return False


def emit(
    data: dict[str, Any],
    document: Callable[[], Any],
    fmt: str,
    output: str | None,
    no_color: bool,
    sources: Iterable[str],
    text: str | IO[str] | None = None,
    *,
    ci: Callable[[], CiSummary] | None = None,
    show: int = 5,
) -> None:
    """Render (json, or a document as table/plain text; or ready ``text``; or, for the CI formats, the
    report's :func:`~softgrad.render.ci_summary.summary_of`) and write to stdout or --output."""
    to_stdout = output is None or output == "-"
    if text is None and fmt in CI_FORMATS:
        assert ci is not None, f"--format {fmt} needs the report's CI summary"
        text = render_ci(ci(), fmt, show)
    if ci is not None and _meta(META_SUMMARY_KEY):
        append_step_summary(render_ci(ci(), "markdown", show))
    if text is None and fmt == "json":
        from softgrad.render.json_out import render_json

        text = render_json(data)
    elif text is None:
        from softgrad.render.text import render_text

        terminal = to_stdout and is_terminal(sys.stdout)
        forced = to_stdout and color_choice(no_color) == "always"
        text = render_text(
            document(),
            terminal=terminal or forced,
            color=(terminal or forced) and use_color(no_color),
            encoding=stream_encoding(sys.stdout) if to_stdout else "utf-8",
            width=terminal_width(sys.stdout) if terminal else None,
        )
    write_output(text, output, sources)


def render_ci(summary: CiSummary, fmt: str, show: int) -> str:
    """A CI summary in one of :data:`CI_FORMATS`."""
    if fmt == "github":
        from softgrad.render.github import render_github

        return render_github(summary, show)
    if fmt == "markdown":
        from softgrad.render.markdown import render_markdown

        return render_markdown(summary, show)
    from softgrad.render.html_out import render_html

    return render_html(summary, show)


def append_step_summary(markdown: str) -> None:
    """Append to the file ``$GITHUB_STEP_SUMMARY`` names, in one ``write`` to a descriptor opened for
    appending (what is there stays; several steps' summaries follow one another); a note if it is unset."""
    path = os.environ.get("GITHUB_STEP_SUMMARY", "")
    if not path:
        say("softgrad: note: --summary: GITHUB_STEP_SUMMARY is not set; no job summary written")
        return
    data = (markdown if markdown.endswith("\n\n") else markdown + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOCTTY, 0o666)
    except OSError as exc:
        raise InputError("GITHUB_STEP_SUMMARY", f"cannot open {path}: {exc.strerror or exc}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise InputError("GITHUB_STEP_SUMMARY", f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def ci_summary(
    report: object, sources: Iterable[str] = (), *, show: int = 5, where: tuple[str, int] | None = None
) -> Callable[[], CiSummary]:
    """The report's CI summary, built when a CI format (or ``--summary``) asks for it."""
    names = list(sources)

    def build() -> CiSummary:
        from softgrad.render.ci_summary import summary_of

        return summary_of(report, show=show, where=where, sources=names)

    return build
