"""Batch checks: every row of (N, K) arrays checked as ``check`` does, vectorised across rows, plus the
mistakes that only show across rows (reductions, softmax over the wrong axis).

Pure numpy: :func:`evaluate_rows` turns arrays into per-row result arrays, :class:`Summary` folds those into
bounded-size totals (counts, worst rows, a histogram), and :func:`check_batch` is the array API.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softgrad import core
from softgrad.catalogue.diagnose import match_ratio
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.core import Array
from softgrad.core.tolerance import Tolerance, excess, tolerance_for
from softgrad.errors import InputError

#: Per-row statuses, as stored in result arrays.
PASS, FAIL, UNSTABLE, BAD = 0, 1, 2, 3
STATUS_NAMES = ("pass", "fail", "unstable", "bad")
#: Diagnosis codes besides an index into :data:`DIAG_IDS`.
NO_DIAGNOSIS, UNKNOWN = -1, -2
ROW_IDS = tuple(m.id for m in MISTAKES.rows())
BATCH_IDS = ("batch_sum_not_mean", "batch_mean_twice", "softmax_over_batch_axis", "ignored_rows_in_mean")
DIAG_IDS = ROW_IDS + BATCH_IDS
REDUCTIONS = ("none", "mean", "sum")
#: Unstable reasons, as stored in result arrays.
UNSTABLE_REASONS = (
    "",
    "chained: a probability a target needs underflows, so −t/s is infinite",
    "chained: the explicit Jacobian product loses precision",
    "finite difference: not computable or too uncertain to confirm the reference",
)
#: Bins of the log10 relative error histogram: [-17, -16), ..., [2, 3), plus the zero-error bin.
HIST_LO, HIST_HI = -17, 3


@dataclass(frozen=True)
class BatchOptions:
    """How rows are checked."""

    temperature: float = 1.0
    dtype: str = "float64"
    rtol: float | None = None
    atol: float | None = None
    fd: str = "auto"
    reduction: str = "none"
    seed: int = 0

    @property
    def tolerance(self) -> Tolerance:
        return tolerance_for(self.dtype, self.rtol, self.atol)


@dataclass(frozen=True)
class RowResults:
    """Per-row results for one block of rows (arrays of length n)."""

    status: NDArray[np.int8]
    unstable: NDArray[np.int8]
    max_abs_err: Array
    max_rel_err: Array
    diagnosis: NDArray[np.int16]
    #: how many catalogue entries match the row's gradient (more than 1: ambiguous)
    n_matches: NDArray[np.int16]


def _row_max(ratio: Array) -> Array:
    out: Array = np.max(ratio, axis=1) if ratio.shape[1] else np.zeros(ratio.shape[0])
    return out


def batch_weights(t: Array, reduction: str) -> tuple[Array, int, int]:
    """(per-row weight of the expected gradient, N, N_valid): 1/N_valid for ``mean``, else 1.

    Rows whose targets are all zero are ignored rows: they do not count in a mean.
    """
    n = t.shape[0]
    n_valid = int(np.count_nonzero(np.sum(t, axis=1) > 0))
    w = 1.0 / max(n_valid, 1) if reduction == "mean" else 1.0
    return np.full(n, w), n, n_valid


def evaluate_rows(z: Array, t: Array, g: Array | None, opts: BatchOptions, *, whole_batch: bool = False) -> RowResults:
    """Check every row: fused vs chained vs finite difference, and the user's gradient with its diagnosis.

    ``whole_batch``: the rows are one complete batch, so the mistakes across rows (reductions, softmax over
    the batch axis) can be diagnosed, and ``--reduction mean`` divides by this batch's valid rows.
    """
    tol = opts.tolerance
    tau = opts.temperature
    n, k = z.shape
    with np.errstate(all="ignore"):
        s = core.softmax(z / tau)
        fused = core.fused_gradient(z, t, tau)
        chained = core.chained_gradient(z, t, tau)
        info = np.finfo(np.dtype(opts.dtype))
        ratio = np.where(t > 0, t / s, 0.0)
        underflow = np.any((t > 0) & ((s < info.tiny) | ~(ratio <= float(info.max))), axis=1)
        underflow |= ~np.all(np.isfinite(chained), axis=1)
        imprecise = ~underflow & (_row_max(excess(chained, fused, tol)) > 1)
        method, mode = core.fd_plan(opts.fd, k)
        fd = core.finite_difference(z, t, tau, method=method, mode=mode, seed=opts.seed)
        ref_fd = fused if mode == "full" else fused @ fd.directions.T  # type: ignore[union-attr]
        fd_ratio = _row_max(excess(fd.value, ref_fd, tol, fd.error))
        fd_bad = ~(np.all(np.isfinite(fd.value), axis=1) & np.all(np.isfinite(fd.error), axis=1))
        limit = np.maximum(1e-3, 0.1 * np.max(np.abs(fused), axis=1))
        fd_bad |= np.max(fd.error, axis=1) > limit
        fd_fail = ~fd_bad & (fd_ratio > 1)

        unstable = np.zeros(n, np.int8)
        unstable[fd_bad] = 3
        unstable[imprecise] = 2
        unstable[underflow] = 1
        diagnosis = np.full(n, NO_DIAGNOSIS, np.int16)
        n_matches = np.zeros(n, np.int16)
        if g is None:
            user_fail = np.zeros(n, bool)
            abs_err = np.abs(fd.value - ref_fd)
            abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
            rel_err = abs_err / np.maximum(np.abs(ref_fd), tol.atol)
        else:
            w = batch_weights(t, opts.reduction)[0][:, None] if whole_batch else 1.0
            expected = fused * w
            user_fail = match_ratio(g, expected, tol) > 1
            abs_err = np.abs(g - expected)
            abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
            rel_err = abs_err / np.maximum(np.abs(expected), tol.atol)
            if user_fail.any():
                idx = np.flatnonzero(user_fail)
                diagnosis[idx], n_matches[idx] = _diagnose(z[idx], t[idx], g[idx], w, idx, opts, tol)
                if whole_batch:
                    _diagnose_batch(z, t, g, opts, tol, user_fail, diagnosis, n_matches)
    status = np.full(n, PASS, np.int8)
    status[unstable > 0] = UNSTABLE
    status[fd_fail | user_fail] = FAIL
    return RowResults(
        status=status,
        unstable=unstable,
        max_abs_err=np.max(abs_err, axis=1) if k else np.zeros(n),
        max_rel_err=np.max(rel_err, axis=1) if k else np.zeros(n),
        diagnosis=diagnosis,
        n_matches=n_matches,
    )


def _diagnose(
    z: Array, t: Array, g: Array, w: Array | float, idx: NDArray[np.intp], opts: BatchOptions, tol: Tolerance
) -> tuple[NDArray[np.int16], NDArray[np.int16]]:
    """Best-matching row-level mistake per failing row (NaN/inf rows prefer the floating-point ones)."""
    weights = w[idx] if isinstance(w, np.ndarray) else w
    ratios = np.stack(
        [match_ratio(g, MISTAKES[mid].gradient(z, t, opts.temperature) * weights, tol) for mid in ROW_IDS], axis=1
    )
    nonfinite = ~np.all(np.isfinite(g), axis=1)
    numerical = np.array([MISTAKES[mid].numerical for mid in ROW_IDS])
    key = ratios + np.where(nonfinite[:, None] & ~numerical[None, :], 1e-9, 0.0)
    best = np.argmin(key, axis=1)
    matched = ratios[np.arange(len(best)), best] <= 1
    n_matches = np.sum(ratios <= 1, axis=1).astype(np.int16)
    return np.where(matched, best, UNKNOWN).astype(np.int16), n_matches


def batch_candidates(z: Array, t: Array, opts: BatchOptions) -> dict[str, Array]:
    """The gradients the batch-level mistakes produce for one whole batch (N, K)."""
    tau = opts.temperature
    fused = core.fused_gradient(z, t, tau)
    _, n, n_valid = batch_weights(t, opts.reduction)
    nv = max(n_valid, 1)
    with np.errstate(all="ignore"):
        over_batch = core.softmax((z / tau).T).T * np.sum(t, axis=1, keepdims=True) - t
    expected_scale = 1.0 / nv if opts.reduction == "mean" else 1.0
    # the reduction the user did not mean: per-row/sum where mean was meant, mean where sum/none was meant
    other_scale = 1.0 if opts.reduction == "mean" else 1.0 / nv
    out = {
        "batch_sum_not_mean": fused * other_scale,
        "softmax_over_batch_axis": over_batch / tau * expected_scale,
    }
    if opts.reduction == "mean":
        out["batch_mean_twice"] = fused / nv**2
        if n != n_valid:
            out["ignored_rows_in_mean"] = fused / n
    return out


def _diagnose_batch(
    z: Array,
    t: Array,
    g: Array,
    opts: BatchOptions,
    tol: Tolerance,
    failing: NDArray[np.bool_],
    diagnosis: NDArray[np.int16],
    n_matches: NDArray[np.int16],
) -> None:
    """Label the failing rows that no row-level mistake explains with the batch-level mistake they match."""
    if z.shape[0] < 2:
        return
    for mid, wrong in batch_candidates(z, t, opts).items():
        todo = np.flatnonzero(failing & (diagnosis == UNKNOWN))
        if todo.size == 0:
            return
        hit = todo[match_ratio(g[todo], wrong[todo], tol) <= 1]
        diagnosis[hit] = DIAG_IDS.index(mid)
        n_matches[hit] = 1


@dataclass(order=True)
class WorstRow:
    """A row among the worst (by relative error), with where it came from."""

    max_rel_err: float
    line: int = field(compare=False)
    source: str = field(compare=False)
    status: str = field(compare=False)
    max_abs_err: float = field(compare=False)
    diagnosis: str | None = field(compare=False)
    carried: dict[str, str] = field(compare=False, default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.source,
            "line": self.line,
            "status": self.status,
            "max_abs_err": _json_float(self.max_abs_err),
            "max_rel_err": _json_float(self.max_rel_err),
            "diagnosis": self.diagnosis,
            "carried": self.carried,
        }


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read: where and why."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.source, "line": self.line, "message": self.message}


def _json_float(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def diagnosis_name(code: int) -> str | None:
    if code == NO_DIAGNOSIS:
        return None
    if code == UNKNOWN:
        return "unknown"
    return DIAG_IDS[code]


@dataclass
class Summary:
    """Bounded-size totals over any number of rows: counts, worst rows, histogram, bad rows."""

    source: str
    show: int = 10
    keep_bad: int = 1000
    rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_NAMES, 0))
    mistakes: dict[str, int] = field(default_factory=dict)
    ambiguous: int = 0
    unstable_reasons: dict[str, int] = field(default_factory=dict)
    histogram: NDArray[np.int64] = field(default_factory=lambda: np.zeros(HIST_HI - HIST_LO + 2, np.int64))
    worst: list[WorstRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    k: int | None = None
    has_grad: bool = False
    fd_mode: str = ""

    def add(self, res: RowResults, lines: NDArray[np.int64], carried: Sequence[dict[str, str]] | None = None) -> None:
        """Fold one block of row results in."""
        n = len(res.status)
        self.rows += n
        for code, name in enumerate(STATUS_NAMES[:3]):
            self.counts[name] += int(np.count_nonzero(res.status == code))
        for code in np.unique(res.diagnosis):
            mid = diagnosis_name(int(code))
            if mid is not None:
                self.mistakes[mid] = self.mistakes.get(mid, 0) + int(np.count_nonzero(res.diagnosis == code))
        self.ambiguous += int(np.count_nonzero(res.n_matches > 1))
        for code in np.unique(res.unstable):
            if code:
                reason = UNSTABLE_REASONS[int(code)]
                self.unstable_reasons[reason] = self.unstable_reasons.get(reason, 0) + int(
                    np.count_nonzero(res.unstable == code)
                )
        self.histogram += histogram(res.max_rel_err)
        if self.show > 0 and n:
            top = np.argsort(-np.nan_to_num(res.max_rel_err, nan=np.inf), kind="stable")[: self.show]
            for i in top:
                row = WorstRow(
                    float(res.max_rel_err[i]),
                    int(lines[i]),
                    self.source,
                    STATUS_NAMES[int(res.status[i])],
                    float(res.max_abs_err[i]),
                    diagnosis_name(int(res.diagnosis[i])),
                    dict(carried[i]) if carried else {},
                )
                if len(self.worst) < self.show:
                    heapq.heappush(self.worst, row)
                elif row.max_rel_err > self.worst[0].max_rel_err:
                    heapq.heapreplace(self.worst, row)

    def add_bad(self, bad: Sequence[BadRow]) -> None:
        self.counts["bad"] += len(bad)
        room = self.keep_bad - len(self.bad)
        if room > 0:
            self.bad.extend(bad[:room])

    def merge(self, other: Summary) -> None:
        """Fold another summary (of the same source) in."""
        self.rows += other.rows
        for key, value in other.counts.items():
            self.counts[key] += value
        for key, value in other.mistakes.items():
            self.mistakes[key] = self.mistakes.get(key, 0) + value
        for key, value in other.unstable_reasons.items():
            self.unstable_reasons[key] = self.unstable_reasons.get(key, 0) + value
        self.ambiguous += other.ambiguous
        self.histogram += other.histogram
        for row in other.worst:
            if len(self.worst) < self.show:
                heapq.heappush(self.worst, row)
            elif row.max_rel_err > self.worst[0].max_rel_err:
                heapq.heapreplace(self.worst, row)
        self.bad.extend(other.bad[: max(0, self.keep_bad - len(self.bad))])
        self.k = self.k or other.k
        self.has_grad = self.has_grad or other.has_grad
        self.fd_mode = self.fd_mode or other.fd_mode

    @property
    def status(self) -> str:
        if self.counts["bad"]:
            return "bad"
        if self.counts["fail"]:
            return "fail"
        return "unstable" if self.counts["unstable"] else "pass"

    def worst_rows(self) -> list[WorstRow]:
        return sorted(self.worst, reverse=True)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.source,
            "status": self.status,
            "k": self.k,
            "rows": self.rows + self.counts["bad"],
            "counts": dict(self.counts),
            "mistakes": dict(sorted(self.mistakes.items(), key=lambda kv: -kv[1])),
            "ambiguous_rows": self.ambiguous,
            "unstable_reasons": dict(self.unstable_reasons),
            "histogram": histogram_dict(self.histogram),
            "worst_rows": [w.to_dict() for w in self.worst_rows()],
            "bad_rows": [b.to_dict() for b in self.bad],
            "finite_difference": self.fd_mode,
            "has_grad": self.has_grad,
        }


def histogram(rel_err: Array) -> NDArray[np.int64]:
    """Counts of log10 relative error per decade from 10^-17 to 10^3; the last bin holds exact zeros."""
    out = np.zeros(HIST_HI - HIST_LO + 2, np.int64)
    zero = rel_err == 0
    out[-1] = int(np.count_nonzero(zero))
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.floor(np.log10(rel_err[~zero]))
    lg = np.where(np.isfinite(lg), lg, HIST_HI - 1)
    idx = np.clip(lg, HIST_LO, HIST_HI - 1).astype(np.int64) - HIST_LO
    out[:-1] += np.bincount(idx, minlength=HIST_HI - HIST_LO + 1)[: HIST_HI - HIST_LO + 1]
    return out


def histogram_dict(h: NDArray[np.int64]) -> dict[str, int]:
    d = {f"1e{HIST_LO + i}": int(h[i]) for i in range(HIST_HI - HIST_LO + 1) if h[i]}
    if h[-1]:
        d["0"] = int(h[-1])
    return d


@dataclass(frozen=True)
class BatchReport:
    """Totals over every input (files, or arrays for :func:`check_batch`)."""

    files: tuple[dict[str, Any], ...]
    total: dict[str, Any]
    options: dict[str, Any]
    skip_bad: bool = False

    @property
    def status(self) -> str:
        """``"bad"`` if any row was unreadable (unless skipped); else ``"fail"`` if any row failed; else
        ``"unstable"`` or ``"pass"``."""
        counts = self.total["counts"]
        if counts["bad"] and not self.skip_bad:
            return "bad"
        if counts["fail"]:
            return "fail"
        return "unstable" if counts["unstable"] else "pass"

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "unstable")

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "total": self.total, "files": list(self.files), "options": self.options}


def total_of(summaries: Sequence[Summary]) -> dict[str, Any]:
    """Totals across files."""
    total = Summary("total", show=max((s.show for s in summaries), default=10))
    for s in summaries:
        total.merge(s)
    d = total.to_dict()
    d.pop("file")
    return d


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
    show: int = 10,
) -> BatchReport:
    """Check every row of (N, K) logits ``Z`` with targets ``T`` (or class ``labels``) and, optionally, the
    user's gradients ``G``; returns the same report ``softgrad batch`` prints.

    ``reduction``: what ``G`` holds per batch — ``"none"`` (per-row gradients), ``"mean"`` or ``"sum"``;
    ``batch_size``: rows per batch (default: all rows are one batch).
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
    if reduction not in REDUCTIONS:
        raise InputError("reduction", f"must be one of {', '.join(REDUCTIONS)}")
    opts = BatchOptions(temperature, dtype, rtol, atol, fd, reduction, seed)
    opts.tolerance  # noqa: B018 - validates rtol/atol
    summary = Summary("<arrays>", show=show)
    summary.k, summary.has_grad = k, g is not None
    summary.fd_mode = "/".join(core.fd_plan(fd, k))
    step = batch_size or n
    lines = np.arange(1, n + 1, dtype=np.int64)
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        res = evaluate_rows(z[sl], t[sl], None if g is None else g[sl], opts, whole_batch=True)
        summary.add(res, lines[sl])
    return BatchReport((summary.to_dict(),), total_of([summary]), _options_dict(opts, batch_size))


def _options_dict(opts: BatchOptions, batch_size: int | None) -> dict[str, Any]:
    tol = opts.tolerance
    return {
        "temperature": opts.temperature,
        "dtype": opts.dtype,
        "tolerance": tol.to_dict(),
        "fd": opts.fd,
        "reduction": opts.reduction,
        "batch_size": batch_size,
        "seed": opts.seed,
    }
