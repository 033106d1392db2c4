"""``softgrad.verify(..., kind="weights")``: detection from the signature, the regularisation convention and
the targets' form read from the function, the loss and dW judged against core's ``softmax_loss``, mistakes
named, and whatever the user's code does turned into failed cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import softgrad
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.verify.session import CallFailed, InProcessSession
from softgrad.commands.verify.weights import verify_weights, weights_signature
from softgrad.commands.verify.weights_calls import Signature, call, signature
from softgrad.commands.verify.weights_cases import battery, one_hot, random_cases
from softgrad.commands.verify.weights_report import WeightsReport
from softgrad.core import softmax
from softgrad.core.layer import softmax_loss
from softgrad.core.tolerance import tolerance_for
from softgrad.errors import InputError


def _probs(W: Any, X: Any) -> Any:
    return softmax(X @ W)


def good(W: Any, X: Any, y: Any, reg: float) -> Any:
    n = X.shape[0]
    p = _probs(W, X)
    loss = -np.mean(np.log(p[np.arange(n), y])) + reg * np.sum(W * W)
    p[np.arange(n), y] -= 1
    return loss, X.T @ p / n + 2 * reg * W


def _verify(fn: Any, **kw: Any) -> WeightsReport:
    r = softgrad.verify(fn, "weights", **kw)
    assert isinstance(r, WeightsReport)
    return r


def _first(r: WeightsReport, quantity: str) -> str | None:
    return next((d.id for d in r.diagnosis if d.quantity == quantity), None)


# ------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    "names",
    [("W", "X", "y", "reg"), ("W", "X_batch", "y_batch", "reg"), ("weights", "inputs", "labels", "lam"),
     ("theta", "x", "y", "reg_strength")],
)  # fmt: skip
def test_weights_signature_detected(names: tuple[str, ...]) -> None:
    assert weights_signature(Signature(names, names, False)) is not None


@pytest.mark.parametrize(
    "names", [("z", "t", "s", "g"), ("W", "X", "y"), ("a", "b", "c", "d"), ("W", "X", "y", "reg", "extra")]
)
def test_other_signatures_are_not_weights(names: tuple[str, ...]) -> None:
    assert weights_signature(Signature(names, names, False)) is None


def test_detected_without_kind_and_a_default_reg_counts() -> None:
    def softmax_loss_vectorized(W: Any, X: Any, y: Any, reg: float = 0.0) -> Any:
        return good(W, X, y, reg)

    r = softgrad.verify(softmax_loss_vectorized)
    assert isinstance(r, WeightsReport)
    assert r.kind == "weights"
    assert r.kind_reason.startswith("detected: four parameters (W, X, y, reg)")
    assert r.ok


def test_four_unrecognised_parameters_still_ask_for_a_kind_naming_the_layer_kinds() -> None:
    def f(a: Any, b: Any, c: Any, d: Any) -> Any:
        return a

    with pytest.raises(InputError, match=r"--kind grad\|jacobian\|softmax\|backward\|weights\|loss-and-grad"):
        softgrad.verify(f)


def test_signature_step_reads_positional_parameters() -> None:
    def f(W: Any, X: Any, y: Any, reg: float = 0.0, *rest: Any) -> None:
        return None

    assert signature(f) == Signature(("W", "X", "y", "reg"), ("W", "X", "y"), True)
    assert signature(len) is not None
    assert signature(np.add) is None or isinstance(signature(np.add), Signature)


# ------------------------------------------------------------------------------------- the battery


def test_battery_exposes_what_it_says() -> None:
    cases = {c.name: c for c in battery()}
    assert cases["square"].W.shape[0] == cases["square"].W.shape[1]  # D = C: a transposed dW fits
    assert cases["square"].reg != 0  # where the convention is read
    assert cases["no_reg"].reg == 0
    big = cases["large_logits"]
    scores = big.X @ big.W
    assert np.all(scores.max(axis=1) > 709)  # exp overflows without the shift ...
    assert np.all(scores.max(axis=1) - scores.min(axis=1) < 30)  # ... and the shifted softmax does not underflow
    loss, dW = softmax_loss(big.W, big.X, big.y, big.reg)
    assert np.isfinite(loss)
    assert np.all(np.isfinite(dW))
    for c in battery() + random_cases(20, 3):
        assert c.X.shape[1] == c.W.shape[0]
        assert set(c.y.tolist()) <= set(range(c.W.shape[1]))
        assert c.W.shape[1] >= 2
    assert [c.name for c in random_cases(3, 1)] == ["random_0", "random_1", "random_2"]
    assert np.array_equal(random_cases(2, 5)[1].W, random_cases(2, 5)[1].W)


def test_correct_function_matches_core_exactly() -> None:
    r = _verify(good)
    assert r.ok
    assert r.reg_convention == "full"
    assert r.labels == "indices"
    assert r.returns == "loss and dW"
    first = battery()[0]
    loss, dW = softmax_loss(first.W, first.X, first.y, first.reg, "full")
    case = r.cases[0]
    got_loss = case.check("loss")
    got_dW = case.check("dW")
    assert got_loss is not None
    assert got_dW is not None
    assert got_loss.expected == pytest.approx(loss, rel=1e-15)
    assert np.allclose(got_dW.expected, dW, rtol=1e-15, atol=0)
    assert r.verdict == (f"right: loss and dW match {r.reference} on all {len(battery()) + 10} cases")


# ------------------------------------------------------------------------------------- conventions and forms


def test_half_convention_read_from_the_loss() -> None:
    def half(W: Any, X: Any, y: Any, reg: float) -> Any:
        loss, dW = good(W, X, y, 0.0)
        return loss + 0.5 * reg * np.sum(W * W), dW + reg * W

    r = _verify(half)
    assert r.ok
    assert r.reg_convention == "half"
    assert "read from the loss" in r.reg_reason
    forced = _verify(half, reg_convention="full")
    assert not forced.ok
    assert forced.reg_reason.startswith("given")
    assert _first(forced, "loss") is None or _first(forced, "dW") == "reg_gradient_factor"
    assert _first(forced, "dW") == "reg_gradient_factor"


def test_dW_alone_reads_the_convention_from_dW() -> None:
    def grad_only(W: Any, X: Any, y: Any, reg: float) -> Any:
        return good(W, X, y, 0.0)[1] + reg * W  # ½·reg·‖W‖²

    r = _verify(grad_only)
    assert r.ok
    assert r.returns == "dW"
    assert r.reg_convention == "half"
    assert "detected from dW" in r.reg_reason
    assert all(c.check("loss") is None for c in r.cases)


def test_one_hot_targets_detected() -> None:
    def onehot(W: Any, X: Any, Y: Any, reg: float) -> Any:
        n = X.shape[0]
        p = _probs(W, X)
        loss = -np.sum(Y * np.log(p)) / n + reg * np.sum(W * W)
        return loss, X.T @ (p - Y) / n + 2 * reg * W

    r = _verify(onehot)
    assert r.ok
    assert r.labels == "one-hot"
    assert "it takes y one-hot" in r.labels_reason
    y = r.cases[0].inputs["y"]
    assert y.shape == (5, 3)
    assert np.array_equal(y, one_hot(battery()[0].y, 3))


def test_loss_without_regulariser_is_loss_reg_missing() -> None:
    def no_reg_loss(W: Any, X: Any, y: Any, reg: float) -> Any:
        loss, dW = good(W, X, y, reg)
        return loss - reg * np.sum(W * W), dW

    r = _verify(no_reg_loss)
    assert not r.ok
    assert r.reg_convention == "full"
    assert r.reg_reason.startswith("detected from dW: its loss changes by 0·reg·‖W‖²")
    assert _first(r, "loss") == "loss_reg_missing"
    assert _first(r, "dW") is None
    assert {c.name for c in r.failed} == {c.name for c in r.cases if c.inputs["reg"] != 0}


@pytest.mark.parametrize(
    ("factor", "mid", "also"),
    [(lambda n: n, "dW_missing_mean", "batch_sum_not_mean"), (lambda n: 1 / n, "dW_mean_twice", "batch_mean_twice")],
)
def test_dW_scaled_by_N(factor: Any, mid: str, also: str) -> None:
    def scaled(W: Any, X: Any, y: Any, reg: float) -> Any:
        loss, dW = good(W, X, y, reg)
        return loss, (dW - 2 * reg * W) * factor(X.shape[0]) + 2 * reg * W

    r = _verify(scaled)
    assert _first(r, "dW") == mid  # the layer entry first; the same numbers from the batch entry listed too
    assert also in [d.id for d in r.diagnosis if d.quantity == "dW"]


def test_reg_gradient_missing() -> None:
    def forgot(W: Any, X: Any, y: Any, reg: float) -> Any:
        loss, dW = good(W, X, y, reg)
        return loss, dW - 2 * reg * W

    r = _verify(forgot)
    assert _first(r, "dW") == "reg_gradient_missing"
    assert "reg_gradient_missing" in r.verdict


# ------------------------------------------------------------------------------------- hostile functions


def test_raising_function_is_a_failed_case_naming_the_line() -> None:
    def broken(W: Any, X: Any, y: Any, reg: float) -> Any:
        raise ZeroDivisionError("oops")

    r = _verify(broken)
    assert r.status == "fail"
    assert all(c.status == "error" for c in r.cases)
    assert r.cases[0].error is not None
    assert r.cases[0].error.startswith("raised ZeroDivisionError: oops (at ")
    assert "test_weights.py" in r.cases[0].error
    assert r.labels_reason.startswith("not detected")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "returned None"),
        ("text", "returned a str"),
        ((1.0, "x"), "second item"),
        (("x", np.zeros((3, 3))), "first item"),
    ],
)
def test_wrong_return_values_are_errors(value: Any, message: str) -> None:
    def f(W: Any, X: Any, y: Any, reg: float) -> Any:
        return value

    r = _verify(f, trials=0)
    assert not r.ok
    assert all(c.status == "error" for c in r.cases)
    assert message in (r.cases[0].error or "")


def test_unmatched_wrong_shape_is_an_error_and_nan_is_a_failure() -> None:
    def flat(W: Any, X: Any, y: Any, reg: float) -> Any:
        loss, dW = good(W, X, y, reg)
        return loss, dW.ravel()[None, :]

    r = _verify(flat, trials=0)
    dW = r.cases[0].check("dW")
    assert dW is not None
    assert dW.status == "error"
    assert "expected (3, 3)" in (dW.error or "")

    def nan(W: Any, X: Any, y: Any, reg: float) -> Any:
        return float("nan"), np.full(W.shape, np.nan)

    r = _verify(nan, trials=0)
    assert all(c.status == "fail" for c in r.cases)
    assert r.cases[0].check("dW") is not None


def test_in_place_change_is_noted() -> None:
    def scribbles(W: Any, X: Any, y: Any, reg: float) -> Any:
        out = good(W, X, y, reg)
        X *= 0
        return out

    r = _verify(scribbles, trials=0)
    assert r.ok
    assert "your function changed its argument X in place" in r.notes


def test_a_call_that_does_not_come_back_is_a_failed_case() -> None:
    class Dying(InProcessSession):
        def apply(self, step: Any, *payload: Any) -> Any:
            if step is call:
                raise CallFailed("did not return within 10 s")
            return super().apply(step, *payload)

    session = Dying(good, "good", None)
    r = verify_weights(session, "given", errstate={}, trials=0, seed=0, tol=tolerance_for("float64"))
    assert r.status == "fail"
    assert all(c.error == "raised did not return within 10 s" or c.status == "error" for c in r.cases)


def test_options_that_do_not_apply_are_refused() -> None:
    with pytest.raises(InputError, match="loss-and-grad"):
        softgrad.verify(good, "weights", case="x.json")
    with pytest.raises(InputError, match="reg_convention"):
        softgrad.verify(good, "weights", reg_convention="double")
    with pytest.raises(InputError, match="labels"):
        softgrad.verify(good, "weights", labels="strings")
    with pytest.raises(InputError, match="applies to the dE/dz kinds, not to kind weights"):
        softgrad.verify(good, layout="row")
    with pytest.raises(InputError, match="applies to the dE/dz kinds"):
        softgrad.verify(good, "weights", reduction="sum")


def test_report_json_is_plain_and_complete() -> None:
    from softgrad.render.json_out import render_json

    r = _verify(good, trials=1)
    d = r.to_dict()
    assert d["status"] == "pass"
    assert d["summary"] == {"cases": len(battery()) + 1, "pass": len(battery()) + 1, "fail": 0, "error": 0}
    assert d["cases"][0]["inputs"]["y"] == battery()[0].y.tolist()
    assert render_json(d).startswith("{")
    assert all(m in MISTAKES for m in ("loss_not_mean", "loss_reg_missing"))
