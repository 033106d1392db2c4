"""``explain``: the derivation of dE/dz with the actual numbers, step by step, and — given the user's
gradient or Jacobian — the step where it went wrong, beside the right one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from softgrad import core
from softgrad.catalogue.exposing import MATRIX_MAX_K
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.check.api import check
from softgrad.commands.check.report import CheckReport
from softgrad.core.numbers import json_nested, nested
from softgrad.core.problem import ArrayLike, Problem, as_problem

Value = float | tuple[float, ...] | tuple[tuple[float, ...], ...] | None


@dataclass(frozen=True)
class Step:
    """One step of the derivation: what is computed, the formula, and its value at the input."""

    id: str
    title: str
    formula: str
    value: Value
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "formula": self.formula,
            "value": json_nested(self.value),
            "note": self.note,
        }


@dataclass(frozen=True)
class WrongStep:
    """A step where the user's numbers depart from the derivation: the wrong version beside the right one."""

    step: str
    mistake: str
    wrong_formula: str
    wrong_value: Value
    right_formula: str
    right_value: Value

    def to_dict(self) -> dict[str, object]:
        return {
            "step": self.step,
            "mistake": self.mistake or None,
            "wrong": {"formula": self.wrong_formula, "value": json_nested(self.wrong_value)},
            "right": {"formula": self.right_formula, "value": json_nested(self.right_value)},
        }


@dataclass(frozen=True)
class ExplainReport:
    """The derivation at one input, and where the user's numbers (if any) went off."""

    check: CheckReport
    steps: tuple[Step, ...]
    wrong_steps: tuple[WrongStep, ...]

    @property
    def status(self) -> str:
        """``"fail"`` when the user's gradient or Jacobian is wrong, else ``"pass"``."""
        return "fail" if self.wrong_steps or not self._user_ok else "pass"

    @property
    def _user_ok(self) -> bool:
        c = self.check
        return (c.user is None or c.user.ok) and (c.user_jacobian is None or c.user_jacobian.ok)

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, object]:
        c = self.check
        d: dict[str, object] = {
            "status": self.status,
            "input": {"z": list(c.z), "t": list(c.t), "k": c.k, "temperature": c.temperature},
            "steps": [s.to_dict() for s in self.steps],
            "wrong_steps": [w.to_dict() for w in self.wrong_steps],
        }
        if c.user is not None:
            d["user"] = c.user.to_dict()
        if c.user_jacobian is not None:
            d["user_jacobian"] = c.user_jacobian.to_dict()
        return d


def _vec(a: np.ndarray) -> tuple[float, ...]:
    return tuple(float(x) for x in np.ravel(a))


def _mat(a: np.ndarray) -> tuple[tuple[float, ...], ...] | None:
    out: tuple[tuple[float, ...], ...] | None = nested(a) if a.shape[0] <= MATRIX_MAX_K else None
    return out


def explain(
    z: ArrayLike | Problem,
    t: ArrayLike | None = None,
    *,
    label: int | None = None,
    grad: ArrayLike | None = None,
    jacobian: ArrayLike | None = None,
    temperature: float = 1.0,
    dtype: str = "float64",
    rtol: float | None = None,
    atol: float | None = None,
) -> ExplainReport:
    """The derivation of the softmax + cross-entropy gradient at (z, t), with the numbers.

    With ``grad`` or ``jacobian``, also the step where they depart from it (when they match a catalogued
    mistake) or the user's numbers beside the right ones (when they match none).
    """
    p = as_problem(z, t, label=label, grad=grad, jacobian=jacobian, temperature=temperature, dtype=dtype)
    report = check(p, rtol=rtol, atol=atol)
    return ExplainReport(report, tuple(derivation(p)), tuple(_wrong_steps(p, report)))


def derivation(p: Problem) -> list[Step]:
    """The steps from logits to dE/dz, each with its value at the input."""
    z, t, tau = p.z[None], p.t[None], p.temperature
    u = "z/τ" if tau != 1.0 else "z"
    s = core.softmax(z / tau)
    g = core.dE_ds(t, s)
    inst = core.chained_instability(z, t, tau)[0]
    jac = core.softmax_jacobian(s)[0] if p.k <= MATRIX_MAX_K else None
    with np.errstate(all="ignore"):
        vjp = core.vjp_softmax_jacobian(g, s)[0]
    fused_u = (s * np.sum(t) - t)[0]
    steps = [
        Step(
            "softmax",
            "softmax",
            f"s = softmax({u}) = exp({u} − max) / Σ exp({u} − max)",
            _vec(s),
            "subtracting the max logit changes nothing mathematically and keeps exp from overflowing",
        ),
        Step("loss", "cross-entropy loss", "E = −Σ_k t_k·log s_k", float(core.loss(z, t, tau)[0])),
        Step(
            "dE_ds",
            "derivative of the loss with respect to s",
            "g = dE/ds = −t / s",
            _vec(g),
            inst.reason if inst else "classes with t_k = 0 contribute 0",
        ),
        Step(
            "jacobian",
            "softmax Jacobian, evaluated at s (not at z)",
            "J(s) = ds/d" + u + " = diag(s) − s sᵀ,   J_jk = s_j·(δ_jk − s_k)",
            _mat(jac) if jac is not None else None,
            "" if jac is not None else f"K = {p.k}: the {p.k}×{p.k} matrix is not written out (K > {MATRIX_MAX_K})",
        ),
        Step(
            "vjp",
            "chain rule: vector–Jacobian product",
            f"dE/d{u} = g · J(s),   (g·J)_k = Σ_j g_j·s_j·(δ_jk − s_k)",
            _vec(vjp),
            "" if inst is None else "not computable in floating point: −t/s is infinite (see above)",
        ),
        Step(
            "fused",
            "the fused shortcut, and why the two agree",
            f"dE/d{u} = s·Σt − t",
            _vec(fused_u),
            "g_j·s_j = −t_j, so Σ_j g_j·s_j·(δ_jk − s_k) = −t_k + s_k·Σ_j t_j: the chain collapses to s·Σt − t"
            + (" (= s − t for one-hot or normalised targets)" if abs(float(np.sum(t)) - 1.0) < 1e-12 else ""),
        ),
    ]
    if tau != 1.0:
        steps.append(
            Step(
                "temperature",
                "the temperature",
                "dE/dz = (s·Σt − t) / τ",
                _vec(fused_u / tau),
                f"z enters the softmax as z/τ, so the chain rule contributes a factor 1/τ = {1 / tau:g}",
            )
        )
    return steps


def _wrong_steps(p: Problem, r: CheckReport) -> list[WrongStep]:
    out: list[WrongStep] = []
    z2, tau = p.z[None], p.temperature
    right_j = core.softmax_jacobian(core.softmax(z2 / tau))[0] / tau
    if r.user is not None and not r.user.ok:
        if r.user.matches:
            m = MISTAKES[r.user.matches[0].id]
            wrong_j = m.jacobian(z2, tau)
            if wrong_j is not None:
                out.append(
                    WrongStep(
                        "jacobian", m.id, m.jacobian_formula, _mat(wrong_j[0]), "J(s) = diag(s) − s sᵀ", _mat(right_j)
                    )
                )
                out.append(WrongStep("vjp", m.id, m.formula, r.user.gradient, "g · J(s) = s·Σt − t", r.fused))
            else:
                out.append(WrongStep(m.step, m.id, m.formula, r.user.gradient, "s·Σt − t", r.fused))
        else:
            out.append(WrongStep("gradient", "", "your gradient", r.user.gradient, "s·Σt − t", r.fused))
    if r.user_jacobian is not None and not r.user_jacobian.ok:
        ids = r.user_jacobian.matches
        formula = MISTAKES[ids[0]].jacobian_formula if ids else "your Jacobian"
        out.append(
            WrongStep(
                "jacobian",
                ids[0] if ids else "",
                formula,
                r.user_jacobian.matrix,
                "J(s) = diag(s) − s sᵀ",
                _mat(right_j),
            )
        )
    return out
