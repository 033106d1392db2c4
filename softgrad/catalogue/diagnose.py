"""Diagnosis: which catalogued mistake produced a user's gradient or Jacobian.

Pure numpy; vectorised over rows, so that ``check`` (one row), ``batch`` (millions) and ``verify`` (the
battery's cases) share one implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from softgrad.catalogue.entry import Scale
from softgrad.catalogue.mistakes import MISTAKES, Mistake
from softgrad.core import Array, softmax, softmax_jacobian
from softgrad.core.checks import errors
from softgrad.core.numbers import json_float
from softgrad.core.tolerance import Tolerance, excess

#: Two gradients count as told apart when they differ by more than this (relative and absolute).
SEPARATION = Tolerance(rtol=1e-3, atol=1e-3)
REFERENCE = "reference"


def match_ratio(user: Array, candidate: Array, tol: Tolerance, precision: Array | None = None) -> Array:
    """Per row, the worst tolerance ratio between ``user`` and ``candidate`` (at most 1 is a match);
    ``precision`` (per element of ``user``: the precision its numbers were written with) is allowed on top.

    NaN matches NaN and inf matches inf of the same sign, so a gradient that overflowed is matched by the
    mistake that overflows the same way.
    """
    ratio = excess(user, candidate, tol, precision)
    out: Array = np.max(ratio, axis=-1)
    rows = np.flatnonzero(np.isinf(out))  # only there can a NaN or inf on both sides be a match
    if rows.size:
        u, c = user[rows], candidate[rows]
        same_nonfinite = (np.isnan(u) & np.isnan(c)) | (np.isinf(u) & (u == c))
        out[rows] = np.max(np.where(same_nonfinite, 0.0, ratio[rows]), axis=-1)
    return out


def ratio_and_errors(user: Array, expected: Array, tol: Tolerance) -> tuple[Array, Array, Array]:
    """Per row of (N, K) arrays: :func:`match_ratio` (no precision allowed) and the largest absolute and
    relative errors of :func:`softgrad.core.checks.errors`, from one difference of the two arrays."""
    if not user.shape[1]:
        zero = np.zeros(user.shape[0])
        return zero, zero.copy(), zero.copy()
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.subtract(user, expected)
        np.abs(diff, out=diff)
        size = np.abs(expected)
        allowed = np.multiply(size, tol.rtol)
        allowed += tol.atol
        np.maximum(size, tol.atol, out=size)
        abs_err = np.max(diff, axis=1)  # NaN wherever a row has one, counted as inf below
        rel = np.divide(diff, size, out=size)
        rel_err = np.max(rel, axis=1)
        ratio = np.divide(diff, allowed, out=allowed)
        worst = np.max(ratio, axis=1)
    odd = np.flatnonzero(np.isnan(rel_err))  # a NaN difference, or an infinite one against an infinite value
    if odd.size:
        abs_err[odd], rel_err[odd] = errors(user[odd], expected[odd], tol)
    for v in (abs_err, worst):
        np.copyto(v, np.inf, where=np.isnan(v))
    rows = np.flatnonzero(np.isinf(worst))  # only there can a NaN or inf on both sides be a match
    if rows.size:
        worst[rows] = match_ratio(user[rows], expected[rows], tol)
    return worst, abs_err, rel_err


def mistake_gradients(
    z: Array, t: Array, temperature: float, entries: Sequence[Mistake] | None = None
) -> dict[str, Array]:
    """Every row-level mistake's gradient at (z, t): id -> (N, K)."""
    return {m.id: m.gradient(z, t, temperature) for m in (entries or MISTAKES.rows())}


def distance(user: Array, candidate: Array) -> Array:
    """Per row, the largest absolute difference: over the elements where both are finite, 0 where both are
    the same NaN or inf, and inf where only one of them is finite (or they are different non-finite values)
    — a candidate that is NaN where the user's numbers are not is never "at distance 0"."""
    with np.errstate(invalid="ignore", over="ignore"):
        both = np.isfinite(user) & np.isfinite(candidate)
        same = (np.isnan(user) & np.isnan(candidate)) | (np.isinf(user) & (user == candidate))
        err = np.where(both, np.abs(user - candidate), np.where(same, 0.0, np.inf))
    out: Array = np.max(err, axis=-1) if err.shape[-1] else np.zeros(err.shape[:-1])
    return out


def differs(a: Array, b: Array, tol: Tolerance) -> NDArray[np.bool_]:
    """Per row: do the two gradients differ beyond the tolerance (NaN patterns compared as values)?"""
    out: NDArray[np.bool_] = match_ratio(a, b, tol) > 1.0
    return out


@dataclass(frozen=True)
class Match:
    """A catalogue entry whose gradient matches the user's, with how far off it is."""

    id: str
    max_abs_err: float
    ratio: float
    #: for a scaled gradient: the factor (``"÷ K = 3"``) and what usually causes it
    factor: str = ""
    advice: str = ""
    #: it matches only thanks to the precision the user's numbers were written with
    within_precision: bool = False

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "id": self.id,
            "max_abs_err": json_float(self.max_abs_err),
            "ratio": json_float(self.ratio),
            "within_precision": self.within_precision,
        }
        if self.factor:
            d["factor"] = self.factor
            d["advice"] = self.advice
        return d


@dataclass(frozen=True)
class MatchTable:
    """How closely each catalogue entry reproduces each row of the user's gradient: ``ratio[i, j]`` is the
    worst tolerance ratio of row i against candidate j (at most 1 is a match). A candidate is an entry, or
    one factor of a scaled family (``scales[j]``)."""

    ids: tuple[str, ...]
    scales: tuple[Scale | None, ...]
    ratio: Array
    #: the largest absolute difference (see :func:`distance`: inf where the NaN/inf patterns differ)
    max_abs_err: Array
    #: rows where the user's gradient has NaN or inf
    nonfinite: NDArray[np.bool_]
    #: the ratio at the tolerance alone, without the written precision (None: no precision was given)
    strict_ratio: Array | None = None

    def _key(self) -> Array:
        """Sort key per (row, candidate): the ratio, with floating-point mistakes first for non-finite rows and
        generic (fallback) entries after every specific match."""
        numerical = np.array([MISTAKES[i].numerical for i in self.ids], bool)
        fallback = np.array([MISTAKES[i].fallback for i in self.ids], bool)
        r = self.ratio + np.where(self.nonfinite[:, None] & ~numerical[None, :], 1e-9, 0.0)
        # matches of specific entries in [0, 1], of generic ones in [1, 2], everything else above 2
        out: Array = np.where(self.ratio <= 1.0, np.where(fallback[None, :], 1.0 + r, r), 2.0 + r)
        return out

    def best(self) -> tuple[NDArray[np.intp], NDArray[np.bool_], NDArray[np.int16]]:
        """Per row: (the best candidate's column, whether it matches, how many entries match)."""
        n = self.ratio.shape[0]
        if not self.ids:
            return np.zeros(n, np.intp), np.zeros(n, bool), np.zeros(n, np.int16)
        best = np.argmin(self._key(), axis=1)
        matched = self.ratio[np.arange(len(best)), best] <= 1.0
        entries = list(dict.fromkeys(self.ids))
        per_entry = np.array(
            [np.any(self.ratio[:, [j for j, i in enumerate(self.ids) if i == mid]] <= 1.0, axis=1) for mid in entries]
        )
        fallback = np.array([MISTAKES[mid].fallback for mid in entries], bool)
        specific = per_entry[~fallback].sum(axis=0)
        count = np.where(specific > 0, specific, per_entry[fallback].sum(axis=0))
        return best, matched, count.astype(np.int16)

    def ranked(self, row: int = 0) -> list[Match]:
        """Every entry for one row (its closest factor, for a scaled family), closest first: the ratio, then
        floating-point mistakes for non-finite rows, then the absolute difference."""
        key = self._key()[row]
        order = sorted(range(len(self.ids)), key=lambda j: (key[j], self.max_abs_err[row, j]))
        out: list[Match] = []
        seen: set[str] = set()
        for j in order:
            if self.ids[j] in seen:
                continue
            seen.add(self.ids[j])
            sc = self.scales[j]
            ratio = float(self.ratio[row, j])
            strict = ratio if self.strict_ratio is None else float(self.strict_ratio[row, j])
            out.append(
                Match(
                    self.ids[j],
                    float(self.max_abs_err[row, j]),
                    ratio,
                    sc.label if sc else "",
                    sc.advice if sc else "",
                    within_precision=ratio <= 1.0 < strict,
                )
            )
        return out


def match_rows(
    z: Array,
    t: Array,
    user: Array,
    temperature: float,
    tol: Tolerance,
    *,
    scale: Array | float = 1.0,
    entries: Sequence[Mistake] | None = None,
    precision: Array | None = None,
) -> MatchTable:
    """Compare each row of ``user`` with every row-level mistake's gradient (times ``scale``, the weight of
    each row in a reduced batch), allowing ``precision`` (the precision the user's numbers were written with,
    per element) on top of the tolerance; a scaled family contributes one candidate per factor."""
    chosen = list(entries) if entries is not None else MISTAKES.rows()
    candidates = [(m.id, sc, g) for m in chosen for sc, g in m.variants(z, t, temperature)]
    n = z.shape[0]
    ratio = np.empty((n, len(candidates)))
    strict = np.empty((n, len(candidates))) if precision is not None else None
    max_abs = np.empty((n, len(candidates)))
    with np.errstate(invalid="ignore", over="ignore"):
        for j, (_, _, g) in enumerate(candidates):
            wrong = g * scale
            ratio[:, j] = match_ratio(user, wrong, tol, precision)
            if strict is not None:
                strict[:, j] = match_ratio(user, wrong, tol)
            max_abs[:, j] = distance(user, wrong)
    return MatchTable(
        tuple(c[0] for c in candidates),
        tuple(c[1] for c in candidates),
        ratio,
        max_abs,
        ~np.all(np.isfinite(user), axis=1),
        strict,
    )


def rank_matches(
    z: Array, t: Array, user: Array, temperature: float, tol: Tolerance, precision: Array | None = None
) -> tuple[list[Match], list[Match]]:
    """For one row: (matching entries best first, all entries ranked by closeness); ``precision`` as in
    :func:`match_rows`."""
    p = None if precision is None else precision[None]
    ranked = match_rows(z[None], t[None], user[None], temperature, tol, precision=p).ranked(0)
    return specific_first([m for m in ranked if m.ratio <= 1.0]), ranked


def specific_first(matches: list[Match]) -> list[Match]:
    """The matches without the generic (fallback) entries, unless only those match."""
    specific = [m for m in matches if not MISTAKES[m.id].fallback]
    return specific or matches


def coinciding(z: Array, t: Array, temperature: float, gradient: Array, tol: Tolerance) -> list[str]:
    """Ids of the row-level mistakes that give ``gradient`` (within tolerance) at this input."""
    return [
        mid
        for mid, wrong in mistake_gradients(z[None], t[None], temperature).items()
        if not differs(gradient[None], wrong, tol)[0]
    ]


def batch_matches(
    z: Array,
    t: Array,
    user: Array,
    temperature: float,
    reduction: str,
    tol: Tolerance,
    precision: Array | None = None,
) -> dict[str, NDArray[np.bool_]]:
    """For a whole batch: each batch-level mistake that can arise here, with the rows it reproduces."""
    out: dict[str, NDArray[np.bool_]] = {}
    for m in MISTAKES.batches():
        wrong = m.batch_gradient(z, t, temperature, reduction)
        if wrong is not None:
            out[m.id] = match_ratio(user, wrong, tol, precision) <= 1.0
    return out


@dataclass(frozen=True)
class WrongEntry:
    """One entry of a user's Jacobian that differs from J(s)."""

    row: int
    col: int
    got: float
    expected: float

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "col": self.col, "got": json_float(self.got), "expected": self.expected}


@dataclass(frozen=True)
class Invariant:
    """A property every softmax Jacobian has, and whether the user's has it."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def expected_jacobian(z: Array, temperature: float = 1.0) -> Array:
    """ds/dz = J(softmax(z/τ)) / τ for one row, shape (K, K)."""
    out: Array = softmax_jacobian(softmax(z[None] / temperature))[0] / temperature
    return out


def jacobian_invariants(
    jac: Array, tol: Tolerance, temperature: float = 1.0, precision: Array | None = None
) -> list[Invariant]:
    """Check rows sum to 0, symmetry and 0 <= diagonal <= 1/(4τ); ``precision`` (per entry, the precision
    the entries were written with) is allowed on top: a row sum may be off by its row's total."""
    p = np.zeros_like(jac) if precision is None else np.asarray(precision, dtype=np.float64).reshape(jac.shape)
    sums = jac.sum(axis=1)
    sum_ok = bool(np.all(np.abs(sums) <= tol.atol + tol.rtol * np.abs(jac).sum(axis=1) + p.sum(axis=1)))
    asym = float(np.max(np.abs(jac - jac.T))) if jac.size else 0.0
    sym_ok = bool(np.all(np.abs(jac - jac.T) <= tol.atol + tol.rtol * float(np.max(np.abs(jac))) + p + p.T))
    diag = np.diag(jac)
    dp = np.diag(p)
    hi = 0.25 / temperature
    diag_ok = bool(np.all((diag >= -tol.atol - dp) & (diag <= hi + tol.atol + tol.rtol * hi + dp)))
    fmt = ", ".join
    return [
        Invariant(
            "rows sum to 0",
            sum_ok,
            f"row sums: [{fmt(f'{x:.6g}' for x in sums)}]",
        ),
        Invariant("symmetric", sym_ok, f"max |J − Jᵀ| = {asym:.6g}"),
        Invariant(
            "0 <= diagonal <= 1/4" if temperature == 1.0 else f"0 <= diagonal <= 1/(4τ) = {hi:.6g}",
            diag_ok,
            f"diagonal: [{fmt(f'{x:.6g}' for x in diag)}]",
        ),
    ]


def jacobian_matches(
    z: Array, jac: Array, temperature: float, tol: Tolerance, precision: Array | None = None
) -> list[str]:
    """Ids of catalogue entries whose wrong Jacobian equals ``jac`` at z (allowing ``precision`` per entry on
    top of the tolerance), best first."""
    found: list[tuple[float, str]] = []
    p = None if precision is None else np.asarray(precision, dtype=np.float64).ravel()[None]
    for m in MISTAKES.values():
        wrong = m.jacobian(z[None], temperature)
        if wrong is None:
            continue
        ratio = float(match_ratio(jac.ravel()[None], wrong[0].ravel()[None], tol, p)[0])
        if ratio <= 1.0:
            found.append((ratio, m.id))
    return [mid for _, mid in sorted(found)]


def wrong_entries(jac: Array, expected: Array, tol: Tolerance, precision: Array | None = None) -> list[WrongEntry]:
    """Entries of ``jac`` outside the tolerance of ``expected`` (and their written precision), row-major."""
    ratio = excess(jac, expected, tol, None if precision is None else np.asarray(precision).reshape(jac.shape))
    return [
        WrongEntry(int(i), int(j), float(jac[i, j]), float(expected[i, j]))
        for i, j in zip(*np.nonzero(ratio > 1.0), strict=True)
    ]
