"""Tolerances and the element-wise comparison every check uses.

An element passes when ``|a − b| <= atol + rtol·|ref|`` (``ref`` is the fused gradient, or J(s) for a
Jacobian); a finite-difference estimate may also be off by its own error estimate, which is added to the
right-hand side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from softgrad.core import rules
from softgrad.core.numbers import json_float

FORMULA = "|a − b| <= atol + rtol·|ref|"


@dataclass(frozen=True)
class Tolerance:
    """Relative and absolute tolerance of one comparison."""

    rtol: float
    atol: float

    def to_dict(self) -> dict[str, object]:
        return {"rtol": self.rtol, "atol": self.atol, "formula": FORMULA}


#: Default tolerances per ``--dtype``: the precision the compared numbers were computed in.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(rtol=1e-7, atol=1e-10),
    "float32": Tolerance(rtol=1e-4, atol=1e-6),
}

DTYPES = rules.DTYPES


def tolerance_for(dtype: str, rtol: float | None = None, atol: float | None = None) -> Tolerance:
    """The default tolerance of ``dtype`` with ``rtol``/``atol`` overriding it where given."""
    rtol, atol = rules.tolerance("rtol", rtol), rules.tolerance("atol", atol)
    base = DEFAULT_TOLERANCES[rules.dtype(dtype)]
    return Tolerance(base.rtol if rtol is None else rtol, base.atol if atol is None else atol)


@dataclass(frozen=True)
class Comparison:
    """One method (or the user's numbers) compared with the reference, element by element."""

    ok: bool
    max_abs_err: float
    max_rel_err: float
    worst_index: int
    note: str = ""

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


def excess(
    actual: NDArray[np.float64],
    ref: NDArray[np.float64],
    tol: Tolerance,
    slack: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Per element, ``|a − b| / (atol + rtol·|ref| + slack)``: at most 1 passes; NaN/inf count as inf."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        allowed = tol.atol + tol.rtol * np.abs(ref)
        if slack is not None:
            allowed = allowed + slack
        ratio = np.abs(actual - ref) / allowed
    out: NDArray[np.float64] = np.where(np.isfinite(ratio), ratio, np.inf)
    return out


def compare(
    actual: NDArray[np.float64],
    ref: NDArray[np.float64],
    tol: Tolerance,
    slack: NDArray[np.float64] | None = None,
    note: str = "",
) -> Comparison:
    """Compare one vector (or flattened matrix) with the reference."""
    a = np.asarray(actual, dtype=np.float64).ravel()
    r = np.asarray(ref, dtype=np.float64).ravel()
    ratio = excess(a, r, tol, None if slack is None else np.asarray(slack).ravel())
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
    )
