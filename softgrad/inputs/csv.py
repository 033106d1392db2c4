"""CSV / TSV rows for ``batch``, read in byte chunks cut at line ends.

A chunk goes through a fast path (field counts checked with numpy, numbers parsed by the optional fast parser
of :mod:`softgrad.inputs.fast` when it takes the chunk, else by ``numpy.loadtxt``) and, only if that fails, a
precise per-line path that names every bad row and keeps the good ones.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol

import numpy as np

from softgrad.errors import InputError
from softgrad.inputs import files
from softgrad.inputs.fast import parse_numbers
from softgrad.inputs.files import NPY_MAGIC, ZIP_MAGIC, decode, megabytes, open_input
from softgrad.inputs.rows import (
    BadRow,
    Block,
    ReadOptions,
    RowSpec,
    layout_from_header,
    positional_layout,
    sniff_delimiter,
    split_fields,
    to_block,
)


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


NL = b"\n"
#: Held around numpy.loadtxt: it runs under warnings.catch_warnings, which changes process-wide filters, and
#: batch's worker threads may parse chunks at the same time (loadtxt holds the interpreter lock anyway).
_LOADTXT = threading.Lock()


class LineTooLong(ValueError):
    """A line longer than the limit: raised by :func:`raw_chunks` before it holds more than the limit."""


def raw_chunks(fh: Readable, size: int, limit: int | None = None) -> Iterator[bytes]:
    """Byte chunks of about ``size`` that end at a line end (the last may not); a line longer than
    ``limit`` bytes (default MAX_TEXT_BYTES) raises :class:`LineTooLong` (so a stream with no line ends
    never fills memory)."""
    limit = files.MAX_TEXT_BYTES if limit is None else limit
    rest = b""
    while True:
        data = fh.read(size)
        if not data:
            if rest:
                yield rest
            return
        cut = data.rfind(b"\n")
        if cut < 0:
            rest += data
            if len(rest) > limit:
                raise LineTooLong(f"the line is longer than {megabytes(limit)}")
            continue
        # each byte copied once: the chunk is what was left over and this read up to its last line end
        whole = data if cut + 1 == len(data) else memoryview(data)[: cut + 1]
        yield b"".join((rest, whole)) if rest else bytes(whole)
        rest = data[cut + 1 :]


def count_lines(data: bytes) -> int:
    """How many line ends ``data`` holds (faster than ``bytes.count`` on chunks of megabytes)."""
    return int(np.count_nonzero(np.frombuffer(data, np.uint8) == 10))


def _message_bad_value(text: str) -> str:
    try:
        float(text)
    except ValueError:
        return f"{text!r} is not a number" if text.strip() else "empty field"
    return f"{text!r} is not a finite number"


def parse_chunk(data: bytes, first_line: int, spec: RowSpec) -> Block:
    """Rows of one chunk of CSV bytes starting at ``first_line``; bad rows are reported, not dropped."""
    block = _fast_parse(data, first_line, spec)
    return block if block is not None else _slow_parse(data, first_line, spec)


def _fast_parse(data: bytes, first_line: int, spec: RowSpec) -> Block | None:
    """numpy.loadtxt on the whole chunk, after cheap checks that every line has the right field count."""
    lay = spec.layout
    delim = spec.delimiter.encode()
    if not data.endswith(b"\n") or data.startswith(b"\n"):
        return None  # the precise path keeps line numbers right
    ncols = len(lay.names)
    every_column = sorted(lay.numeric) == list(range(ncols))
    if every_column:
        # The fast parser takes only plain numbers (no quotes, no CR) and every field present; a blank line
        # would be a row of missing fields or a row fewer than the lines: either way it is not taken.
        fast = parse_numbers(data, ncols, spec.delimiter)
        if fast is not None:  # one row per line
            arr = fast if list(lay.numeric) == list(range(ncols)) else fast[:, lay.numeric]
            lines = np.arange(first_line, first_line + fast.shape[0], dtype=np.int64)
            block = to_block(arr, lines, data, None, None, spec)
            if not block.bad:
                return block
            return None  # a bad row (1e999, a negative target): the precise path quotes what was written
    if b'"' in data or b"\r" in data or b"\n\n" in data:
        return None  # quotes, CR, blank lines: the precise path keeps line numbers right
    nlines = count_lines(data)
    starts = ends = None
    if every_column:
        # Every column is parsed: the total count proves each line has ncols fields, since loadtxt rejects
        # a short line and a long line would need a short one to balance the total.
        if data.count(delim) != nlines * (ncols - 1):
            return None
    else:
        buf = np.frombuffer(data, np.uint8)
        ends = np.flatnonzero(buf == 10)
        starts = np.concatenate(([0], ends[:-1] + 1))
        per_line = np.add.reduceat((buf == delim[0]).astype(np.int32), starts)
        if np.any(per_line != ncols - 1):
            return None
    try:
        with _LOADTXT, warnings.catch_warnings():  # the filters are global: one thread at a time
            warnings.simplefilter("ignore")
            arr = np.loadtxt(
                io.StringIO(data.decode("utf-8")),
                delimiter=spec.delimiter,
                usecols=lay.numeric,
                ndmin=2,
                comments=None,
                dtype=np.float64,
            )
    except (ValueError, UnicodeDecodeError):
        return None
    if arr.shape[0] != nlines:
        return None
    block = to_block(arr, np.arange(first_line, first_line + nlines, dtype=np.int64), data, starts, ends, spec)
    return None if block.bad else block  # a bad row: the precise path quotes what was written


def _slow_parse(data: bytes, first_line: int, spec: RowSpec) -> Block:
    """Line by line: parse what can be parsed, name what cannot."""
    lay = spec.layout
    text = data.decode("utf-8", errors="surrogateescape")
    rows: list[list[float]] = []
    lines: list[int] = []
    carried_rows: list[list[str]] = []
    bad: list[BadRow] = []
    numeric = lay.numeric
    pieces = text.split("\n")
    offset = -1
    while offset + 1 < len(pieces):
        offset += 1
        lineno = first_line + offset
        line = pieces[offset].rstrip("\r")
        if not line.strip():
            continue
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            bad.append(BadRow(spec.source, lineno, "not UTF-8 text"))
            continue
        try:
            fields = split_fields(line, spec.delimiter)
        except ValueError as exc:
            if _opens_quoted_field(str(exc)):
                offset = _skip_quoted_field(pieces, offset, first_line, spec, bad)
                continue
            bad.append(BadRow(spec.source, lineno, str(exc)))
            continue
        if len(fields) != len(lay.names):
            bad.append(BadRow(spec.source, lineno, f"expected {len(lay.names)} fields, got {len(fields)}"))
            continue
        vals: list[float] = []
        for c in numeric:
            try:
                vals.append(float(fields[c]))
            except ValueError:
                bad.append(BadRow(spec.source, lineno, f"column {lay.names[c]!r}: {_message_bad_value(fields[c])}"))
                break
        else:
            rows.append(vals)
            lines.append(lineno)
            carried_rows.append(fields)
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), len(numeric))
    block = to_block(arr, np.array(lines, dtype=np.int64), None, None, None, spec, carried_rows)
    block.bad = sorted(bad + block.bad, key=lambda b: b.line)
    return block


def _opens_quoted_field(reason: str) -> bool:
    return "unexpected end of data" in reason


def _skip_quoted_field(pieces: list[str], start: int, first_line: int, spec: RowSpec, bad: list[BadRow]) -> int:
    """A quoted field opened on line ``start`` runs over the next lines: one bad row at its first line,
    and the lines it spans are skipped (none is checked as a row of its own). Returns the last line."""
    record = pieces[start].rstrip("\r")
    for end in range(start + 1, len(pieces)):
        record += "\n" + pieces[end].rstrip("\r")
        try:
            split_fields(record, spec.delimiter)
        except ValueError as exc:
            if _opens_quoted_field(str(exc)):
                continue
        span = f"lines {first_line + start}–{first_line + end}"
        bad.append(BadRow(spec.source, first_line + start, f"a quoted field spans {span}; a row must be one line"))
        return end
    bad.append(BadRow(spec.source, first_line + start, "a quoted field opened on this line is never closed"))
    return len(pieces) - 1


@dataclass
class CsvReader:
    """Streams one CSV/TSV input: the layout from its first line, then raw chunks for :func:`parse_chunk`."""

    source: str
    spec: RowSpec
    chunks: Iterator[tuple[bytes, int]]
    size: int | None
    #: closes the input (also done when the chunks have all been read)
    close: Callable[[], None] = lambda: None


def open_csv(path: str, opts: ReadOptions, want_carried: bool) -> CsvReader:
    """Read the header (or first row) and set up chunked reading of the rest."""
    source, fh, size = open_input(path)
    try:
        return _open_csv(path, source, fh, size, opts, want_carried)
    except BaseException:
        if path != "-":
            fh.close()
        raise


def _first_line(fh: IO[bytes], source: str) -> tuple[bytes, bytes]:
    """(the first line without its line end, the bytes read after it): a header of any width, up to
    MAX_TEXT_BYTES; binary data (a NUL byte, an archive) is refused at once."""
    parts: list[bytes] = []
    total = 0
    while True:
        data = fh.read(1 << 20)
        if not data:
            break
        if not parts:
            if data[:4] == ZIP_MAGIC:
                raise InputError(source, "is a zip or .npz archive, not CSV text (name it .npz, or --input-format npz)")
            if data[:6] == NPY_MAGIC:
                raise InputError(source, NPY_MESSAGE)
        end = data.find(b"\n")
        nul = data.find(b"\0", 0, end if end >= 0 else len(data))
        if nul >= 0:
            raise InputError(source, f"holds binary data, not CSV text (a NUL byte at offset {total + nul})")
        parts.append(data)
        total += len(data)
        if end >= 0:
            break
        if total > files.MAX_TEXT_BYTES:
            raise InputError(f"{source}:1", f"the first line is longer than {megabytes(files.MAX_TEXT_BYTES)}")
    head = b"".join(parts)
    end = head.find(b"\n")
    return (head, b"") if end < 0 else (head[:end], head[end + 1 :])


#: What a plain .npy array given to batch is told.
NPY_MESSAGE = (
    "is a plain .npy array; batch reads .npz archives holding arrays z, t (or label) and optionally grad "
    "(np.savez('rows.npz', z=Z, t=T))"
)


def _open_csv(
    path: str, source: str, fh: IO[bytes], size: int | None, opts: ReadOptions, want_carried: bool
) -> CsvReader:
    first, rest = _first_line(fh, source)
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    first_text = decode(first, source).rstrip("\r")
    if not first_text.strip():
        raise InputError(source, "is empty" if not rest.strip() else "the first line is empty")
    delimiter = opts.delimiter or sniff_delimiter(first_text, source)
    try:
        fields = split_fields(first_text, delimiter)
    except ValueError as exc:
        raise InputError(f"{source}:1", str(exc)) from None
    if opts.header:
        layout = layout_from_header(fields, opts, f"{source}:1")
        first_line = 2
    else:
        if opts.k is None:
            raise InputError("--k", "--no-header needs --k K (the number of classes)")
        layout = positional_layout(len(fields), opts, f"{source}:1")
        first_line = 1
        rest = first + b"\n" + rest
    if opts.header and not rest.strip():
        more = fh.read(1 << 20)
        if not more:
            raise InputError(source, "has only a header, no rows")
        rest += more
    spec = RowSpec(source, layout, delimiter, want_carried)

    def chunks() -> Iterator[tuple[bytes, int]]:
        line = first_line
        pending = b""
        try:
            for data in raw_chunks(_prepend(rest, fh), opts.chunk_bytes):
                if pending:
                    data, pending = pending + data, b""
                if b'"' in data and data.count(b'"') % 2 and len(data) <= files.MAX_TEXT_BYTES:
                    pending = data  # ends inside a quoted field (most likely): keep the field in one chunk
                    continue
                if not data.endswith(b"\n"):
                    data += b"\n"
                yield data, line
                line += count_lines(data)
            if pending:
                yield (pending if pending.endswith(b"\n") else pending + b"\n"), line
        except LineTooLong as exc:
            raise InputError(f"{source}:{line + pending.count(NL)}", str(exc)) from None
        finally:
            if path != "-":
                fh.close()

    def close() -> None:
        if path != "-":
            fh.close()

    return CsvReader(source, spec, chunks(), size, close)


class _prepend(io.RawIOBase):
    """A stream that yields ``head`` and then the rest of ``fh``."""

    def __init__(self, head: bytes, fh: IO[bytes]) -> None:
        self._head = head
        self._fh = fh

    def read(self, size: int = -1) -> bytes:
        if self._head:
            cut = len(self._head) if size is None or size < 0 else size
            out, self._head = self._head[:cut], self._head[cut:]
            return out
        return self._fh.read(size)
