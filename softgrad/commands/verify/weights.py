"""``verify --kind weights``: a course-assignment ``softmax_loss(W, X, y, reg) -> (loss, dW)`` (or ``dW``
alone) run on the battery of :mod:`~softgrad.commands.verify.weights_cases`, its dW compared with the
reference ∂L/∂W of :mod:`softgrad.core.layer` and its loss with the mean cross-entropy plus the regulariser,
each wrong one diagnosed with the layer catalogue and the dE/dz catalogue carried through the layer.

Every interaction with the user's object is a step of :mod:`~softgrad.commands.verify.weights_calls` run
through the session; a call that does not come back (:class:`CallFailed`) is a failed case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from softgrad.catalogue.layer_diagnose import LayerCandidate, layer_candidates, match_quantity
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.verify.session import CallFailed, Opaque, Session
from softgrad.commands.verify.user_code import shape_text
from softgrad.commands.verify.weights_calls import Outcome, Signature, call, signature
from softgrad.commands.verify.weights_cases import WeightsCase, battery, one_hot, random_cases
from softgrad.commands.verify.weights_report import (
    Entry,
    QuantityResult,
    WeightsCaseResult,
    WeightsDiagnosis,
    WeightsReport,
)
from softgrad.core import Array
from softgrad.core.layer import Network, backward, forward, make_network
from softgrad.core.tolerance import Tolerance, excess

#: ``reg_convention`` choices: read from the loss the function returns, or given.
REG_CONVENTION_CHOICES = ("auto", "full", "half")
#: ``labels`` choices: how y is passed.
LABEL_CHOICES = ("auto", "indices", "one-hot")

W_NAMES = frozenset({"w", "weights", "weight", "theta", "w1"})
X_NAMES = frozenset({"x", "xs", "x_batch", "x_train", "inputs", "data", "features", "a"})
Y_NAMES = frozenset({"y", "ys", "y_batch", "y_train", "labels", "label", "targets", "target", "t"})
REG_NAMES = frozenset({"reg", "lam", "lambda_", "lmbda", "l2", "reg_strength", "weight_decay", "alpha", "lambd"})

CONVENTION_TEXT = {"full": "reg·‖W‖² (gradient 2·reg·W)", "half": "½·reg·‖W‖² (gradient reg·W)"}


def weights_signature(sig: Signature | None) -> str | None:
    """The reason a signature reads as ``f(W, X, y, reg)``, or None when it does not."""
    if sig is None:
        return None
    names = sig.required if len(sig.required) == 4 else sig.names[:4] if len(sig.required) < 4 else ()
    if len(names) != 4:
        return None
    w, x, y, reg = (n.lower() for n in names)
    if w in W_NAMES and x in X_NAMES and y in Y_NAMES and reg in REG_NAMES:
        return f"four parameters ({', '.join(names)}): weights, inputs, labels, regularisation strength"
    return None


def detect_weights(session: Session) -> str | None:
    """The detection reason when the user's object has an ``f(W, X, y, reg)`` signature, else None."""
    try:
        return weights_signature(session.apply(signature))
    except CallFailed:
        return None


# ---------------------------------------------------------------------------------------------------------
# calling


@dataclass(frozen=True)
class Returned:
    """What one call gave: the loss (None when not returned), dW as an array, or what is wrong with it."""

    loss: float | None
    dW: Array | None
    problem: str | None
    notes: tuple[str, ...] = ()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "biuf":
        return float(value.reshape(()))
    return None


def _array(value: Any) -> Array | None:
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.astype(np.float64)
    if isinstance(value, list | tuple):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return arr
    return None


def _describe(value: Any) -> str:
    if value is None:
        return "None (a missing return statement?)"
    if isinstance(value, Opaque):
        return f"a {value.type_name} ({value.reason or value.text})"
    if isinstance(value, np.ndarray):
        return f"an array of shape {shape_text(value.shape)}"
    return f"a {type(value).__name__}"


def parse(value: Any) -> Returned:
    """``(loss, dW)``, or ``dW`` alone, out of what the function returned."""
    if isinstance(value, tuple | list) and len(value) == 2:
        loss, dW = _number(value[0]), _array(value[1])
        if loss is None:
            return Returned(None, dW, f"returned a pair whose first item is {_describe(value[0])}, not the loss")
        if dW is None:
            return Returned(loss, None, f"returned a pair whose second item is {_describe(value[1])}, not dW")
        return Returned(loss, dW, None)
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.dtype.kind in "biuf":
        return Returned(None, value.astype(np.float64), None)
    return Returned(None, None, f"returned {_describe(value)}; expected (loss, dW) or dW")


def _call(session: Session, case: WeightsCase, labels: str, reg: float, errstate: dict[str, Any]) -> Outcome:
    y = case.y if labels == "indices" else one_hot(case.y, case.W.shape[1])
    try:
        return session.apply(call, (case.W, case.X, y, float(reg)), ("W", "X", "y", "reg"), errstate)
    except CallFailed as exc:
        return Outcome(None, exc.message, ())


def _call_text(case: WeightsCase, labels: str) -> str:
    n, d = case.X.shape
    c = case.W.shape[1]
    y = f"y ({n},)" if labels == "indices" else f"y ({n}, {c}) one-hot"
    return f"f(W ({d}, {c}), X ({n}, {d}), {y}, reg={case.reg:g})"


def _usable(out: Outcome) -> bool:
    return out.error is None and parse(out.value).problem is None


def _labels(session: Session, case: WeightsCase, given: str, errstate: dict[str, Any]) -> tuple[str, str]:
    if given != "auto":
        return given, f"given: y as {'class indices (N,)' if given == 'indices' else 'one-hot (N, C)'}"
    first = _call(session, case, "indices", case.reg, errstate)
    if _usable(first):
        return "indices", "detected: it takes y as class indices (N,)"
    second = _call(session, case, "one-hot", case.reg, errstate)
    if _usable(second):
        what = first.error or parse(first.value).problem
        return "one-hot", f"detected: given y as class indices it {_lower(what)}; it takes y one-hot (N, C)"
    return "indices", "not detected: it fails given y as class indices and one-hot; y passed as class indices (N,)"


def _lower(text: str | None) -> str:
    text = text or "failed"
    return text if text.startswith(("raised", "returned")) else f"raised {text}"


def _returns(session: Session, case: WeightsCase, labels: str, errstate: dict[str, Any]) -> Returned:
    return parse(_call(session, case, labels, case.reg, errstate).value)


def _factor(a: Array, b: Array) -> float:
    """The least-squares f in a ≈ f·b."""
    den = float(np.sum(b * b))
    return float(np.sum(a * b)) / den if den else float("nan")


def _near(x: float, target: float) -> bool:
    return bool(np.isfinite(x)) and abs(x - target) <= 1e-6 * max(1.0, abs(target))


def _convention(
    session: Session, case: WeightsCase, labels: str, given: str, errstate: dict[str, Any]
) -> tuple[str, str]:
    """The regularisation convention: given, else read from how the loss (or dW) changes between reg = 0 and
    the case's reg ≠ 0 with the same W, X, y — the data terms cancel, whatever they are."""
    if given != "auto":
        return given, f"given: {CONVENTION_TEXT[given]}"
    at = parse(_call(session, case, labels, case.reg, errstate).value)
    at0 = parse(_call(session, case, labels, 0.0, errstate).value)
    norm = float(np.sum(case.W * case.W))
    reg = case.reg
    if at.loss is not None and at0.loss is not None:
        f = (at.loss - at0.loss) / (reg * norm)
        where = f"read from the loss it returns at reg = {reg:g} and reg = 0 (case {case.name})"
        if _near(f, 1.0):
            return "full", f"detected: {CONVENTION_TEXT['full']}, {where}"
        if _near(f, 0.5):
            return "half", f"detected: {CONVENTION_TEXT['half']}, {where}"
        lead = f"its loss changes by {f:.6g}·reg·‖W‖² between reg = 0 and reg = {reg:g}, neither convention"
    else:
        lead = "it returns no loss"
    if at.dW is not None and at0.dW is not None and at.dW.shape == at0.dW.shape == case.W.shape:
        g = _factor(at.dW - at0.dW, reg * case.W)
        if _near(g, 2.0):
            return "full", f"detected from dW: {lead}; its dW changes by 2·reg·W: {CONVENTION_TEXT['full']}"
        if _near(g, 1.0):
            return "half", f"detected from dW: {lead}; its dW changes by reg·W: {CONVENTION_TEXT['half']}"
    return "full", f"not detected: {lead}, nor does its dW say; judged as {CONVENTION_TEXT['full']}"


# ---------------------------------------------------------------------------------------------------------
# judging


def network(case: WeightsCase, reg_convention: str) -> Network:
    """The case as a row-convention output layer without a bias (X (N, D) the layer's input, W (D, C))."""
    return make_network(
        case.X,
        case.W,
        None,
        None,
        label=case.y.tolist(),
        convention="row",
        reduction="mean",
        reg=case.reg,
        reg_convention=reg_convention,
    )


def worst_entries(
    yours: Array, expected: Array, tol: Tolerance, slack: Array | None = None, count: int = 3
) -> tuple[tuple[Entry, ...], float, float, int]:
    """(the ``count`` entries out of tolerance with the largest differences, worst first; max abs err; max
    rel err; entries out of tolerance)."""
    ratio = excess(yours, expected, tol, slack)
    with np.errstate(all="ignore"):
        diff = np.abs(yours - expected)
        diff = np.where(np.isnan(diff), np.inf, diff)
        rel = diff / np.maximum(np.abs(expected), tol.atol)
    flat = ratio.reshape(-1)
    out_of = np.where(flat > 1.0, diff.reshape(-1), -1.0)
    order = np.argsort(-out_of, kind="stable")[:count]
    entries = tuple(
        Entry(
            tuple(int(i) for i in np.unravel_index(int(j), yours.shape)),
            float(yours.reshape(-1)[j]),
            float(expected.reshape(-1)[j]),
            None if slack is None else float(slack.reshape(-1)[j]),
        )
        for j in order.tolist()
        if flat[j] > 1.0
    )
    mx = float(np.max(diff)) if diff.size else 0.0
    mr = float(np.max(rel)) if rel.size else 0.0
    return entries, mx, mr, int(np.count_nonzero(flat > 1.0))


def _match_ids(
    net: Network, name: str, user: Array, ref: Array, cands: Sequence[LayerCandidate], tol: Tolerance
) -> tuple[str, ...]:
    found = match_quantity(net, name, user, ref, cands, tol).matches
    return tuple(f"{m.id} {m.factor}" if m.factor else m.id for m in found)


def _no_shift_overflows(net: Network) -> bool:
    fwd = forward(net)
    wrong = MISTAKES["no_max_shift"].probabilities(fwd.z)
    return wrong is not None and not bool(np.all(np.isfinite(wrong)))


def judge_dW(net: Network, user: Array, ref: Array, cands: Sequence[LayerCandidate], tol: Tolerance) -> QuantityResult:
    """The user's dW against the reference ∂L/∂W (D, C), with the catalogue ids that reproduce it."""
    shape = tuple(ref.shape)
    if user.shape != ref.shape:
        matches = _match_ids(net, "dW", user, ref, cands, tol)
        hint = " (transposed?)" if user.shape == shape[::-1] else ""
        error = f"dW has shape {shape_text(user.shape)}, expected {shape_text(shape)} (W's shape){hint}"
        return QuantityResult(
            "dW",
            "fail" if matches else "error",
            shape,
            tuple(user.shape),
            user,
            ref,
            matches=matches,
            entries=ref.size,
            error=error,
        )
    worst, mx, mr, out = worst_entries(user, ref, tol)
    ok = out == 0
    notes = ("your dW has NaN or inf where the reference is finite",) if not np.all(np.isfinite(user)) else ()
    return QuantityResult(
        "dW",
        "pass" if ok else "fail",
        shape,
        shape,
        user,
        ref,
        mx,
        mr,
        worst,
        () if ok else _match_ids(net, "dW", user, ref, cands, tol),
        ref.size,
        ref.size,
        notes=notes,
    )


def judge_loss(
    net: Network, user: float, ref: float, cands: Sequence[LayerCandidate], tol: Tolerance
) -> QuantityResult:
    """The user's loss against the mean cross-entropy plus the regulariser."""
    u, r = np.array(user), np.array(ref)
    worst, mx, mr, out = worst_entries(u, r, tol)
    if out == 0:
        return QuantityResult("loss", "pass", (), (), user, ref, mx, mr, (), (), 1, 1)
    matches = list(_match_ids(net, "loss", u, r, cands, tol))
    notes: list[str] = []
    if not np.isfinite(user) and np.isfinite(ref) and _no_shift_overflows(net):
        matches.insert(0, "no_max_shift")  # the loss overflowed exactly where an un-shifted softmax does
        notes.append("your loss is NaN or inf where the reference is finite: exp(scores) overflowed")
    return QuantityResult("loss", "fail", (), (), user, ref, mx, mr, worst, tuple(matches), 1, 1, notes=tuple(notes))


def run_case(
    session: Session, case: WeightsCase, labels: str, reg_convention: str, tol: Tolerance, errstate: dict[str, Any]
) -> WeightsCaseResult:
    """Call the function on one case and judge its loss and dW."""
    y = case.y if labels == "indices" else one_hot(case.y, case.W.shape[1])
    base: dict[str, Any] = {
        "name": case.name,
        "description": case.description,
        "call": _call_text(case, labels),
        "inputs": {"W": case.W, "X": case.X, "y": y, "reg": case.reg},
    }
    out = _call(session, case, labels, case.reg, errstate)
    if out.error is not None:
        return WeightsCaseResult(**base, status="error", error=f"raised {out.error}", notes=out.notes)
    got = parse(out.value)
    if got.problem is not None or got.dW is None:
        return WeightsCaseResult(**base, status="error", error=got.problem, notes=out.notes)
    net = network(case, reg_convention)
    with np.errstate(all="ignore"):
        fwd = forward(net)
        ref = backward(net, fwd)
        cands = layer_candidates(net, fwd, ref)
        checks = []
        if got.loss is not None:
            checks.append(judge_loss(net, got.loss, fwd.loss, cands, tol))
        checks.append(judge_dW(net, got.dW, ref.dW, cands, tol))
    status = case_status(checks)
    return WeightsCaseResult(**base, status=status, checks=tuple(checks), notes=out.notes)


def case_status(checks: Sequence[QuantityResult]) -> str:
    """ "fail" when a quantity has wrong numbers, else "error" when one is missing or malformed, else "pass"."""
    if any(c.status == "fail" for c in checks):
        return "fail"
    return "error" if any(c.status == "error" for c in checks) else "pass"


def _rank(key: str) -> tuple[bool, int]:
    """Layer entries first (the mistake lives in the layer's code), then in the registry's order."""
    mid = key.split(" ", 1)[0]
    return MISTAKES[mid].scope != "layer", list(MISTAKES).index(mid)


def aggregate(cases: Sequence[WeightsCaseResult]) -> tuple[WeightsDiagnosis, ...]:
    """Per quantity, the catalogue ids that reproduce its failing cases: most cases first, then the layer
    entries (a batch-level dE/dz entry carried through the layer can give the same numbers), then in the
    registry's order."""
    out: list[WeightsDiagnosis] = []
    quantities = dict.fromkeys(q.name for c in cases for q in c.checks)
    for quantity in quantities:
        failing = [(c.name, q) for c in cases if (q := c.check(quantity)) is not None and not q.ok]
        found: dict[str, list[str]] = {}
        for name, q in failing:
            for key in q.matches:
                found.setdefault(key, []).append(name)
        ranked = sorted(found, key=lambda k: (-len(found[k]), _rank(k), k))
        for key in ranked:
            mid, _, factor = key.partition(" ")
            out.append(WeightsDiagnosis(mid, quantity, tuple(found[key]), len(found[key]) == len(failing), factor))
    return tuple(out)


def verify_weights(
    session: Session,
    kind_reason: str,
    *,
    errstate: dict[str, Any],
    trials: int,
    seed: int,
    tol: Tolerance,
    reg_convention: str = "auto",
    labels: str = "auto",
) -> WeightsReport:
    """The battery and ``trials`` random cases for an ``f(W, X, y, reg)``."""
    cases = battery() + random_cases(trials, seed)
    first = cases[0]
    the_labels, labels_reason = _labels(session, first, labels, errstate)
    sample = _returns(session, first, the_labels, errstate)
    if sample.problem is None and sample.loss is not None:
        returns, returns_reason = "loss and dW", "detected: it returns a pair (loss, dW)"
    elif sample.problem is None:
        returns, returns_reason = "dW", "detected: it returns dW alone (the loss is not checked)"
    else:
        returns, returns_reason = "loss and dW", f"not detected: on case {first.name} it {_lower(sample.problem)}"
    convention, reg_reason = _convention(session, first, the_labels, reg_convention, errstate)
    results = tuple(run_case(session, c, the_labels, convention, tol, errstate) for c in cases)
    notes = list(dict.fromkeys(n for r in results for n in r.notes if "in place" in n))
    reference = (
        f"the mean cross-entropy + {CONVENTION_TEXT[convention].split(' (')[0]} and its gradient ∂L/∂W = Xᵀ(S − T)/N"
        f" + {'2·reg·W' if convention == 'full' else 'reg·W'}"
    )
    return WeightsReport(
        target=session.target,
        kind="weights",
        kind_reason=kind_reason,
        returns=returns,
        returns_reason=returns_reason,
        labels=the_labels,
        labels_reason=labels_reason,
        reg_convention=convention,
        reg_reason=reg_reason,
        reference=reference,
        tolerance=tol,
        trials=trials,
        seed=seed,
        cases=results,
        diagnosis=aggregate(results),
        notes=tuple(notes),
    )
