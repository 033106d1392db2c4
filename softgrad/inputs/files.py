"""Opening inputs: files or stdin (``-``), as bytes or as UTF-8 text, with errors that say what is wrong
with the file; and JSON read safely.

Reading is bounded and never hangs on a special file: a text input is read up to :data:`MAX_TEXT_BYTES`
(a larger regular file is refused before any byte is read; a NUL byte means binary data, not text); a
named pipe (FIFO) that nobody writes to is given up after :data:`FIFO_WAIT` seconds; folders and sockets
are refused. Gzip-compressed data (a ``.gz`` file, or gzip bytes on stdin) is decompressed on the fly.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import os
import select
import stat
import sys
import unicodedata
import zlib
from collections.abc import Callable
from typing import IO, Any

from softgrad.errors import InputError

#: The most a text input (``--z-file``, ``--case``, a JSON Lines row, one CSV line) may hold.
MAX_TEXT_BYTES = 64 << 20
#: Seconds to wait for a writer on a named pipe (FIFO) before giving up.
FIFO_WAIT = 10.0
#: Digits an integer in JSON may have (1.8e308, the largest float, has 309).
MAX_JSON_DIGITS = 309
FLOAT_MAX = int(sys.float_info.max)
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"
_READ = 1 << 20


def megabytes(n: int) -> str:
    """A size for people: ``64 MB``, ``2 GB``, ``7.6 TB``."""
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


_UNSAFE_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def printable(text: str) -> str:
    """Text from an input (a carried column, a file name) as it may be shown: control characters,
    invisible formatting characters (bidi overrides, zero-width spaces), lone surrogates and unassigned
    code points written as escapes (``\\x1b``, ``\\u202e``), never raw."""
    if text.isprintable():
        return text
    return "".join(c if c == " " or unicodedata.category(c) not in _UNSAFE_CATEGORIES else _escape(c) for c in text)


def _escape(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def open_input(path: str, *, gunzip: bool = True) -> tuple[str, IO[bytes], int | None]:
    """(display name, binary stream, size in bytes or None) for a file or ``-`` (stdin).

    Errors say what is wrong with the file. Gzip data is decompressed (``gunzip``; the size is then None);
    read errors (a truncated gzip stream, an I/O error) become InputErrors naming the file.
    """
    if path == "-":
        name = "<stdin>"
        if sys.stdin is None:
            raise InputError(name, "stdin is closed; nothing to read (give a file, or pipe the rows in)")
        try:
            raw: IO[bytes] = sys.stdin.buffer
            st = os.fstat(raw.fileno())
        except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
            st = None  # a stand-in stdin (a test runner's): no descriptor to inspect
            raw = sys.stdin.buffer
        size = _remaining(raw, st) if st is not None and stat.S_ISREG(st.st_mode) else None
    else:
        name = path
        raw, size = _open_path(path)
    owns = (raw,) if path != "-" else ()
    try:
        checked = _Checked(raw, name, owns=owns)
        buffered = io.BufferedReader(checked, _READ)
        if gunzip and buffered.peek(2)[:2] == GZIP_MAGIC:
            unzipped = gzip.GzipFile(fileobj=buffered, mode="rb")
            return name, io.BufferedReader(_Checked(unzipped, name, owns=(unzipped, buffered)), _READ), None
        return name, buffered, size
    except BaseException:
        if path != "-":
            raw.close()
        raise


def _remaining(fh: IO[bytes], st: os.stat_result) -> int | None:
    try:
        return max(0, st.st_size - fh.tell())
    except (OSError, ValueError):
        return st.st_size


def _open_path(path: str) -> tuple[IO[bytes], int | None]:
    try:
        st = os.stat(path)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            raise InputError(path, "is a directory, not a file")
        if stat.S_ISSOCK(mode):
            raise InputError(path, "is a socket, not a file")
        if stat.S_ISFIFO(mode):
            return _open_fifo(path), None
        fh = open(path, "rb", buffering=0)  # noqa: SIM115 - the caller closes it
        return fh, st.st_size if stat.S_ISREG(mode) else None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def _open_fifo(path: str) -> IO[bytes]:
    """A named pipe, opened without blocking; it must get a writer (data or an end) within FIFO_WAIT s."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        if not poller.poll(int(FIFO_WAIT * 1000)):
            raise InputError(path, f"is a named pipe (FIFO) and nothing was written to it within {FIFO_WAIT:g} s")
        os.set_blocking(fd, True)
        return open(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


class _Checked(io.RawIOBase):
    """A binary stream whose read errors become InputErrors naming the input; closing it closes what it
    owns (never stdin)."""

    def __init__(self, fh: Any, name: str, *, owns: tuple[Any, ...] = ()) -> None:
        self._fh = fh
        self._name = name
        self._owns = owns
        self._readinto = getattr(fh, "readinto1", None) or getattr(fh, "readinto", None)

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        fd: int = self._fh.fileno()
        return fd

    def readinto(self, b: Any) -> int:
        if self._readinto is None:
            data = self.read(len(b))
            b[: len(data)] = data
            return len(data)
        n: int = self._guard(self._readinto, b)
        return n

    def read(self, size: int | None = -1) -> bytes:
        data: bytes = self._guard(self._fh.read, -1 if size is None else size)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        data: bytes = self._guard(self._fh.readline, -1 if size is None else size)
        return data

    def _guard(self, fn: Any, arg: Any) -> Any:
        try:
            return fn(arg)
        except EOFError:
            raise InputError(self._name, "the gzip data is truncated (it ends before its end marker)") from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(self._name, f"is not valid gzip data ({exc})") from None
        except OSError as exc:
            raise InputError(self._name, f"cannot read: {exc.strerror or exc}") from None

    def close(self) -> None:
        for fh in self._owns:
            with contextlib.suppress(OSError):
                fh.close()
        super().close()


def read_limited(fh: IO[bytes], name: str, limit: int, what: str = "a text input") -> bytes:
    """At most ``limit`` bytes of ``fh``; more is an InputError (nothing past the limit is read)."""
    parts: list[bytes] = []
    total = 0
    while True:
        data = fh.read(min(_READ, limit + 1 - total))
        if not data:
            break
        parts.append(data)
        total += len(data)
        if total > limit:
            raise InputError(name, f"is larger than {megabytes(limit)}, the most softgrad reads from {what}")
    return b"".join(parts)


def read_text(path: str, limit: int | None = None) -> tuple[str, str]:
    """(display name, text) of a file, or of stdin for ``-``: at most ``limit`` (default MAX_TEXT_BYTES)
    bytes of UTF-8 text."""
    limit = MAX_TEXT_BYTES if limit is None else limit
    name, fh, size = open_input(path)
    try:
        if size is not None and size > limit:
            raise InputError(name, f"is {megabytes(size)}; softgrad reads text inputs of at most {megabytes(limit)}")
        data = _read_text_bytes(fh, name, limit)
    finally:
        if path != "-":
            fh.close()
    return name, decode(data, name)


def _read_text_bytes(fh: IO[bytes], name: str, limit: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        data = fh.read(min(_READ, limit + 1 - total))
        if not data:
            return b"".join(parts)
        if not parts and data[:4] == ZIP_MAGIC:
            raise InputError(name, "looks like a zip or .npz archive, not text")
        nul = data.find(b"\0")
        if nul >= 0:
            raise InputError(name, f"holds binary data, not text (a NUL byte at offset {total + nul})")
        parts.append(data)
        total += len(data)
        if total > limit:
            raise InputError(name, f"is larger than {megabytes(limit)}, the most softgrad reads from a text input")


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a byte-order mark is dropped); archives and other binary data are refused clearly."""
    if data[:2] == GZIP_MAGIC:
        raise InputError(name, "looks gzip-compressed but could not be decompressed")
    if data[:4] == ZIP_MAGIC:
        raise InputError(name, "looks like a zip or .npz archive, not text")
    if data[:6] == NPY_MAGIC:
        raise InputError(name, "is a .npy array, not text")
    nul = data.find(b"\0")
    if nul >= 0:
        raise InputError(name, f"holds binary data, not text (a NUL byte at offset {nul})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(name, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def load_json(text: str, name: str, *, one_line: bool = False, float_type: Callable[[str], Any] = float) -> Any:
    """``json.loads`` that never crashes and never guesses: invalid JSON, nesting deeper than Python can
    follow, an integer of more than 309 digits, a number that overflows a float and a key given twice
    are each one InputError naming ``name`` (and ``line:column`` for a syntax error; ``(column N)`` in
    the message when ``one_line``). ``float_type`` builds each non-integer number from its text (a float
    that keeps its text, for the precision it was written with)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise InputError(name, f"key {key!r} is given twice")
            out[key] = value
        return out

    def integer(digits: str) -> int:
        n = len(digits.lstrip("-"))
        value = int(digits) if n <= MAX_JSON_DIGITS else None
        if value is None or (n == MAX_JSON_DIGITS and abs(value) > FLOAT_MAX):
            raise InputError(name, f"an integer of {n} digits is too large for a float (the largest is about 1.8e308)")
        return value

    def number(literal: str) -> Any:
        value = float(literal)
        if math.isinf(value):
            shown = literal if len(literal) <= 24 else literal[:20] + "…"
            raise InputError(name, f"the number {shown} overflows a float (the largest is about 1.8e308)")
        return float_type(literal)

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=integer, parse_float=number)
    except json.JSONDecodeError as exc:
        if one_line:
            raise InputError(name, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        raise InputError(f"{name}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(name, "JSON nested too deeply") from None
