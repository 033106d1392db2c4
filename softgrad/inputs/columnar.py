"""Parquet and Arrow IPC (Feather v2) rows for ``batch`` (``pip install 'softgrad[fast]'``: pyarrow), read
by column name as CSV headers are and streamed by row group / record batch, so memory stays bounded.

A row's "line" is its 1-based row number in the file. Columns other than z, t (or label) and g are not
carried (name them in a CSV to see them in the report).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from softgrad.errors import InputError
from softgrad.inputs.rows import Block, ReadOptions, RowSpec, layout_from_header, to_block

#: The columnar formats and their extensions.
EXTENSIONS = {"parquet": (".parquet", ".pq"), "arrow": (".arrow", ".feather", ".ipc", ".arrows")}
#: Rows per block read from a Parquet file.
BATCH_ROWS = 65536


def _pyarrow(path: str, kind: str) -> Any:
    try:
        import pyarrow
        import pyarrow.ipc
        import pyarrow.parquet
    except ImportError:
        what = ".parquet" if kind == "parquet" else "Arrow IPC (.arrow, .feather)"
        raise InputError(path, f"reading {what} needs pip install 'softgrad[fast]'") from None
    return pyarrow


def read_columnar(path: str, kind: str, opts: ReadOptions) -> Iterator[tuple[Block, int]]:
    """Rows of a Parquet (``kind="parquet"``) or Arrow IPC (``"arrow"``) file; yields (block, K)."""
    if path == "-":
        raise InputError("<stdin>", f"{kind} is read from a file, not from standard input")
    pa = _pyarrow(path, kind)
    try:
        batches, names = _open(pa, path, kind)
        spec = RowSpec(path, layout_from_header(names, opts, path), ",", False)
        numeric = [spec.layout.names[c] for c in spec.layout.numeric]
        row = 1
        for arr in _blocks(pa, batches(numeric), numeric, path):
            n = arr.shape[0]
            yield to_block(arr, np.arange(row, row + n, dtype=np.int64), None, None, None, spec, []), spec.layout.k
            row += n
    except (pa.ArrowException, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InputError(path, "no such file") from None
        raise InputError(path, f"is not a readable {kind} file ({exc})") from None


def _blocks(pa: Any, batches: Iterator[Any], numeric: list[str], path: str) -> Iterator[Any]:
    """(rows, columns) float64 arrays of about BATCH_ROWS rows, whatever the size of the file's row groups
    (so that a file of one block is one batch, as a small CSV is)."""
    pending: list[Any] = []
    count = 0
    for batch in itertools.chain(batches, [None]):
        if batch is not None and batch.num_rows:
            arr = np.empty((batch.num_rows, len(numeric)))
            for j, name in enumerate(numeric):
                arr[:, j] = _floats(pa, batch.column(name), path, name)
            pending.append(arr)
            count += batch.num_rows
        if pending and (count >= BATCH_ROWS or batch is None):
            yield pending[0] if len(pending) == 1 else np.concatenate(pending)
            pending, count = [], 0


def _open(pa: Any, path: str, kind: str) -> tuple[Any, list[str]]:
    """(a function from column names to the file's record batches, the column names)."""
    if kind == "parquet":
        pf = pa.parquet.ParquetFile(path)
        return (lambda cols: pf.iter_batches(batch_size=BATCH_ROWS, columns=cols)), list(pf.schema_arrow.names)
    source = pa.memory_map(os.fspath(path))
    try:
        reader = pa.ipc.open_file(source)
        return (lambda cols: (reader.get_batch(i) for i in range(reader.num_record_batches))), reader.schema.names
    except pa.ArrowInvalid:
        source.seek(0)
        stream = pa.ipc.open_stream(source)
        return (lambda cols: iter(stream)), stream.schema.names


def _floats(pa: Any, column: Any, path: str, name: str) -> Any:
    """A column as float64 (nulls as NaN, so the row is named as bad); a non-numeric column is an error."""
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        raise InputError(path, f"column {name!r} holds {column.type}, not numbers")
    return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
