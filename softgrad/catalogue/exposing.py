"""Inputs that expose mistakes: an input at which ambiguous candidates give clearly different gradients,
a catalogued mistake evaluated at an input beside the reference, and the ``softgrad check`` command that
reproduces an input."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    t: Sequence[float] | Array,
    *,
    temperature: float = 1.0,
    dtype: str = "float64",
    grad: Sequence[float] | Array | None = None,
    jacobian: Array | None = None,
) -> str:
    """A ready-to-run ``softgrad check`` command at one example, every number written to round-trip."""
    parts = ["softgrad check", "--z", *map(shortest, z), "--t", *map(shortest, t)]
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
    """An input at which every ambiguous candidate gives a clearly different gradient."""

    z: tuple[float, ...]
    t: tuple[float, ...]
    temperature: float
    separates: tuple[str, ...]

    def command(self) -> str:
        """A ready-to-run ``softgrad check`` command at this input."""
        return check_command(self.z, self.t, temperature=self.temperature)

    def to_dict(self) -> dict[str, object]:
        return {
            "z": list(self.z),
            "t": list(self.t),
            "temperature": self.temperature,
            "separates": list(self.separates),
            "command": self.command(),
        }


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
