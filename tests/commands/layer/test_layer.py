"""`softgrad.check_layer` and `softgrad.explain_layer`: the worked example, both conventions, the user's
numbers, the derivation step by step and the step where the user's numbers went off."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softgrad import InputError, check_layer, explain_layer
from softgrad.core import layer as L
from softgrad.core.numbers import nested

WORKED = {"a": [1, -0.5], "W": [[2, 0.5], [2, 0.5]], "b": [0, 0], "t": [0, 1]}
HIDDEN = {
    "a_in": [1.0, -2.0, 0.5],
    "W_h": [[0.3, -0.1, 0.8], [-0.5, 0.4, 0.2]],
    "b_h": [0.1, -0.2],
    "activation": "sigmoid",
    "W": [[0.7, -1.2], [0.4, 0.9], [-0.3, 0.5]],
    "b": [0.05, -0.1, 0.2],
    "label": 2,
}


def test_worked_example() -> None:
    r = check_layer(**WORKED)  # type: ignore[arg-type]
    assert r.status == "pass"
    assert r.forward["z"] == (1.75, 1.75)
    assert r.forward["s"] == (0.5, 0.5)
    assert math.isclose(r.loss, math.log(2))
    assert r.quantity("delta").reference == (0.5, -0.5)
    dW = r.quantity("dW")
    assert dW.reference == ((0.5, -0.25), (-0.5, 0.25))
    assert dW.chained == ((0.5, -0.25), (-0.5, 0.25))
    assert dW.formula == "δ aᵀ"
    assert [(m.id, m.value, m.differs) for m in dW.mistakes] == [("dW_transposed", ((0.5, -0.5), (-0.25, 0.25)), True)]
    assert r.quantity("db").reference == (0.5, -0.5)
    assert [q.name for q in r.quantities] == ["delta", "dW", "db", "da"]
    assert all(c.ok for q in r.quantities for c in q.comparisons.values())


def test_worked_example_of_the_issue_command() -> None:
    r = check_layer([1, -0.5], [[0.2, 0.4], [0.1, -0.3]], [0, 0], [0, 1])
    assert r.forward["z"] == (0.0, 0.25)
    assert r.status == "pass"


def test_user_numbers_right_and_wrong() -> None:
    right = check_layer(**WORKED, dW=[[0.5, -0.25], [-0.5, 0.25]], db=[0.5, -0.5], delta=[0.5, -0.5])  # type: ignore[arg-type]
    assert right.status == "pass"
    assert right.failures == ()
    wrong = check_layer(**WORKED, dW=[[0.5, -0.5], [-0.25, 0.25]])  # type: ignore[arg-type]
    assert wrong.status == "fail"
    assert wrong.failures == ("your ∂L/∂W",)
    u = wrong.quantity("dW").user
    assert u is not None
    assert u.verdict == "mistake"
    assert u.comparison.worst == (0, 1)
    assert u.comparison.max_abs_err == 0.25
    assert wrong.diagnosis[0].id == "dW_transposed"


def test_json_is_the_report() -> None:
    r = check_layer(**WORKED, dW=[[0.5, -0.5], [-0.25, 0.25]])  # type: ignore[arg-type]
    d = json.loads(json.dumps(r.to_dict()))
    assert d["status"] == "fail"
    assert d["input"]["convention"] == "column"
    assert d["input"]["W"] == [[2.0, 0.5], [2.0, 0.5]]
    assert (d["input"]["n"], d["input"]["h"], d["input"]["k"]) == (1, 2, 2)
    q = d["quantities"]["dW"]
    assert q["reference"] == [[0.5, -0.25], [-0.5, 0.25]]
    assert q["shape"] == [2, 2]
    assert q["comparisons"]["finite_difference"]["ok"] is True
    assert q["user"]["matches"] == ["dW_transposed"]
    assert q["user"]["comparison"]["worst"] == [0, 1]
    assert d["diagnosis"] == [{"id": "dW_transposed", "quantities": ["dW"], "via": "layer", "consistent": True}]
    assert d["input"]["command"].startswith("softgrad layer --a 1 -0.5 --W '[[2, 0.5], [2, 0.5]]'")


def test_row_convention_batch_with_regulariser_mean_and_sum() -> None:
    rng = np.random.default_rng(8)
    A, W, b = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    y = [0, 3, 1, 1, 2]
    for reduction in ("mean", "sum"):
        for reg_convention in ("full", "half"):
            net = L.make_network(A, W, b, None, label=y, convention="row", reduction=reduction, reg=0.2,
                                 reg_convention=reg_convention)  # fmt: skip
            right = L.analytic(net)
            r = check_layer(A, W, b, label=y, convention="row", reduction=reduction, reg=0.2,
                            reg_convention=reg_convention, dW=right.dW, db=right.db, delta=right.delta)  # fmt: skip
            assert r.status == "pass", (reduction, reg_convention)
            assert r.quantity("dW").formula == ("Aᵀ Δ + 2·reg·W" if reg_convention == "full" else "Aᵀ Δ + reg·W")
    wrong = check_layer(A, W, b, label=y, convention="row", reg=0.2, dW=L.analytic(net).dW)
    assert wrong.status == "fail"  # a sum's gradient where the mean was meant


def test_column_convention_with_examples_as_columns() -> None:
    rng = np.random.default_rng(2)
    a, W = rng.normal(size=(3, 4)), rng.normal(size=(2, 3))  # H = 3, N = 4, K = 2
    r = check_layer(a, W, None, label=[0, 1, 1, 0])
    assert r.quantity("delta").shape == (2, 4)
    assert r.quantity("dW").shape == (2, 3)
    assert r.quantity("dW").formula == "Δ Aᵀ"
    delta = np.array(r.quantity("delta").reference)
    assert np.allclose(np.array(r.quantity("dW").reference), delta @ a.T)
    assert r.status == "pass"


def test_hidden_layer_every_quantity_right_passes() -> None:
    r = check_layer(**HIDDEN)  # type: ignore[arg-type]
    assert [q.name for q in r.quantities] == ["delta", "dW", "db", "da", "delta_h", "dW_h", "db_h"]
    given = {q.name: q.reference for q in r.quantities}
    r2 = check_layer(**HIDDEN, **given)  # type: ignore[arg-type]
    assert r2.status == "pass"
    assert all(q.user is not None and q.user.verdict == "correct" for q in r2.quantities)


def test_rounded_numbers_pass_with_a_looser_tolerance_and_get_a_hint_without() -> None:
    rounded = np.round(np.array(check_layer(**HIDDEN).quantity("dW_h").reference), 4)  # type: ignore[arg-type]
    strict = check_layer(**HIDDEN, dW_h=rounded)  # type: ignore[arg-type]
    assert strict.status == "fail"
    assert any("within 0.1%" in n for n in strict.quantity("dW_h").user.notes)  # type: ignore[union-attr]
    assert check_layer(**HIDDEN, dW_h=rounded, rtol=1e-3, atol=1e-4).status == "pass"  # type: ignore[arg-type]


def test_relu_at_its_kink_is_unstable_not_failed() -> None:
    r = check_layer(None, [[1.0, 2.0], [0.5, -1.0]], None, [0.0, 1.0], a_in=[1.0, 1.0],
                    W_h=[[1.0, -1.0], [0.5, 0.5]], activation="relu")  # fmt: skip
    assert r.status == "unstable"
    assert any("relu's kink" in u for u in r.unstable)
    assert r.ok


def test_underflowing_probability_makes_the_chain_unstable_not_failed() -> None:
    r = check_layer([1.0], [[0.0], [-800.0]], None, [0.0, 1.0])
    assert r.status == "unstable"
    assert any("underflows" in u for u in r.unstable)
    assert r.quantity("dW").chained is None
    assert r.quantity("dW").reference == ((1.0,), (-1.0,))


def test_nonfinite_user_numbers_are_diagnosed_not_refused() -> None:
    r = check_layer(**WORKED, dW=[[float("nan"), 0], [0, 0]])  # type: ignore[arg-type]
    assert r.status == "fail"
    assert any("NaN" in n for n in r.quantity("dW").user.notes)  # type: ignore[union-attr]
    assert json.loads(json.dumps(r.to_dict()))["quantities"]["dW"]["user"]["value"][0][0] is None


@pytest.mark.parametrize(
    ("kwargs", "where", "message"),
    [
        ({**WORKED, "dW": [[1, 2, 3]]}, "dW", "expected shape 2×2 (K×H, the shape of W)"),
        ({**WORKED, "db_h": [1, 2]}, "db_h", "there is no hidden layer"),
        ({**WORKED, "b": None, "db": [1, 2]}, "db", "the layer has no bias"),
        ({**WORKED, "dtype": "float16"}, "dtype", "must be one of float64, float32"),
        ({**WORKED, "convention": "columns"}, "convention", "must be one of column, row"),
        ({**WORKED, "rtol": -1}, "rtol", "finite number >= 0"),
    ],
)
def test_bad_input_names_the_quantity(kwargs: dict[str, object], where: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        check_layer(**kwargs)  # type: ignore[arg-type]
    assert info.value.where == where
    assert message in info.value.message


def test_names_say_where_an_input_came_from() -> None:
    with pytest.raises(InputError) as info:
        check_layer(**{**WORKED, "a": [1, 2, 3]}, names={"a": "case.json: key 'a'"})  # type: ignore[arg-type]
    assert info.value.where == "case.json: key 'a'"


def test_explain_steps_in_the_order_of_the_derivation() -> None:
    ex = explain_layer(**HIDDEN)
    assert ex.status == "pass"
    assert [s.id for s in ex.steps] == [
        "hidden", "activation", "logits", "softmax", "loss", "delta", "dW", "db", "da", "sigma_prime", "delta_h",
        "dW_h", "db_h",
    ]  # fmt: skip
    refs = {s.id: s.ref for s in ex.steps}
    assert (refs["delta"], refs["dW"], refs["da"], refs["delta_h"], refs["dW_h"]) == (
        "EqA1.1", "EqA1", "EqMagic", "EqA.2.1", "EqA.2",
    )  # fmt: skip
    delta_h = next(s for s in ex.steps if s.id == "delta_h")
    assert "⊙ σ′(z_h)" in delta_h.formula
    assert "Hadamard" in delta_h.note
    assert ex.wrong_steps == ()


def test_explain_a_wrong_delta_h_shows_sigma_prime_beside_the_right_one() -> None:
    r = check_layer(**HIDDEN)  # type: ignore[arg-type]
    net = r.input.net
    fwd, ref = L.forward(net), L.backward(net, L.forward(net))
    from softgrad import MISTAKES

    wrong = MISTAKES["sigma_prime_at_activation"].layer_values(net, fwd, ref)
    assert wrong is not None
    ex = explain_layer(**HIDDEN, delta_h=nested(L.user_layout(net, "delta_h", wrong["delta_h"])))
    assert ex.status == "fail"
    first, then = ex.wrong_steps
    assert (first.step, first.mistake) == ("sigma_prime", "sigma_prime_at_activation")
    a = np.array(r.forward["a"])
    assert np.allclose(first.wrong_value, a * (1 - a) * 0 + L.sigma_prime("sigmoid", a))  # type: ignore[arg-type]
    z_h = np.array(r.forward["z_h"])
    assert np.allclose(first.right_value, L.sigma_prime("sigmoid", z_h))  # type: ignore[arg-type]
    assert (then.step, then.wrong_formula) == ("delta_h", "your δ_h")
    assert then.right_value == r.quantity("delta_h").reference


def test_explain_a_number_that_matches_nothing_shows_it_beside_the_right_one() -> None:
    ex = explain_layer(**WORKED, dW=[[1, 2], [3, 4]])  # type: ignore[arg-type]
    (w,) = ex.wrong_steps
    assert (w.step, w.mistake, w.wrong_value) == ("dW", "", ((1.0, 2.0), (3.0, 4.0)))
    d = ex.to_dict()
    assert d["wrong_steps"][0]["mistake"] is None
    assert d["status"] == "fail"


def _two_layer(X: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray], reg: float, bug: str = "") -> dict[str, object]:
    """A two-layer net's backward pass written the way the course writes it (row convention, relu)."""
    n = X.shape[0]
    h_pre = X @ p["W1"] + p["b1"]
    h = np.maximum(0, h_pre)
    scores = h @ p["W2"] + p["b2"]
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    dscores = probs.copy()
    dscores[range(n), y] -= 1
    dscores /= n
    dh = dscores @ p["W2"].T
    if bug != "no_mask":
        dh[h_pre <= 0] = 0
    return {
        "dW": h.T @ dscores + 2 * reg * p["W2"],
        "db": dscores.sum(axis=0),
        "delta_h": dh,
        "dW_h": X.T @ dh + (0 if bug == "no_reg_W1" else 2 * reg * p["W1"]),
        "db_h": dh.sum(axis=0),
    }


@pytest.mark.parametrize(("bug", "expected"), [("", None), ("no_mask", "sigma_prime_missing"),
                                               ("no_reg_W1", "reg_gradient_missing")])  # fmt: skip
def test_a_two_layer_net_written_like_the_course(bug: str, expected: str | None) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 4)), np.array([0, 1, 2, 2, 1])
    p = {"W1": 0.1 * rng.normal(size=(4, 10)), "b1": np.full(10, 0.01), "W2": 0.1 * rng.normal(size=(10, 3)),
         "b2": np.full(3, -0.02)}  # fmt: skip
    grads = _two_layer(X, y, p, 0.05, bug)
    r = check_layer(a_in=X, W_h=p["W1"], b_h=p["b1"], activation="relu", W=p["W2"], b=p["b2"], label=y,
                    convention="row", reg=0.05, **grads)  # type: ignore[arg-type]  # fmt: skip
    if expected is None:
        assert r.status == "pass"
        assert r.diagnosis == ()
    else:
        assert r.status == "fail"
        assert r.diagnosis[0].id == expected


def test_a_dense_layer_written_like_nnfs_with_keepdims_biases() -> None:
    """Biases of shape (1, K), db = np.sum(dvalues, axis=0, keepdims=True): the right answer."""
    rng = np.random.default_rng(1)
    inputs, weights, biases = rng.normal(size=(4, 3)), 0.01 * rng.normal(size=(3, 2)), np.zeros((1, 2))
    y = np.array([0, 1, 1, 0])
    z = inputs @ weights + biases
    s = np.exp(z - z.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    dvalues = s.copy()
    dvalues[range(4), y] -= 1
    dvalues /= 4
    r = check_layer(inputs, weights, biases, label=y, convention="row", delta=dvalues, dW=inputs.T @ dvalues,
                    db=np.sum(dvalues, axis=0, keepdims=True), da=dvalues @ weights.T)  # fmt: skip
    assert r.status == "pass"
    assert all(q.user is not None and q.user.verdict == "correct" for q in r.quantities)


def test_large_arrays_are_compared_but_not_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    import softgrad.catalogue.layer_diagnose as LD

    monkeypatch.setattr(L, "REPORT_MAX_ENTRIES", 20)
    monkeypatch.setattr(LD, "COMMAND_MAX_NUMBERS", 30)
    rng = np.random.default_rng(3)
    A, W, b, y = rng.normal(size=(6, 5)), rng.normal(size=(5, 4)), rng.normal(size=4), [0, 1, 2, 3, 0, 1]
    right = L.analytic(L.make_network(A, W, b, None, label=y, convention="row"))
    r = check_layer(A, W, b, label=y, convention="row", dW=right.dW, delta=right.delta)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["status"] == "pass"
    assert d["input"]["a"] is None  # 30 numbers: not listed
    assert d["input"]["shapes"]["a"] == [6, 5]
    assert d["input"]["command"] is None
    assert d["quantities"]["delta"]["reference"] is None  # 24 entries
    assert d["quantities"]["delta"]["comparisons"]["finite_difference"]["compared"] == 24
    assert d["quantities"]["dW"]["reference"] is not None  # 20 entries
    # a distinguishing input is small even for a large network
    u = r.quantity("delta").user
    assert u is not None
    assert u.distinguishing_input is not None
    assert u.distinguishing_input.input.command() is not None
    from softgrad.render.layer_doc import layer_document
    from softgrad.render.plain import render_plain

    assert "(too large to list: the comparisons are below)" in render_plain(layer_document(r))


@st.composite
def extreme_layers(draw: st.DrawFn) -> dict[str, object]:
    n, h, k = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(2, 3))
    scale = draw(st.sampled_from([1e-300, 1e-8, 1.0, 1e3, 1e100, 1e150]))
    values = st.floats(-1.0, 1.0, allow_nan=False)
    a = np.array(draw(st.lists(values, min_size=n * h, max_size=n * h))).reshape(n, h) * scale
    W = np.array(draw(st.lists(values, min_size=h * k, max_size=h * k))).reshape(h, k) * scale
    user = draw(st.sampled_from([None, "nan", "huge", "right"]))
    kw: dict[str, object] = {"a": a, "W": W, "label": [0] * n, "convention": "row",
                             "reg": draw(st.sampled_from([0.0, 1e-3, 1e10]))}  # fmt: skip
    if user == "nan":
        kw["dW"] = np.full((h, k), np.nan)
    elif user == "huge":
        kw["dW"] = np.full((h, k), -1.7e308)
    elif user == "right":
        kw["dW"] = "right"
    return kw


@given(extreme_layers())
@settings(max_examples=60)
def test_extreme_numbers_give_an_honest_status_or_one_input_error(kw: dict[str, object]) -> None:
    if isinstance(kw.get("dW"), str):
        try:
            kw["dW"] = L.analytic(L.make_network(kw["a"], kw["W"], None, None, label=kw["label"], convention="row",
                                                 reg=kw["reg"])).dW  # type: ignore[arg-type]  # fmt: skip
        except InputError:
            kw.pop("dW")
    try:
        r = check_layer(**kw)  # type: ignore[arg-type]
    except InputError as exc:
        message = exc.message
    else:
        message = ""
    if message:
        assert "too large for float64" in message
        return
    assert r.status in ("pass", "fail", "unstable")
    if r.status == "unstable":
        assert r.unstable
    d = json.loads(json.dumps(r.to_dict()))
    assert all(v is not None for row in d["quantities"]["dW"]["reference"] for v in row)
