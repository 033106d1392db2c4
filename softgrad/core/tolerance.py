"""Tolerances and the element-wise comparison every check uses.

An element passes when ``|a − b| <= atol + rtol·|ref|`` (``ref`` is the fused gradient, or J(s) for a
Jacobian); a finite-difference estimate may also be off by its own error estimate, and a number the user
wrote as text by the precision it was written with (half a unit in its last digit), each added to the
right-hand side: ``|a − b| <= atol + rtol·|ref| + precision``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from softgrad.core import rules
from softgrad.core.numbers import json_float

FORMULA = "|a − b| <= atol + rtol·|ref|"
WRITTEN_FORMULA = FORMULA + " + precision"
#: How the user's numbers are compared: allowing the precision they were written with, or not.
AS_WRITTEN, EXACT, GIVEN = "as written", "exact", "rtol/atol given"


@dataclass(frozen=True)
class Tolerance:
    """Relative and absolute tolerance of one comparison; ``written``: numbers the user wrote as text are
    also allowed the precision they were written with."""

    rtol: float
    atol: float
    written: bool = False
    #: why ``written`` is False: "exact" (asked for), "rtol/atol given" (they win), or "" (not applicable)
    precision_rule: str = ""

    @property
    def formula(self) -> str:
        return WRITTEN_FORMULA if self.written else FORMULA

    @property
    def precision(self) -> str:
        """How the user's numbers are compared: ``"as written"``, ``"exact"`` or ``"rtol/atol given"``."""
        return AS_WRITTEN if self.written else self.precision_rule or EXACT

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"rtol": self.rtol, "atol": self.atol, "formula": self.formula}
        if self.written or self.precision_rule:
            d["precision"] = self.precision
        return d


#: Default tolerances per ``--dtype``: the precision the compared numbers were computed in.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(rtol=1e-7, atol=1e-10),
    "float32": Tolerance(rtol=1e-4, atol=1e-6),
}

DTYPES = rules.DTYPES


def tolerance_for(
    dtype: str, rtol: float | None = None, atol: float | None = None, *, written: bool | None = None
) -> Tolerance:
    """The default tolerance of ``dtype`` with ``rtol``/``atol`` overriding it where given.

    ``written``: True allows numbers written as text the precision they were written with — unless ``rtol``
    or ``atol`` is given, which then wins alone; False compares at the tolerance alone (``--exact``); None
    (the default, for code and binary inputs) leaves precision out of it.
    """
    rtol, atol = rules.tolerance("rtol", rtol), rules.tolerance("atol", atol)
    base = DEFAULT_TOLERANCES[rules.dtype(dtype)]
    given = rtol is not None or atol is not None
    rule = "" if written is None else GIVEN if given else AS_WRITTEN if written else EXACT
    return Tolerance(
        base.rtol if rtol is None else rtol,
        base.atol if atol is None else atol,
        written=rule == AS_WRITTEN,
        precision_rule="" if rule == AS_WRITTEN else rule,
    )


@dataclass(frozen=True)
class Comparison:
    """One method (or the user's numbers) compared with the reference, element by element."""

    ok: bool
    max_abs_err: float
    max_rel_err: float
    worst_index: int
    note: str = ""
    #: it passes only thanks to the precision the numbers were written with
    within_precision: bool = False

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "ok": self.ok,
            "max_abs_err": json_float(self.max_abs_err),
            "max_rel_err": json_float(self.max_rel_err),
            "worst_index": self.worst_index,
        }
        if self.note:
            d["note"] = self.note
        return d


def _ratio(
    actual: NDArray[np.float64], ref: NDArray[np.float64], tol: Tolerance, slack: NDArray[np.float64] | None
) -> NDArray[np.float64]:
    """Per element, ``|a − b| / (atol + rtol·|ref| + slack)``, NaN left as it comes."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        allowed = tol.atol + tol.rtol * np.abs(ref)
        if slack is not None:
            allowed = allowed + slack
        ratio: NDArray[np.float64] = np.abs(actual - ref) / allowed
    return ratio


def excess(
    actual: NDArray[np.float64],
    ref: NDArray[np.float64],
    tol: Tolerance,
    slack: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Per element, ``|a − b| / (atol + rtol·|ref| + slack)``: at most 1 passes; NaN/inf count as inf."""
    ratio = _ratio(actual, ref, tol, slack)
    if isinstance(ratio, np.ndarray) and ratio.ndim:
        np.copyto(ratio, np.inf, where=np.isnan(ratio))  # in place: inf stays inf
        return ratio
    out: NDArray[np.float64] = np.where(np.isnan(ratio), np.inf, ratio)
    return out


def row_excess(
    actual: NDArray[np.float64],
    ref: NDArray[np.float64],
    tol: Tolerance,
    slack: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Per row of (N, K) arrays, the largest :func:`excess` (0 for rows of no elements): at most 1 passes."""
    if not actual.shape[1]:
        return np.zeros(actual.shape[0])
    out: NDArray[np.float64] = np.max(_ratio(actual, ref, tol, slack), axis=1)  # NaN anywhere: the row's max ...
    np.copyto(out, np.inf, where=np.isnan(out))  # ... is NaN, which counts as inf
    return out


def compare(
    actual: NDArray[np.float64],
    ref: NDArray[np.float64],
    tol: Tolerance,
    slack: NDArray[np.float64] | None = None,
    note: str = "",
    precision: NDArray[np.float64] | None = None,
) -> Comparison:
    """Compare one vector (or flattened matrix) with the reference; ``precision`` (per element, the precision
    the ``actual`` numbers were written with) is allowed on top when given."""
    a = np.asarray(actual, dtype=np.float64).ravel()
    r = np.asarray(ref, dtype=np.float64).ravel()
    base = None if slack is None else np.asarray(slack, dtype=np.float64).ravel()
    ratio = excess(a, r, tol, base)
    within = False
    if precision is not None and np.any(np.asarray(precision) > 0):
        strict_ok = bool(np.all(ratio <= 1.0))
        p = np.asarray(precision, dtype=np.float64).ravel()
        ratio = excess(a, r, tol, p if base is None else base + p)
        within = not strict_ok and bool(np.all(ratio <= 1.0))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        abs_err = np.abs(a - r)
        rel_err = abs_err / np.maximum(np.abs(r), tol.atol)
    abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
    rel_err = np.where(np.isnan(rel_err), np.inf, rel_err)
    worst = int(np.argmax(ratio)) if ratio.size else 0
    return Comparison(
        ok=bool(np.all(ratio <= 1.0)),
        max_abs_err=float(np.max(abs_err)) if abs_err.size else 0.0,
        max_rel_err=float(np.max(rel_err)) if rel_err.size else 0.0,
        worst_index=worst,
        note=note,
        within_precision=within,
    )
