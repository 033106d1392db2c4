"""``verify``: run the user's own function on a battery of inputs chosen to expose the catalogue, compare
it with the reference, and name the mistake it makes.

Four kinds of function:

- ``grad``: ``f(z, t) -> dE/dz`` for one example (K,) or a batch (N, K) (``reduction`` "mean" or "sum");
- ``jacobian``: ``f(x) -> ds/dz``, (K, K) or (N, K, K) for a batch, given s = softmax(z) or the logits z;
- ``softmax``: ``f(z) -> s``;
- ``backward``: the softmax layer's backward on its own, ``f(s, g) -> J(s)ᵀ·g`` for an upstream gradient
  g = dE/ds (tested with dense upstream vectors), or ``f(s, t) -> dE/dz``.

A target ``"PATH.py:FUNC"`` runs in a child process of its own (:mod:`~softgrad.commands.verify.isolated`:
a timeout per call, a time budget for the run, its output captured); a function object runs in this
process (:class:`~softgrad.commands.verify.session.InProcessSession`). Whatever the code raises, returns,
or does to its process becomes a failed case, never an exception out of here (Ctrl-C excepted). Nothing
here prints or exits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal, overload

import numpy as np

from softgrad.catalogue.exposing import distinguishing_input
from softgrad.commands.verify.calls import ARRAYS, Described, Plan, describe
from softgrad.commands.verify.detect import detect
from softgrad.commands.verify.judge import SCALED, Run, aggregate, other_input, run_battery
from softgrad.commands.verify.kinds import (
    BACKWARD_INPUTS,
    DEFAULT_TRIALS,
    INPUT_TEXT,
    JACOBIAN_INPUTS,
    KINDS,
    LAYOUTS,
    MAX_TRIALS,
    REDUCTIONS,
    TARGETS,
    Setup,
    call_text,
    detect_kind,
    has_reduction,
    parse_call,
    probe_one_parameter,
)
from softgrad.commands.verify.layer_code import layer_kind, verify_layer_code
from softgrad.commands.verify.report import REFERENCES, Diagnosis, VerifyReport
from softgrad.commands.verify.session import (
    DEFAULT_BUDGET,
    DEFAULT_TIMEOUT,
    CallFailed,
    InProcessSession,
    Session,
    check_seconds,
)
from softgrad.commands.verify.user_code import CHANGED, UserFunction, article, source_file
from softgrad.commands.verify.weights_report import WeightsReport
from softgrad.core import rules
from softgrad.core.tolerance import DTYPES, tolerance_for
from softgrad.errors import InputError


def _describe_fn(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{module}:{name}" if module and not module.startswith("_softgrad_user_") else str(name)


def _readings(
    user: UserFunction, described: Described, kind: str | None, options: dict[str, Any], target: str
) -> tuple[list[Setup], str, bool]:
    """(the setups to try, preferred first; how the kind was chosen; whether the input was given)."""
    plan0 = Plan(described.what, array=options["array_used"])
    base = Setup("grad", None, "mean", returns=options["returns"], plan=plan0)
    if options["call"] is not None:
        stated, labels = parse_call(options["call"], kind)
        if labels and options["targets"] == "auto":
            options["targets"] = "index"
        setup = replace(stated, returns=options["returns"], plan=plan0)
        return [setup], f"given: the call {options['call'].strip()}", True
    found = detect_kind(described, base)
    jacobian_input, backward_input = options["jacobian_input"], options["backward_input"]
    if kind is not None:
        same = [r for r in found.readings if r.kind == kind]
        plan = found.readings[0].plan if found.readings else plan0
        if kind in ("jacobian", "elementwise"):
            inputs = ["s", "z"] if jacobian_input == "auto" else [jacobian_input]
            return [replace(base, kind=kind, input=i, plan=plan) for i in inputs], "given", jacobian_input != "auto"
        if kind == "backward":
            if backward_input != "auto":
                keep = [r for r in same if r.input == backward_input]
                setups = keep or [replace(base, kind=kind, input=backward_input, plan=plan)]
                return setups, "given", True
            return (
                same or [replace(base, kind=kind, input=i, plan=plan) for i in ("upstream", "targets")],
                "given",
                False,
            )
        return same or [replace(base, kind=kind, input=None, plan=plan)], "given", False
    if found.readings:
        readings = list(found.readings)
        if backward_input != "auto":
            readings = [r for r in readings if r.kind != "backward" or r.input == backward_input] or readings
        return readings, f"detected: {found.reason}", backward_input != "auto"
    if found.reason.startswith("one parameter"):
        probed, what = probe_one_parameter(user, plan0)
        if probed == "softmax" and _says_derivative(described.name):
            inputs = ["s", "z"] if jacobian_input == "auto" else [jacobian_input]
            setups = [replace(base, kind="elementwise", input=i, plan=plan0) for i in inputs]
            said = f"{what.removesuffix(': probabilities')}, and its name {described.name!r} says derivative"
            return setups, f"detected: {found.reason}; {said}: an element-wise derivative", jacobian_input != "auto"
        if probed == "jacobian":
            inputs = ["s", "z"] if jacobian_input == "auto" else [jacobian_input]
            setups = [replace(base, kind="jacobian", input=i, plan=plan0) for i in inputs]
            return setups, f"detected: {found.reason}; {what}", jacobian_input != "auto"
        if probed == "softmax":
            return (
                [replace(base, kind="softmax", plan=plan0)],
                f"detected: {found.reason}; {what}",
                False,
            )
        raise InputError(
            target,
            f"cannot tell whether it computes a softmax or its Jacobian ({found.reason}; {what}); "
            "say which with --kind softmax or --kind jacobian",
        )
    kinds = "|".join(KINDS)
    raise InputError(
        target, f"cannot tell what it computes from its signature ({found.reason}); say which with --kind {kinds}"
    )


def _says_derivative(name: str) -> bool:
    n = name.lower()
    return any(w in n for w in ("deriv", "prime", "grad")) or n.startswith(("d_", "dsoftmax", "dsigma"))


#: Keyword flags that switch a function to its derivative (``softmax(x, derivative=True)``).
FLAG_WORDS = ("deriv", "grad", "backward", "prime", "jacobian")


def _flag(d: Described) -> str | None:
    flags = d.params.flags if d.params is not None else ()
    return next((f for f in flags if any(w in f.lower() for w in FLAG_WORDS)), None)


def _flagged(
    user: UserFunction, described: Described, plain: Setup, options: dict[str, Any]
) -> tuple[list[Setup], str]:
    """The setups of the flagged call ``f(x, derivative=True)`` of a softmax, and what it was found to be."""
    flag = _flag(described)
    if flag is None or plain.kind != "softmax":
        return [], ""
    plan = replace(plain.plan, keywords=((flag, True),))
    probed, what = probe_one_parameter(user, plan)
    inputs = ["s", "z"] if options["jacobian_input"] == "auto" else [options["jacobian_input"]]
    call = f"f(x, {flag}=True)"
    if probed == "jacobian":
        return [Setup("jacobian", i, "mean", plan=plan) for i in inputs], f"{call}: {what}"
    if probed == "softmax":
        said = what.removesuffix(": probabilities")
        setups = [Setup("elementwise", i, "mean", plan=plan) for i in inputs]
        return setups, f"{call}: {said}: an element-wise derivative"
    return [], f"{call}: {what}"


def _pick(runs: list[Run]) -> Run:
    """The reading under which the function passes everything, else the one with most passing cases (the
    first, preferred one on a tie)."""
    passing = [r for r in runs if r.ok]
    if passing:
        return passing[0]

    def explained(r: Run) -> tuple[bool, int, int]:
        """(a catalogued mistake reproduces every case, how many cases pass, how many failing cases the best
        mistake reproduces) under this reading."""
        diagnosis = aggregate(r.results, r.found)[0]
        top = diagnosis[0] if diagnosis else None
        return (top is not None and top.consistent, r.passes, len(top.cases) if top else 0)

    named = [r for r in runs if r.setup.named] or runs
    best = max(explained(r) for r in named)
    pick = next(r for r in named if explained(r) == best)
    # names mislead (``y_pred`` often holds logits): a reading under which most cases pass beats one the names
    # suggest under which fewer do — f(t, s) = softmax(s) − t "explained" as double_softmax is right given z
    most = max(runs, key=lambda r: r.passes)
    ran = sum(c.status != "skipped" for c in most.results)
    if most.passes > pick.passes and 2 * most.passes > ran:
        return most
    return pick


def _check_options(kind: str | None, options: dict[str, Any]) -> None:
    if kind is not None:
        rules.choice("kind", kind, KINDS)
    for name, allowed in (
        ("layout", LAYOUTS),
        ("reduction", REDUCTIONS),
        ("jacobian_input", JACOBIAN_INPUTS),
        ("backward_input", BACKWARD_INPUTS),
        ("targets", TARGETS),
        ("array", ("auto", *ARRAYS)),
    ):
        rules.choice(name, options[name], allowed)
    if options["call"] is not None and not isinstance(options["call"], str):
        raise InputError("call", f"expected a call template such as 'f(t, s)', got {options['call']!r}")
    if options["call"] is not None:
        parse_call(options["call"], kind)
    if options["returns"] is not None:
        rules.whole_number("returns", options["returns"], 0, 99)
    rules.whole_number("trials", options["trials"], 0, MAX_TRIALS)
    for name in ("timeout", "budget"):
        check_seconds(name, options[name])
    rules.whole_number("seed", options["seed"])
    for name in ("rtol", "atol"):
        rules.tolerance(name, options[name])


def _input_reason(chosen: Run, runs: list[Run], readings: int, given: bool) -> str:
    inp = chosen.setup.input
    if inp is None and readings == 1:
        return ""
    what = _given(chosen)
    if readings == 1:
        return f"{'given' if given else 'detected from the parameter name'}: {what}"
    if chosen.ok:
        return f"detected: given {what} it passes every case"
    ran = sum(r.status != "skipped" for r in chosen.results)
    tried = list(dict.fromkeys(_given(r) for r in runs))
    either = f"both given {tried[0]} and given {tried[1]}" if len(tried) == 2 else "given " + "; or given ".join(tried)
    return f"not detected: it fails {either}; judged as given {what} ({chosen.passes} of {ran} cases pass)"


def _given(r: Run) -> str:
    if r.setup.kind == "grad":
        return "the logits z"
    if r.setup.kind == "backward" and r.setup.input == "targets" and len(r.setup.call_roles) == 2:
        return "s = softmax(z) and the targets"
    if r.setup.kind == "loss-backward":
        return "s = softmax(z) and the targets, returning dE/ds"
    return INPUT_TEXT[r.setup.input or "z"]


@overload
def verify(
    fn: Callable[..., Any] | str | Session,
    kind: Literal["grad", "jacobian", "softmax", "backward", "elementwise", "loss-backward"],
    *,
    layout: str = "auto",
    reduction: str = "auto",
    jacobian_input: str = "auto",
    backward_input: str = "auto",
    targets: str = "auto",
    returns: int | None = None,
    call: str | None = None,
    array: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    reg_convention: str = "auto",
    labels: str = "auto",
    case: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    budget: float | None = DEFAULT_BUDGET,
) -> VerifyReport: ...


@overload
def verify(
    fn: Callable[..., Any] | str | Session,
    kind: Literal["weights", "loss-and-grad"],
    *,
    layout: str = "auto",
    reduction: str = "auto",
    jacobian_input: str = "auto",
    backward_input: str = "auto",
    targets: str = "auto",
    returns: int | None = None,
    call: str | None = None,
    array: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    reg_convention: str = "auto",
    labels: str = "auto",
    case: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    budget: float | None = DEFAULT_BUDGET,
) -> WeightsReport: ...


@overload
def verify(
    fn: Callable[..., Any] | str | Session,
    kind: str | None = None,
    *,
    layout: str = "auto",
    reduction: str = "auto",
    jacobian_input: str = "auto",
    backward_input: str = "auto",
    targets: str = "auto",
    returns: int | None = None,
    call: str | None = None,
    array: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    reg_convention: str = "auto",
    labels: str = "auto",
    case: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    budget: float | None = DEFAULT_BUDGET,
) -> VerifyReport | WeightsReport: ...


def verify(
    fn: Callable[..., Any] | str | Session,
    kind: str | None = None,
    *,
    layout: str = "auto",
    reduction: str = "auto",
    jacobian_input: str = "auto",
    backward_input: str = "auto",
    targets: str = "auto",
    returns: int | None = None,
    call: str | None = None,
    array: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
    reg_convention: str = "auto",
    labels: str = "auto",
    case: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    budget: float | None = DEFAULT_BUDGET,
) -> VerifyReport | WeightsReport:
    """Check the user's function against the reference on the battery and ``trials`` random cases.

    ``fn`` is a callable, run in this process, or a target ``"PATH.py:FUNC"`` / ``"package.module:FUNC"``,
    imported and run in a child process of its own (its output is captured into the report's ``printed``;
    exiting, crashing or hanging there is a failed case). A :class:`Session` already started (the command
    line starts the child process before it imports numpy) is used, and closed, as it is.

    ``kind``: ``"grad"``, ``"jacobian"``, ``"softmax"`` or ``"backward"``; None
    detects it from the signature (and, for one parameter, from the shape it returns). ``layout``:
    ``"row"``, ``"batch"``, ``"both"`` or ``"auto"``. ``reduction``: ``"mean"``, ``"sum"``, ``"none"`` (per-row,
    as sum) over the rows of a batch gradient, or ``"auto"`` (detected from the batch case). ``targets``:
    ``"soft"`` (one-hot, soft and unnormalised floats), ``"onehot"``, ``"index"`` (class indices) or ``"auto"``
    (probed). ``returns``: the item of a returned tuple that is the result (None: the one of the right
    shape). ``call``: how to call it, as a template such as ``"f(t, s)"`` (names ``z``, ``s``, ``t``,
    ``labels``, ``upstream``), when detection cannot decide. ``array``: ``"numpy"``, ``"torch"`` or
    ``"jax"`` (float64 tensors of that framework, which must be installed), or ``"auto"`` (from what its
    module imports). ``jacobian_input``: ``"s"``, ``"z"`` or ``"auto"``; ``backward_input``:
    ``"upstream"``, ``"targets"`` or ``"auto"``. ``rtol``/``atol`` override the per-dtype tolerances.

    ``timeout``: seconds one call may take (a call past it is a failed case; for a callable it is honoured
    with SIGALRM in the main thread on POSIX when nothing else uses SIGALRM, and not at all elsewhere);
    ``budget``: seconds the code may take over the whole run (later calls are not run, and fail). None: no
    limit.

    Layer code (:mod:`softgrad.commands.verify.layer_code`; a :class:`WeightsReport`): ``kind="weights"``
    for ``f(W, X, y, reg) -> (loss, dW)`` or ``dW`` (``reg_convention``: ``"auto"`` reads it from the loss,
    or ``"full"``/``"half"``; ``labels``: ``"auto"``, ``"indices"`` or ``"one-hot"``), ``kind="loss-and-grad"``
    for ``f(params…) -> (loss, grads)`` (``case``: a JSON file of its arguments); both detected from the
    signature when kind is None.

    Whatever the function raises or returns becomes a failed case in the report. Raises
    :class:`softgrad.InputError` for a bad target, bad options, or a kind that cannot be detected.
    """
    options: dict[str, Any] = {"layout": layout, "reduction": reduction, "jacobian_input": jacobian_input}
    options |= {"backward_input": backward_input, "trials": trials, "seed": seed, "rtol": rtol, "atol": atol}
    options |= {"targets": targets, "returns": returns, "call": call, "array": array}
    options |= {"timeout": timeout, "budget": budget}
    options |= {"reg_convention": reg_convention, "labels": labels, "case": case}
    session: Session
    if not isinstance(fn, str) and not callable(fn) and hasattr(fn, "apply"):
        session = fn
        try:
            _check_options(kind, options)
        except BaseException:
            session.close()
            raise
        return _run(session, kind, options)
    _check_options(kind, options)
    if isinstance(fn, str):
        from softgrad.commands.verify.isolated import IsolatedSession

        session = IsolatedSession(fn, timeout=timeout, budget=budget)
    elif callable(fn) or callable(getattr(fn, "backward", None)):  # a layer object has backward
        obj: Callable[..., Any] = fn  # type: ignore[assignment]
        session = InProcessSession(obj, _describe_fn(obj), source_file(obj), timeout=timeout, budget=budget)
    else:
        raise InputError("fn", f"expected a function, got {article(type(fn).__name__)}")
    return _run(session, kind, options)


def _run(session: Session, kind: str | None, options: dict[str, Any]) -> VerifyReport | WeightsReport:
    """The battery on the session's object; the session closed at the end, whatever happens."""
    try:
        user = UserFunction.open(session)
        layer = layer_kind(user.session, kind)
        with np.errstate(all="ignore"):  # softgrad's own arithmetic; the user's calls get their own back
            if layer is not None:
                return _layer_code(user, layer, options)
            report = _verify(user, session.target, kind, options)
    finally:
        session.close()
    printed = session.printed()
    return dataclasses.replace(report, printed=_shortened(printed)) if printed else report


#: Characters of what the code printed kept in the report, from each end.
PRINTED_KEEP = 2000


def _shortened(text: str) -> str:
    if len(text) <= 2 * PRINTED_KEEP + 100:
        return text
    left_out = len(text) - 2 * PRINTED_KEEP
    return f"{text[:PRINTED_KEEP]}\n… {left_out} characters left out …\n{text[-PRINTED_KEEP:]}"


def _layer_code(user: UserFunction, layer: tuple[str, str], options: dict[str, Any]) -> WeightsReport:
    defaults: dict[str, object] = {"layout": "auto", "reduction": "auto", "jacobian_input": "auto"}
    defaults |= {"backward_input": "auto", "targets": "auto", "returns": None, "call": None, "array": "auto"}
    for name, default in defaults.items():
        if options[name] != default:
            raise InputError(name, f"applies to the dE/dz kinds, not to kind {layer[0]}")
    return verify_layer_code(
        user.session,
        *layer,
        errstate=user.errstate,
        trials=options["trials"],
        seed=options["seed"],
        rtol=options["rtol"],
        atol=options["atol"],
        reg_convention=options["reg_convention"],
        labels=options["labels"],
        case=options["case"],
    )


def _verify(user: UserFunction, target: str, kind: str | None, options: dict[str, Any]) -> VerifyReport:
    tols = {d: tolerance_for(d, options["rtol"], options["atol"]) for d in DTYPES}
    try:
        described = user.session.apply(describe)
    except CallFailed as exc:
        raise InputError(target, f"looking at it {exc.message}") from None
    options["array_used"], array_reason = _array(described, options["array"])
    setups, kind_reason, given = _readings(user, described, kind, options, target)

    def run(setup: Setup) -> Run:
        found = detect(user, setup, options["layout"], options["targets"], options["reduction"])
        return run_battery(user, found, options["trials"], options["seed"], tols)

    def best(candidates: list[Setup]) -> tuple[Run, list[Run]]:
        done = [run(candidates[0])]
        if not done[0].ok:  # another reading (logits or probabilities, upstream or targets) may be right
            done += [run(s) for s in candidates[1:]]
        return _pick(done), done

    chosen, runs = best(setups)
    flagged, flag_reason = (
        ([], "") if kind is not None or options["call"] else _flagged(user, described, chosen.setup, options)
    )
    flagged_run = best(flagged)[0] if flagged else None
    if flag_reason:
        kind_reason += f"; {flag_reason}"
    the_kind = chosen.setup.kind
    other = None
    if the_kind in ("jacobian", "backward") and not chosen.setup.plan.layer and len(chosen.setup.call_roles) <= 2:
        passes = None
        if the_kind == "jacobian":  # would it pass given the other input?
            flip = "z" if chosen.setup.input == "s" else "s"
            done = next((r for r in runs if r.setup.input == flip), None)
            passes = (done or run(replace(chosen.setup, input=flip))).ok
        if chosen.setup.call_roles[0] == "s" or the_kind == "jacobian":
            other = other_input(user, chosen.setup, chosen.layout, passes)

    cases, found_ids = chosen.results, chosen.found
    flagged_text = notes_flag = ""
    if flagged_run is not None:
        fs = flagged_run.setup
        key = f"{fs.kind}:{fs.input}"
        cases += tuple(
            replace(c, name=f"{c.name}_derivative", description=f"{c.description}; {call_text(fs)}")
            for c in flagged_run.results
        )
        found_ids += flagged_run.found
        flagged_text = f"with {fs.plan.keywords[0][0]}=True, {REFERENCES[key][0]}"
        notes_flag = f"{call_text(fs)} is checked as {fs.kind} (its cases end in _derivative): {REFERENCES[key][1]}"
    diagnosis, ambiguous = aggregate(cases, found_ids)
    notes = list(dict.fromkeys(n for r in chosen.results for n in r.notes if n.startswith((CHANGED, SCALED))))
    if chosen.ok and any(r.status == "skipped" for r in chosen.results):
        notes.append("the batch case was skipped: " + chosen.layout_reason)
    if flagged_text:
        notes.append(notes_flag)
    if the_kind == "loss-backward" and kind is None and len(setups) > 1:
        notes.append(
            "it returns dE/ds = −t/s, the loss half of a chained layer: if it is meant to return dE/dz, that is "
            "the mistake no_jacobian (the softmax step left out; verify it with --kind backward)"
        )
    found = chosen.detection
    advice = _advice(chosen, diagnosis, options)
    if advice:
        notes.append(advice)
    return VerifyReport(
        target=target,
        kind=the_kind,
        kind_reason=kind_reason,
        layout=chosen.layout,
        layout_reason=chosen.layout_reason,
        input=chosen.setup.input,
        input_reason=_input_reason(chosen, runs, len(setups), given),
        reduction=chosen.setup.reduction if has_reduction(chosen.setup) else None,
        tolerances=tols,
        trials=options["trials"],
        seed=options["seed"],
        cases=cases,
        diagnosis=diagnosis,
        ambiguous=ambiguous,
        distinguishing_input=distinguishing_input(list(ambiguous), 4) if ambiguous else None,
        other_input=other,
        notes=tuple(notes),
        call=call_text(chosen.setup, chosen.setup.families == ("index",)),
        call_reason=_call_reason(described, chosen.setup),
        targets=chosen.setup.families,
        targets_reason=found.targets_reason if chosen.setup.uses_targets else "",
        reduction_reason=found.reduction_reason if has_reduction(chosen.setup) else "",
        result=found.result,
        result_reason=found.result_reason,
        flagged=flagged_text,
        array=options["array_used"],
        array_reason=array_reason,
    )


def _array(d: Described, option: str) -> tuple[str, str]:
    """The arrays the function is given, and why."""
    if option != "auto":
        return option, "given"
    frameworks = [m for m in ("torch", "jax") if m in d.imports]
    if len(frameworks) == 1:
        name = frameworks[0]
        return name, f"detected: its module imports {name}; it is given float64 {name} tensors"
    return "numpy", ""


def _call_reason(d: Described, setup: Setup) -> str:
    """How the object is called, in words."""
    if setup.plan.layer:
        made = f"a new {d.owner}()" if d.what in ("class", "method") else f"the instance of {d.owner}"
        ctx = " (each given an autograd context ctx of verify's first)" if setup.plan.ctx else ""
        return f"{made}: {'called' if setup.plan.forward == '__call__' else 'forward'} first, then backward{ctx}"
    if d.what == "method":
        return f"the method on a new {d.owner}() (instantiated with no arguments)"
    if d.what == "class":
        return f"a new {d.owner}() called through __call__"
    if d.what == "instance":
        return f"the {d.owner} instance called through __call__"
    if d.what == "staticmethod":
        return f"a @staticmethod of {d.owner}"
    if setup.roles and setup.roles[0] == "t":
        return "targets first"
    return ""


def _advice(chosen: Run, diagnosis: tuple[Diagnosis, ...], options: dict[str, Any]) -> str:
    """What to do about a diagnosis that depends on a convention: soft targets reduced to their argmax."""
    first = diagnosis[0].id if diagnosis else ""
    if first == "softmax_over_batch_axis" and options["layout"] == "auto":
        return "if your examples are columns ((K, N) arrays, one example (K, 1)), verify it with --layout columns"
    if options["targets"] != "auto" or "soft" not in chosen.setup.families:
        return ""
    if first == "soft_targets_as_argmax":
        return (
            "right for hard labels, wrong for soft ones: if you never use soft labels, test it with one-hot "
            "targets only (--targets onehot)"
        )
    if first == "assumes_one_hot":
        return (
            "right whenever each row of targets sums to 1 (one-hot or normalised soft labels): if that is all "
            "you use, test it with one-hot targets only (--targets onehot)"
        )
    return ""
