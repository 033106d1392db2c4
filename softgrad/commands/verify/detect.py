"""Detecting the conventions of the user's code by calling it on a probe: which targets it takes (one-hot or
soft floats, class indices), one example or a batch, a mean or a sum over the batch, and which part of what
it returns is the result (an item of a ``(loss, grad)`` tuple, the attribute ``backward`` set). Each
detection comes with the reason, in words."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from softgrad.commands.verify.calls import Outcome, call, invoke
from softgrad.commands.verify.cases import FAMILY_TEXT, Case, battery, hard
from softgrad.commands.verify.kinds import LAYOUT_TEXT, Setup, arguments, expected_output, has_reduction, leads_to
from softgrad.commands.verify.session import Opaque
from softgrad.commands.verify.user_code import UserFunction, as_output, shape_of, shape_text
from softgrad.core import Array
from softgrad.core.tolerance import compare, tolerance_for

#: Attribute names a backward pass stores its result in, most likely first.
RESULT_ATTRIBUTES = ("dinputs", "dinput", "grad", "grad_input", "dx", "dz", "dlogits", "delta", "gradient", "dX")


@dataclass(frozen=True)
class Picked:
    """The result found in what a call returned: the array, or what is wrong; and where it was found."""

    arr: Array | None
    problem: str | None
    #: "" (what it returned), "item 1 of the 2-tuple it returns", "self.dinputs"
    where: str = ""
    why: str = ""


def _item_text(i: int, n: int, kind: str) -> str:
    return f"item {i} of the {n}-{kind} it returns"


def pick(outcome: Outcome, shape: tuple[int, ...], returns: int | None) -> Picked:
    """The result of one call, as a float64 array of ``shape``: what it returned, an item of a tuple it
    returned (``returns``, else the one of that shape), or the array attribute ``backward`` set."""
    raw = outcome.raw
    want = f"expected an array of shape {shape_text(shape)}"
    if raw is None and outcome.attributes:
        fits = [name for name, value in outcome.attributes if tuple(value.shape) == shape]
        if not fits:
            seen = ", ".join(f"self.{n} {shape_text(tuple(v.shape))}" for n, v in outcome.attributes)
            return Picked(None, f"backward returned None and set no attribute of shape {shape_text(shape)} ({seen})")
        name = next((n for n in RESULT_ATTRIBUTES if n in fits), fits[0])
        value = dict(outcome.attributes)[name]
        others = [n for n in fits if n != name]
        why = f"backward returns None and sets self.{name} {shape_text(shape)}"
        if others:
            why += f" (also of that shape: {', '.join('self.' + n for n in others)})"
        arr, problem = as_output(value, shape)
        return Picked(arr, problem, f"self.{name}", why)
    if raw is None and not outcome.attributes and outcome.error is None:
        return Picked(None, f"returned None (a missing return statement?); {want}")
    where = why = ""
    ragged = isinstance(raw, list) and shape_of(raw) is None
    if (isinstance(raw, tuple) or ragged or (isinstance(raw, list) and returns is not None)) and (
        returns is not None or shape_of(raw) != shape
    ):
        kind = "tuple" if isinstance(raw, tuple) else "list"
        n = len(raw)
        if returns is not None:
            if not -n <= returns < n:
                return Picked(None, f"returned a {kind} of {n} items: it has no item {returns}; {want}")
            raw, where, why = raw[returns], _item_text(returns, n, kind), "given"
        else:
            matching = [i for i, x in enumerate(raw) if shape_of(x) == shape and not isinstance(x, Opaque)]
            if len(matching) == 1:
                i = matching[0]
                raw, where = raw[i], _item_text(i, n, kind)
                why = f"the only item of shape {shape_text(shape)}"
            elif len(matching) > 1 and any(shape_of(x) != shape for x in raw):
                items = ", ".join(map(str, matching))
                return Picked(None, f"returned a {kind} whose items {items} all have shape {shape_text(shape)}; {want}")
    arr, problem = as_output(raw, shape)  # an Opaque description too: it says what came back instead
    return Picked(arr, problem, where, why)


@dataclass(frozen=True)
class Probe:
    """One probing call: did it return the right shape, the right numbers, and what happened."""

    shape_ok: bool
    value_ok: bool
    what: str
    picked: Picked
    #: the call did not come back (it timed out, ended its process, or was not run)
    stopped: bool = False


def expected_shape(setup: Setup, case: Case, as_batch: bool) -> tuple[int, ...]:
    """The shape the function should return for the case (as a batch, (K, N) when examples are columns)."""
    shape = expected_output(setup, case).shape
    if setup.columns and as_batch:
        return tuple(shape[::-1])
    return tuple(shape if as_batch else shape[1:])


def read_result(outcome: Outcome, setup: Setup, case: Case, as_batch: bool) -> Picked:
    """The result of one call in verify's own layout (rows), as :func:`pick` finds it."""
    got = pick(outcome, expected_shape(setup, case, as_batch), setup.returns)
    if setup.columns and as_batch and got.arr is not None:
        got = replace(got, arr=np.ascontiguousarray(got.arr.T))
    if setup.kind == "elementwise" and got.arr is not None:
        rows = got.arr if as_batch else got.arr[None]
        g = leads_to(case, rows)
        got = replace(got, arr=g if as_batch else g[0])
    return got


def call_case(user: UserFunction, setup: Setup, case: Case, as_batch: bool) -> Outcome:
    """The function called on one case, as a row (K,) or a batch (N, K), in the case's precision."""
    z, t = (case.z, case.t) if as_batch else (case.z[0], case.t[0])
    fwd, args, names, _ = arguments(setup, z, t, case.labels)
    dt = np.dtype(case.dtype)

    def cast(a: Any) -> Any:
        return a.astype(dt) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a

    return invoke(
        user.session,
        call,
        setup.plan,
        tuple(cast(a) for a in fwd),
        tuple(cast(a) for a in args),
        tuple(names),
        user.errstate,
        user.file,
    )


def failure_text(outcome: Outcome, case: str | None = None) -> str | None:
    """What went wrong with a call (it did not come back, or it raised), naming ``case`` when given."""
    if outcome.failed is not None:
        return outcome.failed_on(case)
    return None if outcome.error is None else f"raised {outcome.error}"


def probe(user: UserFunction, setup: Setup, case: Case, as_batch: bool) -> Probe:
    outcome = call_case(user, setup, case, as_batch)
    failed = failure_text(outcome)
    if failed is not None:
        return Probe(False, False, failed, Picked(None, failed), stopped=outcome.failed is not None)
    picked = read_result(outcome, setup, case, as_batch)
    if picked.arr is None:
        return Probe(False, False, picked.problem or "", picked)
    expected = expected_output(setup, case)
    out = picked.arr if as_batch else picked.arr[None]
    value_ok = compare(out, expected, tolerance_for("float64")).ok
    if not value_ok and as_batch and has_reduction(setup):  # a sum where a mean is expected is still right here
        per_row = expected_output(replace(setup, reduction="sum"), case)
        value_ok = compare(out, per_row, tolerance_for("float64")).ok
    return Probe(True, value_ok, "", picked)


@dataclass(frozen=True)
class Detection:
    """The conventions detected (or given), each with its reason; ``setup`` carries them."""

    setup: Setup
    layout: str
    layout_reason: str
    targets_reason: str
    reduction_reason: str
    result: str
    result_reason: str
    #: the batch case is skipped (the function takes one example at a time)
    skip_batch: bool = False


def _probe_cases(setup: Setup) -> tuple[Case, Case]:
    cases = battery(setup.kind, setup.input)
    return cases[0], hard(next(c for c in cases if c.batch))


def _families(option: str, probes: dict[tuple[bool, bool], Probe], forms: list[bool]) -> tuple[tuple[str, ...], str]:
    if option != "auto":
        return (option,), f"given: {FAMILY_TEXT[option]}"
    fl = [probes[(False, b)] for b in (False, True)]
    ix = [probes[(True, b)] for b in (False, True)] if True in forms else []
    f_shape, i_shape = any(p.shape_ok for p in fl), any(p.shape_ok for p in ix)
    f_val, i_val = any(p.value_ok for p in fl), any(p.value_ok for p in ix)
    f_what = next((p.what for p in fl if p.what), "")
    i_what = next((p.what for p in ix if p.what), "")
    if f_shape and i_shape:
        if f_val and i_val:
            return ("soft", "index"), "detected: it takes float targets and class indices"
        if i_val and not f_val:
            return ("index",), "detected: given class indices it is right, given one-hot floats it is not"
        return ("soft",), "detected: it takes float targets (given class indices it returns other numbers)"
    if i_shape:
        return ("index",), f"detected: it takes class indices (given one-hot floats it {f_what})"
    if f_shape:
        return ("soft",), "detected: it takes float targets" + (f" (given class indices it {i_what})" if ix else "")
    return ("soft",), f"not detected: given one-hot floats it {f_what}; judged with float targets"


def tested_text(families: tuple[str, ...]) -> str:
    if "soft" in families:
        tested = "one-hot, soft and unnormalised floats"
    elif "onehot" in families:
        tested = "one-hot floats"
    else:
        tested = ""
    if "index" in families:
        tested = f"{tested} and class indices" if tested else "class indices"
    return f"tested with {tested}"


def _layout(option: str, row: Probe, batch: Probe, k: int, n: int) -> tuple[str, str]:
    if option != "auto":
        return option, f"given: {LAYOUT_TEXT[option]}"
    if row.shape_ok and batch.shape_ok:
        return "both", f"detected: {LAYOUT_TEXT['both']}"
    if row.stopped or batch.stopped:  # a call that dies or hangs never makes its layout a skipped one
        what = f"given a ({k},) row it {row.what}" if row.stopped else f"given a ({n}, {k}) batch it {batch.what}"
        return "both", f"not detected: {what}; both are tested"
    if batch.shape_ok:
        return "batch", f"detected: {LAYOUT_TEXT['batch']}; given a ({k},) row it {row.what}"
    if row.shape_ok:
        return "row", f"detected: {LAYOUT_TEXT['row']}; given a ({n}, {k}) batch it {batch.what}"
    return "row", f"not detected: it fails given a ({k},) row and a ({n}, {k}) batch; examples are passed as (K,)"


def _reduction(option: str, setup: Setup, batch_case: Case, batch: Probe, layout: str) -> tuple[str, str]:
    if not has_reduction(setup):
        return "mean", ""
    if option != "auto":
        return option, "given"
    if layout == "row" or batch.picked.arr is None:
        return "mean", "not detected: no batch case ran; judged as mean"
    tol = tolerance_for("float64")
    per_row = expected_output(replace(setup, reduction="sum"), batch_case)
    n = batch_case.z.shape[0]
    if compare(batch.picked.arr, per_row / n, tol).ok:
        return "mean", f"detected: given a batch of N = {n} each row is its own gradient ÷ N"
    if compare(batch.picked.arr, per_row, tol).ok:
        return "sum", f"detected: given a batch of N = {n} each row is its own gradient (a summed or unreduced loss)"
    return "mean", f"not detected: given a batch of N = {n} it matches neither a mean nor a sum; judged as mean"


def detect(user: UserFunction, setup: Setup, layout: str, targets: str, reduction: str) -> Detection:
    """Probe the function under ``setup`` and settle every convention left at ``auto``."""
    row_case, batch_case = _probe_cases(setup)
    uses = setup.uses_targets
    forms = [False, True] if uses and targets == "auto" else [uses and targets == "index"]
    probes: dict[tuple[bool, bool], Probe] = {}
    for labels in forms:
        for as_batch in (False, True):
            case = replace(row_case if not as_batch else batch_case, labels=labels)
            probes[(labels, as_batch)] = probe(user, setup, case, as_batch)
    if uses:
        families, targets_reason = _families(targets, probes, forms)
        targets_reason = f"{targets_reason}; {tested_text(families)}"
    else:
        families, targets_reason = (), ""
    form = families == ("index",)
    if form not in forms:
        form = forms[0]
    row, batch = probes[(form, False)], probes[(form, True)]
    n, k = batch_case.z.shape
    chosen_layout, layout_reason = _layout(layout, row, batch, k, n)
    columns = layout == "columns"
    # right on a (K,) row and wrong on the rows of a batch is softmax_over_batch_axis, not columns code
    if layout == "auto" and setup.kind in ("grad", "backward", "softmax") and not batch.value_ok and not row.value_ok:
        as_columns = probe(user, replace(setup, columns=True), replace(batch_case, labels=form), True)
        if as_columns.value_ok:
            columns, chosen_layout = True, "columns"
            layout_reason = (
                f"detected: given a ({n}, {k}) batch as rows it is wrong; as ({k}, {n}) columns it is right: "
                f"{LAYOUT_TEXT['columns']}"
            )
            batch = as_columns
    red, red_reason = _reduction(reduction, setup, batch_case, batch, chosen_layout)
    if columns:
        row = batch
    used = batch if chosen_layout == "batch" or (batch.shape_ok and not row.shape_ok) else row
    where = used.picked.where or (batch.picked.where if chosen_layout != "row" else "")
    why = used.picked.why or batch.picked.why
    if setup.returns is not None and not where:
        where, why = f"item {setup.returns} of what it returns", "given"
    new = replace(setup, families=families, reduction=red, columns=columns)
    skip = chosen_layout == "row" and (layout == "row" or row.shape_ok)
    return Detection(new, chosen_layout, layout_reason, targets_reason, red_reason, where, why, skip)
