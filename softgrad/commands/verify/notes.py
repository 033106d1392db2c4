"""What a failing case looks like, in words: the closest catalogued mistake when none matches, the rows
that are wrong, what a batch gradient is instead (a reduction or an axis mixed up), and the ``softgrad check``
command that reproduces the worst row."""

from __future__ import annotations

import numpy as np

from softgrad.catalogue.diagnose import jacobian_invariants, match_ratio, rank_matches
from softgrad.catalogue.exposing import check_command
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.verify.cases import Case
from softgrad.commands.verify.kinds import Setup, as_gradients, has_reduction, reduces
from softgrad.core import Array, fused_gradient
from softgrad.core.tolerance import Tolerance, compare

#: "Close but not exact" (rounded or low-precision numbers).
NEAR = Tolerance(rtol=1e-3, atol=1e-6)


def failure_notes(
    setup: Setup,
    case: Case,
    out: Array,
    expected: Array,
    found: dict[str, float],
    failing: tuple[int, ...],
    worst_row: int,
    tol: Tolerance,
) -> tuple[list[str], list[str], str]:
    """(notes on a failing case, what it looks like instead (a batch layout mistake), a ``softgrad check``
    command at its worst row)."""
    notes: list[str] = []
    z, t = case.z[worst_row], case.t[worst_row]
    hints = _batch_hints(setup, case, out, tol) if case.batch else []
    near_ref = compare(out, expected, NEAR).ok
    if not found and not hints and not near_ref and setup.kind in ("grad", "backward", "elementwise", "loss-backward"):
        user = as_gradients(setup, case, out)[worst_row]
        ranked = rank_matches(z, t, user, 1.0, tol)[1]
        off = float(np.max(np.abs(user - fused_gradient(z[None], t[None])[0])))
        if ranked and ranked[0].max_abs_err < off:
            near = ranked[0]
            notes.append(
                f"no catalogued mistake matches; the closest is {near.id} (max abs err {near.max_abs_err:.3g}, "
                f"against {off:.3g} from the reference)"
            )
    if case.batch and len(failing) < case.z.shape[0]:
        rows = ", ".join(map(str, failing))
        several = len(failing) > 1
        notes.append(f"row{'s' if several else ''} {rows} of the {case.z.shape[0]} {'are' if several else 'is'} wrong")
    if np.all(np.isfinite(expected)) and not np.all(np.isfinite(out)):
        hint = ": the softmax overflowed; subtract the max logit before exp" if "no_max_shift" in found else ""
        notes.append(f"it returns NaN or inf where the reference is finite{hint}")
    if not found and near_ref:
        notes.append(
            "it is within 0.1% of the reference: if it computes in float32 or rounds, loosen the tolerance "
            "(--rtol 1e-4)"
        )
    if setup.kind == "softmax":
        notes += _softmax_hints(out[worst_row], tol)
    if setup.kind == "jacobian" and np.all(np.isfinite(out[worst_row])):
        notes += [f"{inv.name}: no ({inv.detail})" for inv in jacobian_invariants(out[worst_row], tol) if not inv.ok]
    if setup.kind == "jacobian":
        command = check_command(z, t, dtype=case.dtype, jacobian=out[worst_row])
    else:
        command = check_command(z, t, dtype=case.dtype, grad=as_gradients(setup, case, out)[worst_row])
    if case.batch:
        scaled = f", its gradient times N = {case.z.shape[0]} (--reduction mean)" if reduces(setup) else ""
        notes.append(f"the check command is for row {worst_row}{scaled}")
    if setup.kind == "softmax":
        notes.append("the check command passes the gradient p·Σt − t built on your softmax p as --grad")
    if setup.kind == "loss-backward":
        notes.append("the check command passes J(s)ᵀ·(your dE/ds), the dE/dz it leads to, as --grad")
    if setup.kind == "elementwise":
        notes.append("your function's values f are compared as the gradient they lead to, (−t/s) ⊙ f")
    if setup.input == "upstream":
        notes.append("the check command gives the upstream g as targets t = −g⊙s, for which dE/dz = J(s)ᵀ·g")
    return notes, hints, command


def _close(a: Array, b: Array, tol: Tolerance) -> bool:
    return bool(np.all(match_ratio(a, b, tol) <= 1.0))


def _batch_hints(setup: Setup, case: Case, out: Array, tol: Tolerance) -> list[str]:
    """What a failing batch is instead: a batch-level catalogue entry's advice, or a softmax over the wrong
    axis."""
    z, t = case.z, case.t
    n = z.shape[0]
    hints: list[str] = []
    if has_reduction(setup):
        for m in MISTAKES.batches():
            if m.advice is None or (m.step == "softmax" and setup.kind != "grad"):
                continue
            wrong = m.batch_gradient(z, t, 1.0, setup.reduction)
            if wrong is not None and _close(out, wrong, tol):
                hints.append(m.advice(n, setup.reduction))
    if setup.kind == "softmax":
        col = np.sum(out, axis=0)
        if np.all(np.abs(col - 1.0) <= tol.atol + tol.rtol) and n != z.shape[1]:
            hints.append(
                "its columns sum to 1, not its rows: the softmax is taken over axis 0 (the batch) instead of "
                "over the classes (axis -1)"
            )
    return hints


def _softmax_hints(p: Array, tol: Tolerance) -> list[str]:
    hints: list[str] = []
    if not np.all(np.isfinite(p)):
        return hints
    total = float(np.sum(p))
    if abs(total - 1.0) > tol.atol + tol.rtol:
        hints.append(f"its values sum to {total:.6g}, not 1")
    if np.any(p < 0) or np.any(p > 1):
        hints.append("it has values outside [0, 1]")
    return hints
