"""``verify`` for layer code: which of its two layer kinds a function is (given, or read from its
signature), and running it — ``weights`` (:mod:`~softgrad.commands.verify.weights`) or ``loss-and-grad``
(:mod:`~softgrad.commands.verify.lossgrad`)."""

from __future__ import annotations

from typing import Any

from softgrad.commands.verify.lossgrad import course_layout, verify_loss_and_grad
from softgrad.commands.verify.session import CallFailed, Session
from softgrad.commands.verify.weights import LABEL_CHOICES, REG_CONVENTION_CHOICES, verify_weights, weights_signature
from softgrad.commands.verify.weights_calls import signature
from softgrad.commands.verify.weights_report import WeightsReport
from softgrad.core import rules
from softgrad.core.tolerance import tolerance_for
from softgrad.errors import InputError

LAYER_KINDS = ("weights", "loss-and-grad")


def layer_kind(session: Session, kind: str | None) -> tuple[str, str] | None:
    """(kind, how it was chosen) when the function is layer code — given as ``kind``, or detected from an
    ``f(W, X, y, reg)`` or ``f(params, X, y[, reg])`` signature — else None."""
    if kind is not None:
        return (kind, "given") if kind in LAYER_KINDS else None
    try:
        sig = session.apply(signature)
    except CallFailed:
        return None
    reason = weights_signature(sig)
    if reason is not None:
        return "weights", f"detected: {reason}"
    reason = course_layout(sig)
    if reason is not None:
        return "loss-and-grad", f"detected: {reason}"
    return None


def verify_layer_code(
    session: Session,
    kind: str,
    kind_reason: str,
    *,
    errstate: dict[str, Any],
    trials: int,
    seed: int,
    rtol: float | None,
    atol: float | None,
    reg_convention: str = "auto",
    labels: str = "auto",
    case: str | None = None,
) -> WeightsReport:
    """Run a ``weights`` or ``loss-and-grad`` function; options that do not apply to the kind are refused."""
    rules.choice("reg_convention", reg_convention, REG_CONVENTION_CHOICES)
    rules.choice("labels", labels, LABEL_CHOICES)
    tol = tolerance_for("float64", rtol, atol)
    if kind == "weights":
        if case is not None:
            raise InputError("case", "applies to kind loss-and-grad; kind weights runs its own battery")
        return verify_weights(
            session,
            kind_reason,
            errstate=errstate,
            trials=trials,
            seed=seed,
            tol=tol,
            reg_convention=reg_convention,
            labels=labels,
        )
    for name, value in (("reg_convention", reg_convention), ("labels", labels)):
        if value != "auto":
            raise InputError(name, "applies to kind weights only")
    return verify_loss_and_grad(session, kind_reason, errstate=errstate, seed=seed, tol=tol, case=case)
