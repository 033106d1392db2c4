"""Opening inputs: files or stdin (``-``), as bytes or as UTF-8 text, with errors that say what is wrong
with the file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

from softgrad.errors import InputError


def open_input(path: str) -> tuple[str, IO[bytes], int | None]:
    """(display name, binary stream, size in bytes or None) for a file or ``-`` (stdin); errors say what is
    wrong with the file."""
    if path == "-":
        return "<stdin>", sys.stdin.buffer, None
    p = Path(path)
    try:
        if p.is_dir():
            raise IsADirectoryError
        fh = p.open("rb")
        return path, fh, p.stat().st_size
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def read_text(path: str) -> tuple[str, str]:
    """(display name, text) of a file, or of stdin for ``-``."""
    name, fh, _ = open_input(path)
    try:
        data = fh.read()
    except OSError as exc:
        raise InputError(name, f"cannot read: {exc.strerror or exc}") from None
    finally:
        if path != "-":
            fh.close()
    return name, decode(data, name)


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a byte-order mark is dropped); gzip and other binary data are refused clearly."""
    if data[:2] == b"\x1f\x8b":
        raise InputError(name, "looks gzip-compressed; decompress it first (e.g. gunzip -c FILE | softgrad … -)")
    if data[:4] == b"PK\x03\x04":
        raise InputError(name, "looks like a zip or .npz archive, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(name, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
