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
from typing import Any

import numpy as np

from softgrad.catalogue.exposing import distinguishing_input
from softgrad.commands.verify.judge import Run, aggregate, other_input, run_battery
from softgrad.commands.verify.kinds import (
    BACKWARD_INPUTS,
    DEFAULT_TRIALS,
    INPUT_TEXT,
    JACOBIAN_INPUTS,
    KINDS,
    LAYOUTS,
    MAX_TRIALS,
    REDUCTIONS,
    Setup,
    detect_kind,
    has_reduction,
    probe_one_parameter,
)
from softgrad.commands.verify.report import VerifyReport
from softgrad.commands.verify.session import (
    DEFAULT_BUDGET,
    DEFAULT_TIMEOUT,
    InProcessSession,
    Session,
    check_seconds,
)
from softgrad.commands.verify.user_code import CHANGED, UserFunction, article, source_file
from softgrad.core import rules
from softgrad.core.tolerance import DTYPES, tolerance_for
from softgrad.errors import InputError


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


def _check_options(kind: str | None, options: dict[str, Any]) -> None:
    if kind is not None:
        rules.choice("kind", kind, KINDS)
    for name, allowed in (
        ("layout", LAYOUTS),
        ("reduction", REDUCTIONS),
        ("jacobian_input", JACOBIAN_INPUTS),
        ("backward_input", BACKWARD_INPUTS),
    ):
        rules.choice(name, options[name], allowed)
    rules.whole_number("trials", options["trials"], 0, MAX_TRIALS)
    for name in ("timeout", "budget"):
        check_seconds(name, options[name])
    rules.whole_number("seed", options["seed"])
    for name in ("rtol", "atol"):
        rules.tolerance(name, options[name])


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
    fn: Callable[..., Any] | str | Session,
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
    timeout: float | None = DEFAULT_TIMEOUT,
    budget: float | None = DEFAULT_BUDGET,
) -> VerifyReport:
    """Check the user's function against the reference on the battery and ``trials`` random cases.

    ``fn`` is a callable, run in this process, or a target ``"PATH.py:FUNC"`` / ``"package.module:FUNC"``,
    imported and run in a child process of its own (its output is captured into the report's ``printed``;
    exiting, crashing or hanging there is a failed case). A :class:`Session` already started (the command
    line starts the child process before it imports numpy) is used, and closed, as it is.

    ``kind``: ``"grad"``, ``"jacobian"``, ``"softmax"`` or ``"backward"``; None detects it from the
    signature (and, for one parameter, from the shape it returns). ``layout``: ``"row"``, ``"batch"``,
    ``"both"`` or ``"auto"``. ``reduction``: ``"mean"`` or ``"sum"`` over the rows of a batch gradient.
    ``jacobian_input``: ``"s"``, ``"z"`` or ``"auto"``; ``backward_input``: ``"upstream"``, ``"targets"``
    or ``"auto"``. ``rtol``/``atol`` override the per-dtype tolerances.

    ``timeout``: seconds one call may take (a call past it is a failed case; for a callable it is honoured
    with SIGALRM in the main thread on POSIX when nothing else uses SIGALRM, and not at all elsewhere);
    ``budget``: seconds the code may take over the whole run (later calls are not run, and fail). None: no
    limit.

    Whatever the function raises or returns becomes a failed case in the report. Raises
    :class:`softgrad.InputError` for a bad target, bad options, or a kind that cannot be detected.
    """
    options: dict[str, Any] = {"layout": layout, "reduction": reduction, "jacobian_input": jacobian_input}
    options |= {"backward_input": backward_input, "trials": trials, "seed": seed, "rtol": rtol, "atol": atol}
    options |= {"timeout": timeout, "budget": budget}
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
    elif callable(fn):
        session = InProcessSession(fn, _describe_fn(fn), source_file(fn), timeout=timeout, budget=budget)
    else:
        raise InputError("fn", f"expected a function, got {article(type(fn).__name__)}")
    return _run(session, kind, options)


def _run(session: Session, kind: str | None, options: dict[str, Any]) -> VerifyReport:
    """The battery on the session's object; the session closed at the end, whatever happens."""
    try:
        user = UserFunction.open(session)
        with np.errstate(all="ignore"):  # softgrad's own arithmetic; the user's calls get their own back
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
        reduction=options["reduction"] if has_reduction(chosen.setup) else None,
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
