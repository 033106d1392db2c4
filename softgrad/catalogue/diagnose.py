"""Diagnosis: which catalogued mistake produced a user's gradient or Jacobian.

Pure numpy; vectorised over rows so that ``batch`` and ``check`` share it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from softgrad.catalogue.mistakes import MISTAKES, Mistake
from softgrad.core import Array, fused_gradient, softmax, softmax_jacobian
from softgrad.core.tolerance import Tolerance, excess

#: Two gradients count as told apart when they differ by more than this (relative and absolute).
SEPARATION = Tolerance(rtol=1e-3, atol=1e-3)
REFERENCE = "reference"


def match_ratio(user: Array, candidate: Array, tol: Tolerance) -> Array:
    """Per row, the worst tolerance ratio between ``user`` and ``candidate`` (at most 1 is a match).

    NaN matches NaN and inf matches inf of the same sign, so a gradient that overflowed is matched by the
    mistake that overflows the same way.
    """
    ratio = excess(user, candidate, tol)
    same_nonfinite = (np.isnan(user) & np.isnan(candidate)) | (np.isinf(user) & (user == candidate))
    out: Array = np.max(np.where(same_nonfinite, 0.0, ratio), axis=-1)
    return out


def mistake_gradients(
    z: Array, t: Array, temperature: float, entries: Sequence[Mistake] | None = None
) -> dict[str, Array]:
    """Every row-level mistake's gradient at (z, t): id -> (N, K)."""
    return {m.id: m.gradient(z, t, temperature) for m in (entries or MISTAKES.rows())}


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

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "max_abs_err": _num(self.max_abs_err), "ratio": _num(self.ratio)}


@dataclass(frozen=True)
class DistinguishingInput:
    """An input at which every ambiguous candidate gives a clearly different gradient."""

    z: tuple[float, ...]
    t: tuple[float, ...]
    temperature: float
    separates: tuple[str, ...]

    def command(self) -> str:
        """A ready-to-run ``softgrad check`` command at this input."""
        parts = ["softgrad check", "--z", *map(fmt_arg, self.z), "--t", *map(fmt_arg, self.t)]
        if self.temperature != 1.0:
            parts += ["--temperature", fmt_arg(self.temperature)]
        return " ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "z": list(self.z),
            "t": list(self.t),
            "temperature": self.temperature,
            "separates": list(self.separates),
            "command": self.command(),
        }


def fmt_arg(x: float) -> str:
    """A number as the shortest text that reads back as the same float."""
    return np.format_float_positional(x, trim="-") if abs(x) < 1e16 else repr(x)


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def rank_matches(
    z: Array, t: Array, user: Array, temperature: float, tol: Tolerance
) -> tuple[list[Match], list[Match]]:
    """For one row: (matching entries best first, all entries ranked by closeness)."""
    ranked: list[Match] = []
    for mid, wrong in mistake_gradients(z[None], t[None], temperature).items():
        ratio = float(match_ratio(user[None], wrong, tol)[0])
        with np.errstate(invalid="ignore"):
            err = np.abs(user - wrong[0])
        both_finite = np.isfinite(user) & np.isfinite(wrong[0])
        max_abs = float(np.max(err[both_finite])) if both_finite.any() else 0.0
        ranked.append(Match(mid, max_abs, ratio))
    nonfinite = not bool(np.all(np.isfinite(user)))
    ranked.sort(key=lambda m: (m.ratio, not (nonfinite and MISTAKES[m.id].numerical), m.max_abs_err))
    return [m for m in ranked if m.ratio <= 1.0], ranked


def coinciding(z: Array, t: Array, temperature: float, gradient: Array, tol: Tolerance) -> list[str]:
    """Ids of the row-level mistakes that give ``gradient`` (within tolerance) at this input."""
    return [
        mid
        for mid, wrong in mistake_gradients(z[None], t[None], temperature).items()
        if not differs(gradient[None], wrong, tol)[0]
    ]


def _candidates(k: int, temperature: float, ids: set[str], seed: int = 0) -> Iterator[tuple[Array, Array, float]]:
    """Inputs worth trying, simplest first: asymmetric logits, K >= 3, target off the largest logit, and
    whatever the ids need to show (τ ≠ 1, Σt ≠ 1, huge logits, a probability that underflows)."""
    k = max(3, k)
    tau = 2.0 if "missing_temperature" in ids and temperature == 1.0 else temperature
    base = np.round(np.linspace(2.0, -1.0, k), 2)
    if "chained_underflow" in ids:
        base[1] = base[0] - 800.0 * tau
    if "no_max_shift" in ids:
        base = base + 1000.0 * tau
    one_hot = np.zeros(k)
    one_hot[1] = 1.0
    soft = np.round(np.linspace(0.2, 0.6, k), 2)
    soft[1] = 0.9
    if "assumes_one_hot" not in ids:
        yield base, one_hot, tau
    yield base, soft, tau
    rng = np.random.default_rng(seed)
    for _ in range(200):
        z = np.round(rng.normal(0.0, 2.0, k), 2)
        t = np.round(rng.uniform(0.0, 1.0, k), 2)
        t[int(np.argmax(z))] = 0.0
        yield z, t, tau


def distinguishing_input(
    ids: Sequence[str], k: int, temperature: float = 1.0, *, pairwise: bool = True
) -> DistinguishingInput | None:
    """Find an input that tells ``ids`` and the reference apart.

    ``pairwise``: every two of them must differ clearly (the user matched several mistakes); otherwise
    only the reference must differ from each id (the user was right, but so would these ids have been).
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return None
    for z, t, tau in _candidates(k, temperature, set(wanted)):
        grads = [MISTAKES[i].gradient(z[None], t[None], tau)[0] for i in wanted]
        ref = fused_gradient(z[None], t[None], tau)[0]
        pairs = [(g, ref) for g in grads]
        if pairwise:
            pairs += [(grads[a], grads[b]) for a in range(len(grads)) for b in range(a + 1, len(grads))]
        if all(differs(a[None], b[None], SEPARATION)[0] for a, b in pairs):
            return DistinguishingInput(tuple(map(float, z)), tuple(map(float, t)), tau, (*wanted, REFERENCE))
    return None


@dataclass(frozen=True)
class WrongEntry:
    """One entry of a user's Jacobian that differs from J(s)."""

    row: int
    col: int
    got: float
    expected: float

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "col": self.col, "got": _num(self.got), "expected": self.expected}


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


def jacobian_invariants(jac: Array, tol: Tolerance, temperature: float = 1.0) -> list[Invariant]:
    """Check rows sum to 0, symmetry and 0 <= diagonal <= 1/(4τ)."""
    sums = jac.sum(axis=1)
    sum_ok = bool(np.all(np.abs(sums) <= tol.atol + tol.rtol * np.abs(jac).sum(axis=1)))
    asym = float(np.max(np.abs(jac - jac.T))) if jac.size else 0.0
    sym_ok = bool(asym <= tol.atol + tol.rtol * float(np.max(np.abs(jac))))
    diag = np.diag(jac)
    hi = 0.25 / temperature
    diag_ok = bool(np.all((diag >= -tol.atol) & (diag <= hi + tol.atol + tol.rtol * hi)))
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


def jacobian_matches(z: Array, jac: Array, temperature: float, tol: Tolerance) -> list[str]:
    """Ids of catalogue entries whose wrong Jacobian equals ``jac`` at z, best first."""
    found: list[tuple[float, str]] = []
    for m in MISTAKES.values():
        wrong = m.jacobian(z[None], temperature)
        if wrong is None:
            continue
        ratio = float(match_ratio(jac.ravel()[None], wrong[0].ravel()[None], tol)[0])
        if ratio <= 1.0:
            found.append((ratio, m.id))
    return [mid for _, mid in sorted(found)]


def wrong_entries(jac: Array, expected: Array, tol: Tolerance) -> list[WrongEntry]:
    """Entries of ``jac`` outside the tolerance of ``expected``, row-major."""
    ratio = excess(jac, expected, tol)
    return [
        WrongEntry(int(i), int(j), float(jac[i, j]), float(expected[i, j]))
        for i, j in zip(*np.nonzero(ratio > 1.0), strict=True)
    ]
