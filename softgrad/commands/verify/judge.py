"""Running the battery: each case called and judged against the reference, the catalogue ids that reproduce
what the function returned, the layout it takes, and what a caller passing the other input gets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from softgrad.catalogue.diagnose import jacobian_matches, match_ratio, rank_matches
from softgrad.catalogue.exposing import check_command
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.verify.calls import call, invoke
from softgrad.commands.verify.cases import Case, battery, random_cases, with_families
from softgrad.commands.verify.detect import Detection, call_case, failure_text, pick, read_result
from softgrad.commands.verify.kinds import (
    WORKED_T,
    WORKED_Z,
    Setup,
    arguments,
    as_gradients,
    expected_output,
    has_reduction,
)
from softgrad.commands.verify.notes import failure_notes
from softgrad.commands.verify.report import CaseResult, Diagnosis, OtherInput
from softgrad.commands.verify.user_code import UserFunction
from softgrad.core import Array, dE_ds, fused_gradient, softmax
from softgrad.core.numbers import nested
from softgrad.core.tolerance import Tolerance, compare, excess, tolerance_for


def _base(setup: Setup, case: Case, as_batch: bool) -> dict[str, Any]:
    z = case.z if as_batch else case.z[0]
    upstream = None
    if setup.kind == "backward" and setup.input == "upstream":  # as passed, in the case's precision
        upstream = nested(dE_ds(case.t, softmax(case.z)).astype(case.dtype).astype(np.float64))
    return {
        "name": case.name,
        "description": case.description,
        "dtype": case.dtype,
        "z": nested(case.z),
        "t": nested(case.t),
        "upstream": upstream,
        "call": arguments(setup, case.z, case.t, case.labels)[3],
        "shape": tuple(z.shape[::-1] if setup.columns and as_batch else z.shape),
    }


def run_case(
    user: UserFunction, setup: Setup, case: Case, as_batch: bool, tol: Tolerance
) -> tuple[CaseResult, dict[str, float]]:
    """Call the function on one case and judge what it returns: (the result, the catalogue ids that
    reproduce its output on every row, with how closely)."""
    base = _base(setup, case, as_batch)
    called = call_case(user, setup, case, as_batch)
    expected = expected_output(setup, case)
    command = None if as_batch and case.z.shape[0] > 1 else check_command(case.z[0], case.t[0], dtype=case.dtype)
    failed = failure_text(called, case.name)
    if failed is not None:
        result = CaseResult(
            **base, status="error", error=failed, command=command, notes=called.notes, failure=called.failure
        )
        return result, {}
    got = read_result(called, setup, case, as_batch)
    arr = got.arr
    if arr is None:
        problem = got.problem
        return CaseResult(**base, status="error", error=problem, command=command, notes=called.notes), {}
    out = arr if as_batch else arr[None]
    cmp = compare(out, expected, tol)
    ratio = excess(out, expected, tol).reshape(out.shape[0], -1).max(axis=1)
    worst = tuple(int(i) for i in np.unravel_index(cmp.worst_index, out.shape))
    fields = {**base, "output": nested(out), "expected": nested(expected), "comparison": cmp, "worst": worst}
    found = reproducing(setup, case, out, tol)
    scale = scale_note(setup, case, out, tol) if "scaled_gradient" in found else None
    if scale is not None:
        called = replace(called, notes=(scale, *called.notes))
    if cmp.ok:
        return CaseResult(**fields, status="pass", notes=called.notes), found
    failing = tuple(int(r) for r in np.flatnonzero(ratio > 1.0))
    notes, hints, command = failure_notes(setup, case, out, expected, found, failing, worst[0], tol)
    result = CaseResult(
        **fields,
        status="fail",
        failing_rows=failing,
        matches=tuple(found),
        hints=tuple(hints),
        command=command,
        notes=(*notes, *called.notes),
    )
    return result, found


def reproducing(setup: Setup, case: Case, out: Array, tol: Tolerance) -> dict[str, float]:
    """Catalogue ids whose numbers equal the function's output on every row of the case, closest first,
    with the worst tolerance ratio (at most 1).

    A Jacobian function is held against each mistake's wrong Jacobian, a softmax function against each
    mistake's wrong probabilities, and a gradient against each mistake's wrong gradient — for a batch, the
    batch-level ones too.
    """
    z, t = case.z, case.t
    n = z.shape[0]
    order = list(MISTAKES)
    found: list[tuple[float, int, str]] = []

    def add(mid: str, mine: Array, wrong: Array | None) -> None:
        if wrong is not None:
            r = float(np.max(match_ratio(mine.reshape(n, -1), wrong.reshape(n, -1), tol)))
            found.append((r, order.index(mid), mid))

    if setup.kind == "jacobian":
        for m in MISTAKES.rows():
            add(m.id, out, m.jacobian(z))
    elif setup.kind == "softmax":
        for m in MISTAKES.values():
            if m.scope == "row" or case.batch:
                add(m.id, out, m.probabilities(z))
    else:
        user = as_gradients(setup, case, out)
        for m in MISTAKES.rows():
            for _, wrong in m.variants(z, t):
                add(m.id, user, wrong)
        if case.batch and has_reduction(setup):  # the mistakes across the rows of a batch
            for m in MISTAKES.batches():
                if m.step != "softmax" or setup.kind == "grad":  # given s, the softmax cannot go wrong
                    add(m.id, out, m.batch_gradient(z, t, 1.0, setup.reduction))
    best: dict[str, float] = {}
    for r, _, mid in sorted(found):  # closest first; a scaled family keeps its closest factor
        if r <= 1.0:
            best.setdefault(mid, r)
    specific = {mid: r for mid, r in best.items() if not MISTAKES[mid].fallback}
    return specific or best


#: The start of the note that names a scaled gradient's factor.
SCALED = "your gradient is the reference"


def scale_note(setup: Setup, case: Case, out: Array, tol: Tolerance) -> str | None:
    """The factor a scaled gradient is off by, named: "your gradient is the reference ÷ K = 4: did you divide
    by len(y) …?"."""
    user = as_gradients(setup, case, out)
    n = case.z.shape[0]
    mistake = MISTAKES["scaled_gradient"]
    for sc, wrong in mistake.variants(case.z, case.t):
        if sc is not None and float(np.max(match_ratio(user.reshape(n, -1), wrong.reshape(n, -1), tol))) <= 1.0:
            return f"{SCALED} {sc.label}: {sc.advice}"
    return None


@dataclass(frozen=True)
class Run:
    """The battery under one reading of the function."""

    setup: Setup
    layout: str
    layout_reason: str
    results: tuple[CaseResult, ...]
    #: per case, the catalogue ids that reproduce the function's output there
    found: tuple[dict[str, float], ...]
    detection: Detection

    @property
    def passes(self) -> int:
        return sum(r.status == "pass" for r in self.results)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def run_battery(user: UserFunction, found: Detection, trials: int, seed: int, tols: dict[str, Tolerance]) -> Run:
    """Every case of the battery and the random trials under one reading of the function, with the
    conventions detected for it."""
    setup = found.setup
    cases = battery(setup.kind, setup.input) + random_cases(setup.kind, setup.input, trials, seed)
    if setup.uses_targets:
        cases = with_families(cases, setup.families)
    skip_batch = found.skip_batch
    results: list[CaseResult] = []
    ids_found: list[dict[str, float]] = []
    for case in cases:
        if case.batch and skip_batch:
            results.append(CaseResult(**_base(setup, case, True), status="skipped", notes=(found.layout_reason,)))
            ids_found.append({})
            continue
        as_batch = case.batch or found.layout in ("batch", "columns")
        result, ids = run_case(user, setup, case, as_batch, tols[case.dtype])
        results.append(result)
        ids_found.append(ids)
    return Run(setup, found.layout, found.layout_reason, tuple(results), tuple(ids_found), found)


def aggregate(
    results: Sequence[CaseResult], found: Sequence[dict[str, float]]
) -> tuple[tuple[Diagnosis, ...], tuple[str, ...]]:
    """(catalogue ids that reproduce failing cases, best first; the ids tied for first place).

    Best is an id that reproduces the function's output on every case that ran, the passing ones too
    (the function behaves exactly like that mistake), then the one that reproduces most failing cases.
    """
    ran = [i for i, r in enumerate(results) if r.status in ("pass", "fail")]
    failing = [i for i in ran if results[i].status == "fail"]
    ids = {mid for i in failing for mid in found[i]}
    order = list(MISTAKES)
    diagnosis = [
        Diagnosis(
            mid,
            tuple(results[i].name for i in failing if mid in found[i]),
            all(mid in found[i] for i in ran),
        )
        for mid in ids
    ]
    diagnosis.sort(key=lambda d: (not d.consistent, -len(d.cases), order.index(d.id)))
    top = diagnosis[0] if diagnosis else None
    tied = tuple(d.id for d in diagnosis if top and (d.consistent, d.cases) == (top.consistent, top.cases))
    return tuple(diagnosis), tied if len(tied) > 1 else ()


def other_input(user: UserFunction, setup: Setup, layout: str, passes_battery: bool | None) -> OtherInput:
    """What the function gives a caller that passes z where it expects s (or s where it expects z): at the
    worked example z = (1.75, 1.75), t = (0, 1) for z, at the first battery case for s."""
    passed = "s" if setup.kind == "jacobian" and setup.input == "z" else "z"
    if passed == "z":
        z, t = np.array(WORKED_Z), np.array(WORKED_T)
    else:
        first = battery(setup.kind, setup.input)[0]
        z, t = first.z[0], first.t[0]
    s = softmax(z[None])[0]
    values = {"z": z, "s": z if passed == "z" else s, "t": t, "g": dE_ds(t, s)}
    if setup.kind == "jacobian":
        values["z"] = s
    batch = layout in ("batch", "columns")

    def shaped(v: Array) -> Array:
        return v[:, None] if setup.columns else v[None] if batch else v

    fwd = tuple(shaped(values[r]) for r in setup.forward_roles)
    args = tuple(shaped(values[r]) for r in setup.call_roles)
    names = tuple(setup.call_roles)
    called = invoke(user.session, call, setup.plan, fwd, args, names, user.errstate, user.file)
    k = len(z)
    shape = (k, k) if setup.kind == "jacobian" else (k,)
    failed = failure_text(called)
    error: str | None
    if failed is not None:
        arr, error = None, failed
    else:
        got = pick(called, (*shape, 1) if setup.columns else (1, *shape) if batch else shape, setup.returns)
        arr, error = got.arr, got.problem
        if arr is not None and setup.columns:
            arr = arr.T
    out = None if arr is None else (arr[0] if batch else arr)
    grad: Array | None = None
    matches: tuple[str, ...] = ()
    if out is not None:
        tol = tolerance_for("float64")
        if setup.kind == "jacobian":
            grad = dE_ds(t, s) @ out
            matches = tuple(jacobian_matches(z, out, 1.0, tol))
        else:
            grad = out
            matches = tuple(m.id for m in rank_matches(z, t, out, 1.0, tol)[0])
    return OtherInput(
        passed=passed,
        z=tuple(map(float, z)),
        t=tuple(map(float, t)),
        output=None if out is None else nested(out),
        error=error,
        matches=matches,
        gradient=None if grad is None else tuple(map(float, grad)),
        reference=tuple(map(float, fused_gradient(z[None], t[None])[0])),
        command=None if grad is None else check_command(z, t, grad=grad),
        passes_battery=passes_battery,
    )
