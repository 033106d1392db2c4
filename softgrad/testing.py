"""pytest helpers: one call in a test suite runs the ``softgrad verify`` battery on your function and fails
with the diagnosed mistake and the exposing input.

.. code-block:: python

    from softgrad.testing import assert_softmax_ce_grad, assert_softmax_jacobian
    from mymodel import grad, softmax_jacobian

    def test_gradient():
        assert_softmax_ce_grad(grad)

    def test_jacobian():
        assert_softmax_jacobian(softmax_jacobian, jacobian_input="s")

There is one helper per verify kind: :func:`assert_softmax_ce_grad` (``f(z, t) -> dE/dz``),
:func:`assert_softmax_jacobian` (``f(s) -> ds/dz``), :func:`assert_softmax` (``f(z) -> s``),
:func:`assert_softmax_backward` (``f(s, g) -> J(s)ᵀ·g``), :func:`assert_loss_backward` (``f(s, t) -> dE/dz``),
:func:`assert_backward` (either, detected), and for layer code :func:`assert_layer_weights` (``f(W, X, y, reg)
-> (loss, dW)``) and :func:`assert_loss_and_grad` (``f(params, X, y, reg) -> (loss, grads)``). They raise
:class:`AssertionError` (so they work under any test runner) with a message written for Python (``rtol=1e-4``,
not ``--rtol 1e-4``) that ends with the reproducing Python calls, and return the
:class:`softgrad.VerifyReport` when the function passes. With the pytest plugin installed (it is, with
softgrad), ``@pytest.mark.softgrad(...)`` and ``pytest --softgrad-report=FILE`` need no import at all."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from softgrad.commands.verify.api import verify
from softgrad.commands.verify.kinds import DEFAULT_TRIALS
from softgrad.commands.verify.report import CaseResult, VerifyReport
from softgrad.commands.verify.weights_report import WeightsReport

#: Called with (test id or None, report) after every verification (the pytest plugin's --softgrad-report).
RECORDERS: list[Callable[[str | None, VerifyReport | WeightsReport], None]] = []

#: Command-line options as the Python keywords they are (in failure messages).
_KEYWORDS = ("rtol", "atol", "kind", "layout", "reduction", "jacobian-input", "backward-input", "trials", "seed")
_FLAG = re.compile(r"--(" + "|".join(_KEYWORDS) + r")(?:[ =]([^\s,;)]+))?")


def pythonic(text: str) -> str:
    """A message with softgrad's command-line options written as the keywords of the Python call:
    ``--rtol 1e-4`` → ``rtol=1e-4``, ``--kind grad`` → ``kind="grad"``."""

    def keyword(m: re.Match[str]) -> str:
        name, value = m.group(1).replace("-", "_"), m.group(2)
        if value is None or value in ("N", "R", "A"):
            return f"{name}="
        try:
            float(value)
        except ValueError:
            return f'{name}="{value}"'
        return f"{name}={value}"

    return _FLAG.sub(keyword, text)


def _array(rows: Any, single: bool, dtype: str) -> str:
    from softgrad.core.numbers import shortest

    def lit(v: Any) -> str:
        if isinstance(v, (tuple, list)):
            return "[" + ", ".join(lit(x) for x in v) + "]"
        text = shortest(v)
        return f'float("{text}")' if text in ("nan", "inf", "-inf") else text

    return f"np.array({lit(rows[0] if single else rows)}, dtype=np.{dtype})"


def python_call(name: str, c: CaseResult) -> str | None:
    """The failing input as a Python call of the function, ``grad(np.array([...]), np.array([...]))``."""
    m = re.fullmatch(r"\w+\((.*)\)", c.call)
    if m is None:
        return None
    single = len(c.shape) == 1
    values: dict[str, str] = {"z": _array(c.z, single, c.dtype), "t": _array(c.t, single, c.dtype)}
    if c.upstream is not None:
        values["g"] = _array(c.upstream, single, c.dtype)
    if "s" in m.group(1).split(", "):
        import numpy as np

        from softgrad.core.formulas import softmax

        s = softmax(np.asarray(c.z, dtype=np.float64))
        values["s"] = _array(tuple(map(tuple, s.tolist())), single, c.dtype)
    args = [values.get(a.strip()) for a in m.group(1).split(",")]
    if any(a is None for a in args):
        return None
    return f"{name}({', '.join(a for a in args if a is not None)})"


def _message(report: VerifyReport | WeightsReport, options: dict[str, Any]) -> str:
    from softgrad.render.plain import render_plain

    if isinstance(report, WeightsReport):
        from softgrad.render.verify_weights_doc import verify_weights_document

        text = pythonic(render_plain(verify_weights_document(report, 1)).rstrip())
    else:
        from softgrad.render.verify_doc import failure_summary

        text = pythonic(render_plain(failure_summary(report)).rstrip())
    import inspect

    name = report.target.rpartition(":")[2].rpartition(".")[2] or "fn"
    defaults = {k: p.default for k, p in inspect.signature(verify).parameters.items()}
    shown = ", ".join(f"{k}={v!r}" for k, v in options.items() if v != defaults.get(k))
    lines = [text, "reproduce in Python:", "    import numpy as np, softgrad"]
    lines.append(f"    softgrad.verify({name}, {report.kind!r}{', ' + shown if shown else ''})")
    first = report.failed[0] if isinstance(report, VerifyReport) and report.failed else None
    call = python_call(name, first) if first is not None else None
    if call is not None and first is not None:
        lines.append(f"    {call}  # the first failing case: {first.name}")
    return "\n".join(lines)


def verify_and_assert(
    fn: Callable[..., Any] | str, kind: str | None, *, test: str | None = None, **options: Any
) -> VerifyReport | WeightsReport:
    """Run :func:`softgrad.verify` and raise :class:`AssertionError` unless every case passes."""
    __tracebackhide__ = True
    report: VerifyReport | WeightsReport = verify(fn, kind, **options)
    for record in RECORDERS:
        record(test, report)
    if not report.ok:
        raise AssertionError(_message(report, options))
    return report


def _softmax_kind(fn: Callable[..., Any] | str, kind: str, **options: Any) -> VerifyReport:
    __tracebackhide__ = True
    report = verify_and_assert(fn, kind, **options)
    assert isinstance(report, VerifyReport)
    return report


def _layer_kind(fn: Callable[..., Any] | str, kind: str, **options: Any) -> WeightsReport:
    __tracebackhide__ = True
    report = verify_and_assert(fn, kind, **options)
    assert isinstance(report, WeightsReport)
    return report


def assert_layer_weights(
    fn: Callable[..., Any] | str,
    *,
    reg_convention: str = "auto",
    labels: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> WeightsReport:
    """Assert that ``fn(W, X, y, reg) -> (loss, dW)`` — a softmax classifier's loss and weight gradient —
    is right (``softgrad verify --kind weights``); ``reg_convention`` and ``labels`` as there."""
    __tracebackhide__ = True
    options = {"reg_convention": reg_convention, "labels": labels, "trials": trials, "seed": seed}
    return _layer_kind(fn, "weights", **options, rtol=rtol, atol=atol)


def assert_loss_and_grad(
    fn: Callable[..., Any] | str,
    *,
    case: str | None = None,
    labels: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> WeightsReport:
    """Assert that ``fn(params, X, y, reg) -> (loss, grads)`` — a network's loss and the gradient of every
    parameter — is right (``softgrad verify --kind loss-and-grad``); ``case``: a case file of arguments."""
    __tracebackhide__ = True
    options = {"case": case, "labels": labels, "trials": trials, "seed": seed}
    return _layer_kind(fn, "loss-and-grad", **options, rtol=rtol, atol=atol)


def assert_softmax_ce_grad(
    fn: Callable[..., Any] | str,
    *,
    reduction: str = "mean",
    layout: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> VerifyReport:
    """Assert that ``fn(z, t)`` returns dE/dz of softmax + cross-entropy, for one example (K,) and, if it
    takes them, batches (N, K) (``reduction``: the batch loss is the ``"mean"`` or the ``"sum"`` over rows).

    Runs the verify battery and ``trials`` seeded random cases; on failure the message names the diagnosed
    mistake and gives the exposing input as a ``softgrad check`` command and as a Python call.
    """
    __tracebackhide__ = True
    options: dict[str, Any] = {
        "layout": layout,
        "reduction": reduction,
        "trials": trials,
        "seed": seed,
        "rtol": rtol,
        "atol": atol,
    }
    return _softmax_kind(fn, "grad", **options)


def assert_softmax_jacobian(
    fn: Callable[..., Any] | str,
    *,
    jacobian_input: str = "auto",
    layout: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> VerifyReport:
    """Assert that ``fn`` returns the softmax Jacobian ds/dz = diag(s) − s sᵀ, (K, K) per example.

    ``jacobian_input``: ``"s"`` — ``fn`` is given s = softmax(z); ``"z"`` — it is given the logits and takes
    the softmax itself; ``"auto"`` — either passes. On failure the message names the diagnosed mistake and
    says whether the function would be right given the other input.
    """
    __tracebackhide__ = True
    options: dict[str, Any] = {"layout": layout, "jacobian_input": jacobian_input, "trials": trials, "seed": seed}
    return _softmax_kind(fn, "jacobian", **options, rtol=rtol, atol=atol)


def assert_softmax(
    fn: Callable[..., Any] | str,
    *,
    layout: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> VerifyReport:
    """Assert that ``fn(z)`` returns s = softmax(z) along the last axis (stable for large logits too)."""
    __tracebackhide__ = True
    options: dict[str, Any] = {"layout": layout, "trials": trials, "seed": seed, "rtol": rtol, "atol": atol}
    return _softmax_kind(fn, "softmax", **options)


def assert_backward(
    fn: Callable[..., Any] | str,
    *,
    backward_input: str = "auto",
    reduction: str = "mean",
    layout: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> VerifyReport:
    """Assert that a backward function is right: ``fn(s, g) -> J(s)ᵀ·g`` (``backward_input="upstream"``),
    ``fn(s, t) -> dE/dz`` (``"targets"``, with ``reduction`` over a batch), or whichever it is (``"auto"``:
    from its parameter name, else whichever it passes with)."""
    __tracebackhide__ = True
    options = {"backward_input": backward_input, "reduction": reduction, "layout": layout}
    return _softmax_kind(fn, "backward", **options, trials=trials, seed=seed, rtol=rtol, atol=atol)


def assert_softmax_backward(
    fn: Callable[..., Any] | str,
    *,
    layout: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> VerifyReport:
    """Assert that ``fn(s, g)`` returns the softmax backward pass J(s)ᵀ·g = s⊙g − (g·s)·s for an upstream
    gradient g = dE/ds."""
    __tracebackhide__ = True
    return assert_backward(fn, backward_input="upstream", layout=layout, trials=trials, seed=seed, rtol=rtol, atol=atol)


def assert_loss_backward(
    fn: Callable[..., Any] | str,
    *,
    reduction: str = "mean",
    layout: str = "auto",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> VerifyReport:
    """Assert that ``fn(s, t)`` — a loss layer's backward given the probabilities and the targets — returns
    dE/dz = s·Σt − t (``reduction``: ``"mean"`` or ``"sum"`` over the rows of a batch)."""
    __tracebackhide__ = True
    return assert_backward(
        fn,
        backward_input="targets",
        reduction=reduction,
        layout=layout,
        trials=trials,
        seed=seed,
        rtol=rtol,
        atol=atol,
    )
