"""``check_batch``: every row of (N, K) arrays checked as ``softgrad batch`` checks the rows of a file."""

from __future__ import annotations

from typing import Any

import numpy as np

from softgrad.commands.batch.report import BatchReport, BatchSettings
from softgrad.commands.batch.rows import BatchOptions, evaluate_rows
from softgrad.commands.batch.summary import Summary, total_of
from softgrad.core import fd_plan, rules
from softgrad.errors import InputError
from softgrad.inputs.rows import ReadOptions, layout_from_header


def check_batch(
    Z: Any,
    T: Any = None,
    G: Any = None,
    *,
    labels: Any = None,
    temperature: float = 1.0,
    dtype: str = "float64",
    rtol: float | None = None,
    atol: float | None = None,
    fd: str = "auto",
    reduction: str = "none",
    batch_size: int | None = None,
    seed: int = 0,
    show: int = rules.DEFAULT_SHOW,
    source: str = "<arrays>",
    first_row: int = 1,
) -> BatchReport:
    """Check every row of (N, K) logits ``Z`` with targets ``T`` (or class ``labels``) and, optionally, the
    user's gradients ``G``; returns the same report ``softgrad batch`` prints.

    ``reduction``: what ``G`` holds per batch — ``"none"`` (per-row gradients), ``"mean"`` or ``"sum"``;
    ``batch_size``: rows per batch (default: all rows are one batch).

    A part of a larger data set (a partition, a shard) is checked with ``source`` naming the data set and
    ``first_row`` the number of its first row; the reports of the parts then combine with
    ``report.merge(other)`` into exactly the report of all rows checked at once, as long as every part
    holds whole batches (``batch_size`` rows each, the last part excepted).
    """
    z = np.asarray(Z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise InputError("Z", f"expected an (N, K) array with K >= 2, got shape {z.shape}")
    n, k = z.shape
    if (T is None) == (labels is None):
        raise InputError("T", "give the targets T or the class labels, not both or neither")
    if labels is not None:
        lab = np.asarray(labels)
        if (
            lab.shape != (n,)
            or not np.issubdtype(lab.dtype, np.integer)
            or lab.min(initial=0) < 0
            or lab.max(initial=0) >= k
        ):
            raise InputError("labels", f"expected {n} integer class indices in 0..{k - 1}")
        t = np.eye(k)[lab]
    else:
        t = np.asarray(T, dtype=np.float64)
        if t.shape != z.shape:
            raise InputError("T", f"expected shape {z.shape}, got {t.shape}")
    g = None if G is None else np.asarray(G, dtype=np.float64)
    if g is not None and g.shape != z.shape:
        raise InputError("G", f"expected shape {z.shape}, got {g.shape}")
    if not np.all(np.isfinite(z)) or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InputError("Z/T", "logits and targets must be finite and targets >= 0")
    opts = BatchOptions(temperature, dtype, rtol, atol, fd, reduction, seed)
    show = rules.whole_number("show", show)
    first_row = rules.whole_number("first_row", first_row)
    if batch_size is not None:
        batch_size = rules.whole_number("batch_size", batch_size, 1)
    summary = Summary(source, show=show, per_row=reduction == "none")
    summary.k, summary.has_grad = k, g is not None
    summary.fd_mode = "/".join(fd_plan(fd, k))
    step = batch_size or max(n, 1)
    lines = np.arange(first_row, first_row + n, dtype=np.int64)
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        res = evaluate_rows(z[sl], t[sl], None if g is None else g[sl], opts, whole_batch=True)
        summary.add(res, lines[sl])
    return BatchReport((summary.report(),), total_of([summary]), settings(opts, batch_size))


def check_frame(frame: Any, *, source: str = "<frame>", first_row: int = 1, **options: Any) -> BatchReport:
    """:func:`check_batch` on a table whose columns are named as CSV headers are (``z0…``, ``t0…`` or
    ``label``, ``g0…``): a pandas or polars DataFrame, a pyarrow Table or RecordBatch, or a dict of columns;
    ``options`` are those of :func:`check_batch`. One partition of a Dask DataFrame, for example::

        report = check_frame(partition, source="logs/*.parquet", first_row=offset + 1, batch_size=256)
    """
    names = [str(c) for c in getattr(frame, "column_names", None) or list(frame.keys() if isinstance(frame, dict)
             else frame.columns)]  # fmt: skip
    lay = layout_from_header(names, ReadOptions(), source)

    def col(i: int) -> Any:
        c = frame.column(names[i]) if hasattr(frame, "column") and not hasattr(frame, "iloc") else frame[names[i]]
        return np.asarray(c.to_numpy() if hasattr(c, "to_numpy") else c, dtype=np.float64)

    def cols(idx: tuple[int, ...]) -> Any:
        n = len(col(lay.z[0]))
        return np.column_stack([col(i) for i in idx]) if idx else np.empty((n, 0))

    z = cols(lay.z)
    g = cols(lay.g) if lay.g else None
    if lay.t is not None:
        return check_batch(z, cols(lay.t), g, source=source, first_row=first_row, **options)
    assert lay.label is not None
    labels = col(lay.label)
    if not np.all(labels == np.round(labels)):
        raise InputError(f"{source}: column {names[lay.label]!r}", "class indices must be whole numbers")
    return check_batch(z, None, g, labels=labels.astype(np.int64), source=source, first_row=first_row, **options)


def settings(opts: BatchOptions, batch_size: int | None) -> BatchSettings:
    """The options of a run, as reported."""
    return BatchSettings(opts.temperature, opts.dtype, opts.tolerance, opts.fd, opts.reduction, batch_size, opts.seed)
