"""Inputs that expose mistakes: an input at which ambiguous candidates give clearly different gradients,
a catalogued mistake evaluated at an input beside the reference, and the ``softgrad check`` command that
reproduces an input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from softgrad.catalogue.diagnose import REFERENCE, SEPARATION, differs
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.core import Array, fused_gradient, softmax, softmax_jacobian
from softgrad.core.numbers import json_nested, nested, shortest, vector
from softgrad.core.problem import Problem, make_problem
from softgrad.core.tolerance import tolerance_for


def check_command(
    z: Sequence[float] | Array,
    t: Sequence[float] | Array | None = None,
    *,
    label: int | None = None,
    temperature: float = 1.0,
    dtype: str = "float64",
    grad: Sequence[float] | Array | None = None,
    jacobian: Array | None = None,
) -> str:
    """A ready-to-run ``softgrad check`` command at one example, every number written to round-trip; with
    ``label``, the targets as that class index."""
    parts = ["softgrad check", "--z", *map(shortest, z)]
    if label is not None:
        parts += ["--label", str(label)]
    else:
        assert t is not None
        parts += ["--t", *map(shortest, t)]
    if temperature != 1.0:
        parts += ["--temperature", shortest(temperature)]
    if grad is not None:
        parts += ["--grad", *map(shortest, grad)]
    if jacobian is not None:
        parts += ["--jacobian", *map(shortest, np.ravel(jacobian))]
    if dtype != "float64":
        parts += ["--dtype", dtype]
    return " ".join(parts)


@dataclass(frozen=True)
class DistinguishingInput:
    """An input at which every ambiguous candidate gives a clearly different gradient; ``label``: the class
    index of its one-hot targets, when the user works with class indices."""

    z: tuple[float, ...]
    t: tuple[float, ...]
    temperature: float
    separates: tuple[str, ...]
    label: int | None = None

    def command(self) -> str:
        """A ready-to-run ``softgrad check`` command at this input."""
        if self.label is not None:
            return check_command(self.z, label=self.label, temperature=self.temperature)
        return check_command(self.z, self.t, temperature=self.temperature)

    def to_dict(self) -> dict[str, object]:
        return {
            "z": list(self.z),
            "t": list(self.t),
            "label": self.label,
            "temperature": self.temperature,
            "separates": list(self.separates),
            "command": self.command(),
        }


@dataclass(frozen=True)
class Conventions:
    """What an input suggested to a user keeps of theirs, so that it can be worked by hand: K (from 2 to 4),
    one-hot targets when they gave a class index, their temperature (none unless they gave one); logits
    always have at most two decimals."""

    k: int
    one_hot: bool = False
    temperature: float = 1.0

    @classmethod
    def of(cls, problem: Problem) -> Conventions:
        return cls(problem.k, problem.label is not None, problem.temperature)

    def sizes(self) -> list[int]:
        """K to try, the user's own first (at most 4)."""
        own = min(max(self.k, 2), 4)
        return list(dict.fromkeys([own, 3, 4]))


#: Random inputs tried after the simple ones.
TRIES = 200


def _candidates(k: int, tau: float, ids: set[str], one_hot: bool, seed: int = 0) -> tuple[Array, Array]:
    """Inputs worth trying, simplest first, as (n, K) arrays: asymmetric logits with two decimals, the
    target off the largest logit, soft targets with Σt ≠ 1 (unless one-hot), and what the ids need to show
    (huge logits, a probability that underflows)."""
    base = np.round(np.linspace(2.0, -1.0, k), 2)
    first = np.zeros(k)
    first[1] = 1.0
    zs, ts = [base], [first]
    if not one_hot:
        soft = np.round(np.linspace(0.2, 0.6, k), 2)
        soft[1] = 0.9
        if "assumes_one_hot" in ids:
            zs, ts = [], []
        zs.append(base)
        ts.append(soft)
    rng = np.random.default_rng(seed)
    z = np.round(rng.normal(0.0, 2.0, (TRIES, k)), 2)
    top = np.argmax(z, axis=1)
    if one_hot:
        pick = (top + rng.integers(1, k, TRIES)) % k
        t = np.zeros((TRIES, k))
        t[np.arange(TRIES), pick] = 1.0
    else:
        t = np.round(rng.uniform(0.0, 1.0, (TRIES, k)), 2)
        t[np.arange(TRIES), top] = 0.0
    zz = np.vstack([np.array(zs), z])
    tt = np.vstack([np.array(ts), t])
    if "chained_underflow" in ids:
        # the target's class about 800τ below the largest logit: its probability underflows to 0
        target = np.argmax(tt, axis=1)
        others = np.where(np.arange(k)[None, :] == target[:, None], -np.inf, zz)
        zz[np.arange(len(zz)), target] = np.max(others, axis=1) - 800.0 * tau
    if "no_max_shift" in ids:
        zz = zz + 1000.0 * tau
    return np.round(zz, 2), tt


def _separating(ids: list[str], z: Array, t: Array, tau: float, pairwise: bool) -> Array:
    """Per candidate row: does every id differ clearly from the reference (and, ``pairwise``, from each
    other)?"""
    grads = [MISTAKES[i].gradient(z, t, tau) for i in ids]
    ref = fused_gradient(z, t, tau)
    ok = np.ones(z.shape[0], bool)
    for g in grads:
        ok &= differs(g, ref, SEPARATION)
    if pairwise:
        for a in range(len(grads)):
            for b in range(a + 1, len(grads)):
                ok &= differs(grads[a], grads[b], SEPARATION)
    return ok


def distinguishing_input(
    ids: Sequence[str],
    k: int,
    temperature: float = 1.0,
    *,
    pairwise: bool = True,
    conventions: Conventions | None = None,
) -> DistinguishingInput | None:
    """Find an input that tells ``ids`` and the reference apart.

    ``pairwise``: every two of them must differ clearly (the user matched several mistakes); otherwise
    only the reference must differ from each id (the user was right, but so would these ids have been).
    ``conventions``: the input keeps the user's (K at most 4, one-hot targets, their temperature); without
    them K >= 3 and a temperature of 2 where the ids need one.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return None
    if conventions is None:
        tau = 2.0 if "missing_temperature" in wanted and temperature == 1.0 else temperature
        sizes, one_hot = [max(3, k)], False
    else:
        tau, sizes, one_hot = conventions.temperature, conventions.sizes(), conventions.one_hot
    for size in sizes:
        z, t = _candidates(size, tau, set(wanted), one_hot)
        hit = np.flatnonzero(_separating(wanted, z, t, tau, pairwise))
        if hit.size:
            i = int(hit[0])
            label = int(np.argmax(t[i])) if one_hot else None
            return DistinguishingInput(vector(z[i]), vector(t[i]), tau, (*wanted, REFERENCE), label)
    return None


def separable(ids: Sequence[str], conventions: Conventions) -> list[str]:
    """The ids that some input of the user's conventions tells apart from the reference; the others give
    the reference gradient at every such input (``missing_temperature`` without a temperature,
    ``assumes_one_hot`` with one-hot targets): under these conventions they are not mistakes at all."""
    out = []
    for mid in dict.fromkeys(ids):
        for size in conventions.sizes():
            z, t = _candidates(size, conventions.temperature, {mid}, conventions.one_hot)
            if np.any(_separating([mid], z, t, conventions.temperature, pairwise=False)):
                out.append(mid)
                break
    return out


#: Jacobians up to this K are written out in full (in text and JSON).
MATRIX_MAX_K = 12

Matrix = tuple[tuple[float, ...], ...]


def _matrix(a: Array) -> Matrix | None:
    out: Matrix | None = nested(a) if a.shape[0] <= MATRIX_MAX_K else None
    return out


@dataclass(frozen=True)
class MistakeAt:
    """A catalogued mistake's gradient (and wrong Jacobian) at an input, next to the reference."""

    id: str
    z: tuple[float, ...]
    t: tuple[float, ...]
    temperature: float
    #: softgrad chose the input (one that exposes the mistake); False: the user gave it
    found: bool
    gradient: tuple[float, ...]
    reference: tuple[float, ...]
    differs: bool
    jacobian: Matrix | None
    expected_jacobian: Matrix | None
    exposing_command: str | None

    def to_dict(self) -> dict[str, object]:
        m = MISTAKES[self.id]
        return {
            **m.to_dict(),
            "step": m.step,
            "at": {"z": self.z, "t": self.t, "temperature": self.temperature, "found": self.found},
            "gradient": json_nested(self.gradient),
            "reference": json_nested(self.reference),
            "differs": self.differs,
            "jacobian": json_nested(self.jacobian),
            "expected_jacobian": json_nested(self.expected_jacobian),
            "exposing_command": self.exposing_command,
        }


def mistake_at(mistake_id: str, problem: Problem | None = None) -> MistakeAt:
    """A row-level mistake's gradient (and wrong Jacobian) at an input, next to the reference.

    Without ``problem`` softgrad finds an input that exposes the mistake. Raises KeyError for unknown ids.
    """
    m = MISTAKES[mistake_id]
    found = problem is None
    exposing = distinguishing_input([m.id], 3 if problem is None else problem.k, 1.0, pairwise=False)
    if problem is None:
        if exposing is None:  # pragma: no cover - every row-level entry has an exposing input
            raise ValueError(f"no exposing input found for {mistake_id}")
        problem = make_problem(exposing.z, exposing.t, temperature=exposing.temperature)
    z2, t2, tau = problem.z[None], problem.t[None], problem.temperature
    wrong = m.gradient(z2, t2, tau)
    ref = fused_gradient(z2, t2, tau)
    wrong_j = m.jacobian(z2, tau)
    return MistakeAt(
        id=m.id,
        z=vector(problem.z),
        t=vector(problem.t),
        temperature=tau,
        found=found,
        gradient=vector(wrong[0]),
        reference=vector(ref[0]),
        differs=bool(differs(wrong, ref, tolerance_for(problem.dtype))[0]),
        jacobian=None if wrong_j is None else _matrix(wrong_j[0]),
        expected_jacobian=None if wrong_j is None else _matrix(softmax_jacobian(softmax(z2 / tau))[0] / tau),
        exposing_command=exposing.command() if exposing else None,
    )
