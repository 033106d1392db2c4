"""``verify``: run the user's own function on a battery of inputs chosen to expose the catalogue, compare
it with the reference, and name the mistake it makes.

Four kinds of function:

- ``grad``: ``f(z, t) -> dE/dz`` for one example (K,) or a batch (N, K) (``reduction`` "mean" or "sum");
- ``jacobian``: ``f(x) -> ds/dz``, (K, K) or (N, K, K) for a batch, given s = softmax(z) or the logits z;
- ``softmax``: ``f(z) -> s``;
- ``backward``: the softmax layer's backward on its own, ``f(s, g) -> J(s)ᵀ·g`` for an upstream gradient
  g = dE/ds (tested with dense upstream vectors), or ``f(s, t) -> dE/dz``.

The user's code runs inside :func:`verify`; whatever it raises or returns becomes a failed case, never an
exception out of here (Ctrl-C excepted). Nothing here prints or exits.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softgrad import core
from softgrad.catalogue.diagnose import (
    distinguishing_input,
    jacobian_invariants,
    jacobian_matches,
    match_ratio,
    rank_matches,
)
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.batch.api import BatchOptions, batch_candidates
from softgrad.commands.verify.cases import Case, battery, random_cases
from softgrad.commands.verify.report import CaseResult, Diagnosis, OtherInput, VerifyReport
from softgrad.commands.verify.user_code import (
    CHANGED,
    UserFunction,
    article,
    as_output,
    returned,
    shape_of,
    shape_text,
    source_file,
)
from softgrad.core import Array
from softgrad.core.tolerance import DTYPES, Tolerance, compare, excess, tolerance_for
from softgrad.errors import InputError

KINDS = ("grad", "jacobian", "softmax", "backward")
LAYOUTS = ("auto", "row", "batch", "both")
REDUCTIONS = ("mean", "sum")
JACOBIAN_INPUTS = ("auto", "s", "z")
BACKWARD_INPUTS = ("auto", "upstream", "targets")
DEFAULT_TRIALS = 10
MAX_TRIALS = 10_000
#: "Close but not exact" (rounded or low-precision numbers).
NEAR = Tolerance(rtol=1e-3, atol=1e-6)
#: The motivating question's input: a caller passing z here gets the famous (6.125, 2.625).
WORKED_Z = (1.75, 1.75)
WORKED_T = (0.0, 1.0)

# Parameter names that say what a function takes (compared lower-case).
LOGIT_NAMES = frozenset({"z", "zs", "logits", "logit", "x", "xs", "u", "scores", "score", "inputs", "pre"})
PROB_NAMES = frozenset(
    {"s", "p", "ps", "probs", "prob", "probabilities", "softmax", "sm", "y_hat", "yhat", "y_pred", "a", "out"}
    | {"output", "outputs", "pred", "preds", "predictions", "activation", "activations", "q"}
)
TARGET_NAMES = frozenset(
    {"t", "ts", "target", "targets", "y", "ys", "y_true", "label", "labels", "onehot", "one_hot", "truth", "gt"}
)
UPSTREAM_NAMES = frozenset(
    {"upstream", "g", "grad", "grads", "gradient", "grad_output", "grad_out", "dout", "d_out", "dy", "ds"}
    | {"delta", "dl_ds", "de_ds", "dloss", "dvalues", "da", "top_grad", "output_grad", "dl", "de", "dp"}
)


# ------------------------------------------------------------------------------ what the kind means


@dataclass(frozen=True)
class Setup:
    """What the function is taken to compute."""

    kind: str
    #: jacobian: "s" or "z"; backward: "upstream" or "targets"; else None
    input: str | None
    reduction: str


def _dE_ds(t: Array, s: Array) -> Array:
    return core.dE_ds(t, s)


def arguments(setup: Setup, z: Array, t: Array) -> tuple[list[Array], list[str], str]:
    """(arguments, their names, the call as text) for (N, K) or (K,) logits and targets, in float64."""
    s = core.softmax(z)
    kind, inp = setup.kind, setup.input
    if kind == "grad":
        return [z, t], ["z", "t"], "f(z, t)"
    if kind == "softmax":
        return [z], ["z"], "f(z)"
    if kind == "jacobian":
        return ([s], ["s"], "f(s)") if inp == "s" else ([z], ["z"], "f(z)")
    if inp == "targets":
        return [s, t], ["s", "t"], "f(s, t)"
    return [s, _dE_ds(t, s)], ["s", "g"], "f(s, g)"


def expected_output(setup: Setup, case: Case) -> Array:
    """The right output, stacked per row: (N, K), or (N, K, K) for a Jacobian."""
    z, t = case.z, case.t
    if setup.kind == "softmax":
        return core.softmax(z)
    if setup.kind == "jacobian":
        return core.softmax_jacobian(core.softmax(z))
    out = core.fused_gradient(z, t)  # = J(s)ᵀ·(−t/s): the backward with upstream g = −t/s too
    if case.batch and _reduces(setup):
        out = out / z.shape[0]
    return out


def _has_reduction(setup: Setup) -> bool:
    """Does ``reduction`` apply: a gradient of the loss (not of an upstream vector) over a batch?"""
    return setup.kind == "grad" or (setup.kind == "backward" and setup.input == "targets")


def _reduces(setup: Setup) -> bool:
    return setup.reduction == "mean" and _has_reduction(setup)


# ------------------------------------------------------------------------------------ running a case


def fmt_num(x: float) -> str:
    """The shortest text that reads back as the same float (``2`` rather than ``2.0``)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def check_command(z: Array, t: Array, dtype: str, *, grad: Array | None = None, jacobian: Array | None = None) -> str:
    """A ready-to-run ``softgrad check`` command at one example."""
    parts = ["softgrad check", "--z", *map(fmt_num, z), "--t", *map(fmt_num, t)]
    if grad is not None:
        parts += ["--grad", *map(fmt_num, grad)]
    if jacobian is not None:
        parts += ["--jacobian", *map(fmt_num, np.ravel(jacobian))]
    if dtype != "float64":
        parts += ["--dtype", dtype]
    return " ".join(parts)


def _nest(a: NDArray[Any]) -> tuple[Any, ...]:
    def conv(x: Any) -> Any:
        return tuple(conv(v) for v in x) if isinstance(x, list) else float(x)

    out: tuple[Any, ...] = conv(a.tolist())
    return out


def _base(setup: Setup, case: Case, as_batch: bool) -> dict[str, Any]:
    z = case.z if as_batch else case.z[0]
    upstream = None
    if setup.kind == "backward" and setup.input == "upstream":  # as passed, in the case's precision
        upstream = _nest(_dE_ds(case.t, core.softmax(case.z)).astype(case.dtype).astype(np.float64))
    return {
        "name": case.name,
        "description": case.description,
        "dtype": case.dtype,
        "z": _nest(case.z),
        "t": _nest(case.t),
        "upstream": upstream,
        "call": arguments(setup, case.z, case.t)[2],
        "shape": tuple(z.shape),
    }


def run_case(
    user: UserFunction, setup: Setup, case: Case, as_batch: bool, tol: Tolerance
) -> tuple[CaseResult, dict[str, float]]:
    """Call the function on one case and judge what it returns: (the result, the catalogue ids that
    reproduce its output on every row, with how closely)."""
    base = _base(setup, case, as_batch)
    z, t = (case.z, case.t) if as_batch else (case.z[0], case.t[0])
    args, names, _ = arguments(setup, z, t)
    dt = np.dtype(case.dtype)
    called = user([a.astype(dt) for a in args], names)
    expected = expected_output(setup, case)
    shape = expected.shape if as_batch else expected.shape[1:]
    command = None if as_batch and case.z.shape[0] > 1 else check_command(case.z[0], case.t[0], case.dtype)
    if called.error is not None:
        error = f"raised {called.error}"
        return CaseResult(**base, status="error", error=error, command=command, notes=called.notes), {}
    arr, problem = as_output(called.raw, shape)
    if arr is None:
        return CaseResult(**base, status="error", error=problem, command=command, notes=called.notes), {}
    out = arr if as_batch else arr[None]
    cmp = compare(out, expected, tol)
    ratio = excess(out, expected, tol).reshape(out.shape[0], -1).max(axis=1)
    worst = tuple(int(i) for i in np.unravel_index(cmp.worst_index, out.shape))
    fields = {**base, "output": _nest(out), "expected": _nest(expected), "comparison": cmp, "worst": worst}
    found = reproducing(setup, case, out, tol)
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


def _gradients(setup: Setup, case: Case, out: Array) -> Array:
    """The user's output as per-row dE/dz, comparable with the catalogue's (a reduced batch scaled back
    by N; a softmax p turned into the gradient p·Σt − t built on it)."""
    if setup.kind == "softmax":
        g: Array = out * np.sum(case.t, axis=-1, keepdims=True) - case.t
        return g
    scale = case.z.shape[0] if case.batch and _reduces(setup) else 1
    g = out * scale
    return g


def reproducing(setup: Setup, case: Case, out: Array, tol: Tolerance) -> dict[str, float]:
    """Catalogue ids whose numbers equal the function's output on every row of the case, closest first,
    with the worst tolerance ratio (at most 1)."""
    z, t = case.z, case.t
    n = z.shape[0]
    found: list[tuple[float, int, str]] = []
    order = list(MISTAKES)
    if setup.kind == "jacobian":
        for m in MISTAKES.rows():
            wrong = m.jacobian(z)
            if wrong is not None:
                r = float(np.max(match_ratio(out.reshape(n, -1), wrong.reshape(n, -1), tol)))
                found.append((r, order.index(m.id), m.id))
    else:
        user = _gradients(setup, case, out)
        for m in MISTAKES.rows():
            r = float(np.max(match_ratio(user, m.gradient(z, t), tol)))
            found.append((r, order.index(m.id), m.id))
        if case.batch and setup.kind == "grad":  # the mistakes across the rows of a batch
            opts = BatchOptions(reduction=setup.reduction)
            for mid, wrong in batch_candidates(z, t, opts).items():
                r = float(np.max(match_ratio(out, wrong, tol)))
                found.append((r, order.index(mid), mid))
        if case.batch and setup.kind == "softmax":
            r = float(np.max(match_ratio(out, core.softmax(z.T).T, tol)))
            found.append((r, order.index("softmax_over_batch_axis"), "softmax_over_batch_axis"))
        if setup.kind == "softmax":  # the softmax applied twice shows in the probabilities themselves
            r = float(np.max(match_ratio(out, core.softmax(core.softmax(z)), tol)))
            found = [f for f in found if f[2] != "double_softmax"] + [(r, -1, "double_softmax")]
    return {mid: r for r, _, mid in sorted(found) if r <= 1.0}


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
    if not found and not hints and not near_ref and setup.kind in ("grad", "backward"):
        user = _gradients(setup, case, out)[worst_row]
        ranked = rank_matches(z, t, user, 1.0, tol)[1]
        off = float(np.max(np.abs(user - core.fused_gradient(z[None], t[None])[0])))
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
        command = check_command(z, t, case.dtype, jacobian=out[worst_row])
    else:
        command = check_command(z, t, case.dtype, grad=_gradients(setup, case, out)[worst_row])
    if case.batch:
        scaled = f", its gradient times N = {case.z.shape[0]} (--reduction mean)" if _reduces(setup) else ""
        notes.append(f"the check command is for row {worst_row}{scaled}")
    if setup.kind == "softmax":
        notes.append("the check command passes the gradient p·Σt − t built on your softmax p as --grad")
    if setup.input == "upstream":
        notes.append("the check command gives the upstream g as targets t = −g⊙s, for which dE/dz = J(s)ᵀ·g")
    return notes, hints, command


def _close(a: Array, b: Array, tol: Tolerance) -> bool:
    return bool(np.all(match_ratio(a, b, tol) <= 1.0))


def _batch_hints(setup: Setup, case: Case, out: Array, tol: Tolerance) -> list[str]:
    """Layout mistakes across the rows of a batch (none of them is a single-row catalogue entry)."""
    z, t = case.z, case.t
    n = z.shape[0]
    hints: list[str] = []
    if _has_reduction(setup):
        per_row = core.fused_gradient(z, t)
        if setup.reduction == "mean" and _close(out, per_row, tol):
            hints.append(
                f"each row is N = {n} times the mean-reduced gradient: it is the gradient of the summed loss "
                "(--reduction sum); for a mean loss divide by N"
            )
        if setup.reduction == "sum" and _close(out, per_row / n, tol):
            hints.append(
                f"each row is the per-row gradient divided by N = {n}: it is the gradient of the mean loss "
                "(--reduction mean)"
            )
        if _close(out, per_row / n**2, tol):
            hints.append(f"each row is the per-row gradient divided by N = {n} twice (by N² = {n * n})")
        if setup.kind == "grad":
            s0 = core.softmax(z.T).T  # softmax over axis 0, the batch
            wrong = s0 * np.sum(t, axis=-1, keepdims=True) - t
            if _reduces(setup):
                wrong = wrong / n
            if _close(out, wrong, tol):
                hints.append("it takes the softmax over axis 0 (the batch) instead of over the classes (axis -1)")
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


# ------------------------------------------------------------------------------------- a whole run


@dataclass(frozen=True)
class Run:
    """The battery under one reading of the function."""

    setup: Setup
    layout: str
    layout_reason: str
    results: tuple[CaseResult, ...]
    #: per case, the catalogue ids that reproduce the function's output there
    found: tuple[dict[str, float], ...]

    @property
    def passes(self) -> int:
        return sum(r.status == "pass" for r in self.results)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def _probe(user: UserFunction, setup: Setup, case: Case, as_batch: bool) -> tuple[bool, str]:
    """Does the function return the right shape for this case passed as a row or a batch? (ok, what happened)"""
    z, t = (case.z, case.t) if as_batch else (case.z[0], case.t[0])
    args, names, _ = arguments(setup, z, t)
    called = user(args, names)
    if called.error is not None:
        return False, f"raised {called.error}"
    shape = expected_output(setup, case).shape
    arr, problem = as_output(called.raw, shape if as_batch else shape[1:])
    return arr is not None, problem or ""


def _layout(user: UserFunction, setup: Setup, layout: str, cases: list[Case]) -> tuple[str, str, bool]:
    """(layout, why, whether to skip the batch case)."""
    if layout != "auto":
        return layout, f"given: {LAYOUT_TEXT[layout]}", layout == "row"
    row_case = cases[0]
    batch_case = next(c for c in cases if c.batch)
    n, k = batch_case.z.shape
    row_ok, row_what = _probe(user, setup, row_case, False)
    batch_ok, batch_what = _probe(user, setup, batch_case, True)
    if row_ok and batch_ok:
        return "both", f"detected: {LAYOUT_TEXT['both']}", False
    if batch_ok:
        return "batch", f"detected: {LAYOUT_TEXT['batch']}; given a ({k},) row it {row_what}", False
    if row_ok:
        return "row", f"detected: {LAYOUT_TEXT['row']}; given a ({n}, {k}) batch it {batch_what}", True
    reason = f"not detected: it fails given a ({k},) row and a ({n}, {k}) batch; examples are passed as (K,)"
    return "row", reason, False


LAYOUT_TEXT = {
    "row": "it takes one example (K,) at a time, so the batch case is skipped",
    "batch": "it takes batches (N, K) only, so single examples are passed as (1, K)",
    "both": "it takes one example (K,) and a batch (N, K)",
}


def run_battery(
    user: UserFunction, setup: Setup, layout: str, trials: int, seed: int, tols: dict[str, Tolerance]
) -> Run:
    """Every case of the battery and the random trials under one reading of the function."""
    cases = battery(setup.kind, setup.input) + random_cases(setup.kind, setup.input, trials, seed)
    chosen, reason, skip_batch = _layout(user, setup, layout, cases)
    results: list[CaseResult] = []
    found: list[dict[str, float]] = []
    for case in cases:
        if case.batch and skip_batch:
            results.append(CaseResult(**_base(setup, case, True), status="skipped", notes=(reason,)))
            found.append({})
            continue
        as_batch = case.batch or chosen == "batch"
        result, ids = run_case(user, setup, case, as_batch, tols[case.dtype])
        results.append(result)
        found.append(ids)
    return Run(setup, chosen, reason, tuple(results), tuple(found))


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


# --------------------------------------------------------------------------- deciding what f computes


def _positional(fn: Callable[..., Any]) -> tuple[list[inspect.Parameter], bool] | None:
    """(positional parameters, whether it takes *args), or None without a signature."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    pos = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return pos, any(p.kind == p.VAR_POSITIONAL for p in params)


@dataclass(frozen=True)
class Detected:
    """The kind (None: ask the function) with the reason, and a backward input read from a name."""

    kind: str | None
    reason: str
    backward_input: str | None = None


def detect_kind(fn: Callable[..., Any]) -> Detected:
    """What the signature says: two parameters (z, t) are ``grad``, (s, t) or (s, upstream) ``backward``;
    one parameter is a softmax or a Jacobian (told apart by calling it: see :func:`probe_one_parameter`)."""
    sig = _positional(fn)
    if sig is None:
        return Detected(None, "it has no inspectable signature")
    pos, varargs = sig
    required = [p for p in pos if p.default is p.empty]
    params = required or pos
    names = [p.name for p in params]
    shown = f"({', '.join(names)})"
    if len(params) == 1:
        return Detected(None, f"one parameter {shown}")
    if len(params) != 2:
        many = f"{len(params)} parameters {shown}" if params else "no fixed parameters"
        many += " and *args" if varargs else ""
        return Detected(None, f"{many}; verify calls f(z, t), f(s, g), f(s, t), f(z) or f(s)")
    first, second = (n.lower() for n in names)
    if first in PROB_NAMES:
        b = "upstream" if second in UPSTREAM_NAMES else "targets" if second in TARGET_NAMES else None
        said = {"upstream": ", an upstream gradient", "targets": ", targets", None: ""}[b]
        return Detected("backward", f"two parameters {shown}: probabilities{said}", b)
    if first in LOGIT_NAMES and second not in UPSTREAM_NAMES:
        return Detected("grad", f"two parameters {shown}: logits and targets")
    return Detected(None, f"two parameters {shown}, names that do not say whether it takes logits or probabilities")


def probe_one_parameter(user: UserFunction) -> tuple[str | None, str]:
    """Tell a softmax from a Jacobian by the shape it returns for a (K,) row, else an (N, K) batch."""
    cases = battery("softmax")
    row, batch = cases[0].z[0], next(c for c in cases if c.batch).z
    seen = []
    for arg in (row, batch):
        called = user([arg], ["x"])
        if called.error is not None:
            seen.append(f"given {shape_text(arg.shape)} it raised {called.error}")
            continue
        shape = shape_of(called.raw)
        if shape == arg.shape:
            return "softmax", f"given {shape_text(arg.shape)} it returns {shape_text(arg.shape)}: probabilities"
        jac = (*arg.shape, arg.shape[-1])
        if shape == jac:
            what = "a Jacobian" if arg.ndim == 1 else "a Jacobian per row"
            return "jacobian", f"given {shape_text(arg.shape)} it returns {shape_text(jac)}: {what}"
        seen.append(f"given {shape_text(arg.shape)} it returned {returned(called.raw)}")
    return None, "; ".join(seen)


# ------------------------------------------------------------------------ the other input (z for s)


def other_input(user: UserFunction, setup: Setup, layout: str, passes_battery: bool | None) -> OtherInput:
    """What the function gives a caller that passes z where it expects s (or s where it expects z): at the
    worked example z = (1.75, 1.75), t = (0, 1) for z, at the first battery case for s."""
    passed = "s" if setup.kind == "jacobian" and setup.input == "z" else "z"
    if passed == "z":
        z, t = np.array(WORKED_Z), np.array(WORKED_T)
    else:
        first = battery(setup.kind, setup.input)[0]
        z, t = first.z[0], first.t[0]
    s = core.softmax(z[None])[0]
    args = [z if passed == "z" else s]
    names = [passed]
    if setup.kind == "backward":
        args.append(t if setup.input == "targets" else _dE_ds(t, s))
        names.append(arguments(setup, z, t)[1][1])
    batch = layout == "batch"
    called = user([a[None] if batch else a for a in args], names)
    k = len(z)
    shape = (k, k) if setup.kind == "jacobian" else (k,)
    arr, error = (
        (None, f"raised {called.error}") if called.error else as_output(called.raw, (1, *shape) if batch else shape)
    )
    out = None if arr is None else (arr[0] if batch else arr)
    grad: Array | None = None
    matches: tuple[str, ...] = ()
    if out is not None:
        tol = tolerance_for("float64")
        if setup.kind == "jacobian":
            grad = _dE_ds(t, s) @ out
            matches = tuple(jacobian_matches(z, out, 1.0, tol))
        else:
            grad = out
            matches = tuple(m.id for m in rank_matches(z, t, out, 1.0, tol)[0])
    return OtherInput(
        passed=passed,
        z=tuple(map(float, z)),
        t=tuple(map(float, t)),
        output=None if out is None else _nest(out),
        error=error,
        matches=matches,
        gradient=None if grad is None else tuple(map(float, grad)),
        reference=tuple(map(float, core.fused_gradient(z[None], t[None])[0])),
        command=None if grad is None else check_command(z, t, "float64", grad=grad),
        passes_battery=passes_battery,
    )


# ---------------------------------------------------------------------------------------- the API


def _choice(value: object, allowed: Sequence[str], name: str) -> str:
    if value not in allowed:
        raise InputError(name, f"must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _describe_fn(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{module}:{name}" if module and not module.startswith("_softgrad_user_") else str(name)


def _kind(user: UserFunction, kind: str | None, target: str) -> tuple[str, str, str | None]:
    found = detect_kind(user.fn)
    if kind is not None:  # the parameter names may still say what a backward's second argument is
        return kind, "given", found.backward_input if kind == found.kind else None
    if found.kind is not None:
        return found.kind, f"detected: {found.reason}", found.backward_input
    if found.reason.startswith("one parameter"):
        probed, what = probe_one_parameter(user)
        if probed is not None:
            return probed, f"detected: {found.reason}; {what}", None
        raise InputError(
            target,
            f"cannot tell whether it computes a softmax or its Jacobian ({found.reason}; {what}); "
            "say which with --kind softmax or --kind jacobian",
        )
    kinds = "|".join(KINDS)
    raise InputError(
        target, f"cannot tell what it computes from its signature ({found.reason}); say which with --kind {kinds}"
    )


def _pick(runs: dict[str, Run], preferred: str) -> Run:
    """The reading under which the function passes everything, else the one with most passing cases."""
    passing = [r for r in runs.values() if r.ok]
    if passing:
        return passing[0]
    return max(runs.values(), key=lambda r: (r.passes, r.setup.input == preferred))


INPUT_TEXT = {
    "s": "s = softmax(z)",
    "z": "the logits z",
    "upstream": "an upstream gradient g = dE/ds, as f(s, g)",
    "targets": "the targets t, as f(s, t)",
}


def _check_options(kind: str | None, options: dict[str, Any]) -> None:
    if kind is not None:
        _choice(kind, KINDS, "kind")
    for name, allowed in (
        ("layout", LAYOUTS),
        ("reduction", REDUCTIONS),
        ("jacobian_input", JACOBIAN_INPUTS),
        ("backward_input", BACKWARD_INPUTS),
    ):
        _choice(options[name], allowed, name)
    trials, seed = options["trials"], options["seed"]
    if isinstance(trials, bool) or not isinstance(trials, int) or not 0 <= trials <= MAX_TRIALS:
        raise InputError("trials", f"must be a whole number from 0 to {MAX_TRIALS}; got {trials!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("seed", f"must be a whole number >= 0; got {seed!r}")
    for name in ("rtol", "atol"):
        value = options[name]
        if value is not None and not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
            raise InputError(name, f"must be a finite number >= 0; got {value!r}")


def _readings(kind: str, jacobian_input: str, backward_input: str, named: str | None) -> tuple[list[str], str]:
    """(the inputs to try the function with, the one to judge it by when it passes with none)."""
    if kind == "jacobian":
        return (["s", "z"] if jacobian_input == "auto" else [jacobian_input]), "s"
    if kind == "backward":
        given = backward_input if backward_input != "auto" else named
        return ([given] if given else ["upstream", "targets"]), "upstream"
    return [""], ""


def _input_reason(chosen: Run, readings: list[str], given: bool) -> str:
    inp = chosen.setup.input
    if inp is None:
        return ""
    if len(readings) == 1:
        return f"{'given' if given else 'detected from the parameter name'}: {INPUT_TEXT[inp]}"
    if chosen.ok:
        return f"detected: given {INPUT_TEXT[inp]} it passes every case"
    ran = sum(r.status != "skipped" for r in chosen.results)
    either = " and given ".join(INPUT_TEXT[i] for i in readings)
    return (
        f"not detected: it fails both given {either}; judged as given {INPUT_TEXT[inp]} "
        f"({chosen.passes} of {ran} cases pass)"
    )


def verify(
    fn: Callable[..., Any] | str,
    kind: str | None = None,
    *,
    layout: str = "auto",
    reduction: str = "mean",
    jacobian_input: str = "auto",
    backward_input: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> VerifyReport:
    """Check the user's function against the reference on the battery and ``trials`` random cases.

    ``fn`` is a callable or a target ``"PATH.py:FUNC"`` / ``"package.module:FUNC"`` (imported: that runs
    the module's code). ``kind``: ``"grad"``, ``"jacobian"``, ``"softmax"`` or ``"backward"``; None
    detects it from the signature (and, for one parameter, from the shape it returns). ``layout``:
    ``"row"``, ``"batch"``, ``"both"`` or ``"auto"``. ``reduction``: ``"mean"`` or ``"sum"`` over the rows
    of a batch gradient. ``jacobian_input``: ``"s"``, ``"z"`` or ``"auto"``; ``backward_input``:
    ``"upstream"``, ``"targets"`` or ``"auto"``. ``rtol``/``atol`` override the per-dtype tolerances.

    Whatever the function raises or returns becomes a failed case in the report. Raises
    :class:`softgrad.InputError` for a bad target, bad options, or a kind that cannot be detected.
    """
    options: dict[str, Any] = {"layout": layout, "reduction": reduction, "jacobian_input": jacobian_input}
    options |= {"backward_input": backward_input, "trials": trials, "seed": seed, "rtol": rtol, "atol": atol}
    _check_options(kind, options)
    if isinstance(fn, str):
        from softgrad.commands.verify.loader import load_target

        loaded = load_target(fn)
        func, target, user_file = loaded.fn, loaded.spec, loaded.path
    elif callable(fn):
        func, target, user_file = fn, _describe_fn(fn), source_file(fn)
    else:
        raise InputError("fn", f"expected a function, got {article(type(fn).__name__)}")
    user = UserFunction(func, user_file, {k: v for k, v in np.geterr().items()})
    with np.errstate(all="ignore"):  # softgrad's own arithmetic; the user's calls get their own back
        return _verify(user, target, kind, options)


def _verify(user: UserFunction, target: str, kind: str | None, options: dict[str, Any]) -> VerifyReport:
    tols = {d: tolerance_for(d, options["rtol"], options["atol"]) for d in DTYPES}
    the_kind, kind_reason, named = _kind(user, kind, target)
    jacobian_input, backward_input = options["jacobian_input"], options["backward_input"]
    readings, preferred = _readings(the_kind, jacobian_input, backward_input, named)

    def run(inp: str) -> Run:
        setup = Setup(the_kind, inp or None, options["reduction"])
        return run_battery(user, setup, options["layout"], options["trials"], options["seed"], tols)

    runs = {inp: run(inp) for inp in readings}
    chosen = _pick(runs, preferred)
    given = (jacobian_input if the_kind == "jacobian" else backward_input) != "auto"
    other = None
    if the_kind in ("jacobian", "backward"):
        passes = None
        if the_kind == "jacobian":  # would it pass given the other input?
            flip = "z" if chosen.setup.input == "s" else "s"
            passes = (runs.get(flip) or run(flip)).ok
        other = other_input(user, chosen.setup, chosen.layout, passes)

    diagnosis, ambiguous = aggregate(chosen.results, chosen.found)
    notes = list(dict.fromkeys(n for r in chosen.results for n in r.notes if n.startswith(CHANGED)))
    if chosen.ok and any(r.status == "skipped" for r in chosen.results):
        notes.append("the batch case was skipped: " + chosen.layout_reason)
    return VerifyReport(
        target=target,
        kind=the_kind,
        kind_reason=kind_reason,
        layout=chosen.layout,
        layout_reason=chosen.layout_reason,
        input=chosen.setup.input,
        input_reason=_input_reason(chosen, readings, given),
        reduction=options["reduction"] if _has_reduction(chosen.setup) else None,
        tolerances=tols,
        trials=options["trials"],
        seed=options["seed"],
        cases=chosen.results,
        diagnosis=diagnosis,
        ambiguous=ambiguous,
        distinguishing_input=distinguishing_input(list(ambiguous), 4) if ambiguous else None,
        other_input=other,
        notes=tuple(notes),
    )
