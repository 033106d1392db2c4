"""The pytest plugin (through its pytest11 entry point: no import in the user's tests) and the helpers for
every verify kind, run inside a user's test suite with pytester."""

from __future__ import annotations

import json

import numpy as np
import pytest

from softgrad.testing import (
    assert_backward,
    assert_loss_backward,
    assert_softmax,
    assert_softmax_backward,
    pythonic,
)
from tests.conftest import SAMPLES

VERIFY = SAMPLES / "verify"

USER_MODULE = """
import numpy as np

def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

def good_grad(z, t):
    g = softmax(z) * t.sum(axis=-1, keepdims=True) - t
    return g / len(z) if z.ndim == 2 else g

def sign_flipped(z, t):
    return -good_grad(z, t)
"""


def test_marker_and_report_without_imports(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(mymodel=USER_MODULE)
    pytester.makepyfile(
        test_user="""
        import pytest
        import mymodel

        @pytest.mark.softgrad(mymodel.good_grad, "grad", trials=2)
        def test_good(softgrad_report):
            assert softgrad_report.kind == "grad"
            assert softgrad_report.ok

        @pytest.mark.softgrad("mymodel.py:sign_flipped", kind="grad", trials=0, rtol=1e-4)
        def test_bad():
            raise RuntimeError("the body must not run")

        @pytest.mark.softgrad(mymodel.softmax, trials=0)
        def test_detected_kind():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--softgrad-report=report.json", "--strict-markers")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "the body must not run" not in out
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: softgrad verify mymodel.py:sign_flipped: wrong*",
            "*reproduce in Python:*",
            "*softgrad.verify(sign_flipped, 'grad', trials=0, rtol=0.0001)*",
            "*sign_flipped(np.array(*, dtype=np.float64), np.array(*, dtype=np.float64))*",
        ]
    )
    data = json.loads((pytester.path / "report.json").read_text())
    tests = {v["test"].split("::")[-1]: v["report"]["status"] for v in data["verifications"]}
    assert tests == {"test_good": "pass", "test_bad": "fail", "test_detected_kind": "pass"}


def test_the_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.softgrad(fn, kind=None, **options)*"])
    result = pytester.runpytest("-p", "no:cacheprovider", "--help")
    result.stdout.fnmatch_lines(["*--softgrad-report=FILE*"])


def test_messages_use_python_keywords() -> None:
    assert pythonic("try --rtol 1e-4 or --kind backward, --backward-input targets") == (
        'try rtol=1e-4 or kind="backward", backward_input="targets"'
    )
    assert pythonic("--format json stays") == "--format json stays"


def test_a_helper_for_every_kind() -> None:
    assert assert_softmax(f"{VERIFY / 'correct_softmax.py'}", trials=1).kind == "softmax"
    with pytest.raises(AssertionError, match="reproduce in Python") as exc:
        assert_softmax(f"{VERIFY / 'softmax_no_max_shift.py'}", trials=0)
    assert "softgrad.verify(softmax, 'softmax', trials=0)" in str(exc.value)
    report = assert_backward(f"{VERIFY / 'correct_backward.py'}", trials=1)
    assert (report.kind, report.input) == ("backward", "upstream")
    assert assert_softmax_backward(f"{VERIFY / 'correct_backward.py'}", trials=1).ok

    def loss_backward(s: np.ndarray, t: np.ndarray) -> np.ndarray:  # a loss layer's backward, mean over rows
        g = s * t.sum(axis=-1, keepdims=True) - t
        return g / len(s) if s.ndim == 2 else g

    assert assert_loss_backward(loss_backward, trials=1).input == "targets"
    with pytest.raises(AssertionError, match="reduction="):
        assert_loss_backward(loss_backward, reduction="sum", trials=0)


def test_layer_code_helpers() -> None:
    from softgrad.testing import assert_layer_weights, assert_loss_and_grad

    assert assert_layer_weights(f"{VERIFY / 'weights_correct.py'}:softmax_loss_naive", trials=1).ok
    with pytest.raises(AssertionError, match="reg_gradient_factor") as exc:
        assert_layer_weights(f"{VERIFY / 'weights_reg_missing_2.py'}:softmax_loss_vectorized", trials=1)
    assert "softgrad.verify(softmax_loss_vectorized, 'weights', trials=1)" in str(exc.value)
    assert assert_loss_and_grad(f"{VERIFY / 'two_layer_correct.py'}", trials=1).ok
