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

Array = NDArray[np.float64]

EPS = float(np.finfo(np.float64).eps)
#: Elements of the explicit (rows, K, K) Jacobian built at once by the chained path.
JACOBIAN_BLOCK = 1 << 21
#: Up to this many classes the chained path builds the Jacobian explicitly; above it, the same product
#: ``g · J(s)`` is taken from J's structure (``g⊙s − (g·s)·s``), O(K) per row instead of O(K²).
EXPLICIT_JACOBIAN_MAX_K = 64


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


def loss_along(u: NDArray[Any], t: Array, axis: int) -> NDArray[Any]:
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
    out: Array = loss_along(z / temperature, t, -1)
    return out


def fused_gradient(z: Array, t: Array, temperature: float = 1.0, s: Array | None = None) -> Array:
    """The reference: ``(s·Σt − t) / τ`` with a stable softmax (``s``: softmax(z/τ), if already computed)."""
    s = softmax(z / temperature) if s is None else s
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


def row_blocks(n: int, per_row: int, budget: int) -> Iterator[slice]:
    """Slices of at most ``budget // per_row`` rows covering ``range(n)``."""
    step = max(1, budget // max(1, per_row))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def chained_gradient(
    z: Array, t: Array, temperature: float = 1.0, s: Array | None = None, *, explicit: bool | None = None
) -> Array:
    """``(−t/s) · J(s) / τ``, the chain rule through the softmax Jacobian, the way it is derived by hand.

    ``explicit`` (default: K ≤ :data:`EXPLICIT_JACOBIAN_MAX_K`): build the (rows, K, K) Jacobian — in
    blocks of rows (and of Jacobian rows for large K), so memory stays bounded — and multiply; otherwise
    take the same product from J's structure, ``g⊙s − (g·s)·s``, without forming J. Either way −t/s is
    formed, so where ``s_k`` underflows to 0 for a ``t_k > 0`` the result is not finite: see
    :func:`chained_instability`. ``s``: softmax(z/τ), if already computed.
    """
    s = softmax(z / temperature) if s is None else s
    g = dE_ds(t, s)
    n, k = s.shape
    if not (k <= EXPLICIT_JACOBIAN_MAX_K if explicit is None else explicit):
        with np.errstate(over="ignore", invalid="ignore"):
            structured: Array = vjp_softmax_jacobian(g, s) / temperature
        return structured
    if k * k <= JACOBIAN_BLOCK:
        product = _explicit_product(g, s)
        return product if temperature == 1.0 else product / temperature
    out = np.empty_like(s)
    with np.errstate(over="ignore", invalid="ignore"):
        for r in range(n):  # one row at a time, Jacobian rows in blocks
            acc = np.zeros(k)
            for jr in row_blocks(k, k, JACOBIAN_BLOCK):
                sj = s[r, jr]
                block = -sj[:, None] * s[r][None, :]
                block[np.arange(len(sj)), np.arange(jr.start, jr.stop)] += sj
                acc += g[r, jr] @ block
            out[r] = acc
    result: Array = out / temperature
    return result


#: Elements of the explicit Jacobian built at once by :func:`_explicit_product` (a block that stays in cache).
JACOBIAN_CACHE_BLOCK = 1 << 16


def _explicit_product(g: Array, s: Array) -> Array:
    """``g · J(s)`` row by row with each row's Jacobian built explicitly, for (N, K) ``g`` and ``s``.

    The Jacobians are laid out (K, K, rows), rows last, and built a block of rows at a time, so every
    operation runs along contiguous rows of a block that stays in cache; the sums are the same, term for
    term and in the same order, as multiplying each row by its (K, K) matrix.
    """
    n, k = s.shape
    out_t = np.empty((k, n))
    st, gt = s.T, g.T  # (K, N) views: contiguous along the rows for column-major inputs
    diag = np.arange(k)
    with np.errstate(over="ignore", invalid="ignore"):
        for rows in row_blocks(n, k * k, JACOBIAN_CACHE_BLOCK):
            sb = st[:, rows]
            jac = sb[:, None, :] * sb[None, :, :]  # J[j, k, row] = s_j·s_k ...
            np.negative(jac, out=jac)
            jac[diag, diag, :] += sb  # ... − that, plus s_j on the diagonal
            out_t[:, rows] = np.einsum("jn,jkn->kn", gt[:, rows], jac)
    product: Array = out_t.T  # column-major (N, K), the layout of the inputs
    return product


@dataclass(frozen=True)
class Instability:
    """Why the chained path cannot be evaluated for one row."""

    index: int
    reason: str


def unstable_targets(t: Array, s: Array, dtype: str = "float64") -> NDArray[np.bool_]:
    """Per element: a target ``t_k > 0`` on a probability that is 0 or subnormal in ``dtype``, or whose
    ``t_k/s_k`` overflows ``dtype`` — where ``−t/s``, and so the chained path, cannot be trusted."""
    info = np.finfo(np.dtype(dtype))
    if t.size and s.size and bool(np.min(s) >= info.tiny) and bool(np.max(t) <= 2.0):
        # two reductions: every probability normal and no target above 2, so t/s <= 2/tiny, below the largest
        # number of dtype — no element can be unstable
        return np.zeros(np.broadcast_shapes(t.shape, s.shape), bool)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        ratio = np.where(t > 0, t / s, 0.0)
    out: NDArray[np.bool_] = (t > 0) & ((s < info.tiny) | ~(ratio <= float(info.max)))
    return out


def chained_instability(
    z: Array, t: Array, temperature: float = 1.0, dtype: str = "float64"
) -> list[Instability | None]:
    """Per row: the first class where ``−t/s`` cannot be trusted in ``dtype``, or None.

    That is a target ``t_k > 0`` on a probability that underflows to 0 or is subnormal in ``dtype``, or
    whose ``t_k/s_k`` overflows ``dtype``.
    """
    s = softmax(z / temperature)
    info = np.finfo(np.dtype(dtype))
    bad = unstable_targets(t, s, dtype)
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
