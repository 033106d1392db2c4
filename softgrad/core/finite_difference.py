"""Finite differences of the cross-entropy loss: an estimate of dL/dz independent of the closed forms,
with its own error estimate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softgrad.core.formulas import EPS, Array, loss, loss_along, row_blocks
from softgrad.errors import InputError

#: Above this many classes a full finite difference (O(K²) per row) gives way to directional checks.
FULL_FD_MAX_K = 256
#: How many random directions a directional finite difference uses.
FD_DIRECTIONS = 8
#: Rows per block in the finite difference.
FD_BLOCK_ROWS = 16384
#: Elements (rows × classes) per block of the central difference, which moves every class at once.
FD_BLOCK_ELEMENTS = 1 << 17


@dataclass(frozen=True)
class FiniteDifference:
    """A finite-difference estimate with its own error estimate.

    ``mode`` is ``"full"`` (``value`` holds dL/dz, shape (N, K)) or ``"directional"`` (``value`` holds
    the directional derivatives along ``directions``, shape (N, D), to compare with ``directions ·
    gradient``).
    """

    method: str
    mode: str
    value: Array
    error: Array
    directions: Array | None = None


def _steps(z: Array) -> Array:
    """Central-difference steps ``ε^(1/3)·max(1, |z|)``, rounded so that ``z ± h`` is exact."""
    h = EPS ** (1 / 3) * np.maximum(1.0, np.abs(z))
    out: Array = (z + h) - z
    return out


def _shifted(z: Array) -> Array:
    """Each row minus its largest logit (the loss depends only on differences of logits), so that the steps
    fit the differences and not the logits' size: at z = (10000, 10001) a step of ε^(1/3)·10⁴ would swamp
    the estimate. A row whose shifted values would overflow (logits ±1e308) is left as it is."""
    with np.errstate(over="ignore", invalid="ignore"):
        out: Array = z - np.max(z, axis=1, keepdims=True)
    bad = ~np.all(np.isfinite(out), axis=1)
    if bad.any():
        out[bad] = z[bad]
    return out


def _columns_loss(zt: NDArray[Any], tt: Array, temperature: float) -> NDArray[Any]:
    """Loss for column-major blocks: ``zt`` and ``tt`` are (K, B)."""
    return loss_along(zt / temperature, tt, 0)


def finite_difference(
    z: Array,
    t: Array,
    temperature: float = 1.0,
    *,
    method: str = "central",
    mode: str = "full",
    seed: int = 0,
) -> FiniteDifference:
    """Estimate dL/dz numerically, independently of the closed forms.

    ``method``: ``"central"`` — central differences at steps h and 2h; the estimate is D(h) and its error
    estimate ``|D(h) − D(2h)|/3`` (truncation) plus ``4ε·|L|/h`` (rounding). ``"complex"`` — the
    complex-step derivative ``Im L(z + i·h·e_k) / h``, exact to rounding.
    ``mode``: ``"full"`` — every component; ``"directional"`` — ``FD_DIRECTIONS`` seeded random unit
    directions v, estimating ``vᵀ·∇L`` (O(K) per direction instead of O(K²) in all).
    """
    if method not in ("central", "complex"):
        raise ValueError(f"unknown finite-difference method {method!r}")
    z = _shifted(np.asarray(z, dtype=np.float64))
    if mode == "directional":
        return _directional_fd(z, t, temperature, method, seed)
    n, k = z.shape
    value = np.empty((n, k), order="F")  # the layout of the blocks the checks work on
    error = np.empty((n, k), order="F")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        per_row, budget = (1, FD_BLOCK_ROWS) if method == "complex" else (k, FD_BLOCK_ELEMENTS)
        for rows in row_blocks(n, per_row, budget):
            if method == "complex":
                zt = np.ascontiguousarray(z[rows].T)
                tt = np.ascontiguousarray(t[rows].T)
                zc = zt.astype(np.complex128)
                h = 1e-20 * np.maximum(1.0, np.abs(zt))
                for j in range(k):
                    zc[j] += 1j * h[j]
                    d = _columns_loss(zc, tt, temperature).imag / h[j]
                    zc[j] = zt[j]
                    value[rows, j] = d
                    error[rows, j] = 4 * EPS * (np.abs(d) + np.sum(np.abs(tt), axis=0) / temperature)
                continue
            value[rows], error[rows] = _central(z[rows], t[rows], temperature)
            # Where every other term underflowed (logits far apart, ~1e300), evaluate afresh instead.
            redo = np.flatnonzero(~np.all(np.isfinite(value[rows]) & np.isfinite(error[rows]), axis=1))
            if redo.size:
                idx = np.arange(rows.start, rows.stop)[redo]
                value[idx], error[idx] = _fresh_central(z[idx].T.copy(), t[idx].T.copy(), temperature)
    return FiniteDifference(method, "full", value, error)


def _rounding(u: Array, t: Array, se: Array) -> Array:
    """``4ε·(|L| + 1)`` per row, the rounding part of a central difference's error (before dividing by h),
    with ``L = Σt·log Σe − Σ t·u`` over the classes with t > 0 (as :func:`loss_along`), for shifted ``u``."""
    if bool((t >= 0).all()) and bool(np.isfinite(u).all()):
        td, s_pos = np.sum(t * u, axis=1), np.sum(t, axis=1)
    else:
        pos = t > 0
        td, s_pos = np.sum(np.where(pos, t * u, 0.0), axis=1), np.sum(np.where(pos, t, 0.0), axis=1)
    out: Array = (4 * EPS) * (np.abs(s_pos * np.log(se) - td) + 1.0)
    return out


def _central(z: Array, t: Array, temperature: float) -> tuple[Array, Array]:
    """Central differences at steps h and 2h of every class at once, for (B, K) max-shifted logits.

    With ``u = z/τ`` (at most 0: the rows are shifted), ``e = exp(u)`` and ``Σe`` per row, moving class j
    by ``±c·h`` changes only its own term, so the loss difference is
    ``L(+) − L(−) = S·log(Σe₊/Σe₋) − 2c·h·t_j/τ`` with ``Σe± = Σe + e_j·(exp(±c·h/τ) − 1)``: the two loss
    values are never formed and subtracted, so the difference keeps its digits, and a step costs two
    ``expm1`` for every class at once, not a sum per class. Rows where this overflows (logits ±1e308, left
    unshifted) come back non-finite, for the caller to evaluate afresh.
    """
    h = _steps(z)
    if temperature == 1.0:
        u, hu, slope = z, h, t
    else:
        u, hu, slope = z / temperature, h / temperature, t / temperature
    e = np.exp(u)
    se = np.sum(e, axis=1, keepdims=True)
    s_t = np.sum(t, axis=1, keepdims=True)
    rounding = _rounding(u, t, se[:, 0])
    up = np.expm1(hu)  # exp(±c·h/τ) − 1, for c = 1 and then c = 2
    down = np.negative(hu)
    np.expm1(down, out=down)
    weight = np.multiply(2.0, h)
    np.divide(s_t, weight, out=weight)  # S / (2h), and half that for the step 2h
    estimates = []
    for c in (1, 2):
        # log(Σe₊/Σe₋) = log1p((Σe₊ − Σe₋)/Σe₋), with Σe₊ − Σe₋ = e_j·((exp(ch) − 1) − (exp(−ch) − 1))
        est = np.subtract(up, down)
        est *= e
        below = np.multiply(e, down)
        below += se
        est /= below
        np.log1p(est, out=est)
        est *= weight
        est -= slope
        estimates.append(est)
        if c == 1:
            up *= up + 2.0  # exp(2x) − 1 = (exp(x) − 1)·(exp(x) + 1)
            down *= down + 2.0
            weight *= 0.5
    d1, err = estimates
    np.subtract(d1, err, out=err)
    np.abs(err, out=err)
    err /= 3
    err += rounding[:, None] / h
    return d1, err


def _fresh_central(zt: Array, tt: Array, temperature: float) -> tuple[Array, Array]:
    """Central differences with the loss recomputed from scratch at each perturbed point; (B, K) results."""
    k = zt.shape[0]
    base = np.abs(_columns_loss(zt, tt, temperature))
    h = _steps(zt)
    value = np.empty_like(zt)
    error = np.empty_like(zt)
    for j in range(k):
        orig = zt[j].copy()
        evals = []
        for step in (h[j], -h[j], 2 * h[j], -2 * h[j]):
            zt[j] = orig + step
            evals.append(_columns_loss(zt, tt, temperature))
        zt[j] = orig
        d1 = (evals[0] - evals[1]) / (2 * h[j])
        d2 = (evals[2] - evals[3]) / (4 * h[j])
        value[j] = d1
        error[j] = np.abs(d1 - d2) / 3 + 4 * EPS * (base + 1.0) / h[j]
    return value.T, error.T


FD_CHOICES = ("auto", "full", "directional", "complex")


def fd_plan(fd: str, k: int) -> tuple[str, str]:
    """(method, mode) for ``--fd``: auto/complex go directional above ``FULL_FD_MAX_K`` classes."""
    if fd not in FD_CHOICES:
        raise InputError("fd", f"must be one of {', '.join(FD_CHOICES)}, got {fd!r}")
    method = "complex" if fd == "complex" else "central"
    if fd == "full":
        return method, "full"
    if fd == "directional":
        return method, "directional"
    return method, "full" if k <= FULL_FD_MAX_K else "directional"


def random_directions(k: int, count: int = FD_DIRECTIONS, seed: int = 0) -> Array:
    """``count`` seeded random unit vectors of length ``k``, shape (count, k)."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((count, k))
    out: Array = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def _directional_fd(z: Array, t: Array, temperature: float, method: str, seed: int) -> FiniteDifference:
    k = z.shape[1]
    dirs = random_directions(k, FD_DIRECTIONS, seed)
    scale = np.maximum(1.0, np.max(np.abs(z), axis=1))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if method == "central":
            value, error = _directional_central(z, t, temperature, dirs, EPS ** (1 / 3) * scale)
            redo = np.flatnonzero(~np.all(np.isfinite(value) & np.isfinite(error), axis=1))
            if redo.size:  # logits ±1e308, left unshifted: each perturbed loss evaluated afresh
                value[redo], error[redo] = _directional_fresh(z[redo], t[redo], temperature, method, dirs, scale[redo])
        else:
            value, error = _directional_fresh(z, t, temperature, method, dirs, scale)
    return FiniteDifference(method, "directional", value, error, dirs)


def _directional_central(z: Array, t: Array, temperature: float, dirs: Array, h: Array) -> tuple[Array, Array]:
    """Central differences along each direction v at steps h and 2h (per row), for max-shifted logits.

    As in :func:`_central`, the loss difference is taken as one quantity:
    ``L(z + c·h·v) − L(z − c·h·v) = S·log1p(Σ e·(E₊ − E₋) / Σ e·E₋) − 2c·h·(t·v)/τ`` with
    ``E± = exp(±c·h·v/τ)`` from ``expm1``, so a direction costs two ``expm1`` over the row, not four losses.
    """
    # row-major here: many classes and few rows, so each row's sums run over contiguous memory
    z, t = np.ascontiguousarray(z), np.ascontiguousarray(t)
    u = z / temperature
    e = np.exp(u)
    se = np.sum(e, axis=1)
    s_t = np.sum(t, axis=1)
    rounding = _rounding(u, t, se) / h
    hu = h / temperature
    slopes = (t @ dirs.T) / temperature  # (rows, directions): the linear term's derivative t·v/τ
    value = np.empty((z.shape[0], len(dirs)))
    error = np.empty_like(value)
    for i, v in enumerate(dirs):
        step = hu[:, None] * v[None, :]
        up, down = np.expm1(step), np.expm1(-step)
        estimates = []
        for c in (1.0, 2.0):
            ratio = np.log1p(np.sum(e * (up - down), axis=1) / (se + np.sum(e * down, axis=1)))
            estimates.append(s_t * ratio / ((2 * c) * h) - slopes[:, i])
            up, down = up * (up + 2.0), down * (down + 2.0)
        value[:, i] = estimates[0]
        error[:, i] = np.abs(estimates[0] - estimates[1]) / 3 + rounding
    return value, error


def _directional_fresh(
    z: Array, t: Array, temperature: float, method: str, dirs: Array, scale: Array
) -> tuple[Array, Array]:
    """Directional differences with the loss evaluated at each perturbed point (complex step, or central)."""
    value = np.empty((z.shape[0], len(dirs)))
    error = np.empty_like(value)
    base = np.abs(loss(z, t, temperature))
    for i, v in enumerate(dirs):
        if method == "complex":
            h = 1e-20 * scale
            d = loss(z + 1j * h[:, None] * v, t, temperature).imag / h
            value[:, i] = d
            error[:, i] = 4 * EPS * (np.abs(d) + np.sum(np.abs(t), axis=1) / temperature)
            continue
        h = EPS ** (1 / 3) * scale
        f = [loss(z + c * h[:, None] * v, t, temperature) for c in (1, -1, 2, -2)]
        d1 = (f[0] - f[1]) / (2 * h)
        d2 = (f[2] - f[3]) / (4 * h)
        value[:, i] = d1
        error[:, i] = np.abs(d1 - d2) / 3 + 4 * EPS * (base + 1.0) / h
    return value, error
