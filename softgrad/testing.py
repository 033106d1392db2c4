"""pytest helpers: one call in a test suite runs the ``softgrad verify`` battery on your function and fails
with the diagnosed mistake and the exposing input.

.. code-block:: python

    from softgrad.testing import assert_softmax_ce_grad, assert_softmax_jacobian
    from mymodel import grad, softmax_jacobian

    def test_gradient():
        assert_softmax_ce_grad(grad)

    def test_jacobian():
        assert_softmax_jacobian(softmax_jacobian, jacobian_input="s")

They raise :class:`AssertionError` (so they work under any test runner) and return the
:class:`softgrad.VerifyReport` when the function passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from softgrad.commands.verify.api import verify
from softgrad.commands.verify.kinds import DEFAULT_TRIALS
from softgrad.commands.verify.report import VerifyReport


def _fail_unless_ok(report: VerifyReport) -> VerifyReport:
    __tracebackhide__ = True
    if not report.ok:
        from softgrad.render.plain import render_plain
        from softgrad.render.verify_doc import failure_summary

        raise AssertionError(render_plain(failure_summary(report)).rstrip())
    return report


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
    mistake and gives the exposing input as a ``softgrad check`` command.
    """
    __tracebackhide__ = True
    report = verify(fn, "grad", layout=layout, reduction=reduction, trials=trials, seed=seed, rtol=rtol, atol=atol)
    return _fail_unless_ok(report)


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
    report = verify(
        fn,
        "jacobian",
        layout=layout,
        jacobian_input=jacobian_input,
        trials=trials,
        seed=seed,
        rtol=rtol,
        atol=atol,
    )
    return _fail_unless_ok(report)
