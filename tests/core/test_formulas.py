"""The math core on the worked example and its edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from softgrad import core
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.core import formulas

Z = np.array([[1.75, 1.75]])
T = np.array([[0.0, 1.0]])


def test_worked_example_every_number() -> None:
    s = core.softmax(Z)[0]
    assert s.tolist() == [0.5, 0.5]
    assert core.dE_ds(T, core.softmax(Z))[0].tolist() == [0.0, -2.0]
    assert core.softmax_jacobian(core.softmax(Z))[0].tolist() == [[0.25, -0.25], [-0.25, 0.25]]
    assert core.chained_gradient(Z, T)[0].tolist() == [0.5, -0.5]
    assert core.fused_gradient(Z, T)[0].tolist() == [0.5, -0.5]
    assert core.softmax_jacobian(Z)[0].tolist() == [[-1.3125, -3.0625], [-3.0625, -1.3125]]
    assert MISTAKES["jacobian_at_logits"].gradient(Z, T)[0].tolist() == [6.125, 2.625]


def test_loss_is_log_two() -> None:
    assert core.loss(Z, T)[0] == pytest.approx(np.log(2), rel=1e-15)


@pytest.mark.parametrize("method", ["central", "complex"])
def test_finite_difference_on_worked_example(method: str) -> None:
    fd = core.finite_difference(Z, T, method=method)
    assert np.allclose(fd.value, [[0.5, -0.5]], rtol=0, atol=1e-9)
    assert np.all(np.abs(fd.value - [[0.5, -0.5]]) <= fd.error + 1e-15)


def test_complex_step_is_exact_to_rounding() -> None:
    z = np.array([[2.0, 0.5, -1.0, 3.0]])
    t = np.array([[0.1, 0.6, 0.0, 0.3]])
    fd = core.finite_difference(z, t, method="complex")
    assert np.allclose(fd.value, core.fused_gradient(z, t), rtol=1e-14, atol=1e-15)


def test_logsumexp_accepts_complex_and_huge_input() -> None:
    u = np.array([[1000.0 + 1e-20j, 1000.0]])
    out = core.logsumexp(u)
    assert np.isfinite(out.real).all()
    assert out.real[0] == pytest.approx(1000 + np.log(2))


def test_softmax_is_stable_for_large_logits() -> None:
    s = core.softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    assert np.isfinite(s).all()
    assert s[0].tolist() == [0.5, 0.5, 0.0]


def test_chained_underflow_is_reported_not_nan() -> None:
    z, t = np.array([[0.0, -800.0]]), np.array([[0.0, 1.0]])
    inst = core.chained_instability(z, t)[0]
    assert inst is not None
    assert inst.index == 1
    assert "s[1] underflows to 0" in inst.reason
    assert np.allclose(core.fused_gradient(z, t), [[1.0, -1.0]])


def test_directional_fd_matches_directional_derivative() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=(2, 300))
    t = rng.uniform(size=(2, 300))
    fd = core.finite_difference(z, t, mode="directional", seed=5)
    assert fd.directions is not None
    assert fd.value.shape == (2, core.FD_DIRECTIONS)
    expected = core.fused_gradient(z, t) @ fd.directions.T
    assert np.all(np.abs(fd.value - expected) <= 1e-10 + 1e-7 * np.abs(expected) + fd.error)


def test_chained_gradient_in_blocks_for_large_k(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formulas, "JACOBIAN_BLOCK", 64)
    monkeypatch.setattr(formulas, "EXPLICIT_JACOBIAN_MAX_K", 10**6)
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3, 20))
    t = rng.uniform(size=(3, 20))
    assert np.allclose(core.chained_gradient(z, t), core.fused_gradient(z, t), rtol=1e-12, atol=1e-14)


def test_temperature_scales_the_gradient() -> None:
    z, t = np.array([[2.0, 0.5, -1.0]]), np.array([[0.0, 1.0, 0.0]])
    g = core.fused_gradient(z, t, 2.0)
    assert np.allclose(g, (core.softmax(z / 2.0) - t) / 2.0)
    assert np.allclose(core.chained_gradient(z, t, 2.0), g)
    assert np.allclose(core.finite_difference(z, t, 2.0, method="complex").value, g, atol=1e-14)


def test_above_64_classes_the_chained_product_is_the_same_without_forming_j() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(0, 5, size=(50, 100))
    t = rng.uniform(size=(50, 100))
    z[0, 3] = -2000.0  # s underflows where t > 0: not finite either way
    explicit = core.chained_gradient(z, t, 1.5, explicit=True)
    structured = core.chained_gradient(z, t, 1.5)
    finite = np.isfinite(explicit)
    assert np.array_equal(finite, np.isfinite(structured))
    assert not finite[0].all()
    assert np.allclose(structured[finite], explicit[finite], rtol=1e-12, atol=1e-15)
