"""The layer catalogue: in the one registry but apart from the row and batch entries; every entry diagnosed
as itself at an input that exposes it; shapes that only a mistake gives; dE/dz mistakes carried into the
weights; ambiguity resolved by a proposed input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from softgrad import MISTAKES, check_layer
from softgrad.catalogue.layer import LOSS
from softgrad.catalogue.layer_diagnose import (
    LayerInput,
    conform,
    exposing_network,
    layer_candidates,
    layer_distinguishing_input,
    layer_mistake_at,
    match_quantity,
)
from softgrad.core import layer as L
from softgrad.core.tolerance import DEFAULT_TOLERANCES

TOL = DEFAULT_TOLERANCES["float64"]
LAYER_IDS = [m.id for m in MISTAKES.layers()]
#: the entries of the gradients (the loss-value entries are tested in test_loss_mistakes.py)
GRADIENT_IDS = [m.id for m in MISTAKES.layers() if LOSS not in m.quantities]
REQUIRED = {
    "dW_transposed", "delta_through_W_not_transposed", "sigma_prime_at_activation", "sigma_prime_formula_at_z",
    "hadamard_as_matmul", "dW_missing_mean", "dW_mean_twice", "db_not_summed", "db_summed_over_classes",
    "reg_gradient_missing", "reg_gradient_factor", "reg_on_bias",
}  # fmt: skip


def test_layer_entries_are_in_the_registry_but_not_rows_or_batches() -> None:
    assert set(LAYER_IDS) >= REQUIRED
    assert all(m.scope == "layer" for m in MISTAKES.layers())
    assert not {m.id for m in MISTAKES.rows()} & set(LAYER_IDS)
    assert not {m.id for m in MISTAKES.batches()} & set(LAYER_IDS)
    assert len(MISTAKES) == len(MISTAKES.rows()) + len(MISTAKES.batches()) + len(MISTAKES.layers())
    for m in MISTAKES.layers():
        assert m.title
        assert m.formula
        assert m.exposes
        assert m.quantities
        assert set(m.quantities) <= {*L.QUANTITIES, LOSS}
        d = m.to_dict()
        assert d["scope"] == "layer"
        assert d["quantities"] == list(m.quantities)
        with pytest.raises(ValueError, match="layer-level"):
            m.gradient(np.zeros((1, 2)), np.zeros((1, 2)))
    assert "quantities" not in MISTAKES["jacobian_at_logits"].to_dict()  # row entries unchanged


def _kwargs(inp: LayerInput) -> dict[str, object]:
    return inp.kwargs()


@pytest.mark.parametrize("mid", GRADIENT_IDS)
def test_each_layer_mistake_is_diagnosed_as_itself_at_its_exposing_input(mid: str) -> None:
    at = layer_mistake_at(mid)
    assert at.values, mid
    for q, wrong, right in at.values:
        r = check_layer(**_kwargs(at.input), **{q: wrong})  # type: ignore[arg-type]
        u = r.quantity(q).user
        assert u is not None
        assert u.verdict == "mistake", (mid, q)
        ids = [m.id for m in u.matches]
        assert mid in ids, (mid, q, ids)
        assert ids[0] == mid or mid in u.ambiguous, (mid, q, ids)
        assert r.status == "fail"
        good = check_layer(**_kwargs(at.input), **{q: right})  # type: ignore[arg-type]
        assert good.quantity(q).user.verdict == "correct"  # type: ignore[union-attr]
        assert good.status in ("pass", "unstable")


@pytest.mark.parametrize("mid", GRADIENT_IDS)
def test_every_quantity_of_a_layer_mistake_together_names_it_first(mid: str) -> None:
    at = layer_mistake_at(mid)
    given = {q: wrong for q, wrong, _ in at.values}
    r = check_layer(**_kwargs(at.input), **given)  # type: ignore[arg-type]
    assert r.diagnosis[0].id == mid or mid in {d.id for d in r.diagnosis if d.consistent}
    top = next(d for d in r.diagnosis if d.id == mid)
    assert set(top.quantities) == set(given)
    assert top.consistent


def test_a_mean_left_out_of_dW_alone_is_told_from_delta_left_unscaled_by_db() -> None:
    """dW_missing_mean and a δ without its 1/N (batch_sum_not_mean) give the same dW; a right db tells."""
    at = layer_mistake_at("dW_missing_mean")
    (_, wrong_dW, _), *_ = (v for v in at.values if v[0] == "dW")
    right_db = check_layer(**_kwargs(at.input)).quantity("db").reference  # type: ignore[arg-type]
    r = check_layer(**_kwargs(at.input), dW=wrong_dW, db=right_db)  # type: ignore[arg-type]
    assert {m.id for m in r.quantity("dW").user.matches} >= {"dW_missing_mean", "batch_sum_not_mean"}  # type: ignore[union-attr]
    assert r.diagnosis[0].id == "dW_missing_mean"
    assert r.diagnosis[0].consistent
    assert not next(d for d in r.diagnosis if d.id == "batch_sum_not_mean").consistent


def test_transposed_weight_gradient_of_another_shape_is_diagnosed_not_refused() -> None:
    # H = 3, K = 2: a δᵀ is 3×2 where ∂L/∂W is 2×3
    a, W, t = [1.0, -0.5, 2.0], [[0.2, 0.4, -0.1], [0.1, -0.3, 0.5]], [0.0, 1.0]
    right = np.array(check_layer(a, W, None, t).quantity("dW").reference)
    r = check_layer(a, W, None, t, dW=right.T)
    u = r.quantity("dW").user
    assert u is not None
    assert u.verdict == "mistake"
    assert [m.id for m in u.matches] == ["dW_transposed"]
    assert "shape 3×2" in u.comparison.note
    assert r.status == "fail"


def test_keepdims_and_column_shapes_of_a_right_bias_gradient_pass() -> None:
    a, W, b, t = [1.0, -0.5], [[2.0, 0.5], [2.0, 0.5]], [[0.0], [0.0]], [0.0, 1.0]
    for db in ([[0.5], [-0.5]], [[0.5, -0.5]], [0.5, -0.5]):
        r = check_layer(a, W, b, t, db=db)
        assert r.quantity("db").user.verdict == "correct", db  # type: ignore[union-attr]
        assert r.status == "pass"


def test_per_example_bias_gradient_is_db_not_summed() -> None:
    rng = np.random.default_rng(4)
    a, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    kw = {"label": [0, 1, 1, 0], "convention": "row"}
    delta = np.array(check_layer(a, W, b, **kw).quantity("delta").reference)  # type: ignore[arg-type]
    r = check_layer(a, W, b, db=delta, **kw)  # type: ignore[arg-type]
    assert [m.id for m in r.quantity("db").user.matches] == ["db_not_summed"]  # type: ignore[union-attr]
    r = check_layer(a, W, b, db=np.sum(delta, axis=1), **kw)  # type: ignore[arg-type]
    assert r.quantity("db").user.matches[0].id == "db_summed_over_classes"  # type: ignore[union-attr]


def test_hadamard_as_a_dot_product_of_vectors_is_a_scalar() -> None:
    kw = {"a_in": [1.0, -2.0, 0.5], "W_h": [[0.3, -0.1, 0.8], [-0.5, 0.4, 0.2]], "activation": "tanh",
          "W": [[0.7, -1.2], [0.4, 0.9], [-0.3, 0.5]], "label": 2}  # fmt: skip
    r = check_layer(**kw)  # type: ignore[arg-type]
    da, sp = np.array(r.quantity("da").reference), 1 - np.tanh(np.array(r.forward["z_h"])) ** 2
    scalar = float(np.dot(da, sp))
    for value in (scalar, [scalar, scalar]):
        u = check_layer(**kw, delta_h=value).quantity("delta_h").user  # type: ignore[arg-type]
        assert u is not None
        assert u.matches[0].id == "hadamard_as_matmul", value


def test_a_dE_dz_mistake_is_carried_into_the_weight_gradient() -> None:
    """δ with the softmax Jacobian at the logits, then δ aᵀ: named jacobian_at_logits."""
    a, W, b, t = [1.0, -0.5], [[2.0, 0.5], [2.0, 0.5]], [0.0, 0.0], [0.0, 1.0]
    wrong_delta = MISTAKES["jacobian_at_logits"].gradient(np.array([[1.75, 1.75]]), np.array([t]))[0]
    assert wrong_delta.tolist() == [6.125, 2.625]
    r = check_layer(a, W, b, t, dW=np.outer(wrong_delta, a), delta=wrong_delta)
    assert r.quantity("dW").user.matches[0].id == "jacobian_at_logits"  # type: ignore[union-attr]
    assert r.diagnosis[0].id == "jacobian_at_logits"
    assert r.diagnosis[0].via == "delta"
    assert set(r.diagnosis[0].quantities) == {"delta", "dW"}


def test_scaled_delta_names_the_factor() -> None:
    a, W = [1.0, -0.5], [[2.0, 0.5], [0.3, -1.0], [-0.4, 0.2]]
    right = np.array(check_layer(a, W, None, label=1).quantity("dW").reference)
    m = check_layer(a, W, None, label=1, dW=2 * right).quantity("dW").user.matches[0]  # type: ignore[union-attr]
    assert (m.id, m.factor) == ("scaled_gradient", "× 2")


def test_correct_values_list_the_mistakes_that_coincide_and_an_input_that_exposes_them() -> None:
    r = check_layer([1.0, -0.5], [[2.0, 0.5], [2.0, 0.5]], [0, 0], [0.0, 1.0], delta=[0.5, -0.5])
    u = r.quantity("delta").user
    assert u is not None
    assert u.verdict == "correct"
    assert "assumes_one_hot" in u.ambiguous
    assert u.distinguishing_input is not None
    other = u.distinguishing_input.input.net
    assert not np.allclose(np.sum(other.t, axis=1), 1.0)
    assert u.distinguishing_input.command().startswith("softgrad layer --a ")


def test_distinguishing_input_really_separates() -> None:
    net = exposing_network()
    found = layer_distinguishing_input(net, "delta_h", ["sigma_prime_at_activation", "sigma_prime_formula_at_z"])
    assert found is not None
    other = found.input.net
    fwd = L.forward(other)
    ref = L.backward(other, fwd)
    values = {c.id: c.values["delta_h"] for c in layer_candidates(other, fwd, ref) if "delta_h" in c.values}
    a, b = values["sigma_prime_at_activation"], values["sigma_prime_formula_at_z"]
    assert not np.allclose(a, b, rtol=1e-3, atol=1e-3)
    assert not np.allclose(a, ref.delta_h, rtol=1e-3, atol=1e-3)


def test_mistakes_that_cannot_arise_are_not_candidates() -> None:
    net = L.make_network([1.0, -0.5, 2.0], [[2.0, 0.5, 1.0], [2.0, 0.5, -1.0]], None, [0.0, 1.0])  # H ≠ K
    ids = {c.id for c in layer_candidates(net) if c.via == "layer"}
    assert ids == {"dW_transposed"}  # one example, no bias, no regulariser, no hidden layer
    assert "missing_temperature" not in {c.id for c in layer_candidates(net)}


@st.composite
def layer_inputs(draw: st.DrawFn) -> LayerInput:
    n = draw(st.integers(1, 3))
    d, h, k = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(2, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = L.Network(
        a=np.zeros((n, h)), W=np.zeros((h, k)), b=np.zeros(k), t=np.zeros((n, k)),
        reduction=draw(st.sampled_from(L.LAYER_REDUCTIONS)), reg=draw(st.sampled_from([0.0, 0.3])),
        reg_convention=draw(st.sampled_from(L.REG_CONVENTIONS)), a_in=np.zeros((n, d)), W_h=np.zeros((d, h)),
        b_h=np.zeros(h), activation=draw(st.sampled_from(["sigmoid", "tanh", "relu"])),
        convention=draw(st.sampled_from(L.CONVENTIONS)), single=False,
    )  # fmt: skip
    from softgrad.catalogue.layer_diagnose import _networks_like

    net = next(_networks_like(base, seed=int(rng.integers(1000)), tries=50), None)
    if net is None:  # relu without a usable draw
        net = next(_networks_like(L.Network(**{**base.__dict__, "activation": "tanh"})))
    return LayerInput(net)


@given(layer_inputs())
@settings(max_examples=60)
def test_every_layer_entry_is_diagnosed_as_itself_where_it_differs(inp: LayerInput) -> None:
    net = inp.net
    fwd = L.forward(net)
    ref = L.backward(net, fwd)
    candidates = layer_candidates(net, fwd, ref)
    for m in MISTAKES.layers():
        values = m.layer_values(net, fwd, ref)
        if not values:
            continue
        for q in m.quantities:
            if q == LOSS:
                continue  # the loss-value entries: tests/catalogue/test_loss_mistakes.py
            right = ref.get(q)
            if q not in values or right is None:
                continue
            wrong = L.user_layout(net, q, values[q])
            ref_user = L.user_layout(net, q, right)
            fitted = conform(wrong, ref_user.shape)
            if fitted is not None and np.allclose(fitted, ref_user, rtol=1e-7, atol=1e-10):
                continue  # equals the reference here
            found = match_quantity(net, q, wrong, ref_user, candidates, TOL)
            assert m.id in [x.id for x in found.matches], (m.id, q)
