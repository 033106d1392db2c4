"""The layer's mathematics: the worked example exactly, analytic = chained = finite difference on random
networks (both conventions, every σ, mean and sum, with and without reg), an independent mpmath reference,
the generic finite difference and the course assignment's softmax_loss."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softgrad.core import layer as L
from softgrad.core.tolerance import DEFAULT_TOLERANCES, excess
from softgrad.errors import InputError

TOL = DEFAULT_TOLERANCES["float64"]
WORKED = {"a": [1.0, -0.5], "W": [[2.0, 0.5], [2.0, 0.5]], "b": [0.0, 0.0], "t": [0.0, 1.0]}


def test_worked_example_exactly() -> None:
    net = L.make_network(WORKED["a"], WORKED["W"], WORKED["b"], WORKED["t"])
    fwd = L.forward(net)
    assert fwd.z.tolist() == [[1.75, 1.75]]
    assert fwd.s.tolist() == [[0.5, 0.5]]
    g = L.analytic(net)
    assert L.user_layout(net, "delta", g.delta).tolist() == [0.5, -0.5]
    dW = L.user_layout(net, "dW", g.dW)
    assert dW.tolist() == [[0.5, -0.25], [-0.5, 0.25]]  # δ aᵀ
    assert dW.T.tolist() == [[0.5, -0.5], [-0.25, 0.25]]  # the transposed a δᵀ
    assert L.user_layout(net, "db", g.db).tolist() == [0.5, -0.5]
    chained = L.chained(net).gradients
    assert L.user_layout(net, "dW", chained.dW).tolist() == [[0.5, -0.25], [-0.5, 0.25]]
    fd = L.network_fd(net).params["dW"]
    assert np.all(excess(fd.value, g.dW, TOL, fd.error) <= 1)


def test_row_convention_is_the_column_convention_transposed() -> None:
    rng = np.random.default_rng(3)
    a, w, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    labels = [0, 4, 2, 1]
    row = L.make_network(a, w, b, None, label=labels, convention="row")
    col = L.make_network(a.T, w.T, b, None, label=labels, convention="column")
    gr, gc = L.analytic(row), L.analytic(col)
    assert np.allclose(L.user_layout(col, "dW", gc.dW), L.user_layout(row, "dW", gr.dW).T)
    assert np.allclose(L.user_layout(col, "delta", gc.delta), L.user_layout(row, "delta", gr.delta).T)
    assert L.user_shape(row, "dW") == (3, 5)
    assert L.user_shape(col, "dW") == (5, 3)
    assert L.user_shape(col, "delta") == (5, 4)


@st.composite
def networks(draw: st.DrawFn) -> L.Network:
    convention = draw(st.sampled_from(L.CONVENTIONS))
    n = draw(st.integers(1, 4))
    d, h, k = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(2, 5))
    hidden = draw(st.booleans())
    activation = draw(st.sampled_from(L.ACTIVATIONS))
    reduction = draw(st.sampled_from(L.LAYER_REDUCTIONS))
    reg = draw(st.sampled_from([0.0, 0.05, 1.3]))
    reg_convention = draw(st.sampled_from(L.REG_CONVENTIONS))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.5, (n, d if hidden else h))
    w_h = rng.normal(0, 1, (d, h))
    b_h = rng.normal(0, 0.5, h) if draw(st.booleans()) else None
    w = rng.normal(0, 1, (h, k))
    b = rng.normal(0, 0.5, k) if draw(st.booleans()) else None
    t = np.eye(k)[rng.integers(0, k, n)] if draw(st.booleans()) else rng.uniform(0, 2, (n, k))
    if hidden and activation == "relu":
        z_h = x @ w_h + (0 if b_h is None else b_h)
        x = np.where(np.abs(z_h).min() < 1e-3, x + 0.01, x)  # keep off the kink (tested on its own)
    if convention == "column":
        x, w, w_h, t = x.T, w.T, w_h.T, t.T
    return L.make_network(
        None if hidden else x,
        w,
        b,
        t,
        a_in=x if hidden else None,
        W_h=w_h if hidden else None,
        b_h=b_h if hidden else None,
        activation=activation if hidden else None,
        convention=convention,
        reduction=reduction,
        reg=reg,
        reg_convention=reg_convention,
    )


def _kink_free(fd: L.ParamFD) -> np.ndarray:
    return fd.checked & ~fd.kinks


@given(networks())
@settings(max_examples=80)
def test_analytic_chained_and_finite_differences_agree(net: L.Network) -> None:
    ref = L.analytic(net)
    ch = L.chained(net)
    fd = L.network_fd(net)
    assert not ch.skipped
    for name, value in ref.items():
        assert value.shape == ch.gradients.get(name).shape  # type: ignore[union-attr]
        assert np.all(excess(ch.gradients.get(name), value, TOL) <= 1), name  # type: ignore[arg-type]
        p = fd.params[name]
        use = _kink_free(p)
        assert np.all(excess(p.value[use], value[use], TOL, p.error[use]) <= 1), name
        assert np.all(p.error[use] < 1e-5), name
    assert set(fd.params) == set(net.quantities())


def _mp_loss(net: L.Network, W: list[list[mpmath.mpf]], b: list[mpmath.mpf] | None) -> mpmath.mpf:
    """The network's loss (no hidden layer) in 50-digit arithmetic, from the definitions."""
    total = mpmath.mpf(0)
    for n in range(net.n):
        z = [
            mpmath.fsum(mpmath.mpf(net.a[n, i]) * W[i][k] for i in range(net.h)) + (b[k] if b else 0)
            for k in range(net.k)
        ]
        m = max(z)
        lse = m + mpmath.log(mpmath.fsum(mpmath.exp(v - m) for v in z))
        total += mpmath.fsum(mpmath.mpf(net.t[n, k]) * (lse - z[k]) for k in range(net.k))
    scale = mpmath.mpf(1) / net.n if net.reduction == "mean" else mpmath.mpf(1)
    reg = mpmath.mpf(net.reg) * (1 if net.reg_convention == "full" else mpmath.mpf(1) / 2)
    return scale * total + reg * mpmath.fsum(w * w for row in W for w in row)


@pytest.mark.parametrize(
    ("convention", "reduction", "reg", "reg_convention"),
    [("column", "mean", 0.0, "full"), ("row", "mean", 0.1, "full"), ("row", "sum", 0.7, "half")],
)
def test_agrees_with_an_mpmath_reference(convention: str, reduction: str, reg: float, reg_convention: str) -> None:
    rng = np.random.default_rng(11)
    n = 1 if convention == "column" else 3
    a, w, b = rng.normal(size=(n, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)
    t = rng.uniform(0, 1, (n, 4))
    args = (a[0], w.T, b, t[0]) if convention == "column" else (a, w, b, t)
    net = L.make_network(*args, convention=convention, reduction=reduction, reg=reg, reg_convention=reg_convention)
    ref = L.analytic(net)
    with mpmath.workdps(50):
        W = [[mpmath.mpf(x) for x in row] for row in net.W]
        B = [mpmath.mpf(x) for x in b]
        grad = [[mpmath.diff(lambda x, i=i, k=k: _mp_loss(net, _set(W, i, k, x), B), W[i][k]) for k in range(4)]
                for i in range(3)]  # fmt: skip
        dW = np.array([[float(v) for v in row] for row in grad])
        loss = float(_mp_loss(net, W, B))
    assert np.all(excess(ref.dW, dW, TOL) <= 1)
    assert math.isclose(L.forward(net).loss, loss, rel_tol=1e-13)


def _set(W: list[list[mpmath.mpf]], i: int, k: int, x: mpmath.mpf) -> list[list[mpmath.mpf]]:
    out = [list(r) for r in W]
    out[i][k] = x
    return out


def test_hidden_layer_against_mpmath() -> None:
    """δ_h of a tanh hidden layer, from a 50-digit loss differentiated by mpmath."""
    a_in, w_h, b_h = np.array([0.3, -1.2]), np.array([[0.5, -0.7], [1.1, 0.2], [-0.4, 0.9]]), np.array([0.1, 0, -0.2])
    w, b, t = np.array([[0.6, -0.3, 0.8], [-1.0, 0.4, 0.2]]), np.array([0.0, 0.1]), [1.0, 0.0]
    net = L.make_network(None, w, b, t, a_in=a_in, W_h=w_h, b_h=b_h, activation="tanh")
    ref = L.analytic(net)

    def loss(z_h: list[mpmath.mpf]) -> mpmath.mpf:
        a = [mpmath.tanh(v) for v in z_h]
        z = [mpmath.fsum(mpmath.mpf(w[k, j]) * a[j] for j in range(3)) + mpmath.mpf(b[k]) for k in range(2)]
        return mpmath.log(mpmath.fsum(mpmath.exp(v) for v in z)) - z[0]

    with mpmath.workdps(50):
        z_h = [mpmath.mpf(x) for x in (w_h @ a_in + b_h)]
        expected = [float(mpmath.diff(lambda x, j=j: loss([*z_h[:j], x, *z_h[j + 1 :]]), z_h[j])) for j in range(3)]
    assert np.all(excess(L.user_layout(net, "delta_h", ref.delta_h), np.array(expected), TOL) <= 1)


def test_regulariser_conventions() -> None:
    w = [[1.0, -2.0], [0.5, 3.0]]
    full = L.make_network([1.0, 1.0], w, None, [1.0, 0.0], reg=0.1, reg_convention="full")
    half = L.make_network([1.0, 1.0], w, None, [1.0, 0.0], reg=0.1, reg_convention="half")
    none = L.make_network([1.0, 1.0], w, None, [1.0, 0.0])
    assert np.allclose(L.analytic(full).dW - L.analytic(none).dW, 2 * 0.1 * np.array(w).T)
    assert np.allclose(L.analytic(half).dW - L.analytic(none).dW, 0.1 * np.array(w).T)
    assert math.isclose(L.forward(full).reg_loss, 0.1 * 14.25)
    assert math.isclose(L.forward(half).reg_loss, 0.05 * 14.25)


def test_relu_kink_is_flagged_not_compared() -> None:
    # z_h = W_h a_in + b_h has an entry exactly at relu's kink
    net = L.make_network(None, [[1.0, 2.0], [0.5, -1.0]], None, [0.0, 1.0], a_in=[1.0, 1.0],
                         W_h=[[1.0, -1.0], [0.5, 0.5]], activation="relu")  # fmt: skip
    fd = L.network_fd(net)
    assert fd.params["delta_h"].kinks.tolist() == [[True, False]]
    assert fd.params["dW_h"].kinks[:, 0].all()
    assert not fd.params["dW"].kinks.any()


def test_sigmoid_is_stable_and_exact() -> None:
    x = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    with np.errstate(all="raise"):
        s = L.sigma("sigmoid", x)
    assert s[2] == 0.5
    assert s[0] == 0.0
    assert s[-1] == 1.0
    assert math.isclose(s[1], 1 / (1 + math.exp(30)), rel_tol=1e-15)
    assert L.sigma_prime("relu", np.array([-1.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 1.0]


def test_fd_loss_of_an_arbitrary_function() -> None:
    def f(p: dict[str, np.ndarray]) -> float:
        return float(np.sum(p["x"] ** 3) + np.sum(np.sin(p["y"]) * p["x"][0, 0]))

    x, y = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([0.3, 1e3])
    out = L.fd_loss(f, {"x": x, "y": y})
    expected_x = 3 * x**2
    expected_x[0, 0] += np.sum(np.sin(y))
    assert np.all(excess(out["x"].value, expected_x, TOL, out["x"].error) <= 1)
    assert np.all(excess(out["y"].value, np.cos(y) * x[0, 0], TOL, out["y"].error) <= 1)
    assert x.tolist() == [[1.0, -2.0], [0.5, 3.0]]  # the caller's arrays are not touched
    sampled = L.fd_loss(f, {"x": np.ones((10, 10)), "y": y}, max_entries=7, seed=1)
    assert int(sampled["x"].checked.sum()) == 7
    assert sampled["x"].sampled
    assert np.isnan(sampled["x"].value[~sampled["x"].checked]).all()


def test_fd_loss_of_a_failing_function_is_nan_with_infinite_error() -> None:
    def f(p: dict[str, np.ndarray]) -> float:
        if p["x"][0] > 1.0:
            raise ValueError("out of domain")
        return float(p["x"][0] ** 2)

    out = L.fd_loss(f, {"x": np.array([1.0])})
    assert np.isnan(out["x"].value[0])
    assert out["x"].error[0] == np.inf


def _naive_softmax_loss(W: np.ndarray, X: np.ndarray, y: np.ndarray, reg: float) -> tuple[float, np.ndarray]:
    """The course assignment's loop version, written the way it is taught."""
    loss, dW = 0.0, np.zeros_like(W)
    for i in range(X.shape[0]):
        scores = X[i] @ W
        scores -= scores.max()
        p = np.exp(scores) / np.sum(np.exp(scores))
        loss -= math.log(p[y[i]])
        for j in range(W.shape[1]):
            dW[:, j] += (p[j] - (j == y[i])) * X[i]
    loss = loss / X.shape[0] + reg * np.sum(W * W)
    return loss, dW / X.shape[0] + 2 * reg * W


def test_softmax_loss_of_the_course_assignment() -> None:
    rng = np.random.default_rng(0)
    X, W, y = rng.normal(size=(7, 5)), 0.01 * rng.normal(size=(5, 3)), rng.integers(0, 3, 7)
    loss, dW = L.softmax_loss(W, X, y, 0.5)
    want_loss, want_dW = _naive_softmax_loss(W, X, y, 0.5)
    assert math.isclose(loss, want_loss, rel_tol=1e-13)
    assert np.allclose(dW, want_dW, rtol=1e-12, atol=1e-15)
    half_loss, half_dW = L.softmax_loss(W, X, y, 0.5, "half")
    assert np.allclose(dW - half_dW, 0.5 * W)
    assert math.isclose(loss - half_loss, 0.25 * np.sum(W * W))
    one_hot_loss, _ = L.softmax_loss(W, X, np.eye(3)[y], 0.5)
    assert math.isclose(one_hot_loss, loss)
    fd = L.fd_loss(lambda p: L.softmax_loss(p["W"], X, y, 0.5)[0], {"W": W})["W"]
    assert np.all(excess(fd.value, dW, TOL, fd.error) <= 1)


def test_huge_parameters_are_sampled_and_huge_tensors_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(L, "FD_BUDGET", 4 * 5 * 40)
    monkeypatch.setattr(L, "FD_MIN_ENTRIES", 10)
    monkeypatch.setattr(L, "CHAINED_MAX_ELEMENTS", 1000)
    rng = np.random.default_rng(5)
    net = L.make_network(rng.normal(size=(5, 30)), rng.normal(size=(30, 4)), None, None, label=[0, 1, 2, 3, 0],
                         convention="row")  # fmt: skip
    fd = L.network_fd(net).params["dW"]
    assert int(fd.checked.sum()) == 40
    ref = L.analytic(net).dW
    assert np.all(excess(fd.value[fd.checked], ref[fd.checked], TOL, fd.error[fd.checked]) <= 1)
    assert L.chained(net).skipped == ("dW",)


@pytest.mark.parametrize(
    ("kwargs", "where", "message"),
    [
        ({"a": [1, 2], "W": [[1, 2]], "t": [1]}, "W", "softmax needs at least 2 classes"),
        ({"a": [1, 2, 3], "W": [[1, 2], [3, 4]], "t": [0, 1]}, "a", "expected 2 values"),
        ({"a": [1, 2], "W": [[1, 2], [3, 4]], "b": [1, 2, 3], "t": [0, 1]}, "b", "expected 2 values"),
        ({"a": [1, 2], "W": [[1, 2], [3, 4]], "t": [0, -1]}, "t", "targets must be >= 0"),
        ({"a": [1, 2], "W": [[1, 2], [3, 4]], "label": 2}, "label", "class index 2 is out of range"),
        ({"a": [1, 2], "W": [[1, 2], [3, 4]]}, "t", "give the targets"),
        ({"a": [1, float("nan")], "W": [[1, 2], [3, 4]], "t": [0, 1]}, "a", "must be finite"),
        ({"a": [1, 2], "W": [1, 2], "t": [0, 1]}, "W", "expected a matrix (K×H)"),
        ({"a": [1, 2], "W": [[1, 2], [3, 4]], "t": [0, 1], "reg": -1}, "reg", "finite number >= 0"),
        ({"a": [1, 2], "W": [[1, 2], [3, 4]], "t": [0, 1], "activation": "relu"}, "a", "a = σ(z_h) is computed"),
        ({"W": [[1, 2], [3, 4]], "t": [0, 1], "a_in": [1], "W_h": [[1], [2]]}, "activation", "missing"),
        ({"W": [[1, 2], [3, 4]], "t": [0, 1], "a_in": [1], "W_h": [[1, 2]], "activation": "relu"}, "W_h", "H = 2"),
        ({"a": [[1, 2], [3, 4]], "W": [[1, 2], [3, 4]], "t": [0, 1], "convention": "row"}, "t", "has 1 example but"),
    ],
)
def test_bad_networks_name_the_input(kwargs: dict[str, object], where: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        L.make_network(**kwargs)  # type: ignore[arg-type]
    assert info.value.where == where
    assert message in info.value.message
