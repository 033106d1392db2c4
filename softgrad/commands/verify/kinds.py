"""What the user's function computes: the kinds ``verify`` knows, what each is called with and what it
should return, and how the kind is read from the function's signature (or, for one parameter, from the shape
it returns)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from softgrad.commands.verify.cases import Case, battery
from softgrad.commands.verify.session import CallFailed
from softgrad.commands.verify.user_code import UserFunction, returned, shape_of, shape_text
from softgrad.core import Array, dE_ds, fused_gradient, rules, softmax, softmax_jacobian

KINDS = ("grad", "jacobian", "softmax", "backward")
LAYOUTS = ("auto", "row", "batch", "both")
#: A batch gradient of a loss is the gradient of its mean or its sum (verify has no per-row "none").
REDUCTIONS = tuple(r for r in rules.REDUCTIONS if r != "none")
JACOBIAN_INPUTS = ("auto", "s", "z")
BACKWARD_INPUTS = ("auto", "upstream", "targets")
DEFAULT_TRIALS = 10
MAX_TRIALS = 10_000
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


@dataclass(frozen=True)
class Setup:
    """What the function is taken to compute."""

    kind: str
    #: jacobian: "s" or "z"; backward: "upstream" or "targets"; else None
    input: str | None
    reduction: str


def arguments(setup: Setup, z: Array, t: Array) -> tuple[list[Array], list[str], str]:
    """(arguments, their names, the call as text) for (N, K) or (K,) logits and targets, in float64."""
    s = softmax(z)
    kind, inp = setup.kind, setup.input
    if kind == "grad":
        return [z, t], ["z", "t"], "f(z, t)"
    if kind == "softmax":
        return [z], ["z"], "f(z)"
    if kind == "jacobian":
        return ([s], ["s"], "f(s)") if inp == "s" else ([z], ["z"], "f(z)")
    if inp == "targets":
        return [s, t], ["s", "t"], "f(s, t)"
    return [s, dE_ds(t, s)], ["s", "g"], "f(s, g)"


def expected_output(setup: Setup, case: Case) -> Array:
    """The right output, stacked per row: (N, K), or (N, K, K) for a Jacobian."""
    z, t = case.z, case.t
    if setup.kind == "softmax":
        return softmax(z)
    if setup.kind == "jacobian":
        return softmax_jacobian(softmax(z))
    out = fused_gradient(z, t)  # = J(s)ᵀ·(−t/s): the backward with upstream g = −t/s too
    if case.batch and reduces(setup):
        out = out / z.shape[0]
    return out


def has_reduction(setup: Setup) -> bool:
    """Does ``reduction`` apply: a gradient of the loss (not of an upstream vector) over a batch?"""
    return setup.kind == "grad" or (setup.kind == "backward" and setup.input == "targets")


def reduces(setup: Setup) -> bool:
    return setup.reduction == "mean" and has_reduction(setup)


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
        try:
            called = user([arg], ["x"])
        except CallFailed as exc:
            seen.append(f"given {shape_text(arg.shape)} it {exc.message if exc.ran else 'was not run: ' + exc.message}")
            continue
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


INPUT_TEXT = {
    "s": "s = softmax(z)",
    "z": "the logits z",
    "upstream": "an upstream gradient g = dE/ds, as f(s, g)",
    "targets": "the targets t, as f(s, t)",
}

LAYOUT_TEXT = {
    "row": "it takes one example (K,) at a time, so the batch case is skipped",
    "batch": "it takes batches (N, K) only, so single examples are passed as (1, K)",
    "both": "it takes one example (K,) and a batch (N, K)",
}


def as_gradients(setup: Setup, case: Case, out: Array) -> Array:
    """The user's output as per-row dE/dz, comparable with the catalogue's (a reduced batch scaled back
    by N; a softmax p turned into the gradient p·Σt − t built on it)."""
    if setup.kind == "softmax":
        g: Array = out * np.sum(case.t, axis=-1, keepdims=True) - case.t
        return g
    scale = case.z.shape[0] if case.batch and reduces(setup) else 1
    g = out * scale
    return g
