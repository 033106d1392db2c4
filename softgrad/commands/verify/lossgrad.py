"""``verify --kind loss-and-grad``: any ``f(params…) -> (loss, grads)``, its returned gradients checked entry
by entry against central finite differences of the loss it returns itself (float64, softgrad's step policy
and error estimate: :func:`softgrad.core.layer.fd_loss`), the worst entries of each parameter located.

Where the arguments come from:

- a case file (JSON): an object mapping the function's parameter names to values (nested objects for dict
  parameters, lists for arrays: all-integer lists stay integer arrays, such as class labels), or a list of
  such objects, one case each;
- without one, the course layout ``f(params, X, y[, reg])`` is recognised from the signature and called
  with a two-layer network's ``params = {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}``, X (N, D)
  and y (N,) class indices, at reg = 0.1 and at reg = 0 (two cases of different shapes).

The gradients are matched to the parameters by key (a dict: a key of a dict argument, else an argument's
name) or by position (a tuple or list: the function's first array arguments, in order). When the loss is
recognisably a two-layer softmax classifier of the course layout (its value equals one of
:mod:`softgrad.core.layer`'s for some σ and regularisation convention), wrong gradients are named with the
layer catalogue as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from softgrad.catalogue.layer_diagnose import conform, layer_candidates, match_quantity
from softgrad.commands.verify.session import CallFailed, Session
from softgrad.commands.verify.user_code import shape_text
from softgrad.commands.verify.weights import (
    REG_NAMES,
    X_NAMES,
    Y_NAMES,
    aggregate,
    case_status,
    worst_entries,
)
from softgrad.commands.verify.weights_calls import Outcome, Signature, call, signature
from softgrad.commands.verify.weights_report import QuantityResult, WeightsCaseResult, WeightsReport
from softgrad.core import Array
from softgrad.core.layer import ACTIVATIONS, REG_CONVENTIONS, Network, backward, fd_loss, forward, make_network
from softgrad.core.tolerance import Tolerance
from softgrad.errors import InputError

PARAMS_NAMES = frozenset({"params", "param", "parameters", "model", "weights", "theta", "net", "p", "w"})
#: Entries of one parameter differenced at most (a seeded sample beyond: the report says how many).
MAX_FD_ENTRIES = 2000
#: An entry whose finite-difference error estimate exceeds this (relative, at least absolute) is uncertain
#: (a kink of relu within the steps, a loss that is not smooth there) and left out of the comparison.
UNCERTAIN = 1e-5
#: The course layout's parameters in the order the gradients are shown.
COURSE_KEYS = ("W1", "b1", "W2", "b2")
#: The course layout's keys as the layer's quantities (row convention: W1 is W_h (D, H), W2 is W (H, C)).
AS_QUANTITY = {"W1": "dW_h", "b1": "db_h", "W2": "dW", "b2": "db"}


@dataclass(frozen=True)
class LGCase:
    """One set of arguments, by the function's parameter names."""

    name: str
    description: str
    names: tuple[str, ...]
    args: tuple[Any, ...]


def _course_names(sig: Signature) -> tuple[str, ...]:
    """The parameters the course layout passes: (params, X, y) and reg when the fourth is named so."""
    has_reg = len(sig.names) >= 4 and sig.names[3].lower() in REG_NAMES
    return sig.names[: 4 if has_reg else 3]


def course_layout(sig: Signature | None) -> str | None:
    """The reason a signature reads as the course layout ``f(params, X, y[, reg])``, else None."""
    if sig is None:
        return None
    names = _course_names(sig)
    low = [n.lower() for n in names]
    if len(sig.required) > len(names) or len(low) < 3:
        return None
    if low[0] in PARAMS_NAMES and low[1] in X_NAMES and low[2] in Y_NAMES:
        what = ", regularisation strength" if len(low) == 4 else ""
        return f"parameters ({', '.join(names)}): a dict of parameters, inputs, labels{what}"
    return None


def _two_layer(name: str, rng: np.random.Generator, n: int, d: int, h: int, c: int, reg: float) -> dict[str, Any]:
    def r(*shape: int, scale: float = 0.5) -> Array:
        out: Array = np.round(rng.normal(0.0, scale, shape), 2)
        return out

    params = {"W1": r(d, h), "b1": r(h, scale=0.1), "W2": r(h, c), "b2": r(c, scale=0.1)}
    y = rng.permutation(np.arange(n) % c).astype(np.int64)
    return {"params": params, "X": r(n, d, scale=1.0), "y": y, "reg": reg}


def default_cases(sig: Signature) -> list[LGCase]:
    """The course layout's two cases (a two-layer network, reg = 0.1 and reg = 0)."""
    rng = np.random.default_rng(20261202)
    names = _course_names(sig)
    out = []
    for case, desc, shape, reg in (
        ("two_layer", "a two-layer network, N = 5, D = 4, H = 6, C = 3, reg = 0.1", (5, 4, 6, 3), 0.1),
        ("two_layer_no_reg", "a two-layer network, N = 4, D = 3, H = 5, C = 4, reg = 0", (4, 3, 5, 4), 0.0),
    ):
        values = _two_layer(case, rng, *shape, reg)
        args = tuple(values[k] for k in ("params", "X", "y", "reg")[: len(names)])
        out.append(LGCase(case, desc, tuple(names), args))
    return out


def _value(v: Any, where: str) -> Any:
    if isinstance(v, dict):
        return {k: _value(x, f"{where}.{k}") for k, x in v.items()}
    if isinstance(v, list):
        try:
            arr = np.asarray(v)
        except ValueError:
            raise InputError(where, "a ragged list: rows of different lengths") from None
        if arr.dtype.kind in "iu":
            return arr.astype(np.int64)
        if arr.dtype.kind in "bf":
            return arr.astype(np.float64) if arr.dtype.kind == "f" else arr
        raise InputError(where, "expected numbers (an array), got other values")
    if v is None or isinstance(v, bool | int | float | str):
        return v
    raise InputError(where, f"unsupported value {v!r}")  # pragma: no cover - json gives no other types


def load_cases(path: str, sig: Signature | None) -> list[LGCase]:
    """The case file: an object of arguments by parameter name, or a list of such objects."""
    from softgrad.inputs.files import load_json, read_text

    name, text = read_text(path)
    data = load_json(text, name)
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(x, dict) for x in items):
        raise InputError(name, "expected an object of arguments by parameter name, or a list of such objects")
    wanted = None if sig is None else (sig.required or sig.names)
    out = []
    for i, item in enumerate(items):
        where = name if len(items) == 1 else f"{name}[{i}]"
        names = tuple(item) if wanted is None else tuple(wanted)
        missing = [n for n in names if n not in item]
        if missing:
            raise InputError(where, f"no value for the parameter{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        extra = [k for k in item if k not in names and (sig is None or k not in sig.names)]
        if extra:
            raise InputError(where, f"{', '.join(extra)}: not a parameter of the function ({', '.join(names)})")
        if sig is not None:  # optional parameters given too, passed by position: no gaps
            given = [n for n in sig.names[len(names) :] if n in item]
            upto = sig.names[len(names) : sig.names.index(given[-1]) + 1] if given else ()
            gap = [n for n in upto if n not in item]
            if gap:
                raise InputError(where, f"give {', '.join(gap)} too: arguments are passed by position")
            names = names + tuple(upto)
        args = tuple(_value(item[n], f"{where}: {n}") for n in names)
        out.append(LGCase(f"case_{i}" if len(items) > 1 else "case", f"from {name}", names, args))
    return out


# ---------------------------------------------------------------------------------------------------------
# parameters and their gradients


@dataclass(frozen=True)
class Param:
    """One differenced array: its label, where it sits in the arguments (index, and key in a dict), value."""

    label: str
    arg: int
    key: str | None
    value: Array


def _is_param(v: Any, integers: bool = False) -> bool:
    """A float array (or, named by a gradient's key, an integer one: weights written as whole numbers)."""
    return isinstance(v, np.ndarray) and v.dtype.kind in ("fiu" if integers else "f")


def match_grads(case: LGCase, grads: Any) -> tuple[list[tuple[Param, Any]], list[str], str | None]:
    """(each gradient with its parameter; the float arrays of a dict argument left without a gradient;
    what is wrong with the returned gradients)."""
    pairs: list[tuple[Param, Any]] = []
    if isinstance(grads, dict):
        for key, g in grads.items():
            place = next(
                (i for i, a in enumerate(case.args) if isinstance(a, dict) and _is_param(a.get(key), True)), None
            )
            if place is not None:
                pairs.append((Param(key, place, key, np.asarray(case.args[place][key], dtype=np.float64)), g))
            elif key in case.names and _is_param(case.args[case.names.index(key)], True):
                i = case.names.index(key)
                pairs.append((Param(key, i, None, np.asarray(case.args[i], dtype=np.float64)), g))
            else:
                return [], [], f"returned a gradient {key!r} for no parameter (a key of a dict argument or an argument)"
        used = {(p.arg, p.key) for p, _ in pairs}
        left = [
            k
            for i, a in enumerate(case.args)
            if isinstance(a, dict) and any(i == p.arg for p, _ in pairs)
            for k, v in a.items()
            if _is_param(v) and (i, k) not in used
        ]
        return pairs, left, None
    if isinstance(grads, tuple | list):
        arrays = [i for i, a in enumerate(case.args) if _is_param(a)]
        if len(grads) > len(arrays):
            return [], [], f"returned {len(grads)} gradients for {len(arrays)} array arguments"
        for i, g in zip(arrays, grads, strict=False):
            pairs.append((Param(case.names[i], i, None, case.args[i]), g))
        return pairs, [], None
    return [], [], f"returned gradients as {type(grads).__name__}; expected a dict (or tuple) of arrays"


def _substitute(case: LGCase, params: Sequence[Param], work: dict[str, Array]) -> tuple[Any, ...]:
    """The case's arguments with the parameters' arrays replaced by ``work``'s (dict arguments copied)."""
    args = list(case.args)
    for p in params:
        args[p.arg] = work[p.label] if p.key is None else {**args[p.arg], p.key: work[p.label]}
    return tuple(args)


def _loss_of(value: Any) -> float | None:
    if isinstance(value, tuple | list) and len(value) == 2:
        v = value[0]
        if isinstance(v, bool):
            return None
        if isinstance(v, int | float):
            return float(v)
        if isinstance(v, np.ndarray) and v.size == 1 and v.dtype.kind in "biuf":
            return float(v.reshape(()))
    return None


def _describe(value: Any) -> str:
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a single number (the loss alone?)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {shape_text(value.shape)}"
    return "None" if value is None else f"a {type(value).__name__}"


def _as_array(g: Any) -> Array | None:
    if isinstance(g, np.ndarray) and g.dtype.kind in "biuf":
        return g.astype(np.float64)
    if isinstance(g, int | float) and not isinstance(g, bool):
        return np.array(float(g))
    return None


# ---------------------------------------------------------------------------------------------------------
# naming the mistake of a recognised two-layer network


def recognise(case: LGCase, loss: float) -> tuple[Network, str] | None:
    """The course layout's two-layer network whose loss equals ``loss`` (for some σ and regularisation
    convention), with how it was recognised; None when none does."""
    if len(case.args) < 3 or not isinstance(case.args[0], dict):
        return None
    params, X, y = case.args[0], case.args[1], case.args[2]
    reg = case.args[3] if len(case.args) > 3 else 0.0
    if set(COURSE_KEYS) - set(params) or not isinstance(X, np.ndarray) or not isinstance(y, np.ndarray):
        return None
    if isinstance(reg, bool) or not isinstance(reg, int | float) or y.ndim != 1 or y.dtype.kind not in "iu":
        return None
    for act in ACTIVATIONS:
        for conv in REG_CONVENTIONS if reg else REG_CONVENTIONS[:1]:
            try:
                net = make_network(
                    W=params["W2"],
                    b=params["b2"],
                    label=y.tolist(),
                    a_in=X,
                    W_h=params["W1"],
                    b_h=params["b1"],
                    activation=act,
                    convention="row",
                    reduction="mean",
                    reg=float(reg),
                    reg_convention=conv,
                )
            except InputError:
                return None
            ref = forward(net).loss
            if np.isfinite(loss) and abs(ref - loss) <= 1e-9 * max(1.0, abs(ref)):
                r = "reg·(‖W1‖² + ‖W2‖²)" if conv == "full" else "½·reg·(‖W1‖² + ‖W2‖²)"
                return net, f"a two-layer network X → {act} → softmax, mean cross-entropy + {r}"
    return None


# ---------------------------------------------------------------------------------------------------------
# running a case


def _call(session: Session, case: LGCase, args: tuple[Any, ...], errstate: dict[str, Any]) -> Outcome:
    try:
        return session.apply(call, args, case.names, errstate)
    except CallFailed as exc:
        return Outcome(None, exc.message, ())


def _inputs(case: LGCase) -> dict[str, Any]:
    return dict(zip(case.names, case.args, strict=True))


def _call_text(case: LGCase) -> str:
    def one(n: str, a: Any) -> str:
        if isinstance(a, dict):
            return f"{n}={{{', '.join(f'{k}: {shape_text(np.shape(v))}' for k, v in a.items())}}}"
        if isinstance(a, np.ndarray):
            return f"{n} {shape_text(a.shape)}"
        return f"{n}={a:g}" if isinstance(a, float) else f"{n}={a!r}"

    return f"f({', '.join(one(n, a) for n, a in zip(case.names, case.args, strict=True))})"


def run_case(
    session: Session, case: LGCase, tol: Tolerance, seed: int, errstate: dict[str, Any]
) -> tuple[WeightsCaseResult, str | None]:
    """Call the function on one case, difference its loss, judge each gradient; (result, the recognised
    model or None)."""
    base: dict[str, Any] = {
        "name": case.name,
        "description": case.description,
        "call": _call_text(case),
        "inputs": _inputs(case),
    }
    out = _call(session, case, case.args, errstate)
    if out.error is not None:
        return WeightsCaseResult(**base, status="error", error=f"raised {out.error}", notes=out.notes), None
    value = out.value
    loss = _loss_of(value)
    if loss is None:
        error = f"returned {_describe(value)}; expected (loss, grads)"
        return WeightsCaseResult(**base, status="error", error=error, notes=out.notes), None
    pairs, left, problem = match_grads(case, value[1])
    if problem is not None:
        return WeightsCaseResult(**base, status="error", error=problem, notes=out.notes), None
    params = [p for p, _ in pairs]
    failures: list[str] = []

    def loss_fn(work: dict[str, Array]) -> float:
        got = _call(session, case, _substitute(case, params, work), errstate)
        number = None if got.error is not None else _loss_of(got.value)
        if number is None:
            failures.append(got.error or "returned no loss")
            raise ValueError("no loss")
        return number

    with np.errstate(all="ignore"):
        fds = fd_loss(loss_fn, {p.label: p.value for p in params}, max_entries=MAX_FD_ENTRIES, seed=seed)
    known = recognise(case, loss)
    cands = None
    ref = None
    if known is not None:
        net = known[0]
        with np.errstate(all="ignore"):
            fwd = forward(net)
            ref = backward(net, fwd)
            cands = layer_candidates(net, fwd, ref)
    checks = [_judge(p, g, fds[p.label], tol, known[0] if known else None, ref, cands) for p, g in pairs]
    checks += [QuantityResult(k, "error", (), error=f"no gradient returned for {k}") for k in left]
    notes = list(out.notes)
    if failures:
        notes.append(
            f"your function failed at {len(failures)} perturbed inputs (first: {failures[0]}); "
            "those entries are not compared"
        )
    return WeightsCaseResult(**base, status=case_status(checks), checks=tuple(checks), notes=tuple(notes)), (
        known[1] if known else None
    )


def _judge(p: Param, g: Any, fd: Any, tol: Tolerance, net: Network | None, ref: Any, cands: Any) -> QuantityResult:
    shape = tuple(p.value.shape)
    arr = _as_array(g)
    if arr is None:
        return QuantityResult(p.label, "error", shape, error=f"the gradient of {p.label} is not an array of numbers")
    fitted = conform(arr, shape)
    if fitted is None:
        return QuantityResult(
            p.label, "error", shape, tuple(arr.shape), arr,
            error=f"the gradient of {p.label} has shape {shape_text(arr.shape)}, the parameter {shape_text(shape)}",
        )  # fmt: skip
    certain = fd.checked & np.isfinite(fd.value) & (fd.error <= UNCERTAIN * np.maximum(1.0, np.abs(fd.value)))
    notes = []
    total = int(np.count_nonzero(fd.checked))
    if fd.sampled:
        notes.append(f"{total} of {fitted.size} entries differenced (a seeded sample)")
    if total - int(np.count_nonzero(certain)):
        notes.append(
            f"{total - int(np.count_nonzero(certain))} entries left out: the finite difference is uncertain there "
            "(a kink within the step, or the loss failed)"
        )
    if not np.any(certain):
        return QuantityResult(
            p.label, "error", shape, shape, fitted, fd.value, entries=fitted.size,
            error=f"no entry of {p.label} could be differenced reliably", notes=tuple(notes),
        )  # fmt: skip
    expected = np.where(certain, fd.value, fitted)  # uncompared entries count as agreeing
    slack = np.where(certain, fd.error, 0.0)
    worst, mx, mr, bad = worst_entries(fitted, expected, tol, slack)
    matches: tuple[str, ...] = ()
    if bad and net is not None and p.label in AS_QUANTITY and ref is not None:
        q = AS_QUANTITY[p.label]
        right = ref.get(q)
        if right is not None:
            found = match_quantity(net, q, fitted, right, cands, tol).matches
            matches = tuple(f"{m.id} {m.factor}" if m.factor else m.id for m in found)
    return QuantityResult(
        p.label,
        "fail" if bad else "pass",
        shape,
        shape,
        fitted,
        np.where(certain, fd.value, np.nan),
        mx,
        mr,
        worst,
        matches,
        int(np.count_nonzero(certain)),
        fitted.size,
        notes=tuple(notes),
    )


def verify_loss_and_grad(
    session: Session,
    kind_reason: str,
    *,
    errstate: dict[str, Any],
    seed: int,
    tol: Tolerance,
    case: str | None = None,
) -> WeightsReport:
    """Every case (from ``case``, a JSON file, or the course layout's defaults) for an ``f(…) -> (loss, grads)``."""
    try:
        sig = session.apply(signature)
    except CallFailed:
        sig = None
    if case is not None:
        cases = load_cases(case, sig)
        source = f"arguments from {case}"
    else:
        if course_layout(sig) is None or sig is None:
            names = "" if sig is None else f" ({', '.join(sig.required or sig.names)})"
            raise InputError(
                session.target,
                f"cannot make up its arguments{names}: only f(params, X, y[, reg]) is recognised; "
                "give them in a case file (case)",
            )
        cases = default_cases(sig)
        source = (
            f"generated for f({', '.join(_course_names(sig))}): params = {{W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)}}, "
            "X (N, D), y (N,) class indices"
        )
    results = []
    models = []
    for c in cases:
        result, model = run_case(session, c, tol, seed, errstate)
        results.append(result)
        models.append(model)
    recognised = [m for m in models if m]
    notes = (
        [f"the loss is recognised as {recognised[0]}: wrong gradients are named with the layer catalogue"]
        if recognised
        else []
    )
    if any("KeyError" in (r.error or "") for r in results) and case is None:
        notes.append("the generated params are W1, b1, W2, b2; give your own arguments in a case file")
    return WeightsReport(
        target=session.target,
        kind="loss-and-grad",
        kind_reason=kind_reason,
        returns="loss and grads",
        returns_reason=source,
        labels=None,
        labels_reason="",
        reg_convention=None,
        reg_reason="",
        reference=(
            "central finite differences of the loss it returns (steps ε^(1/3)·max(1, |x|), "
            "each with its error estimate)"
        ),
        tolerance=tol,
        trials=0,
        seed=seed,
        cases=tuple(results),
        diagnosis=aggregate(results),
        notes=tuple(notes),
    )
