"""The per-row checks every command shares, vectorised over rows (a single example is N = 1): the fused
reference, the chained product and a finite difference, with what makes each one untrustworthy at a row,
and the errors of a gradient against the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from softgrad.core.finite_difference import FiniteDifference, fd_plan, finite_difference
from softgrad.core.formulas import Array, chained_gradient, fused_gradient, softmax, unstable_targets
from softgrad.core.tolerance import Tolerance, row_excess

Mask = NDArray[np.bool_]


def row_max(values: Array) -> Array:
    """The largest value of each row (0 for rows of no elements)."""
    out: Array = np.max(values, axis=1) if values.shape[1] else np.zeros(values.shape[0])
    return out


@dataclass(frozen=True)
class RowChecks:
    """The three gradients at (N, K) logits and targets, and per row what can be trusted."""

    softmax: Array
    fused: Array
    chained: Array
    fd: FiniteDifference
    fd_method: str
    fd_mode: str
    #: what the finite difference estimates: the fused gradient, or its projections on the directions
    fd_reference: Array
    #: the chained path cannot be evaluated: a probability a target needs underflows, or the product overflows
    chained_unstable: Mask
    #: the chained product is finite but outside the tolerance of the fused form
    chained_imprecise: Mask
    #: the finite difference is not computable (the loss or the step overflows)
    fd_nonfinite: Mask
    #: its error estimate is too large to confirm the reference
    fd_uncertain: Mask
    #: it is usable and disagrees with the reference
    fd_fail: Mask

    @property
    def fd_unusable(self) -> Mask:
        out: Mask = self.fd_nonfinite | self.fd_uncertain
        return out

    @property
    def fd_limit(self) -> Array:
        """Per row, the error estimate above which the finite difference cannot confirm the reference."""
        return fd_limit(self.fused)


def fd_limit(fused: Array) -> Array:
    """``max(1e-3, 0.1·max|fused|)`` per row."""
    out: Array = np.maximum(1e-3, 0.1 * np.max(np.abs(fused), axis=1))
    return out


def check_rows(
    z: Array, t: Array, temperature: float, dtype: str, tol: Tolerance, *, fd: str = "auto", seed: int = 0
) -> RowChecks:
    """Compute the three gradients at every row and judge the chained product and the finite difference
    against the fused reference (``|a − b| <= atol + rtol·|fused|``, the finite difference allowed its own
    error estimate on top)."""
    z, t = np.asfortranarray(z), np.asfortranarray(t)  # column-major: reductions across classes are fastest
    with np.errstate(all="ignore"):
        s = softmax(z if temperature == 1.0 else z / temperature)
        fused = fused_gradient(z, t, temperature, s)
        chained = chained_gradient(z, t, temperature, s)
        unstable = np.any(unstable_targets(t, s, dtype), axis=1) | ~np.all(np.isfinite(chained), axis=1)
        imprecise = ~unstable & (row_excess(chained, fused, tol) > 1)
        method, mode = fd_plan(fd, z.shape[1])
        est = finite_difference(z, t, temperature, method=method, mode=mode, seed=seed)
        ref = fused if est.directions is None else fused @ est.directions.T
        # an estimate that is not finite has an error estimate that is not finite (both come from its value)
        worst_error = row_max(est.error)
        nonfinite = ~np.isfinite(worst_error)
        uncertain = ~nonfinite & (worst_error > fd_limit(fused))
        fd_fail = ~(nonfinite | uncertain) & (row_excess(est.value, ref, tol, est.error) > 1)
    return RowChecks(s, fused, chained, est, method, mode, ref, unstable, imprecise, nonfinite, uncertain, fd_fail)


def errors(actual: Array, expected: Array, tol: Tolerance) -> tuple[Array, Array]:
    """Per row: the largest absolute and relative error of ``actual`` against ``expected`` (NaN counts as
    inf; the relative error divides by ``max(|expected|, atol)``)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        abs_err = np.abs(actual - expected)
        abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
        rel_err = abs_err / np.maximum(np.abs(expected), tol.atol)
    return row_max(abs_err), row_max(rel_err)


def fails(actual: Array, expected: Array, tol: Tolerance) -> Mask:
    """Per row: is ``actual`` outside the tolerance of ``expected`` anywhere (NaN and inf fail)?"""
    out: Mask = row_excess(actual, expected, tol) > 1
    return out
