"""The mathematics of softmax + cross-entropy, vectorised over rows.

Every function takes logits ``z`` and targets ``t`` of shape ``(N, K)`` (one row per example, K classes)
and returns float64 arrays; a single example is simply ``N = 1``. Nothing here prints, exits or knows
about files: it is numpy and the standard library only.

Notation: ``u = z / τ`` (τ the temperature), ``s = softmax(u)``, ``S = Σ t``, ``g = −t / s`` (dE/ds),
``J(x) = diag(x) − x xᵀ``. The loss is ``L(z) = −Σ t·log softmax(z/τ) = S·lse(u) − t·u``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softgrad.errors import InputError

Array = NDArray[np.float64]

EPS = float(np.finfo(np.float64).eps)
#: Above this many classes a full finite difference (O(K²) per row) gives way to directional checks.
FULL_FD_MAX_K = 256
#: How many random directions a directional finite difference uses.
FD_DIRECTIONS = 8
#: Elements of the explicit (rows, K, K) Jacobian built at once by the chained path.
JACOBIAN_BLOCK = 1 << 21
#: Rows per block in the column-major finite difference.
FD_BLOCK_ROWS = 16384


def softmax(u: Array) -> Array:
    """Probabilities along the last axis, computed stably (max-shifted)."""
    m = np.max(u, axis=-1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(u - m)  # u − m may overflow to −inf for logits of ±1e308: exp gives the right 0
        out: Array = e / np.sum(e, axis=-1, keepdims=True)
    return out


def logsumexp(u: NDArray[Any], axis: int = -1) -> NDArray[Any]:
    """``log Σ exp(u)`` along ``axis``, max-shifted on the real part (so complex input works too)."""
    m = np.max(u.real, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out: NDArray[Any] = np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(u - m), axis=axis))
    return out


def _loss_along(u: NDArray[Any], t: Array, axis: int) -> NDArray[Any]:
    """``−Σ t·log softmax(u)`` along ``axis`` from the max-shifted log-softmax, so that huge logits do
    not cancel; real or complex ``u``."""
    m = np.max(u.real, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        d = u - m
        log_s = d - np.log(np.sum(np.exp(d), axis=axis, keepdims=True))
        out: NDArray[Any] = -np.sum(np.where(t > 0, t * log_s, 0.0), axis=axis)
    return out


def loss(z: Array, t: Array, temperature: float = 1.0) -> Array:
    """Cross-entropy ``−Σ t·log softmax(z/τ)`` per row."""
    out: Array = _loss_along(z / temperature, t, -1)
    return out


def fused_gradient(z: Array, t: Array, temperature: float = 1.0) -> Array:
    """The reference: ``(s·Σt − t) / τ`` with a stable softmax."""
    s = softmax(z / temperature)
    out: Array = (s * np.sum(t, axis=-1, keepdims=True) - t) / temperature
    return out


def softmax_jacobian(x: Array) -> Array:
    """``J(x) = diag(x) − x xᵀ`` for each row of ``x``: shape (N, K, K)."""
    k = x.shape[-1]
    out: Array = -x[..., :, None] * x[..., None, :]
    diag = np.arange(k)
    out[..., diag, diag] += x
    return out


def vjp_softmax_jacobian(g: Array, x: Array) -> Array:
    """``g · J(x)`` without building J: ``g⊙x − (g·x) x`` (J is symmetric)."""
    out: Array = g * x - np.sum(g * x, axis=-1, keepdims=True) * x
    return out


def dE_ds(t: Array, s: Array) -> Array:
    """``−t / s``, taken as 0 where ``t = 0`` (those classes do not enter the loss)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out: Array = np.where(t == 0, 0.0, -t / s)
    return out


def _row_blocks(n: int, per_row: int, budget: int) -> Iterator[slice]:
    step = max(1, budget // max(1, per_row))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def chained_gradient(z: Array, t: Array, temperature: float = 1.0) -> Array:
    """``(−t/s) · J(s) / τ`` with the Jacobian built explicitly, the way it is derived by hand.

    The (rows, K, K) Jacobian is built in blocks of rows (and of Jacobian rows for large K), so memory
    stays bounded. Where ``s_k`` underflows to 0 for a ``t_k > 0`` the result is not finite: see
    :func:`chained_instability`.
    """
    s = softmax(z / temperature)
    g = dE_ds(t, s)
    n, k = s.shape
    out = np.empty_like(s)
    with np.errstate(over="ignore", invalid="ignore"):
        for rows in _row_blocks(n, k * k, JACOBIAN_BLOCK):
            if k * k <= JACOBIAN_BLOCK:
                jac = softmax_jacobian(s[rows])
                out[rows] = np.einsum("nj,njk->nk", g[rows], jac)
            else:  # one row at a time, Jacobian rows in blocks
                for r in range(rows.start, rows.stop):
                    acc = np.zeros(k)
                    for jr in _row_blocks(k, k, JACOBIAN_BLOCK):
                        sj = s[r, jr]
                        block = -sj[:, None] * s[r][None, :]
                        block[np.arange(len(sj)), np.arange(jr.start, jr.stop)] += sj
                        acc += g[r, jr] @ block
                    out[r] = acc
    result: Array = out / temperature
    return result


@dataclass(frozen=True)
class Instability:
    """Why the chained path cannot be evaluated for one row."""

    index: int
    reason: str


def chained_instability(
    z: Array, t: Array, temperature: float = 1.0, dtype: str = "float64"
) -> list[Instability | None]:
    """Per row: the first class where ``−t/s`` cannot be trusted in ``dtype``, or None.

    That is a target ``t_k > 0`` on a probability that underflows to 0 or is subnormal in ``dtype``, or
    whose ``t_k/s_k`` overflows ``dtype``.
    """
    s = softmax(z / temperature)
    info = np.finfo(np.dtype(dtype))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        ratio = np.where(t > 0, t / s, 0.0)
    bad = (t > 0) & ((s < info.tiny) | ~(ratio <= float(info.max)))
    out: list[Instability | None] = [None] * s.shape[0]
    for row in np.flatnonzero(bad.any(axis=1)):
        k = int(np.flatnonzero(bad[row])[0])
        sk = float(s[row, k])
        if sk < float(np.finfo(np.dtype(dtype)).smallest_subnormal):
            what = "underflows to 0"
        elif sk < info.tiny:
            what = f"is subnormal in {dtype} ({sk:.3g})"
        else:
            what = f"is {sk:.3g}"
        out_of = "is infinite" if dtype == "float64" else f"overflows {dtype}"
        out[int(row)] = Instability(k, f"s[{k}] {what}, so −t/s {out_of}; the fused form s·Σt − t is the stable one")
    return out


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


def _columns_loss(zt: NDArray[Any], tt: Array, temperature: float) -> NDArray[Any]:
    """Loss for column-major blocks: ``zt`` and ``tt`` are (K, B)."""
    return _loss_along(zt / temperature, tt, 0)


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
    if mode == "directional":
        return _directional_fd(z, t, temperature, method, seed)
    n, k = z.shape
    value = np.empty((n, k))
    error = np.empty((n, k))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for rows in _row_blocks(n, 1, FD_BLOCK_ROWS):
            zt = np.ascontiguousarray(z[rows].T)
            tt = np.ascontiguousarray(t[rows].T)
            base = np.abs(_columns_loss(zt, tt, temperature))
            if method == "complex":
                zc = zt.astype(np.complex128)
                h = 1e-20 * np.maximum(1.0, np.abs(zt))
                for j in range(k):
                    zc[j] += 1j * h[j]
                    d = _columns_loss(zc, tt, temperature).imag / h[j]
                    zc[j] = zt[j]
                    value[rows, j] = d
                    error[rows, j] = 4 * EPS * (np.abs(d) + np.sum(np.abs(tt), axis=0) / temperature)
                continue
            h = _steps(zt)
            # Loss at z + c·h·e_j, evaluated from loss values only. Every perturbed sum of exponentials
            # re-uses the unperturbed terms (same max shift), replacing the one term that changed:
            # O(rows) per evaluation instead of O(K·rows), and the same rounding as a fresh sum.
            u = zt / temperature
            m = np.max(u, axis=0)
            d = u - m
            e = np.exp(d)
            se = np.sum(e, axis=0)
            s_t = np.sum(tt, axis=0)
            td = np.sum(np.where(tt > 0, tt * d, 0.0), axis=0)
            for j in range(k):
                hj = h[j] / temperature
                evals = []
                others = np.maximum(se - e[j], 0.0)
                for c in (1.0, -1.0, 2.0, -2.0):
                    dj = d[j] + c * hj
                    shift = np.maximum(dj, 0.0)  # re-shift when the perturbed logit becomes the largest
                    se_c = others * np.exp(-shift) + np.exp(dj - shift)
                    evals.append(s_t * (shift + np.log(se_c)) - (td + tt[j] * c * hj))
                d1 = (evals[0] - evals[1]) / (2 * h[j])
                d2 = (evals[2] - evals[3]) / (4 * h[j])
                value[rows, j] = d1
                error[rows, j] = np.abs(d1 - d2) / 3 + 4 * EPS * (base + 1.0) / h[j]
            # Where every other term underflowed (logits far apart, ~1e300), evaluate afresh instead.
            redo = np.flatnonzero(~np.all(np.isfinite(value[rows]) & np.isfinite(error[rows]), axis=1))
            if redo.size:
                idx = np.arange(rows.start, rows.stop)[redo]
                value[idx], error[idx] = _fresh_central(z[idx].T.copy(), t[idx].T.copy(), temperature)
    return FiniteDifference(method, "full", value, error)


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
    n, k = z.shape
    dirs = random_directions(k, FD_DIRECTIONS, seed)
    value = np.empty((n, len(dirs)))
    error = np.empty((n, len(dirs)))
    scale = np.maximum(1.0, np.max(np.abs(z), axis=1))
    base = np.abs(loss(z, t, temperature))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
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
    return FiniteDifference(method, "directional", value, error, dirs)
