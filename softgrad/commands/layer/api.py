"""``layer``: a layer's gradients — δ, ∂L/∂W, ∂L/∂b, ∂L/∂a and, with a hidden layer, δ_h, ∂L/∂W_h, ∂L/∂b_h —
three independent ways, compared, and the user's numbers diagnosed against the catalogue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from softgrad.catalogue.diagnose import Match, match_ratio
from softgrad.catalogue.layer_diagnose import (
    LayerCandidate,
    LayerInput,
    candidate_value,
    comparable,
    conform,
    layer_candidates,
    layer_distinguishing_input,
    match_quantity,
)
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.layer.report import (
    Diagnosis,
    EntryComparison,
    LayerReport,
    QuantityCheck,
    ShownMistake,
    UserQuantity,
)
from softgrad.core import Array, chained_instability, rules
from softgrad.core.layer import (
    CHAINED_MAX_ELEMENTS,
    DEFAULT_NAMES,
    QUANTITIES,
    Forward,
    Gradients,
    Mask,
    Network,
    NetworkFD,
    as_listed,
    backward,
    chained,
    forward,
    make_network,
    network_fd,
    user_layout,
    user_shape,
)
from softgrad.core.tolerance import Tolerance, excess, tolerance_for
from softgrad.errors import InputError

#: How each quantity is called.
LABELS = {
    "delta": "δ",
    "dW": "∂L/∂W",
    "db": "∂L/∂b",
    "da": "∂L/∂a",
    "delta_h": "δ_h",
    "dW_h": "∂L/∂W_h",
    "db_h": "∂L/∂b_h",
}
#: Looser tolerance for "close but not exact" hints (rounded or low-precision numbers).
NEAR = Tolerance(rtol=1e-3, atol=1e-6)
#: Shown beside ∂L/∂W at every input: the classic transposition.
CLASSIC = "dW_transposed"

ArrayInput = Any


def formula(net: Network, name: str) -> str:
    """The right formula of a quantity in the user's convention (with its regulariser and 1/N)."""
    col = net.convention == "column"
    batch = not net.single if col else True
    reg = ""
    if net.reg:
        reg = " + 2·reg·W" if net.reg_convention == "full" else " + reg·W"
    mean = " (÷ N)" if net.reduction == "mean" and net.n > 1 else ""
    if col and not batch:
        forms = {
            "delta": "s·Σt − t",
            "dW": "δ aᵀ" + reg,
            "db": "δ",
            "da": "Wᵀ δ",
            "delta_h": "(Wᵀ δ) ⊙ σ′(z_h)",
            "dW_h": "δ_h a_inᵀ" + reg.replace("W", "W_h"),
            "db_h": "δ_h",
        }
    elif col:
        forms = {
            "delta": "S·Σt − T" + mean,
            "dW": "Δ Aᵀ" + reg,
            "db": "Σ_n Δ_n",
            "da": "Wᵀ Δ",
            "delta_h": "(Wᵀ Δ) ⊙ σ′(Z_h)",
            "dW_h": "Δ_h A_inᵀ" + reg.replace("W", "W_h"),
            "db_h": "Σ_n Δ_h,n",
        }
    else:
        forms = {
            "delta": "S·Σt − T" + mean,
            "dW": "Aᵀ Δ" + reg,
            "db": "Σ_n Δ_n",
            "da": "Δ Wᵀ",
            "delta_h": "(Δ Wᵀ) ⊙ σ′(Z_h)",
            "dW_h": "A_inᵀ Δ_h" + reg.replace("W", "W_h"),
            "db_h": "Σ_n Δ_h,n",
        }
    return forms[name]


def check_layer(
    a: ArrayInput = None,
    W: ArrayInput = None,
    b: ArrayInput = None,
    t: ArrayInput = None,
    *,
    label: ArrayInput = None,
    a_in: ArrayInput = None,
    W_h: ArrayInput = None,
    b_h: ArrayInput = None,
    activation: str | None = None,
    convention: str = "column",
    reduction: str = "mean",
    reg: float = 0.0,
    reg_convention: str = "full",
    delta: ArrayInput = None,
    dW: ArrayInput = None,
    db: ArrayInput = None,
    da: ArrayInput = None,
    delta_h: ArrayInput = None,
    dW_h: ArrayInput = None,
    db_h: ArrayInput = None,
    dtype: str = "float64",
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    names: Mapping[str, str] | None = None,
) -> LayerReport:
    """Check a layer's gradients: the output layer ``z = W a + b`` (``convention="column"``, W (K, H), one
    example or examples as columns) or ``Z = A W + b`` (``"row"``, W (H, K), a batch of N rows, the loss
    their ``reduction``: ``mean`` or ``sum``), softmax + cross-entropy, one optional hidden layer
    ``a = σ(W_h a_in + b_h)`` with σ ∈ sigmoid, tanh, relu, identity, and L2 regularisation ``reg·‖W‖²``
    (``reg_convention="full"``) or ``½·reg·‖W‖²`` (``"half"``) on the weights.

    Each quantity is computed by the analytic formulas (the reference), by the chain rule with explicit
    Jacobians, and by finite differences of the network's loss; the user's ``delta``, ``dW``, ``db``,
    ``da``, ``delta_h``, ``dW_h``, ``db_h`` (in the user's convention) are compared with the reference and
    diagnosed. ``names`` says how to call each input in errors. Raises :class:`softgrad.InputError` for bad
    input.
    """
    nm: dict[str, str] = {**DEFAULT_NAMES, **{q: q for q in (*QUANTITIES, "dtype")}, **(names or {})}
    net = make_network(
        a,
        W,
        b,
        t,
        label=label,
        a_in=a_in,
        W_h=W_h,
        b_h=b_h,
        activation=activation,
        convention=convention,
        reduction=reduction,
        reg=reg,
        reg_convention=reg_convention,
        names=nm,
    )
    try:
        dtype = rules.dtype(dtype)
    except InputError as exc:
        raise InputError(nm["dtype"], exc.message) from None
    tol = tolerance_for(dtype, rtol, atol)
    given = {"delta": delta, "dW": dW, "db": db, "da": da, "delta_h": delta_h, "dW_h": dW_h, "db_h": db_h}
    fwd = forward(net)
    ref = backward(net, fwd)
    # without numbers of the user's, only the classic mistake is shown: no need to evaluate the others
    wanted = None if any(v is not None for v in given.values()) else {CLASSIC}
    candidates = layer_candidates(net, fwd, ref, wanted)
    users = {q: _user_array(net, q, v, nm[q], candidates) for q, v in given.items() if v is not None}
    return _report(net, fwd, ref, candidates, users, tol, dtype, seed)


def _user_array(net: Network, name: str, value: Any, where: str, candidates: list[LayerCandidate]) -> Array:
    """The user's value of a quantity, in the user's layout: the quantity's shape (singleton axes aside), or
    the shape a catalogued mistake gives it (a transposed weight gradient, a per-example bias gradient)."""
    if name not in net.quantities():
        if name == "db":
            why = "the layer has no bias (give b)"
        elif net.hidden:
            why = "the hidden layer has no bias (give b_h)"
        else:
            why = "there is no hidden layer (give a_in, W_h and an activation)"
        raise InputError(where, f"{LABELS[name]} was given but {why}")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(where, f"expected numbers ({exc})") from None
    expected = user_shape(net, name)
    fitted = conform(arr, expected)
    if fitted is not None:
        return fitted
    for cand in candidates:
        wrong = cand.values.get(name)
        if wrong is not None and conform(arr, user_layout(net, name, wrong).shape) is not None:
            return arr
    shape = "×".join(map(str, arr.shape)) if arr.ndim else "a single number"
    want = "×".join(map(str, expected)) if expected else "a single number"
    raise InputError(where, f"expected shape {want} ({_shape_words(net, name)}), got {shape}")


def _shape_words(net: Network, name: str) -> str:
    col = net.convention == "column"
    words = {
        "delta": "K per example" if col else "N×K",
        "dW": "K×H, the shape of W" if col else "H×K, the shape of W",
        "db": "K, the shape of b",
        "da": "H per example" if col else "N×H",
        "delta_h": "H per example" if col else "N×H",
        "dW_h": "H×D, the shape of W_h" if col else "D×H, the shape of W_h",
        "db_h": "H, the shape of b_h",
    }
    return words[name]


def compare_entries(
    actual: Array,
    ref: Array,
    tol: Tolerance,
    *,
    slack: Array | None = None,
    mask: Mask | None = None,
    note: str = "",
) -> EntryComparison:
    """Entry by entry, ``|a − b| <= atol + rtol·|ref| (+ slack)`` over the entries of ``mask`` (all by
    default); the worst entry is the one furthest out of tolerance, as an index into the array."""
    a = np.asarray(actual, dtype=np.float64)
    use = np.ones(ref.shape, bool) if mask is None else mask
    if not np.any(use):
        return EntryComparison(True, None, None, None, 0, note)
    with np.errstate(all="ignore"):
        ratio = np.where(use, excess(a, ref, tol, slack), 0.0)
        abs_err = np.where(use, np.abs(a - ref), 0.0)
        abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
        rel_err = abs_err / np.maximum(np.abs(ref), tol.atol)
    flat = int(np.argmax(ratio))
    worst = tuple(int(i) for i in np.unravel_index(flat, ref.shape)) if ref.ndim else ()
    return EntryComparison(
        ok=bool(np.all(ratio <= 1.0)),
        max_abs_err=float(np.max(abs_err)),
        max_rel_err=float(np.max(rel_err)),
        worst=worst,
        compared=int(np.count_nonzero(use)),
        note=note,
    )


def _fd_limit(ref: Array) -> float:
    """The error estimate above which a finite difference cannot confirm the reference."""
    return max(1e-3, 0.1 * float(np.max(np.abs(ref)))) if ref.size else 1e-3


def _report(
    net: Network,
    fwd: Forward,
    ref: Gradients,
    candidates: list[LayerCandidate],
    users: dict[str, Array],
    tol: Tolerance,
    dtype: str,
    seed: int,
) -> LayerReport:
    ch = chained(net, dtype)
    fd = network_fd(net, seed=seed)
    unstable: list[str] = []
    failures: list[str] = []
    notes: list[str] = []
    if np.any(ch.unstable_rows):
        row = int(np.flatnonzero(ch.unstable_rows)[0])
        inst = chained_instability(fwd.z[row : row + 1], net.t[row : row + 1], 1.0, dtype)[0]
        reason = inst.reason if inst else "the product overflows"
        where = f" (example {row})" if net.n > 1 else ""
        unstable.append(f"chained: {reason}{where}; the chain is not computable there")
    checks: list[QuantityCheck] = []
    sampled: list[str] = []
    for q in net.quantities():
        right = ref.get(q)
        assert right is not None
        ref_u = user_layout(net, q, right)
        comparisons: dict[str, EntryComparison] = {}
        chained_u = _chained_value(net, q, ch.gradients, ch.skipped, ref_u, tol, comparisons, unstable, notes)
        fd_u, err_u, usable = _fd_value(net, q, fd, ref_u, tol, comparisons, unstable, failures, sampled)
        user = None
        shown = _shown(net, q, ref_u, candidates, tol)
        if q in users:
            user = _diagnose(net, q, users[q], ref_u, chained_u, fd_u, err_u, usable, candidates, tol)
            if not user.ok:
                failures.append(f"your {LABELS[q]}")
            matched = {m.id for m in user.matches}
            shown = tuple(s for s in shown if s.id not in matched) + tuple(
                _shown_one(net, q, ref_u, c, tol) for c in _first_by_id(candidates, user) if c.id in matched
            )
        checks.append(
            QuantityCheck(
                name=q,
                label=LABELS[q],
                formula=formula(net, q),
                shape=tuple(ref_u.shape),
                reference=as_listed(ref_u),
                chained=None if chained_u is None else as_listed(chained_u),
                finite_difference=as_listed(fd_u),
                fd_error=as_listed(err_u),
                comparisons=comparisons,
                mistakes=shown,
                user=user,
            )
        )
    fd_note = (
        "central differences of the network's loss at steps h and 2h, entry by entry "
        "(h = ε^(1/3)·max(1, |x|)), Richardson-extrapolated D(h) + (D(h) − D(2h))/3; each allowed the error "
        "estimate of D(h), |D(h) − D(2h)|/3 + 4ε·(|L| + 1)/h"
    )
    if sampled:
        fd_note += "; sampled (seeded, --seed): " + ", ".join(sampled)
    return LayerReport(
        input=LayerInput(net),
        tolerance=tol,
        dtype=dtype,
        forward=_forward_values(net, fwd),
        loss=fwd.loss,
        data_loss=fwd.data_loss,
        reg_loss=fwd.reg_loss,
        quantities=tuple(checks),
        fd_note=fd_note,
        unstable=tuple(unstable),
        failures=tuple(failures),
        notes=tuple(notes),
        diagnosis=_diagnosis(net, checks, candidates, users, tol),
    )


def _forward_values(net: Network, fwd: Forward) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if fwd.z_h is not None:
        out["z_h"] = as_listed(user_layout(net, "z_h", fwd.z_h))
        out["a"] = as_listed(user_layout(net, "a", fwd.a))
    out["z"] = as_listed(user_layout(net, "z", fwd.z))
    out["s"] = as_listed(user_layout(net, "s", fwd.s))
    return out


def _chained_value(
    net: Network,
    q: str,
    g: Gradients,
    skipped: tuple[str, ...],
    ref_u: Array,
    tol: Tolerance,
    comparisons: dict[str, EntryComparison],
    unstable: list[str],
    notes: list[str],
) -> Array | None:
    value = g.get(q)
    if q in skipped:
        notes.append(
            f"chained: {LABELS[q]} not computed (its explicit ∂z/∂W tensor would have more than "
            f"{CHAINED_MAX_ELEMENTS:,} entries); the finite difference still checks it"
        )
        return None
    if value is None or not np.all(np.isfinite(value)):
        return None
    chained_u = user_layout(net, q, value)
    c = compare_entries(chained_u, ref_u, tol)
    comparisons["chained"] = c
    if not c.ok:
        unstable.append(
            f"chained: {LABELS[q]} loses precision here (max rel err {c.max_rel_err:.3g} at {_index(c.worst)}); "
            "the analytic form is the exact one"
        )
    return chained_u


def _index(idx: tuple[int, ...] | None) -> str:
    if not idx:
        return "—"
    return "(" + ", ".join(map(str, idx)) + ")" if len(idx) > 1 else f"[{idx[0]}]"


def _fd_value(
    net: Network,
    q: str,
    fd: NetworkFD,
    ref_u: Array,
    tol: Tolerance,
    comparisons: dict[str, EntryComparison],
    unstable: list[str],
    failures: list[str],
    sampled: list[str],
) -> tuple[Array, Array, Mask]:
    p = fd.params[q]
    value = user_layout(net, q, p.value)
    error = user_layout(net, q, p.error)
    checked: Mask = user_layout(net, q, p.checked)
    kinks: Mask = user_layout(net, q, p.kinks)
    finite = np.isfinite(value) & np.isfinite(error)
    uncertain = checked & finite & ~kinks & (error > _fd_limit(ref_u))
    usable = checked & finite & ~kinks & ~uncertain
    if p.sampled:
        sampled.append(f"{LABELS[q]} {int(np.count_nonzero(checked))} of {ref_u.size} entries")
    c = compare_entries(value, ref_u, tol, slack=np.where(usable, error, 0.0), mask=usable)
    comparisons["finite_difference"] = c
    label = LABELS[q]
    if np.any(kinks):
        unstable.append(
            f"finite difference: {label} has {int(np.count_nonzero(kinks))} entr"
            f"{'y' if np.count_nonzero(kinks) == 1 else 'ies'} where relu's kink lies within the step "
            "(no derivative there); they are not compared"
        )
    if np.any(checked & ~finite):
        unstable.append(f"finite difference: {label} not computable at some entries (the loss overflows)")
    if np.any(uncertain):
        unstable.append(
            f"finite difference: {label}'s error estimate ({float(np.max(np.where(uncertain, error, 0))):.3g}) "
            "is too large to confirm the reference at some entries"
        )
    if not c.ok:
        failures.append(f"finite difference {label}")
    return value, error, usable


def _shown_one(net: Network, q: str, ref_u: Array, cand: LayerCandidate, tol: Tolerance) -> ShownMistake:
    value = user_layout(net, q, cand.values[q]) if q in cand.values else ref_u
    m = MISTAKES[cand.id]
    formula_text = f"{formula(net, q)} {cand.scale.label}" if cand.scale else m.formula
    fitted = conform(value, ref_u.shape)
    differs = fitted is None or not compare_entries(fitted, ref_u, tol).ok
    return ShownMistake(cand.id, formula_text, as_listed(value), differs)


def _shown(
    net: Network, q: str, ref_u: Array, candidates: list[LayerCandidate], tol: Tolerance
) -> tuple[ShownMistake, ...]:
    """The classic mistake of this quantity (the transposed ∂L/∂W), always shown."""
    if q != "dW":
        return ()
    return tuple(_shown_one(net, q, ref_u, c, tol) for c in candidates if c.id == CLASSIC)


def _first_by_id(candidates: list[LayerCandidate], user: UserQuantity) -> list[LayerCandidate]:
    """One candidate per matched id: the factor the user's value matched, for a scaled family."""
    factors = {m.id: m.factor for m in user.matches}
    out: dict[str, LayerCandidate] = {}
    for c in candidates:
        if c.id in factors and c.id not in out and (not factors[c.id] or (c.scale and c.scale.label == factors[c.id])):
            out[c.id] = c
    return list(out.values())


def _diagnose(
    net: Network,
    q: str,
    user: Array,
    ref_u: Array,
    chained_u: Array | None,
    fd_u: Array,
    err_u: Array,
    usable: Mask,
    candidates: list[LayerCandidate],
    tol: Tolerance,
) -> UserQuantity:
    label = LABELS[q]
    fitted = conform(user, ref_u.shape)
    notes: list[str] = []
    if fitted is None:
        shape = "×".join(map(str, user.shape)) or "a single number"
        cmp = EntryComparison(
            False, None, None, None, 0, f"shape {shape}, where {label} is {'×'.join(map(str, ref_u.shape))}"
        )
        notes.append(f"your {label} has shape {shape}; {label} has shape {'×'.join(map(str, ref_u.shape))}")
    else:
        cmp = compare_entries(fitted, ref_u, tol)
    qm = match_quantity(net, q, user, ref_u, candidates, tol)
    matches: list[Match] = list(qm.matches)
    if cmp.ok:
        verdict = "correct"
        ambiguous = list(qm.coinciding)
        matches = []
        if ambiguous:
            notes.append(
                f"at this input {', '.join(ambiguous)} also give the reference {label}, so they are not ruled out"
            )
        keys = ambiguous
    elif matches:
        verdict = "mistake"
        ambiguous = [m.id for m in matches] if len(matches) > 1 else []
        keys = [f"{m.id} {m.factor}" if m.factor else m.id for m in matches] if ambiguous else []
    else:
        verdict = "unknown"
        ambiguous, keys = [], []
    dist = layer_distinguishing_input(net, q, keys, pairwise=verdict != "correct") if keys else None
    if dist is not None:
        notes.append(f"to tell {', '.join(dist.separates)} apart, compute your {label} at the input below (try:)")
    agreement: dict[str, bool | None] = {"reference": cmp.ok}
    agreement["chained"] = None if chained_u is None or fitted is None else compare_entries(fitted, chained_u, tol).ok
    agreement["finite_difference"] = (
        None
        if fitted is None or not np.any(usable)
        else compare_entries(fitted, fd_u, tol, slack=np.where(usable, err_u, 0.0), mask=usable).ok
    )
    if fitted is not None and verdict == "unknown" and compare_entries(fitted, ref_u, NEAR).ok:
        notes.append(
            f"your {label} is within 0.1% of the reference: if your numbers were rounded or computed in "
            "float32, say so with --rtol or --dtype float32"
        )
    if not cmp.ok and agreement["finite_difference"]:
        notes.append(
            f"your {label} agrees with the finite difference only within its error estimate, not with the exact "
            "formula: a precision problem, not a wrong formula"
        )
    if not np.all(np.isfinite(user)):
        notes.append(f"your {label} has NaN or inf where the reference is finite")
    closest = tuple(sorted(qm.ranked, key=lambda m: m.max_abs_err)[:3]) if verdict == "unknown" else ()
    return UserQuantity(
        value=as_listed(user),
        comparison=cmp,
        verdict=verdict,
        matches=tuple(matches),
        ambiguous=tuple(ambiguous),
        distinguishing_input=dist,
        closest=closest,
        agreement=agreement,
        notes=tuple(notes),
    )


def _diagnosis(
    net: Network,
    checks: list[QuantityCheck],
    candidates: list[LayerCandidate],
    users: dict[str, Array],
    tol: Tolerance,
) -> tuple[Diagnosis, ...]:
    """The ids that reproduce the user's wrong quantities: first those consistent with every quantity the
    user gave (the right ones too: a mistake that would also change a quantity the user has right is less
    likely), then those explaining the most, then in the registry's order."""
    via = {c.id: c.via for c in candidates}
    found: dict[str, list[str]] = {}
    for q in checks:
        if q.user is None or q.user.ok:
            continue
        for m in q.user.matches:
            found.setdefault(m.id, []).append(q.name)
    refs = {q.name: np.array(q.reference, dtype=np.float64) for q in checks}

    def agrees(c: LayerCandidate, q: str) -> bool:
        mine = comparable(users[q], candidate_value(net, c, q, refs[q]))
        return mine is not None and bool(match_ratio(users[q].reshape(1, -1), mine.reshape(1, -1), tol)[0] <= 1.0)

    consistent = {i: any(all(agrees(c, q) for q in users) for c in candidates if c.id == i) for i in found}
    order = list(MISTAKES)
    ranked = sorted(found, key=lambda i: (not consistent[i], -len(found[i]), order.index(i)))
    return tuple(Diagnosis(i, tuple(found[i]), via.get(i, "layer"), consistent[i]) for i in ranked)
