"""``check``: the three gradients at one input, compared, and the user's numbers diagnosed."""

from __future__ import annotations

import numpy as np

from softgrad.catalogue.diagnose import (
    Match,
    coinciding,
    differs,
    expected_jacobian,
    jacobian_invariants,
    jacobian_matches,
    rank_matches,
    wrong_entries,
)
from softgrad.catalogue.exposing import distinguishing_input
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.check.report import CheckReport, GradientVerdict, JacobianVerdict, MistakeRow
from softgrad.core import Array, chained_instability, loss
from softgrad.core.checks import RowChecks, check_rows
from softgrad.core.numbers import vector
from softgrad.core.problem import ArrayLike, Problem, as_problem
from softgrad.core.tolerance import Comparison, Tolerance, compare, tolerance_for

#: Looser tolerance for "close but not exact" hints (rounded or low-precision numbers).
NEAR = Tolerance(rtol=1e-3, atol=1e-6)


def check(
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
    fd: str = "auto",
    seed: int = 0,
) -> CheckReport:
    """Check the softmax + cross-entropy gradient at one input.

    Computes the fused reference ``(s·Σt − t)/τ``, the chained product ``(−t/s)·J(s)/τ`` and a
    finite-difference estimate; compares each with the reference; evaluates every catalogued mistake; and,
    given the user's ``grad`` or ``jacobian``, says whether it is right and which mistake it matches.
    Raises :class:`softgrad.InputError` for bad input.
    """
    p = as_problem(z, t, label=label, grad=grad, jacobian=jacobian, temperature=temperature, dtype=dtype)
    tol = tolerance_for(p.dtype, rtol, atol)
    z2, t2, tau = p.z[None], p.t[None], p.temperature
    rc = check_rows(z2, t2, tau, p.dtype, tol, fd=fd, seed=seed)
    fused = rc.fused[0]
    comparisons: dict[str, Comparison] = {}
    unstable: list[str] = []
    failures: list[str] = []
    chained_out: Array | None = rc.chained[0]
    if rc.chained_unstable[0]:
        instability = chained_instability(z2, t2, tau, p.dtype)[0]
        unstable.append(f"chained: {instability.reason if instability else 'the product overflows'}")
        chained_out = None
    else:
        c = compare(rc.chained[0], fused, tol)
        comparisons["chained"] = c
        if rc.chained_imprecise[0]:
            unstable.append(
                f"chained: loses precision here (max rel err {c.max_rel_err:.3g} at index {c.worst_index}); "
                "the fused form is exact"
            )
    note = ""
    if rc.fd.directions is not None:
        note = (
            f"directional: {len(rc.fd.directions)} seeded random directions v, comparing the estimate "
            "of vᵀ·∇L with vᵀ·fused; worst_index is the direction"
        )
    comparisons["finite_difference"] = compare(rc.fd.value[0], rc.fd_reference[0], tol, slack=rc.fd.error[0], note=note)
    if rc.fd_nonfinite[0]:
        unstable.append(
            "finite difference: not computable here (the loss or the step overflows); it cannot confirm the reference"
        )
    elif rc.fd_uncertain[0]:
        worst = float(np.max(rc.fd.error[0]))
        unstable.append(
            f"finite difference: its error estimate ({worst:.3g}) is too large to confirm the reference here"
        )
    elif rc.fd_fail[0]:
        failures.append("finite_difference")

    user = None
    if p.grad is not None:
        user = diagnose_gradient(p, rc, chained_out, tol)
        if not user.ok:
            failures.append("user gradient")
    mistakes = tuple(_mistake_rows(p, fused, tol, user))
    user_jac = None
    if p.jacobian is not None:
        user_jac = diagnose_jacobian(p, tol)
        if not user_jac.ok:
            failures.append("user jacobian")
    return CheckReport(
        z=vector(p.z),
        t=vector(p.t),
        temperature=tau,
        dtype=p.dtype,
        tolerance=tol,
        softmax=vector(rc.softmax[0]),
        loss=float(loss(z2, t2, tau)[0]),
        fused=vector(fused),
        chained=None if chained_out is None else vector(chained_out),
        finite_difference=vector(rc.fd.value[0]) if rc.fd_mode == "full" else None,
        fd_method=rc.fd_method,
        fd_mode=rc.fd_mode,
        fd_error=vector(rc.fd.error[0]),
        comparisons=comparisons,
        unstable=tuple(unstable),
        mistakes=mistakes,
        user=user,
        user_jacobian=user_jac,
        failures=tuple(failures),
    )


def _mistake_rows(p: Problem, fused: Array, tol: Tolerance, user: GradientVerdict | None) -> list[MistakeRow]:
    """Every row-level mistake at the input; a scaled family by the factor the user's gradient matched (else
    its first factor)."""
    z2, t2, tau = p.z[None], p.t[None], p.temperature
    factors = {m.id: m.factor for m in (user.matches if user else ()) if m.factor}
    rows = []
    for m in MISTAKES.rows():
        variants = m.variants(z2, t2, tau)
        scale, g = next(((sc, g) for sc, g in variants if sc and sc.label == factors.get(m.id)), variants[0])
        formula = f"(s·S − t) {scale.label}" if scale else m.formula
        rows.append(MistakeRow(m.id, m.title, formula, vector(g[0]), bool(differs(g, fused[None], tol)[0])))
    return rows


def diagnose_gradient(p: Problem, rc: RowChecks, chained: Array | None, tol: Tolerance) -> GradientVerdict:
    """Compare the user's gradient with the reference and name the mistake that produces it."""
    assert p.grad is not None
    g = p.grad
    fused = rc.fused[0]
    cmp = compare(g, fused, tol)
    matches, ranked = rank_matches(p.z, p.t, g, p.temperature, tol)
    notes: list[str] = []
    if cmp.ok:
        verdict = "correct"
        ambiguous = coinciding(p.z, p.t, p.temperature, fused, tol)
        matches = []
        if ambiguous:
            notes.append(
                f"at this input {', '.join(ambiguous)} also give the reference gradient, so they are not ruled out"
            )
    elif matches:
        verdict = "mistake"
        ambiguous = [m.id for m in matches] if len(matches) > 1 else []
    else:
        verdict = "unknown"
        ambiguous = []
    dist = distinguishing_input(ambiguous, p.k, p.temperature, pairwise=verdict != "correct")
    if dist is not None:
        notes.append(f"to tell {', '.join(dist.separates)} apart, compute your gradient at: {dist.command()}")

    agreement: dict[str, bool | None] = {"fused": cmp.ok}
    agreement["chained"] = None if chained is None else compare(g, chained, tol).ok
    projected = g if rc.fd.directions is None else rc.fd.directions @ g
    agreement["finite_difference"] = compare(projected, rc.fd.value[0], tol, slack=rc.fd.error[0]).ok
    notes += _agreement_notes(agreement, g, fused, verdict)
    if not np.all(np.isfinite(g)):
        notes.append(_nonfinite_note(matches))
    closest = tuple(sorted(ranked, key=lambda m: m.max_abs_err)[:3]) if verdict == "unknown" else ()
    return GradientVerdict(
        gradient=vector(g),
        comparison=cmp,
        verdict=verdict,
        matches=tuple(matches),
        ambiguous=tuple(ambiguous),
        distinguishing_input=dist,
        closest=closest,
        agreement=agreement,
        notes=tuple(notes),
    )


def _agreement_notes(agree: dict[str, bool | None], g: Array, fused: Array, verdict: str) -> list[str]:
    notes = []
    if agree["fused"] and agree["finite_difference"] is False:
        notes.append(
            "your gradient agrees with the fused formula but not with the finite difference: "
            "the finite difference is off here — look at its step size or the precision (try --fd complex)"
        )
    if not agree["fused"] and agree["chained"]:
        notes.append(
            "your gradient agrees with the chained product but not with the fused formula: the chained "
            "product loses precision at this input; the fused form s·Σt − t is the exact one"
        )
    if not agree["fused"] and agree["finite_difference"]:
        notes.append(
            "your gradient agrees with the finite difference only within its error estimate, not with the "
            "exact formula: a precision problem (or a finite difference itself), not a wrong formula"
        )
    if verdict == "unknown" and compare(g, fused, NEAR).ok:
        notes.append(
            "your gradient is within 0.1% of the reference: if your numbers were rounded or computed in "
            "float32, say so with --rtol or --dtype float32"
        )
    return notes


def _nonfinite_note(matches: list[Match]) -> str:
    ids = {m.id for m in matches}
    if "no_max_shift" in ids:
        return "your gradient has NaN or inf: the softmax overflowed — subtract the max logit before exp"
    if "chained_underflow" in ids:
        return (
            "your gradient has NaN or inf: a probability underflowed to 0 and −t/s (or log(0)) blew up — "
            "use the fused form s·Σt − t"
        )
    return "your gradient has NaN or inf where the reference is finite"


def diagnose_jacobian(p: Problem, tol: Tolerance) -> JacobianVerdict:
    """Compare the user's softmax Jacobian with J(s), check its invariants and name the mistake."""
    assert p.jacobian is not None
    jac = p.jacobian
    expected = expected_jacobian(p.z, p.temperature)
    cmp = compare(jac, expected, tol)
    return JacobianVerdict(
        matrix=tuple(vector(r) for r in jac),
        expected=tuple(vector(r) for r in expected),
        comparison=cmp,
        matches=() if cmp.ok else tuple(jacobian_matches(p.z, jac, p.temperature, tol)),
        wrong_entries=tuple(wrong_entries(jac, expected, tol)),
        invariants=tuple(jacobian_invariants(jac, tol, p.temperature)),
    )
