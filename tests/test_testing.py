"""softgrad.testing: the pytest helpers, run inside a user's test suite with pytester."""

from __future__ import annotations

import numpy as np
import pytest

from softgrad.testing import assert_softmax_ce_grad, assert_softmax_jacobian
from tests.conftest import SAMPLES

USER_MODULE = """
import numpy as np

def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

def jacobian(s):
    return s[..., :, None] * np.eye(s.shape[-1]) - s[..., :, None] * s[..., None, :]

def good_grad(z, t):
    g = softmax(z) * t.sum(axis=-1, keepdims=True) - t
    return g / len(z) if z.ndim == 2 else g

def grad_with_jacobian_at_logits(z, t):
    s = softmax(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(t == 0, 0.0, -t / s)
    out = np.einsum("...j,...jk->...k", g, jacobian(z))
    return out / len(z) if z.ndim == 2 else out
"""


def test_passing_and_failing_user_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mymodel=USER_MODULE)
    pytester.makepyfile(
        test_user="""
        from softgrad.testing import assert_softmax_ce_grad, assert_softmax_jacobian
        import mymodel

        def test_good_gradient():
            report = assert_softmax_ce_grad(mymodel.good_grad)
            assert report.ok

        def test_good_jacobian():
            assert_softmax_jacobian(mymodel.jacobian, jacobian_input="s")

        def test_bad_gradient():
            assert_softmax_ce_grad(mymodel.grad_with_jacobian_at_logits)

        def test_jacobian_called_with_logits():
            assert_softmax_jacobian(mymodel.jacobian, jacobian_input="z")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            (
                "*AssertionError: softgrad verify mymodel:grad_with_jacobian_at_logits: wrong: 17 of 17 cases fail;"
                " diagnosed jacobian_at_logits*"
            ),
            "*it matches jacobian_at_logits: softmax Jacobian evaluated at the logits z instead of at s = softmax(z)",
            "*reproduce: softgrad check --z 2 1 0.1 -1.5 --t 0 0 1 0 --grad 2.069478814286175*",
            "*given s = softmax(z) instead, it passes every case: the function is right, the call is wrong*",
        ]
    )
    # the traceback points at the user's test, not into softgrad
    assert "softgrad/testing.py" not in result.stdout.str()


def test_helpers_return_the_report_and_raise_assertion_error() -> None:
    report = assert_softmax_ce_grad(f"{SAMPLES / 'verify' / 'correct_grad.py'}:grad", trials=2)
    assert report.ok
    assert report.kind == "grad"
    report = assert_softmax_jacobian(f"{SAMPLES / 'verify' / 'df2_on_logits.py'}:df2", trials=2)
    assert report.input == "s"
    with pytest.raises(AssertionError, match="diagnosed no_max_shift") as exc:
        assert_softmax_ce_grad(f"{SAMPLES / 'verify' / 'no_max_shift.py'}:grad", trials=0)
    assert "reproduce: softgrad check --z 1002 1001 1000.1 998.5 --t 0 0 1 0 --grad nan nan nan nan" in str(exc.value)

    def sum_reduced(z: np.ndarray, t: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True) * t.sum(axis=-1, keepdims=True) - t

    assert assert_softmax_ce_grad(sum_reduced, reduction="sum", trials=0).ok
    with pytest.raises(AssertionError, match="mean-reduced gradient"):
        assert_softmax_ce_grad(sum_reduced, trials=0)
