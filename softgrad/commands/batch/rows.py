"""Every row of (N, K) arrays checked as ``check`` does (the shared per-row checks of
:mod:`softgrad.core.checks`), with the user's gradients diagnosed against the catalogue: row-level mistakes
on any block of rows, batch-level ones when the rows are one whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from softgrad.catalogue.diagnose import batch_matches, match_ratio, match_rows, ratio_and_errors
from softgrad.catalogue.mistakes import MISTAKES, expected_scale
from softgrad.core import Array, rules
from softgrad.core.checks import check_rows, errors
from softgrad.core.numbers import decimals_of, machine_written
from softgrad.core.tolerance import DEFAULT_TOLERANCES, Tolerance, tolerance_for

#: Per-row statuses, as stored in result arrays.
PASS, FAIL, UNSTABLE, BAD = 0, 1, 2, 3
STATUS_NAMES = ("pass", "fail", "unstable", "bad")
#: Diagnosis codes besides an index into :data:`DIAG_IDS`.
NO_DIAGNOSIS, UNKNOWN = -1, -2
ROW_IDS = tuple(m.id for m in MISTAKES.rows())
DIAG_IDS = ROW_IDS + tuple(m.id for m in MISTAKES.batches())
#: Unstable reasons, as stored in result arrays.
UNSTABLE_REASONS = (
    "",
    "chained: a probability a target needs underflows, so −t/s is infinite",
    "chained: the explicit Jacobian product loses precision",
    "finite difference: not computable or too uncertain to confirm the reference",
)


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
    #: the gradient columns were written as text (CSV, JSON Lines): True compares each value to the decimals
    #: it was written with, False at the tolerance alone (``--exact``); None: binary arrays, exact
    written: bool | None = None

    def __post_init__(self) -> None:
        rules.temperature(self.temperature)
        rules.reduction(self.reduction)
        rules.whole_number("seed", self.seed)
        self.tolerance  # noqa: B018 - validates dtype, rtol and atol

    @property
    def tolerance(self) -> Tolerance:
        return tolerance_for(self.dtype, self.rtol, self.atol, written=self.written)


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
    #: rows that pass only thanks to the precision their gradient was written with
    within_precision: NDArray[np.bool_] | None = None
    #: failing rows whose gradient agrees with the expected one to float32 precision
    float32: NDArray[np.bool_] | None = None
    #: the block's gradients have a value of 15 or more significant digits: compared at full precision
    machine_written: bool = False
    #: the rows were one whole batch with user gradients, so the batch-level mistakes were looked for
    whole_batch: bool = False
    #: per row, c where a failing row no catalogue entry explains is c × the expected gradient; NaN elsewhere
    scale: Array | None = None


def diagnosis_name(code: int) -> str | None:
    """The catalogue id (or ``"unknown"``) behind a diagnosis code; None for rows not diagnosed."""
    if code == NO_DIAGNOSIS:
        return None
    if code == UNKNOWN:
        return "unknown"
    return DIAG_IDS[code]


def evaluate_rows(z: Array, t: Array, g: Array | None, opts: BatchOptions, *, whole_batch: bool = False) -> RowResults:
    """Check every row: fused vs chained vs finite difference, and the user's gradient with its diagnosis.

    ``whole_batch``: the rows are one complete batch, so the mistakes across rows (reductions, softmax over
    the batch axis) can be diagnosed, and a mean reduction divides by this batch's valid rows.
    """
    tol = opts.tolerance
    n = z.shape[0]
    z, t = np.asfortranarray(z), np.asfortranarray(t)  # the layout the checks are fastest on
    g = None if g is None else np.asfortranarray(g)
    rc = check_rows(z, t, opts.temperature, opts.dtype, tol, fd=opts.fd, seed=opts.seed)
    unstable = np.zeros(n, np.int8)
    unstable[rc.fd_unusable] = 3
    unstable[rc.chained_imprecise] = 2
    unstable[rc.chained_unstable] = 1
    diagnosis = np.full(n, NO_DIAGNOSIS, np.int16)
    n_matches = np.zeros(n, np.int16)
    within = np.zeros(n, bool)
    float32 = np.zeros(n, bool)
    machine = False
    scale: Array | None = None
    if g is None:
        user_fail = np.zeros(n, bool)
        abs_err, rel_err = errors(rc.fd.value, rc.fd_reference, tol)
    else:
        scale_factor = expected_scale(t, opts.reduction) if whole_batch else 1.0
        expected = rc.fused * scale_factor
        ratio, abs_err, rel_err = ratio_and_errors(g, expected, tol)
        user_fail = ratio > 1
        precision = None
        if tol.written and user_fail.any():
            machine = machine_written(g)
            if not machine:
                precision, within = _within_precision(g, expected, tol, user_fail)
                user_fail &= ~within
        idx = np.flatnonzero(user_fail)
        if idx.size:
            p_idx = None if precision is None else precision[idx]
            table = match_rows(z[idx], t[idx], g[idx], opts.temperature, tol, scale=scale_factor, precision=p_idx)
            best, matched, n_matches[idx] = table.best()
            codes = np.array([DIAG_IDS.index(mid) for mid in table.ids], np.int16)
            diagnosis[idx] = np.where(matched, codes[best] if codes.size else UNKNOWN, UNKNOWN)
            if whole_batch:
                _diagnose_batch(z, t, g, opts, tol, user_fail, diagnosis, n_matches, precision)
            if opts.dtype == "float64":
                f32 = DEFAULT_TOLERANCES["float32"]
                float32[idx] = match_ratio(g[idx], expected[idx], f32, p_idx) <= 1
            scale = _scales(g, expected, tol, user_fail & (diagnosis == UNKNOWN), precision)
    status = np.full(n, PASS, np.int8)
    status[unstable > 0] = UNSTABLE
    status[rc.fd_fail | user_fail] = FAIL
    return RowResults(
        status,
        unstable,
        abs_err,
        rel_err,
        diagnosis,
        n_matches,
        within,
        float32,
        machine,
        whole_batch and g is not None,
        scale,
    )


def _scales(
    g: Array, expected: Array, tol: Tolerance, rows: NDArray[np.bool_], precision: Array | None
) -> Array | None:
    """Per row, the factor c (least squares) for which the given rows' gradients are c × the expected one
    within the tolerance; NaN elsewhere. None if no row is such a multiple."""
    idx = np.flatnonzero(rows)
    if not idx.size:
        return None
    e, u = expected[idx], g[idx]
    with np.errstate(all="ignore"):
        c = np.sum(u * e, axis=1) / np.sum(e * e, axis=1)
        fits = np.isfinite(c) & (c != 0)
        p = None if precision is None else precision[idx]
        fits &= match_ratio(u, c[:, None] * e, tol, p) <= 1
        # Numbers rounded by hand scatter the fitted factors (and can spoil the fit itself); where 1/n or n,
        # the nearest to the fit, matches, it is the factor, so that the rows of one mistake share it.
        nice = np.where(np.abs(c) < 1, 1.0 / np.round(1.0 / c), np.round(c))
        j = np.flatnonzero(np.isfinite(nice) & (nice != 0))
        if j.size:
            pj = None if p is None else p[j]
            ok = j[match_ratio(u[j], nice[j, None] * e[j], tol, pj) <= 1]
            c[ok] = nice[ok]
            fits[ok] = True
        if fits.any():
            # the block's most common factor, wherever it fits too (rows of small values fit several)
            values, counts = np.unique(c[fits], return_counts=True)
            common = float(values[np.argmax(counts)])
            ok = np.flatnonzero(match_ratio(u, common * e, tol, p) <= 1)
            c[ok] = common
            fits[ok] = True
    if not fits.any():
        return None
    out = np.full(g.shape[0], np.nan)
    out[idx[fits]] = c[fits]
    return out


def _within_precision(
    g: Array, expected: Array, tol: Tolerance, failing: NDArray[np.bool_]
) -> tuple[Array, NDArray[np.bool_]]:
    """The precision of the failing rows' values, and which of those rows pass with it.

    The readers hand over floats, so the decimals a value was written with are read back from the values
    (the smallest d <= 15 with round(x, d) == x); a trailing zero written in the file is not seen (``0.5000``
    reads as ``0.5``, ``0.0000`` as the integer 0). So the block's gradients are taken to be written to one
    format, the most decimals any of them shows: every value of the block gets half a unit in that decimal.
    Element by element, ``0.5000`` would be allowed ±0.05 and pass where the reference is 0.5399."""
    precision = np.zeros_like(g)
    idx = np.flatnonzero(failing)
    decimals = decimals_of(g)
    shown = decimals[decimals > 0]
    if shown.size:
        precision[idx] = 0.5 * 10.0 ** -int(shown.max())
    within = np.zeros(g.shape[0], bool)
    within[idx] = match_ratio(g[idx], expected[idx], tol, precision[idx]) <= 1
    return precision, within


def _diagnose_batch(
    z: Array,
    t: Array,
    g: Array,
    opts: BatchOptions,
    tol: Tolerance,
    failing: NDArray[np.bool_],
    diagnosis: NDArray[np.int16],
    n_matches: NDArray[np.int16],
    precision: Array | None = None,
) -> None:
    """Label the failing rows that no row-level mistake explains with the batch-level mistake they match."""
    for mid, hit in batch_matches(z, t, g, opts.temperature, opts.reduction, tol, precision).items():
        rows = failing & (diagnosis == UNKNOWN) & hit
        diagnosis[rows] = DIAG_IDS.index(mid)
        n_matches[rows] = 1
