"""CSV / TSV rows for ``batch``, read in byte chunks cut at line ends.

A chunk goes through a fast path (field counts checked with numpy, numbers parsed by ``numpy.loadtxt``) and,
only if that fails, a precise per-line path that names every bad row and keeps the good ones.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol

import numpy as np

from softgrad.errors import InputError
from softgrad.inputs.files import decode, open_input
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


def raw_chunks(fh: Readable, size: int) -> Iterator[bytes]:
    """Byte chunks of about ``size`` that end at a line end (the last may not)."""
    rest = b""
    while True:
        data = fh.read(size)
        if not data:
            if rest:
                yield rest
            return
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        yield data[: cut + 1]
        rest = data[cut + 1 :]


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
    if not data.endswith(b"\n") or b'"' in data or b"\r" in data or b"\n\n" in data or data.startswith(b"\n"):
        return None  # quotes, CR, blank lines: the precise path keeps line numbers right
    nlines = data.count(b"\n")
    ncols = len(lay.names)
    starts = ends = None
    if sorted(lay.numeric) == list(range(ncols)):
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
        with warnings.catch_warnings():
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
    return to_block(arr, np.arange(first_line, first_line + nlines, dtype=np.int64), data, starts, ends, spec)


def _slow_parse(data: bytes, first_line: int, spec: RowSpec) -> Block:
    """Line by line: parse what can be parsed, name what cannot."""
    lay = spec.layout
    text = data.decode("utf-8", errors="surrogateescape")
    rows: list[list[float]] = []
    lines: list[int] = []
    carried_rows: list[list[str]] = []
    bad: list[BadRow] = []
    numeric = lay.numeric
    for offset, raw in enumerate(text.split("\n")):
        lineno = first_line + offset
        line = raw.rstrip("\r")
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


@dataclass
class CsvReader:
    """Streams one CSV/TSV input: the layout from its first line, then raw chunks for :func:`parse_chunk`."""

    source: str
    spec: RowSpec
    chunks: Iterator[tuple[bytes, int]]
    size: int | None


def open_csv(path: str, opts: ReadOptions, want_carried: bool) -> CsvReader:
    """Read the header (or first row) and set up chunked reading of the rest."""
    source, fh, size = open_input(path)
    try:
        return _open_csv(path, source, fh, size, opts, want_carried)
    except BaseException:
        if path != "-":
            fh.close()
        raise


def _open_csv(
    path: str, source: str, fh: IO[bytes], size: int | None, opts: ReadOptions, want_carried: bool
) -> CsvReader:
    want = min(opts.chunk_bytes, 1 << 20)
    head = fh.read(want)
    if head[:2] == b"\x1f\x8b" or head[:4] == b"PK\x03\x04":
        decode(head[:4], source)  # raises the gzip / zip message
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    first_end = head.find(b"\n")
    first = head if first_end < 0 else head[:first_end]
    first_text = decode(first, source).rstrip("\r")
    if not first_text.strip():
        raise InputError(source, "is empty" if not head.strip() else "the first line is empty")
    delimiter = opts.delimiter or sniff_delimiter(first_text, source)
    try:
        fields = split_fields(first_text, delimiter)
    except ValueError as exc:
        raise InputError(f"{source}:1", str(exc)) from None
    if opts.header:
        layout = layout_from_header(fields, opts, f"{source}:1")
        body_start, first_line = (first_end + 1 if first_end >= 0 else len(head)), 2
    else:
        if opts.k is None:
            raise InputError("--k", "--no-header needs --k K (the number of classes)")
        layout = positional_layout(len(fields), opts, f"{source}:1")
        body_start, first_line = 0, 1
    spec = RowSpec(source, layout, delimiter, want_carried)

    def chunks() -> Iterator[tuple[bytes, int]]:
        line = first_line
        rest = head[body_start:]
        stream = _prepend(rest, fh)
        try:
            for data in raw_chunks(stream, opts.chunk_bytes):
                if not data.endswith(b"\n"):
                    data += b"\n"
                yield data, line
                line += data.count(b"\n")
        finally:
            if path != "-":
                fh.close()

    if opts.header and len(head) < want and not head[body_start:].strip():
        raise InputError(source, "has only a header, no rows")
    return CsvReader(source, spec, chunks(), size)


class _prepend(io.RawIOBase):
    """A stream that yields ``head`` and then the rest of ``fh``."""

    def __init__(self, head: bytes, fh: IO[bytes]) -> None:
        self._head = head
        self._fh = fh

    def read(self, size: int = -1) -> bytes:
        if self._head:
            out, self._head = self._head, b""
            return out
        return self._fh.read(size)
