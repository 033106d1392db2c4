"""``explain``: the derivation of dE/dz with the actual numbers, step by step, and — given the user's
gradient or Jacobian — the step where it went wrong, beside the right one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from softgrad import core
from softgrad.catalogue.diagnose import Match
from softgrad.catalogue.exposing import MATRIX_MAX_K
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.check.api import Numbers, check, problem_of
from softgrad.commands.check.report import CheckReport
from softgrad.core.numbers import json_nested, nested
from softgrad.core.problem import Problem

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
    #: a scaled gradient: the factor (``"× 2"``) and what usually causes it
    factor: str = ""
    advice: str = ""

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "step": self.step,
            "mistake": self.mistake or None,
            "wrong": {"formula": self.wrong_formula, "value": json_nested(self.wrong_value)},
            "right": {"formula": self.right_formula, "value": json_nested(self.right_value)},
        }
        if self.factor:
            d["factor"] = self.factor
            d["advice"] = self.advice
        return d


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
            "tolerance": c.tolerance.to_dict(),
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
    z: Numbers | Problem,
    t: Numbers | None = None,
    *,
    label: int | None = None,
    grad: Numbers | None = None,
    jacobian: Numbers | None = None,
    temperature: float = 1.0,
    dtype: str = "float64",
    rtol: float | None = None,
    atol: float | None = None,
    exact: bool = False,
) -> ExplainReport:
    """The derivation of the softmax + cross-entropy gradient at (z, t), with the numbers.

    With ``grad`` or ``jacobian``, also the step where they depart from it (when they match a catalogued
    mistake: each of them, with an input that tells them apart, when several match) or the user's numbers
    beside the right ones (when they match none). Numbers as in :func:`softgrad.check`.
    """
    p = problem_of(z, t, label=label, grad=grad, jacobian=jacobian, temperature=temperature, dtype=dtype)
    report = check(p, rtol=rtol, atol=atol, exact=exact, rule_out=True)
    return ExplainReport(report, tuple(derivation(p)), tuple(_wrong_steps(p, report)))


def derivation(p: Problem) -> list[Step]:
    """The steps from logits to dE/dz, each with its value at the input."""
    z, t, tau = p.z[None], p.t[None], p.temperature
    u = "z/τ" if tau != 1.0 else "z"
    # with a temperature, the chain runs through u = z/τ: J(s) = ∂s/∂(z/τ), and only the last step reaches z
    d_du = "∂E/∂(z/τ)" if tau != 1.0 else "dE/dz"
    ds_du = "∂s/∂(z/τ)" if tau != 1.0 else "ds/dz"
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
            f"J(s) = {ds_du} = diag(s) − s sᵀ,   J_jk = s_j·(δ_jk − s_k)",
            _mat(jac) if jac is not None else None,
            "" if jac is not None else f"K = {p.k}: the {p.k}×{p.k} matrix is not written out (K > {MATRIX_MAX_K})",
        ),
        Step(
            "vjp",
            "chain rule: vector–Jacobian product",
            f"{d_du} = g · J(s),   (g·J)_k = Σ_j g_j·s_j·(δ_jk − s_k)",
            _vec(vjp),
            "" if inst is None else "not computable in floating point: −t/s is infinite (see above)",
        ),
        Step(
            "fused",
            "the fused shortcut, and why the two agree",
            f"{d_du} = s·Σt − t",
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
                f"z enters the softmax as z/τ, so the chain rule contributes ∂(z/τ)/∂z = 1/τ = {1 / tau:g}",
            )
        )
    return steps


def _wrong_steps(p: Problem, r: CheckReport) -> list[WrongStep]:
    """For each mistake the user's numbers match (several when this input cannot tell them apart), the
    step where its formula departs from the derivation; for numbers that match none, the result."""
    out: list[WrongStep] = []
    z2, tau = p.z[None], p.temperature
    right_j = core.softmax_jacobian(core.softmax(z2 / tau))[0] / tau
    last = "temperature" if tau != 1.0 else "fused"
    right = "(s·Σt − t) / τ" if tau != 1.0 else "s·Σt − t"
    if r.user is not None and not r.user.ok:
        for match in r.user.matches or ():
            out.extend(_mistake_steps(match, p, r, right_j, last, right))
        if not r.user.matches:
            out.append(WrongStep(last, "", "your gradient", r.user.gradient, right, r.fused))
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


def _mistake_steps(m: Match, p: Problem, r: CheckReport, right_j: np.ndarray, last: str, right: str) -> list[WrongStep]:
    assert r.user is not None
    entry = MISTAKES[m.id]
    wrong_j = entry.jacobian(p.z[None], p.temperature)
    vjp_right = f"g · J(s) = {right}" if p.temperature == 1.0 else f"g · J(s) / τ = {right}"
    if wrong_j is not None:
        return [
            WrongStep(
                "jacobian", m.id, entry.jacobian_formula, _mat(wrong_j[0]), "J(s) = diag(s) − s sᵀ", _mat(right_j)
            ),
            WrongStep("vjp", m.id, entry.formula, r.user.gradient, vjp_right, r.fused),
        ]
    if m.factor:
        return [
            WrongStep(
                last, m.id, f"({right}) {m.factor}", r.user.gradient, right, r.fused, factor=m.factor, advice=m.advice
            )
        ]
    step = last if entry.step == "gradient" else entry.step
    return [WrongStep(step, m.id, entry.formula, r.user.gradient, right, r.fused)]
