"""``softgrad.verify(..., kind="loss-and-grad")``: returned gradients against finite differences of the
function's own loss, entry by entry; the course layout's generated arguments, case files, gradients by key
or by position, the worst entries located, and a recognised two-layer network's mistakes named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import softgrad
from softgrad.commands.verify.lossgrad import course_layout
from softgrad.commands.verify.weights_calls import Signature
from softgrad.commands.verify.weights_report import WeightsReport
from softgrad.errors import InputError


def _verify(fn: Any, **kw: Any) -> WeightsReport:
    r = softgrad.verify(fn, "loss-and-grad", **kw)
    assert isinstance(r, WeightsReport)
    return r


def linear(W: Any, b: Any, X: Any, y: Any) -> Any:
    """A softmax regression with a bias, gradients as a tuple in the order of the arguments."""
    n = X.shape[0]
    z = X @ W + b
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()
    p[np.arange(n), y] -= 1
    p /= n
    return loss, (X.T @ p, p.sum(axis=0))


CASE = {
    "W": [[0.5, -0.25, 0.125], [0.75, 0.5, -1.0]],
    "b": [0.1, 0.0, -0.2],
    "X": [[1.0, 2.0], [-0.5, 0.25], [0.3, -1.2], [2.0, 0.5]],
    "y": [0, 2, 1, 2],
}


def _case(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "args.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_tuple_gradients_from_a_case_file_pass(tmp_path: Path) -> None:
    r = _verify(linear, case=_case(tmp_path, CASE))
    assert r.ok, r.verdict
    checks = r.cases[0].checks
    assert [q.name for q in checks] == ["W", "b"]
    assert [q.compared for q in checks] == [6, 3]
    assert all(q.max_abs_err is not None and q.max_abs_err < 1e-9 for q in checks)
    assert r.cases[0].inputs["y"].dtype.kind == "i"  # integer lists stay integer (class labels)


def test_a_wrong_bias_gradient_is_located(tmp_path: Path) -> None:
    def wrong_db(W: Any, b: Any, X: Any, y: Any) -> Any:
        loss, (dW, db) = linear(W, b, X, y)
        db = db.copy()
        db[1] += 0.01
        return loss, (dW, db)

    r = _verify(wrong_db, case=_case(tmp_path, [CASE, CASE]))
    assert [c.name for c in r.cases] == ["case_0", "case_1"]
    assert not r.ok
    b = r.cases[0].check("b")
    W = r.cases[0].check("W")
    assert b is not None
    assert W is not None
    assert W.ok
    assert b.status == "fail"
    assert b.worst[0].index == (1,)
    assert b.worst[0].yours - b.worst[0].expected == pytest.approx(0.01, abs=1e-8)
    assert b.worst[0].error_estimate is not None
    assert b.worst[0].error_estimate < 1e-8
    assert len(b.worst) == 1  # only the entries out of tolerance
    assert r.verdict.startswith("wrong: 2 of 2 cases fail; b: wrong, matching no catalogued mistake")


def test_dict_gradients_by_argument_name(tmp_path: Path) -> None:
    def named(W: Any, b: Any, X: Any, y: Any) -> Any:
        loss, (dW, db) = linear(W, b, X, y)
        return loss, {"b": db, "W": dW}

    assert _verify(named, case=_case(tmp_path, CASE)).ok


def test_case_file_errors_name_the_place(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no value for the parameter y"):
        _verify(linear, case=_case(tmp_path, {k: v for k, v in CASE.items() if k != "y"}))
    with pytest.raises(InputError, match="extra: not a parameter"):
        _verify(linear, case=_case(tmp_path, {**CASE, "extra": 1}))
    with pytest.raises(InputError, match="ragged"):
        _verify(linear, case=_case(tmp_path, {**CASE, "W": [[1.0], [1.0, 2.0]]}))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError) as info:
        _verify(linear, case=str(bad))
    assert info.value.where.startswith(str(bad))
    with pytest.raises(InputError, match="no such file"):
        _verify(linear, case=str(tmp_path / "missing.json"))


def test_without_a_case_only_the_course_layout_is_generated() -> None:
    with pytest.raises(InputError, match=r"cannot make up its arguments \(W, b, X, y\)"):
        _verify(linear)


@pytest.mark.parametrize(
    ("names", "required", "ok"),
    [
        (("params", "X", "y", "reg"), ("params", "X", "y", "reg"), True),
        (("model", "X", "y"), ("model", "X", "y"), True),
        (("params", "X", "y", "reg"), ("params", "X", "y"), True),
        (("params", "X", "y", "verbose"), ("params", "X", "y", "verbose"), False),
        (("W", "b", "X", "y"), ("W", "b", "X", "y"), False),
    ],
)
def test_course_layout(names: tuple[str, ...], required: tuple[str, ...], ok: bool) -> None:
    assert (course_layout(Signature(names, required, False)) is not None) == ok


def two_layer(params: dict[str, Any], X: Any, y: Any, reg: float = 0.0) -> Any:
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    n = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean() + 0.5 * reg * (np.sum(W1**2) + np.sum(W2**2))
    p[np.arange(n), y] -= 1
    p /= n
    dh = (p @ W2.T) * (1 - h**2)
    return loss, {"W1": X.T @ dh + reg * W1, "b1": dh.sum(0), "W2": h.T @ p + reg * W2, "b2": p.sum(0)}


def test_generated_two_layer_arguments_and_the_model_recognised() -> None:
    r = _verify(two_layer)
    assert r.ok, r.verdict
    assert [c.name for c in r.cases] == ["two_layer", "two_layer_no_reg"]
    assert [c.inputs["reg"] for c in r.cases] == [0.1, 0.0]
    params = r.cases[0].inputs["params"]
    assert {k: v.shape for k, v in params.items()} == {"W1": (4, 6), "b1": (6,), "W2": (6, 3), "b2": (3,)}
    assert any("tanh" in n and "½·reg" in n for n in r.notes)


def test_a_tanh_network_with_the_shortcut_applied_to_z_is_named() -> None:
    def shortcut_at_z(params: dict[str, Any], X: Any, y: Any, reg: float = 0.0) -> Any:
        loss, grads = two_layer(params, X, y, reg)
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        n = X.shape[0]
        zh = X @ W1 + b1
        h = np.tanh(zh)
        z = h @ W2 + b2
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(n), y] -= 1
        dh = (p / n @ W2.T) * (1 - zh**2)  # 1 − a² applied to z
        return loss, {**grads, "W1": X.T @ dh + reg * W1, "b1": dh.sum(0)}

    r = _verify(shortcut_at_z)
    assert next(d.id for d in r.diagnosis if d.quantity == "W1") == "sigma_prime_formula_at_z"
    assert all(c.check("W2") is not None and c.check("W2").ok for c in r.cases)  # type: ignore[union-attr]


def test_missing_and_unknown_gradients_and_bad_returns() -> None:
    def missing(params: dict[str, Any], X: Any, y: Any, reg: float = 0.0) -> Any:
        loss, grads = two_layer(params, X, y, reg)
        del grads["b2"]
        return loss, grads

    r = _verify(missing)
    b2 = r.cases[0].check("b2")
    assert b2 is not None
    assert b2.status == "error"
    assert b2.error == "no gradient returned for b2"

    def unknown(params: dict[str, Any], X: Any, y: Any, reg: float = 0.0) -> Any:
        loss, grads = two_layer(params, X, y, reg)
        return loss, {**grads, "W3": grads["W1"]}

    r = _verify(unknown)
    assert r.cases[0].error is not None
    assert "'W3' for no parameter" in r.cases[0].error

    def only_loss(params: dict[str, Any], X: Any, y: Any, reg: float = 0.0) -> Any:
        return two_layer(params, X, y, reg)[0]

    r = _verify(only_loss)
    assert r.cases[0].error == "returned a single number (the loss alone?); expected (loss, grads)"

    def wrong_shape(params: dict[str, Any], X: Any, y: Any, reg: float = 0.0) -> Any:
        loss, grads = two_layer(params, X, y, reg)
        return loss, {**grads, "W1": grads["W1"].T}

    r = _verify(wrong_shape)
    W1 = r.cases[0].check("W1")
    assert W1 is not None
    assert W1.status == "error"
    assert W1.error == "the gradient of W1 has shape (6, 4), the parameter (4, 6)"
    assert not r.ok


def test_generated_keys_are_named_when_the_function_wants_others() -> None:
    def other_keys(params: dict[str, Any], X: Any, y: Any) -> Any:
        return params["W"], {}

    r = _verify(other_keys)
    assert all(c.status == "error" for c in r.cases)
    assert any("W1, b1, W2, b2" in n for n in r.notes)


def test_a_loss_failing_at_perturbed_inputs_is_said_and_never_passes() -> None:
    calls = {"n": 0}

    def flaky(W: Any, b: Any, X: Any, y: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("only once")
        return linear(W, b, X, y)

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        r = _verify(flaky, case=_case(Path(d), CASE))
    assert not r.ok
    assert r.cases[0].notes
    assert "failed at" in r.cases[0].notes[0]
    assert all(q.status == "error" for q in r.cases[0].checks)


def test_layer_options_are_refused_for_loss_and_grad() -> None:
    with pytest.raises(InputError, match="applies to kind weights only"):
        _verify(two_layer, labels="one-hot")


def test_whole_number_weights_and_a_string_argument(tmp_path: Path) -> None:
    def with_mode(W: Any, X: Any, y: Any, mode: str) -> Any:
        assert mode == "train"
        loss, (dW, _) = linear(W, np.zeros(W.shape[1]), X, y)
        return loss, {"W": dW}

    case = {"W": [[1, 0, -1], [0, 2, 1]], "X": CASE["X"], "y": CASE["y"], "mode": "train"}
    r = _verify(with_mode, case=_case(tmp_path, case))
    assert r.ok, r.verdict
    d = r.to_dict()
    assert d["cases"][0]["inputs"]["mode"] == "train"
