"""Reading rows for ``batch``: CSV/TSV (with a header, or positional with ``--no-header --k K``), JSON Lines
and ``.npz``, in blocks of rows, with every unreadable row reported as ``file:line: what``.

CSV is read in byte chunks cut at line ends. A chunk goes through a fast path (field counts checked with
numpy, numbers parsed by ``numpy.loadtxt``) and, only if that fails, a precise per-line path that names
every bad row and keeps the good ones.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from softgrad.commands.batch.api import BadRow
from softgrad.core import Array
from softgrad.errors import InputError
from softgrad.inputs.values import decode, open_input, parse_case

#: Default column-name prefixes; a column is ``prefix`` + index (0- or 1-based, contiguous).
Z_PREFIXES = ("z", "z_", "logit", "logit_", "logits_")
T_PREFIXES = ("t", "t_", "target", "target_", "y_")
G_PREFIXES = ("g", "g_", "grad", "grad_", "gradient_")
LABEL_NAMES = ("label", "class")
CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class ReadOptions:
    """How to find the columns."""

    delimiter: str | None = None
    header: bool = True
    k: int | None = None
    label_column: bool = False
    z_prefix: str | None = None
    t_prefix: str | None = None
    grad_prefix: str | None = None
    chunk_bytes: int = CHUNK_BYTES


@dataclass(frozen=True)
class Layout:
    """Which columns hold what."""

    names: tuple[str, ...]
    z: tuple[int, ...]
    t: tuple[int, ...] | None
    label: int | None
    g: tuple[int, ...] | None
    carried: tuple[int, ...]

    @property
    def k(self) -> int:
        return len(self.z)

    @property
    def numeric(self) -> tuple[int, ...]:
        """Numeric columns in the order z, t (or label), g."""
        cols = list(self.z) + (list(self.t) if self.t else [self.label] if self.label is not None else [])
        return tuple(int(c) for c in cols + list(self.g or ()))


@dataclass
class Block:
    """Rows read from one part of an input: arrays, their line numbers, carried columns, and bad rows."""

    z: Array
    t: Array
    g: Array | None
    lines: NDArray[np.int64]
    carried: list[dict[str, str]] | None = None
    bad: list[BadRow] = field(default_factory=list)


def _group(names: Sequence[str], prefixes: Sequence[str]) -> list[int] | None:
    """Columns named prefix+index for the first prefix that matches, ordered by index."""
    for prefix in prefixes:
        pat = re.compile(re.escape(prefix) + r"(\d+)$", re.IGNORECASE)
        found = {int(m.group(1)): i for i, n in enumerate(names) if (m := pat.match(n.strip()))}
        if found:
            idx = sorted(found)
            if idx != list(range(idx[0], idx[0] + len(idx))) or idx[0] not in (0, 1):
                raise InputError("", f"columns {prefix}{idx[0]}… are not numbered 0..K-1 or 1..K without gaps")
            return [found[i] for i in idx]
    return None


def layout_from_header(names: Sequence[str], opts: ReadOptions, where: str) -> Layout:
    """Find the z, t (or label) and g columns by name; the other columns are carried."""
    names = [n.strip() for n in names]
    seen: dict[str, int] = {}
    for n in names:
        if n and n in seen:
            raise InputError(where, f"duplicate column name {n!r}")
        seen[n] = 1
    try:
        z = _group(names, (opts.z_prefix,) if opts.z_prefix else Z_PREFIXES)
        t = _group(names, (opts.t_prefix,) if opts.t_prefix else T_PREFIXES)
        g = _group(names, (opts.grad_prefix,) if opts.grad_prefix else G_PREFIXES)
    except InputError as exc:
        raise InputError(where, exc.message) from None
    if not z:
        raise InputError(
            where,
            "no logit columns: expected z0, z1, … (or z_0, logit_0, z1..zK; or name the prefix with --z-prefix)",
        )
    labels = [i for i, n in enumerate(names) if n.lower() in LABEL_NAMES]
    if t and labels:
        raise InputError(where, f"both target columns and a {names[labels[0]]!r} column: keep one")
    if not t and not labels:
        raise InputError(
            where, "no target columns: expected t0, t1, … (or t_0, target_0; or --t-prefix) or a label column"
        )
    k = len(z)
    if k < 2:
        raise InputError(where, f"softmax needs at least 2 classes, found {k} logit column")
    if t and len(t) != k:
        raise InputError(where, f"{len(t)} target columns but {k} logit columns")
    if g and len(g) != k:
        raise InputError(where, f"{len(g)} gradient columns but {k} logit columns")
    used = set(z) | set(t or ()) | set(g or ()) | set(labels[:1])
    carried = tuple(i for i, n in enumerate(names) if i not in used and n)
    return Layout(tuple(names), tuple(z), tuple(t) if t else None, labels[0] if labels else None,
                  tuple(g) if g else None, carried)  # fmt: skip


def positional_layout(nfields: int, opts: ReadOptions, where: str) -> Layout:
    """``--no-header --k K``: z, then t (or one label column), then g if the row is long enough."""
    k = opts.k
    assert k is not None
    tw = 1 if opts.label_column else k
    if nfields == k + tw:
        has_g = False
    elif nfields == 2 * k + tw:
        has_g = True
    else:
        want = f"{k + tw} (z, {'label' if opts.label_column else 't'}) or {2 * k + tw} (with g)"
        raise InputError(where, f"expected {want} fields for K = {k}, got {nfields}")
    z = tuple(range(k))
    names = [f"z{i}" for i in range(k)]
    if opts.label_column:
        t, label = None, k
        names.append("label")
    else:
        t, label = tuple(range(k, 2 * k)), None
        names += [f"t{i}" for i in range(k)]
    g = tuple(range(k + tw, 2 * k + tw)) if has_g else None
    names += [f"g{i}" for i in range(k)] if has_g else []
    return Layout(tuple(names), z, t, label, g, ())


def split_fields(line: str, delimiter: str) -> list[str]:
    """One CSV line into fields (quotes allowed); ValueError with the reason when it cannot be split."""
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise ValueError(f"cannot split the line into fields ({exc})") from None


def sniff_delimiter(line: str, path: str) -> str:
    if path.lower().endswith((".tsv", ".tab")) or "\t" in line:
        return "\t"
    for d in (",", ";", "|"):
        if d in line:
            return d
    return ","


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


@dataclass(frozen=True)
class CsvSpec:
    """Everything a worker needs to turn a chunk of CSV bytes into a :class:`Block`."""

    source: str
    layout: Layout
    delimiter: str
    want_carried: bool


def _message_bad_value(text: str) -> str:
    try:
        float(text)
    except ValueError:
        return f"{text!r} is not a number" if text.strip() else "empty field"
    return f"{text!r} is not a finite number"


def parse_chunk(data: bytes, first_line: int, spec: CsvSpec) -> Block:
    """Rows of one chunk of CSV bytes starting at ``first_line``; bad rows are reported, not dropped."""
    block = _fast_parse(data, first_line, spec)
    return block if block is not None else _slow_parse(data, first_line, spec)


def _fast_parse(data: bytes, first_line: int, spec: CsvSpec) -> Block | None:
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
    return _to_block(arr, np.arange(first_line, first_line + nlines, dtype=np.int64), data, starts, ends, spec)


def _to_block(
    arr: Array,
    lines: NDArray[np.int64],
    data: bytes | None,
    starts: NDArray[np.intp] | None,
    ends: NDArray[np.intp] | None,
    spec: CsvSpec,
    carried_rows: list[list[str]] | None = None,
) -> Block:
    """Split parsed numeric columns into z/t/g and turn invalid values into bad rows."""
    lay = spec.layout
    k = lay.k
    z = arr[:, :k]
    if lay.t is not None:
        t = arr[:, k : 2 * k]
        rest = 2 * k
    else:
        t = None
        rest = k + 1
    g = arr[:, rest : rest + k] if lay.g else None
    bad_mask = ~np.all(np.isfinite(z), axis=1)
    if t is not None:
        bad_mask |= ~np.all(np.isfinite(t), axis=1) | np.any(t < 0, axis=1)
        tv = t
    else:
        lab = arr[:, k]
        bad_mask |= ~np.isfinite(lab) | (lab != np.round(lab)) | (lab < 0) | (lab >= k)
        tv = np.zeros((len(arr), k))
        ok = ~bad_mask
        tv[np.flatnonzero(ok), lab[ok].astype(np.int64)] = 1.0
    bad: list[BadRow] = []
    for i in np.flatnonzero(bad_mask):
        bad.append(BadRow(spec.source, int(lines[i]), _explain_bad(arr[i], spec)))
    keep = ~bad_mask
    carried = None
    if spec.want_carried and lay.carried:
        if carried_rows is None:
            assert data is not None and starts is not None and ends is not None
            carried_rows = [
                data[starts[i] : ends[i]].decode("utf-8").split(spec.delimiter) for i in np.flatnonzero(keep)
            ]
            carried = [{lay.names[c]: r[c] for c in lay.carried} for r in carried_rows]
        else:
            carried = [
                {lay.names[c]: r[c] for c in lay.carried} for r, ok in zip(carried_rows, keep, strict=True) if ok
            ]
    return Block(
        z=z[keep],
        t=tv[keep],
        g=None if g is None else g[keep],
        lines=lines[keep],
        carried=carried,
        bad=bad,
    )


def _explain_bad(values: Array, spec: CsvSpec) -> str:
    lay = spec.layout
    k = lay.k
    names = [lay.names[c] for c in lay.numeric]
    for j, v in enumerate(values[: k + (k if lay.t else 1)]):
        name = names[j]
        if not np.isfinite(v):
            return f"column {name!r}: '{float(v)!r}' is not a finite number"
        if j >= k and lay.t is not None and v < 0:
            return f"column {name!r}: {v:g} is negative (targets must be >= 0)"
        if j == k and lay.t is None:
            if v != round(v):
                return f"column {name!r}: {v:g} is not a class index"
            if not 0 <= v < k:
                return f"column {name!r}: class index {v:g} is out of range for K = {k} (0 to {k - 1})"
    return "invalid row"  # pragma: no cover - every bad mask above has a reason


def _slow_parse(data: bytes, first_line: int, spec: CsvSpec) -> Block:
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
    block = _to_block(arr, np.array(lines, dtype=np.int64), None, None, None, spec, carried_rows)
    block.bad = sorted(bad + block.bad, key=lambda b: b.line)
    return block


@dataclass
class CsvReader:
    """Streams one CSV/TSV input: the layout from its first line, then raw chunks for :func:`parse_chunk`."""

    source: str
    spec: CsvSpec
    chunks: Iterator[tuple[bytes, int]]
    size: int | None


def open_csv(path: str, opts: ReadOptions, want_carried: bool) -> CsvReader:
    """Read the header (or first row) and set up chunked reading of the rest."""
    source, fh, size = open_input(path)
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
    spec = CsvSpec(source, layout, delimiter, want_carried)

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


def read_jsonl(path: str, chunk_rows: int = 8192) -> Iterator[tuple[Block, int]]:
    """JSON Lines: one ``check --case`` object per line; yields (block, K)."""
    source, fh, _ = open_input(path)
    k: int | None = None
    rows: list[tuple[list[float], list[float], list[float] | None, int]] = []
    bad: list[BadRow] = []
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            text = raw.decode("utf-8", errors="replace").strip()
            if lineno == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if not text:
                continue
            try:
                case = parse_case(json.loads(text), "")
                z = case["z"]
                if k is None:
                    k = len(z)
                    if k < 2:
                        raise InputError("key 'z'", f"softmax needs at least 2 classes, got {k}")
                if len(z) != k:
                    raise InputError("key 'z'", f"has {len(z)} values but K = {k} in this file")
                t = _jsonl_targets(case, k)
                g = case.get("grad")
                if g is not None and len(g) != k:
                    raise InputError("key 'grad'", f"has {len(g)} values but K = {k}")
                rows.append((z, t, g, lineno))
            except InputError as exc:
                bad.append(
                    BadRow(source, lineno, exc.message if not exc.where else f"{exc.where.lstrip(': ')}: {exc.message}")
                )
            except json.JSONDecodeError as exc:
                bad.append(BadRow(source, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})"))
            if len(rows) >= chunk_rows:
                yield _jsonl_block(rows, bad, k), k or 0
                rows, bad = [], []
    if k is None and not bad:
        raise InputError(source, "is empty: no JSON objects")
    yield _jsonl_block(rows, bad, k), k or 0


def _jsonl_targets(case: dict[str, Any], k: int) -> list[float]:
    if "t" in case:
        t = case["t"]
        if len(t) != k:
            raise InputError("key 't'", f"has {len(t)} values but K = {k}")
        if any(v < 0 for v in t):
            raise InputError("key 't'", "targets must be >= 0")
        return list(t)
    if "label" in case:
        lab = case["label"]
        if not 0 <= lab < k:
            raise InputError("key 'label'", f"class index {lab} is out of range for K = {k}")
        out = [0.0] * k
        out[lab] = 1.0
        return out
    raise InputError("", "missing key 't' or 'label'")


def _jsonl_block(
    rows: list[tuple[list[float], list[float], list[float] | None, int]], bad: list[BadRow], k: int | None
) -> Block:
    kk = k or 2
    has_g = any(r[2] is not None for r in rows)
    g_rows = [r[2] if r[2] is not None else [float("nan")] * kk for r in rows]
    return Block(
        z=np.array([r[0] for r in rows], dtype=np.float64).reshape(len(rows), kk),
        t=np.array([r[1] for r in rows], dtype=np.float64).reshape(len(rows), kk),
        g=np.array(g_rows, dtype=np.float64).reshape(len(rows), kk) if has_g else None,
        lines=np.array([r[3] for r in rows], dtype=np.int64),
        bad=bad,
    )


def read_npz(path: str, chunk_rows: int = 65536) -> Iterator[tuple[Block, int]]:
    """``.npz`` with arrays ``z`` (N, K), ``t`` (N, K) or ``label`` (N,), optional ``grad`` (N, K)."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"not a readable .npz file ({exc})") from None
    with data:
        keys = set(data.files)
        if "z" not in keys:
            raise InputError(path, f"no array 'z' (arrays: {', '.join(sorted(keys)) or 'none'})")
        z = np.asarray(data["z"], dtype=np.float64)
        if z.ndim != 2 or z.shape[1] < 2:
            raise InputError(f"{path}: array 'z'", f"expected shape (N, K) with K >= 2, got {z.shape}")
        n, k = z.shape
        if "t" in keys:
            t = np.asarray(data["t"], dtype=np.float64)
            if t.shape != z.shape:
                raise InputError(f"{path}: array 't'", f"expected shape {z.shape}, got {t.shape}")
            labels = None
        elif "label" in keys:
            labels = np.asarray(data["label"])
            if labels.shape != (n,):
                raise InputError(f"{path}: array 'label'", f"expected shape ({n},), got {labels.shape}")
            t = None
        else:
            raise InputError(path, "no array 't' or 'label'")
        g = np.asarray(data["grad"], dtype=np.float64) if "grad" in keys else None
        if g is not None and g.shape != z.shape:
            raise InputError(f"{path}: array 'grad'", f"expected shape {z.shape}, got {g.shape}")
    names = tuple([f"z{i}" for i in range(k)] + ([f"t{i}" for i in range(k)] if t is not None else ["label"]))
    t_cols = tuple(range(k, 2 * k)) if t is not None else None
    g_cols = tuple(range(2 * k, 3 * k)) if g is not None else None
    layout = Layout(names, tuple(range(k)), t_cols, None if t is not None else k, g_cols, ())
    spec = CsvSpec(path, layout, ",", False)
    for start in range(0, n, chunk_rows):
        sl = slice(start, min(n, start + chunk_rows))
        parts = [z[sl], t[sl] if t is not None else labels[sl, None].astype(np.float64)]  # type: ignore[index]
        if g is not None:
            parts.append(g[sl])
        arr = np.hstack(parts)
        # "line" of an .npz row: its 1-based index
        yield _to_block(arr, np.arange(start + 1, sl.stop + 1, dtype=np.int64), None, None, None, spec, []), k
