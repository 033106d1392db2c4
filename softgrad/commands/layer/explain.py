"""``explain`` for a layer: the derivation with the numbers, step by step, the way the derivation of
backpropagation with softmax and cross-entropy goes — EqA1.1 (∂L/∂z = p − y), EqA1 (∂L/∂W = δ aᵀ), then
the inner layer (EqMagic, EqA.2.1), where the diagonal Jacobian of σ turns into a Hadamard product — and,
given the user's wrong numbers, the step where they went off beside the right one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from softgrad.catalogue.layer_diagnose import LayerCandidate, layer_candidates
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.layer.api import LABELS, check_layer, formula
from softgrad.commands.layer.report import LayerReport, Nested
from softgrad.core.layer import Network, as_listed, backward, forward, json_array, sigma_prime, user_layout

#: How the two σ′ mistakes look at the σ′ step.
STEP_FORMULAS = {
    "sigma_prime_at_activation": "σ′(a_h) = σ′(σ(z_h))",
    "sigma_prime_formula_at_z": "z_h(1 − z_h) (sigmoid) or 1 − z_h² (tanh)",
    "sigma_prime_missing": "1 (σ′ left out)",
}
SIGMA_PRIME = {
    "sigmoid": "σ′(z_h) = σ(z_h)·(1 − σ(z_h)) = a(1 − a)",
    "tanh": "σ′(z_h) = 1 − tanh²(z_h) = 1 − a²",
    "relu": "σ′(z_h) = 1 where z_h > 0, else 0",
    "identity": "σ′(z_h) = 1",
}


@dataclass(frozen=True)
class LayerStep:
    """One step of the derivation: what is computed, the formula, its value, and the equation it is."""

    id: str
    title: str
    formula: str
    value: Nested | None
    note: str = ""
    #: the equation of the derivation this step is (EqA1, EqA.2.1, …)
    ref: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "formula": self.formula,
            "value": json_array(self.value),
            "note": self.note,
            "equation": self.ref or None,
        }


@dataclass(frozen=True)
class LayerWrongStep:
    """A step where the user's numbers depart from the derivation, the wrong version beside the right one."""

    step: str
    mistake: str
    #: the quantity it concerns, as it is called (``∂L/∂W``)
    label: str
    wrong_formula: str
    wrong_value: Nested | None
    right_formula: str
    right_value: Nested | None

    def to_dict(self) -> dict[str, object]:
        return {
            "step": self.step,
            "mistake": self.mistake or None,
            "wrong": {"formula": self.wrong_formula, "value": json_array(self.wrong_value)},
            "right": {"formula": self.right_formula, "value": json_array(self.right_value)},
        }


@dataclass(frozen=True)
class LayerExplainReport:
    """The layer's derivation, and where the user's numbers (if any) went off."""

    check: LayerReport
    steps: tuple[LayerStep, ...]
    wrong_steps: tuple[LayerWrongStep, ...]

    @property
    def status(self) -> str:
        """``"fail"`` when any of the user's quantities is wrong, else ``"pass"``."""
        wrong = any(q.user is not None and not q.user.ok for q in self.check.quantities)
        return "fail" if wrong or self.wrong_steps else "pass"

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, object]:
        c = self.check.to_dict()
        return {
            "status": self.status,
            "input": c["input"],
            "steps": [s.to_dict() for s in self.steps],
            "wrong_steps": [w.to_dict() for w in self.wrong_steps],
            "user": {q.name: q.user.to_dict() for q in self.check.quantities if q.user is not None},
        }


def explain_layer(**inputs: Any) -> LayerExplainReport:
    """The derivation of a layer's gradients with the numbers; takes the arguments of
    :func:`softgrad.check_layer`."""
    report = check_layer(**inputs)
    net = report.input.net
    return LayerExplainReport(report, tuple(layer_derivation(report)), tuple(_wrong_steps(net, report)))


def _value(report: LayerReport, name: str) -> Nested:
    return report.quantity(name).reference


def layer_derivation(r: LayerReport) -> list[LayerStep]:
    """The steps from the input to every gradient, each with its value."""
    net = r.input.net
    col = net.convention == "column"
    fwd = r.forward
    steps: list[LayerStep] = []
    if net.hidden:
        steps.append(
            LayerStep(
                "hidden",
                "the hidden layer",
                "z_h = W_h a_in + b_h" if col else "Z_h = A_in W_h + b_h",
                fwd["z_h"],
            )
        )
        steps.append(LayerStep("activation", f"its activation, σ = {net.activation}", "a = σ(z_h)", fwd["a"]))
    steps.append(LayerStep("logits", "the output layer's logits", "z = W a + b" if col else "Z = A W + b", fwd["z"]))
    steps.append(
        LayerStep(
            "softmax",
            "softmax",
            "p = s = softmax(z) = exp(z − max) / Σ exp(z − max)",
            fwd["s"],
        )
    )
    reg = ""
    if net.reg:
        reg = " + reg·(‖W‖² + ‖W_h‖²)" if net.hidden else " + reg·‖W‖²"
        if net.reg_convention == "half":
            reg = reg.replace("reg·", "½·reg·")
    mean = "(1/N)·Σ_n " if net.reduction == "mean" and net.n > 1 else ("Σ_n " if net.n > 1 else "")
    ce = f"{mean}(−Σ_k t_k·log s_k)" if mean else "−Σ_k t_k·log s_k"
    steps.append(LayerStep("loss", "cross-entropy loss", f"L = {ce}{reg}", r.loss))
    one_hot = bool(np.all(np.abs(np.sum(net.t, axis=1) - 1.0) < 1e-12))
    steps.append(
        LayerStep(
            "delta",
            "∂L/∂z: softmax and cross-entropy together",
            f"δ = ∂L/∂z = {formula(net, 'delta')}" + ("   (= p − y: Σt = 1)" if one_hot else ""),
            _value(r, "delta"),
            "−Σ_k t_k·(1/s_k)·∂s_k/∂z_i with ∂s_k/∂z_i = s_k(δ_ki − s_i) gives −t_i + s_i·Σ_k t_k"
            + ("; ÷ N because the loss is the mean over the N examples" if "÷ N" in formula(net, "delta") else ""),
            "EqA1.1",
        )
    )
    reg_note = ""
    if net.reg:
        reg_note = "; the regulariser adds " + ("2·reg·W" if net.reg_convention == "full" else "reg·W")
    steps.append(
        LayerStep(
            "dW",
            "the output layer's weights",
            f"∂L/∂W = ∂L/∂z · ∂z/∂W = {formula(net, 'dW')}",
            _value(r, "dW"),
            (
                "z_i = Σ_j W_ij a_j + b_i, so ∂z_i/∂W_ij = a_j: entry (i, j) is δ_i·a_j, an outer product "
                "shaped like W (K×H) — not a δᵀ"
                if col
                else "Z_nk = Σ_h A_nh W_hk + b_k, so entry (h, k) is Σ_n A_nh·Δ_nk: Aᵀ Δ, shaped like W (H×K)"
            )
            + reg_note,
            "EqA1",
        )
    )
    if net.b is not None:
        steps.append(
            LayerStep(
                "db",
                "the output layer's bias",
                f"∂L/∂b = {formula(net, 'db')}",
                _value(r, "db"),
                "∂z_i/∂b_i = 1" + ("; summed over the examples, one value per class" if net.n > 1 else ""),
            )
        )
    steps.append(
        LayerStep(
            "da",
            "back through W",
            f"∂L/∂a = (∂z/∂a)ᵀ δ = {formula(net, 'da')}",
            _value(r, "da"),
            "∂z_i/∂a_j = W_ij: in index notation Σ_i δ_i·W_ij, which as matrices is Wᵀ δ — the transpose, not W δ",
            "EqMagic",
        )
    )
    if not net.hidden:
        return steps
    assert net.activation is not None
    fwd_internal = forward(net)
    assert fwd_internal.z_h is not None
    sp = user_layout(net, "delta_h", sigma_prime(net.activation, fwd_internal.z_h))
    steps.append(
        LayerStep(
            "sigma_prime",
            "the activation's derivative, at z_h",
            f"∂a/∂z_h = diag(σ′(z_h)),   {SIGMA_PRIME[net.activation]}",
            as_listed(sp),
            "σ′ is evaluated at the pre-activation z_h; the shortcut a(1 − a) takes a = σ(z_h), never z_h",
        )
    )
    steps.append(
        LayerStep(
            "delta_h",
            "into the hidden layer: where the Hadamard product enters",
            f"δ_h = ∂L/∂z_h = diag(σ′(z_h))·Wᵀ δ = {formula(net, 'delta_h')}",
            _value(r, "delta_h"),
            "a diagonal matrix times a vector is the element-wise (Hadamard) product ⊙: the index-notation "
            "chain (p − y)·w·σ′ becomes a matrix product with Wᵀ and a Hadamard product with σ′, not a dot product",
            "EqA.2.1",
        )
    )
    steps.append(
        LayerStep(
            "dW_h",
            "the hidden layer's weights",
            f"∂L/∂W_h = ∂L/∂z_h · ∂z_h/∂W_h = {formula(net, 'dW_h')}",
            _value(r, "dW_h"),
            "∂z_h,i/∂W_h,ij = a_in,j: the same outer product one layer down" + reg_note.replace("W", "W_h"),
            "EqA.2",
        )
    )
    if net.b_h is not None:
        steps.append(
            LayerStep("db_h", "the hidden layer's bias", f"∂L/∂b_h = {formula(net, 'db_h')}", _value(r, "db_h"))
        )
    return steps


def _candidate(candidates: list[LayerCandidate], mid: str, factor: str) -> LayerCandidate | None:
    for c in candidates:
        if c.id == mid and (not factor or (c.scale is not None and c.scale.label == factor)):
            return c
    return None


def _wrong_steps(net: Network, r: LayerReport) -> list[LayerWrongStep]:
    fwd = forward(net)
    ref = backward(net, fwd)
    candidates = layer_candidates(net, fwd, ref)
    out: list[LayerWrongStep] = []
    shown_steps: set[tuple[str, str]] = set()
    for q in r.quantities:
        u = q.user
        if u is None or u.ok:
            continue
        right = f"{q.label} = {q.formula}"
        if not u.matches:
            out.append(LayerWrongStep(q.name, "", q.label, f"your {q.label}", u.value, right, q.reference))
            continue
        match = u.matches[0]
        m = MISTAKES[match.id]
        cand = _candidate(candidates, match.id, match.factor)
        step = m.step if m.scope == "layer" else "delta"
        if cand is not None and step != q.name and step in cand.values and (m.id, step) not in shown_steps:
            shown_steps.add((m.id, step))
            wrong_at = user_layout(net, step if step != "sigma_prime" else "delta_h", cand.values[step])
            right_at = _step_value(net, r, step)
            if m.scope == "layer":
                wrong_formula = STEP_FORMULAS.get(m.id, m.formula.split("   ")[0])
            else:
                wrong_formula = f"δ = {m.formula}" if not match.factor else f"δ {match.factor}"
            out.append(
                LayerWrongStep(
                    step,
                    m.id,
                    q.label,
                    wrong_formula,
                    as_listed(wrong_at),
                    _step_formula(net, step),
                    right_at,
                )
            )
            out.append(LayerWrongStep(q.name, m.id, q.label, f"your {q.label}", u.value, right, q.reference))
            continue
        wrong_formula = m.formula.split("   ")[0] if m.scope == "layer" else f"from δ = {m.formula}"
        if match.factor:
            wrong_formula = f"{q.formula} {match.factor}"
        if (m.id, step) in shown_steps:  # the step where it went off is already shown: what it then gives
            wrong_formula = f"your {q.label}"
        out.append(LayerWrongStep(q.name, m.id, q.label, wrong_formula, u.value, right, q.reference))
    return out


def _step_formula(net: Network, step: str) -> str:
    if step == "sigma_prime":
        assert net.activation is not None
        return SIGMA_PRIME[net.activation]
    return f"{LABELS[step]} = {formula(net, step)}"


def _step_value(net: Network, r: LayerReport, step: str) -> Nested | None:
    if step == "sigma_prime":
        fwd = forward(net)
        assert net.activation is not None
        assert fwd.z_h is not None
        out: Nested = as_listed(user_layout(net, "delta_h", sigma_prime(net.activation, fwd.z_h)))
        return out
    return r.quantity(step).reference
