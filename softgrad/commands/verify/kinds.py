"""What the user's function computes: the kinds ``verify`` knows, what each is called with and what it
should return, and how the kind is read from the function's signature (or, for one parameter, from the shape
it returns)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from softgrad.commands.verify.calls import Described, Plan, call, invoke
from softgrad.commands.verify.cases import Case, battery
from softgrad.commands.verify.user_code import UserFunction, returned, shape_of, shape_text
from softgrad.core import Array, dE_ds, fused_gradient, softmax, softmax_jacobian, vjp_softmax_jacobian
from softgrad.errors import InputError

#: the last two are layer code (see :mod:`softgrad.commands.verify.layer_code`)
KINDS = ("grad", "jacobian", "softmax", "backward", "elementwise", "loss-backward", "weights", "loss-and-grad")
LAYOUTS = ("auto", "row", "batch", "both", "columns")
#: How a batch gradient is reduced over its rows: auto detects mean or sum (none: per-row, as sum).
REDUCTIONS = ("auto", "none", "sum", "mean")
TARGETS = ("auto", "soft", "onehot", "index")
JACOBIAN_INPUTS = ("auto", "s", "z")
BACKWARD_INPUTS = ("auto", "upstream", "targets")
DEFAULT_TRIALS = 10
MAX_TRIALS = 10_000
#: The motivating question's input: a caller passing z here gets the famous (6.125, 2.625).
WORKED_Z = (1.75, 1.75)
WORKED_T = (0.0, 1.0)

# Parameter names that say what a function takes (compared lower-case).
LOGIT_NAMES = frozenset({"z", "zs", "logits", "logit", "x", "xs", "u", "scores", "score", "inputs", "pre", "input"})
PROB_NAMES = frozenset(
    {"s", "p", "ps", "probs", "prob", "probabilities", "softmax", "sm", "y_hat", "yhat", "y_pred", "a", "out"}
    | {"output", "outputs", "pred", "preds", "predictions", "activation", "activations", "q", "ypred"}
)
TARGET_NAMES = frozenset(
    {"t", "ts", "target", "targets", "y", "ys", "y_true", "label", "labels", "onehot", "one_hot", "truth", "gt"}
    | {"ytrue", "y_batch", "true", "classes", "class_idx", "idx", "y_onehot", "y_one_hot", "expected", "actual"}
)
UPSTREAM_NAMES = frozenset(
    {"upstream", "g", "grad", "grads", "gradient", "grad_output", "grad_out", "dout", "d_out", "dy", "ds"}
    | {"delta", "dl_ds", "de_ds", "dloss", "dvalues", "da", "top_grad", "output_grad", "dl", "de", "dp"}
    | {"output_gradient", "dA", "d_output", "upstream_grad", "dloss_dout"}
)

#: What each role is, in a call template.
ROLE_TEXT = {"z": "z", "s": "s", "t": "t", "g": "g"}


@dataclass(frozen=True)
class Setup:
    """What the function is taken to compute, and how it is called."""

    kind: str
    #: jacobian: "s" or "z"; backward: "upstream" or "targets"; else None
    input: str | None
    #: "mean", "sum" or "none" (per-row, as sum): how a batch gradient of the loss is reduced
    reduction: str
    #: what each positional argument is: "z" logits, "s" probabilities, "t" targets, "g" upstream (for the
    #: layer protocol, backward's arguments); () for the kind's own order
    roles: tuple[str, ...] = ()
    #: the layer protocol: forward's arguments
    forward_roles: tuple[str, ...] = ()
    plan: Plan = field(default_factory=Plan)
    #: the element of a returned tuple that is the result (None: the one of the right shape)
    returns: int | None = None
    #: the target families tested (see :data:`softgrad.commands.verify.cases.FAMILIES`)
    families: tuple[str, ...] = ("soft",)
    #: examples are columns: arrays passed as (K, N), and returned that way
    columns: bool = False
    #: the parameter names allow this reading (one the names rule out is chosen only when it passes)
    named: bool = True

    @property
    def call_roles(self) -> tuple[str, ...]:
        if self.plan.layer:
            return self.roles
        return self.roles or canonical_roles(self.kind, self.input)

    @property
    def uses_targets(self) -> bool:
        return "t" in self.call_roles or "t" in self.forward_roles


def canonical_roles(kind: str, inp: str | None) -> tuple[str, ...]:
    """The arguments of a kind, in verify's own order."""
    if kind == "grad":
        return ("z", "t")
    if kind == "softmax":
        return ("z",)
    if kind in ("jacobian", "elementwise"):
        return ("s",) if inp == "s" else ("z",)
    if kind == "loss-backward":
        return ("s", "t")
    return ("s", "t") if inp == "targets" else ("s", "g")


def _role_name(role: str, labels: bool) -> str:
    return "labels" if role == "t" and labels else ROLE_TEXT[role]


def call_text(setup: Setup, labels: bool = False) -> str:
    """The call as text: ``f(z, t)``, ``f(t, s)``, ``forward(z); backward(g)``."""
    main = ", ".join(_role_name(r, labels) for r in setup.call_roles)
    kw = "".join(f", {k}={v}" for k, v in setup.plan.keywords)
    if setup.plan.layer:
        ctx = ["ctx"] if setup.plan.ctx else []
        fwd = ", ".join([*ctx, *(_role_name(r, labels) for r in setup.forward_roles)])
        main = ", ".join([*ctx, *(_role_name(r, labels) for r in setup.call_roles)])
        verb = "obj" if setup.plan.forward == "__call__" else "forward"
        return f"{verb}({fwd}); backward({main})"
    return f"f({main}{kw})"


def arguments(setup: Setup, z: Array, t: Array, labels: bool = False) -> tuple[list[Any], list[Any], list[str], str]:
    """(forward's arguments, the call's arguments, their names, the call as text) for (N, K) or (K,) logits
    and targets, in float64; targets as class indices (an int array, or an int for one example) when
    ``labels``."""
    s = softmax(z)
    values: dict[str, Any] = {"z": z, "s": s, "g": dE_ds(t, s)}
    if labels:
        idx = np.argmax(t, axis=-1)
        values["t"] = idx.astype(np.int64) if t.ndim == 2 else int(idx)
    else:
        values["t"] = t
    if setup.columns:  # examples are columns: (K, N)
        values = {r: v.T if isinstance(v, np.ndarray) and v.ndim == 2 else v for r, v in values.items()}
    roles = setup.call_roles
    return (
        [values[r] for r in setup.forward_roles],
        [values[r] for r in roles],
        [_role_name(r, labels) for r in roles],
        call_text(setup, labels),
    )


def expected_output(setup: Setup, case: Case) -> Array:
    """The right output, stacked per row: (N, K), or (N, K, K) for a Jacobian."""
    z, t = case.z, case.t
    if setup.kind == "softmax":
        return softmax(z)
    if setup.kind == "jacobian":
        return softmax_jacobian(softmax(z))
    if setup.kind == "elementwise":  # compared as the gradient it leads to, per row
        return fused_gradient(z, t)
    out = (
        dE_ds(t, softmax(z)) if setup.kind == "loss-backward" else fused_gradient(z, t)
    )  # = J(s)ᵀ·(−t/s): the backward with upstream g = −t/s too
    if case.batch and reduces(setup):
        out = out / z.shape[0]
    return out


def has_reduction(setup: Setup) -> bool:
    """Does ``reduction`` apply: a gradient of the loss (not of an upstream vector) over a batch?"""
    return setup.kind in ("grad", "loss-backward") or (setup.kind == "backward" and setup.input == "targets")


def reduces(setup: Setup) -> bool:
    return setup.reduction == "mean" and has_reduction(setup)


@dataclass(frozen=True)
class Reading:
    """One way to read the function: the setup and why."""

    setup: Setup
    reason: str


@dataclass(frozen=True)
class Detected:
    """The readings to try (the first preferred), or none with the reason; a backward input read from a name."""

    readings: tuple[Setup, ...]
    reason: str
    backward_input: str | None = None


#: The names a call template may use, and the role each stands for.
TEMPLATE_NAMES = {"z": "z", "s": "s", "t": "t", "labels": "t", "upstream": "g"}
_TEMPLATE_KINDS = {
    ("t", "z"): ("grad", None),
    ("s", "t"): ("backward", "targets"),
    ("g", "s"): ("backward", "upstream"),
    ("z",): ("softmax", None),
    ("s",): ("jacobian", "s"),
}


def parse_call(template: str, kind: str | None) -> tuple[Setup, bool]:
    """A call template such as ``f(t, s)`` or ``grad(logits=z)``-free ``f(z, labels)``: the setup it states
    (its kind, unless ``kind`` is given: ``f(z)`` is a softmax, or a Jacobian of the logits with ``kind``
    jacobian), and whether it passes class indices. Raises :class:`InputError` naming the template."""
    text = template.strip()
    head, sep, rest = text.partition("(")
    names = ", ".join(TEMPLATE_NAMES)
    if not sep or not rest.endswith(")") or not head.strip().isidentifier():
        raise InputError("call", f"expected a call such as f(t, s), got {template!r}")
    args = [a.strip() for a in rest[:-1].split(",")] if rest[:-1].strip() else []
    bad = [a for a in args if a not in TEMPLATE_NAMES]
    if bad or not args:
        what = f"unknown name {bad[0]!r}" if bad else "no arguments"
        raise InputError("call", f"{what} in {template!r}; each argument is one of {names}")
    roles = tuple(TEMPLATE_NAMES[a] for a in args)
    if len(set(roles)) != len(roles):
        raise InputError("call", f"an argument appears twice in {template!r}")
    found = _TEMPLATE_KINDS.get(tuple(sorted(roles)))
    if found is None:
        raise InputError(
            "call", f"{template!r} is none of the calls verify makes: f(z, t), f(s, t), f(s, upstream), f(z), f(s)"
        )
    the_kind, inp = found
    if kind is not None and kind != the_kind:
        if (kind, roles) == ("jacobian", ("z",)):
            the_kind, inp = "jacobian", "z"
        else:
            raise InputError("call", f"{template!r} is a {the_kind} call, not a {kind} one")
    return Setup(the_kind, inp, "mean", roles=roles), "labels" in args


def _named(name: str) -> str | None:
    n = name.lower()
    if n in TARGET_NAMES:
        return "t"
    if n in UPSTREAM_NAMES:
        return "g"
    if n in PROB_NAMES:
        return "s"
    if n in LOGIT_NAMES:
        return "z"
    return None


def _shown(names: tuple[str, ...]) -> str:
    return f"({', '.join(names)})"


def _plain_readings(names: tuple[str, ...], base: Setup) -> Detected:
    """Readings of a callable with two positional parameters, from their names."""
    shown = _shown(names)
    first, second = (_named(n) for n in names)
    if first == "s" and second == "g":
        return Detected(
            (replace(base, kind="backward", input="upstream"),),
            f"two parameters {shown}: probabilities, an upstream gradient",
            "upstream",
        )
    targets_at = 1 if second == "t" and first != "t" else 0 if first == "t" and second != "t" else None
    if targets_at is not None:
        other = names[1 - targets_at]
        said = _named(other)
        order = "targets first; " if targets_at == 0 else ""

        def roles(r: str) -> tuple[str, ...]:
            return (r, "t") if targets_at == 1 else ("t", r)

        grad = replace(base, kind="grad", input=None, roles=roles("z") if targets_at == 0 else ())
        back = replace(base, kind="backward", input="targets", roles=roles("s") if targets_at == 0 else ())
        loss = replace(base, kind="loss-backward", input=None, roles=roles("s") if targets_at == 0 else ())
        if said == "g":  # an upstream gradient beside targets: not a kind verify has
            return Detected((), f"two parameters {shown}: an upstream gradient and targets")
        if said == "s":
            prefer = (back, loss, replace(grad, named=False))
        elif said == "z":
            prefer = (grad, replace(back, named=False), replace(loss, named=False))
        else:
            prefer = (grad, back, loss)
        what = {"s": "probabilities", "z": "logits"}.get(said or "", "logits or probabilities (probed)")
        return Detected(prefer, f"two parameters {shown}: {order}{what} and targets")
    if first == "s":
        return Detected(
            (replace(base, kind="backward", input="upstream"), replace(base, kind="backward", input="targets")),
            f"two parameters {shown}: probabilities, and an upstream gradient or targets (probed)",
        )
    if first == "z" and second != "g":
        return Detected((replace(base, kind="grad", input=None),), f"two parameters {shown}: logits and targets")
    return Detected((), f"two parameters {shown}, names that do not say whether it takes logits or probabilities")


def _layer_readings(d: Described, base: Setup) -> Detected:
    fwd, bwd = d.forward_params, d.backward_params
    verb = "__call__" if d.forward == "__call__" else "forward"
    if fwd is None or bwd is None:
        return Detected((), f"{d.owner} has {verb} and backward, but no inspectable signatures")
    f, b = fwd.used, bwd.used
    shown = f"{d.owner}.{verb}{_shown(f)} then backward{_shown(b)}"
    plan = replace(base.plan, what=d.what, layer=True, forward=d.forward, ctx=fwd.ctx and bwd.ctx)
    if len(f) == 1 and len(b) == 1:
        setup = replace(base, kind="backward", input="upstream", roles=("g",), forward_roles=("z",), plan=plan)
        return Detected((setup,), f"the layer protocol {shown}: a softmax layer given an upstream gradient")
    if len(b) == 0 and len(f) == 2:
        roles = ("t", "z") if _named(f[0]) == "t" else ("z", "t")
        setup = replace(base, kind="grad", input=None, roles=(), forward_roles=roles, plan=plan)
        return Detected((setup,), f"the layer protocol {shown}: logits and targets in, dE/dz out")
    if len(b) == 2 and len(f) in (1, 2):
        targets_first = _named(b[0]) == "t" and _named(b[1]) != "t"
        roles = ("t", "s") if targets_first else ("s", "t")
        fr = ("z",) if len(f) == 1 else (("t", "z") if _named(f[0]) == "t" else ("z", "t"))
        setup = replace(base, kind="backward", input="targets", roles=roles, forward_roles=fr, plan=plan)
        loss = replace(setup, kind="loss-backward", input=None)
        return Detected(
            (setup, loss),
            f"the layer protocol {shown}: backward given the softmax output s and targets, dE/dz (or dE/ds) out",
        )
    return Detected((), f"the layer protocol {shown}, which verify does not know how to call")


def detect_kind(d: Described, base: Setup) -> Detected:
    """What the object is and its signature say: the readings to try. Two parameters (z, t) are ``grad``,
    (s, t) or (s, upstream) ``backward`` (targets first too, logits or probabilities probed); one parameter is
    a softmax or a Jacobian (told apart by calling it: see :func:`probe_one_parameter`); a class with
    forward and backward follows the layer protocol."""
    if d.init_error:
        return Detected((), f"instantiating {d.owner}() with no arguments raised {d.init_error}")
    if d.forward:
        return _layer_readings(d, base)
    if d.params is None:
        return Detected((), "it has no inspectable signature")
    base = replace(base, plan=replace(base.plan, what=d.what))
    params = d.params.used
    if len(params) == 1:
        return Detected((), f"one parameter {_shown(params)}")
    if len(params) != 2:
        many = f"{len(params)} parameters {_shown(params)}" if params else "no fixed parameters"
        many += " and *args" if d.params.varargs else ""
        return Detected((), f"{many}; verify calls f(z, t), f(s, g), f(s, t), f(z) or f(s)")
    found = _plain_readings(params, base)
    return found


def probe_one_parameter(user: UserFunction, plan: Plan) -> tuple[str | None, str]:
    """Tell a softmax from a Jacobian by the shape it returns for a (K,) row, else an (N, K) batch."""
    cases = battery("softmax")
    row, batch = cases[0].z[0], next(c for c in cases if c.batch).z
    seen = []
    for arg in (row, batch):
        called = invoke(user.session, call, plan, (), (arg,), ("x",), user.errstate, user.file)
        if called.error is not None or called.failed is not None:
            seen.append(f"given {shape_text(arg.shape)} it {called.failed or 'raised ' + str(called.error)}")
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
    "columns": "examples are columns: a batch is passed as (K, N), one example as (K, 1)",
}


def leads_to(case: Case, derivative: Array) -> Array:
    """The gradient an element-wise "derivative" f leads to when the network multiplies it with the upstream
    gradient: (−t/s) ⊙ f, per row."""
    out: Array = dE_ds(case.t, softmax(case.z)) * derivative
    return out


def as_gradients(setup: Setup, case: Case, out: Array) -> Array:
    """The user's output as per-row dE/dz, comparable with the catalogue's (a reduced batch scaled back
    by N; a softmax p turned into the gradient p·Σt − t built on it)."""
    if setup.kind == "softmax":
        g: Array = out * np.sum(case.t, axis=-1, keepdims=True) - case.t
        return g
    if setup.kind == "elementwise":  # already the gradient it leads to (see leads_to)
        return out
    scale = case.z.shape[0] if case.batch and reduces(setup) else 1
    g = out * scale
    if setup.kind == "loss-backward":  # dE/ds chained through the right Jacobian: dE/dz
        g = vjp_softmax_jacobian(g, softmax(case.z))
    return g
