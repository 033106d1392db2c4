"""``check``: the three gradients at one input, compared, and the user's numbers diagnosed."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from softgrad.catalogue.diagnose import (
    Match,
    differs,
    expected_jacobian,
    jacobian_invariants,
    jacobian_matches,
    rank_matches,
    wrong_entries,
)
from softgrad.catalogue.exposing import Conventions, distinguishing_input, separable
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.check.report import CheckReport, GradientVerdict, JacobianVerdict, MistakeRow
from softgrad.core import Array, chained_instability, loss
from softgrad.core.checks import RowChecks, check_rows
from softgrad.core.numbers import describe_precision, vector
from softgrad.core.problem import ArrayLike, Problem, make_problem
from softgrad.core.tolerance import DEFAULT_TOLERANCES, EXACT, Comparison, Tolerance, compare, tolerance_for
from softgrad.inputs.values import Written, written

#: Looser tolerance for "close but not exact" hints (rounded or low-precision numbers).
NEAR = Tolerance(rtol=1e-3, atol=1e-6)

Numbers = ArrayLike | str | Sequence[float | str]


def check(
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
    fd: str = "auto",
    seed: int = 0,
    exact: bool = False,
    rule_out: bool = False,
) -> CheckReport:
    """Check the softmax + cross-entropy gradient at one input.

    Computes the fused reference ``(s·Σt − t)/τ``, the chained product ``(−t/s)·J(s)/τ`` and a
    finite-difference estimate; compares each with the reference; evaluates every catalogued mistake; and,
    given the user's ``grad`` or ``jacobian``, says whether it is right and which mistake it matches.

    Numbers given as text (``grad="0.7856 -0.8247 0.0391"``, a pasted printout, or a list of strings) are
    compared allowing the precision they were written with (half a unit in the last digit); Python floats
    and arrays are exact. ``exact``: compare at the dtype tolerance alone; ``rtol``/``atol``, when given,
    are the whole tolerance. ``rule_out``: find an input that tells apart the mistakes this input cannot.
    Raises :class:`softgrad.InputError` for bad input.
    """
    p = problem_of(z, t, label=label, grad=grad, jacobian=jacobian, temperature=temperature, dtype=dtype)
    tol = tolerance_for(p.dtype, rtol, atol, written=not exact)
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
        user = diagnose_gradient(p, rc, chained_out, tol, rule_out=rule_out)
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


def problem_of(
    z: Numbers | Problem,
    t: Numbers | None = None,
    *,
    label: int | None = None,
    grad: Numbers | None = None,
    jacobian: Numbers | None = None,
    temperature: float = 1.0,
    dtype: str = "float64",
) -> Problem:
    """``z`` itself when it is already a :class:`Problem`; else the validated problem, numbers given as text
    read with the precision they were written with."""
    if isinstance(z, Problem):
        return z
    zs, ts = written(z, "z"), written(t, "t")
    gs, js = written(grad, "grad", finite=False), written(jacobian, "jacobian", finite=False)
    return make_problem(
        z if zs is None else zs,  # type: ignore[arg-type]
        t if ts is None else ts,  # type: ignore[arg-type]
        label=label,
        grad=grad if gs is None else gs,  # type: ignore[arg-type]
        jacobian=jacobian if js is None else js,  # type: ignore[arg-type]
        temperature=temperature,
        dtype=dtype,
        grad_precision=_precision_of(gs),
        jacobian_precision=_precision_of(js),
    )


def _precision_of(numbers: Written | None) -> list[float] | None:
    return None if numbers is None else numbers.precision


def used_precision(tol: Tolerance, precision: Array | None) -> Array | None:
    """The precision allowed on top of the tolerance: the written one, unless --exact or rtol/atol say no."""
    return precision if tol.written else None


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


def diagnose_gradient(
    p: Problem, rc: RowChecks, chained: Array | None, tol: Tolerance, *, rule_out: bool = False
) -> GradientVerdict:
    """Compare the user's gradient with the reference and name the mistake that produces it.

    The precision the user's numbers were written with is allowed on top of the tolerance (for the
    reference and for every mistake alike). A correct verdict lists, as not ruled out, the mistakes that
    give the same numbers here and that some input of the user's conventions would tell apart (not
    ``missing_temperature`` without a temperature, nor the floating-point and generic entries); ``rule_out``
    finds such an input, as it does for mistakes that cannot be told apart from each other here.
    """
    assert p.grad is not None
    g = p.grad
    prec = used_precision(tol, p.grad_precision)
    fused = rc.fused[0]
    cmp = compare(g, fused, tol, precision=prec)
    matches, ranked = rank_matches(p.z, p.t, g, p.temperature, tol, prec)
    conventions = Conventions.of(p)
    notes: list[str] = []
    not_ruled_out: list[Match] = []
    if cmp.ok:
        verdict = "correct"
        formula = [m for m in matches if not (MISTAKES[m.id].fallback or MISTAKES[m.id].numerical)]
        keep = set(separable([m.id for m in formula], conventions))
        same = _same_as_reference(p, fused, tol)  # these match at any precision: say nothing of decimals
        not_ruled_out = [
            dataclasses.replace(m, within_precision=m.within_precision and m.id not in same)
            for m in formula
            if m.id in keep
        ]
        matches, ambiguous = [], []
        unresolved = [m.id for m in not_ruled_out]
    elif matches:
        verdict = "mistake"
        ambiguous = [m.id for m in matches] if len(matches) > 1 else []
        unresolved = ambiguous
    else:
        verdict = "unknown"
        ambiguous = unresolved = []
    dist = None
    if rule_out and unresolved:
        dist = distinguishing_input(
            unresolved, p.k, p.temperature, pairwise=verdict != "correct", conventions=conventions
        )

    agreement: dict[str, bool | None] = {"fused": cmp.ok}
    agreement["chained"] = None if chained is None else compare(g, chained, tol, precision=prec).ok
    directions = rc.fd.directions
    projected = g if directions is None else directions @ g
    proj_prec = prec if prec is None or directions is None else np.abs(directions) @ prec
    agreement["finite_difference"] = compare(
        projected, rc.fd.value[0], tol, slack=rc.fd.error[0], precision=proj_prec
    ).ok
    notes += _agreement_notes(agreement, p, g, fused, verdict, tol, prec)
    if not np.all(np.isfinite(g)):
        notes.append(_nonfinite_note(matches))
    closest = _closest(p, fused, ranked, tol) if verdict == "unknown" else ()
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
        precision=vector(prec) if prec is not None else (0.0,) * p.k,
        not_ruled_out=tuple(not_ruled_out),
        searched=rule_out,
    )


def _same_as_reference(p: Problem, fused: Array, tol: Tolerance) -> set[str]:
    """The entries that give the reference gradient itself at this input (within the tolerance)."""
    return {m.id for m in rank_matches(p.z, p.t, fused, p.temperature, tol)[1] if m.ratio <= 1.0}


def _closest(p: Problem, fused: Array, ranked: list[Match], tol: Tolerance) -> tuple[Match, ...]:
    """The three entries nearest the user's numbers: never one at an infinite distance (NaN or inf where the
    user's numbers are finite), nor one that gives the reference itself here (it would say no more than
    the distance to the reference does)."""
    same = _same_as_reference(p, fused, tol)
    near = sorted((m for m in ranked if np.isfinite(m.max_abs_err) and m.id not in same), key=lambda m: m.max_abs_err)
    return tuple(near[:3])


def _agreement_notes(
    agree: dict[str, bool | None],
    p: Problem,
    g: Array,
    fused: Array,
    verdict: str,
    tol: Tolerance,
    prec: Array | None,
) -> list[str]:
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
    if verdict == "unknown":
        note = _near_note(p, g, fused, tol, prec)
        if note:
            notes.append(note)
    return notes


def _near_note(p: Problem, g: Array, fused: Array, tol: Tolerance, prec: Array | None) -> str:
    """Why numbers this close to the reference did not pass, and what to say."""
    if p.dtype == "float64" and compare(g, fused, DEFAULT_TOLERANCES["float32"], precision=prec).ok:
        return (
            "these numbers agree with the reference to float32 precision: if they were computed in float32, "
            "say so with --dtype float32"
        )
    if not compare(g, fused, NEAR).ok:
        return ""
    written = p.grad_precision
    if prec is not None:
        return (
            "your gradient is within 0.1% of the reference, but further off than "
            f"{describe_precision(vector(prec))} allow: is one of them rounded the wrong way, or mistyped?"
        )
    if written is not None and tol.precision == EXACT:
        return (
            "your gradient is within 0.1% of the reference; without --exact your numbers would be compared to "
            f"{describe_precision(vector(written))}"
        )
    return (
        "your gradient is within 0.1% of the reference: if your numbers were rounded or computed in "
        "float32, say so with --rtol or --dtype float32"
    )


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


def _jacobian_matches(p: Problem, jac: Array, expected: Array, tol: Tolerance, prec: Array | None) -> tuple[str, ...]:
    """The catalogued Jacobian mistakes the user's matrix matches; with a temperature, J(s) = ∂s/∂(z/τ) itself
    (τ times the ∂s/∂z checked) is the forgotten 1/τ, ``missing_temperature``."""
    found = jacobian_matches(p.z, jac, p.temperature, tol, prec)
    if not found and p.temperature != 1.0 and compare(jac, expected * p.temperature, tol, precision=prec).ok:
        found = ["missing_temperature"]
    return tuple(found)


def diagnose_jacobian(p: Problem, tol: Tolerance) -> JacobianVerdict:
    """Compare the user's softmax Jacobian with J(s), check its invariants and name the mistake."""
    assert p.jacobian is not None
    jac = p.jacobian
    prec = used_precision(tol, p.jacobian_precision)
    expected = expected_jacobian(p.z, p.temperature)
    cmp = compare(jac, expected, tol, precision=prec)
    return JacobianVerdict(
        matrix=tuple(vector(r) for r in jac),
        expected=tuple(vector(r) for r in expected),
        comparison=cmp,
        matches=() if cmp.ok else _jacobian_matches(p, jac, expected, tol, prec),
        wrong_entries=tuple(wrong_entries(jac, expected, tol, prec)),
        invariants=tuple(jacobian_invariants(jac, tol, p.temperature, prec)),
        precision=tuple(vector(r) for r in (prec if prec is not None else np.zeros_like(jac))),
    )
