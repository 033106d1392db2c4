"""Properties over random inputs: fused ≈ chained ≈ finite differences, and agreement with an independent
high-precision (mpmath) reference."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from softgrad import check, core
from softgrad.core.tolerance import DEFAULT_TOLERANCES, excess

TOL = DEFAULT_TOLERANCES["float64"]


@st.composite
def problems(draw: st.DrawFn, max_k: int = 50) -> tuple[np.ndarray, np.ndarray]:
    k = draw(st.integers(2, max_k))
    z = draw(arrays(np.float64, k, elements=st.floats(-50, 50, allow_nan=False)))
    kind = draw(st.sampled_from(["one_hot", "soft", "unnormalised"]))
    if kind == "one_hot":
        t = np.zeros(k)
        t[draw(st.integers(0, k - 1))] = 1.0
    else:
        t = draw(arrays(np.float64, k, elements=st.floats(0, 1, allow_nan=False)))
        scale = draw(st.floats(0.1, 5.0))
        if kind == "soft":
            scale = 1.0 / t.sum() if t.sum() > 1e-6 else 0.0
        t = t * scale if scale else np.full(k, 1.0 / k)
    return z, t


@given(problems())
def test_fused_chained_and_finite_differences_agree(p: tuple[np.ndarray, np.ndarray]) -> None:
    z, t = p[0][None], p[1][None]
    fused = core.fused_gradient(z, t)
    chained = core.chained_gradient(z, t)
    if core.chained_instability(z, t)[0] is None:
        assert np.all(excess(chained, fused, TOL) <= 1)
    central = core.finite_difference(z, t, method="central")
    assert np.all(excess(central.value, fused, TOL, central.error) <= 1)
    cstep = core.finite_difference(z, t, method="complex")
    assert np.all(excess(cstep.value, fused, TOL, cstep.error) <= 1)


@given(problems(max_k=12))
def test_check_passes_on_every_valid_input(p: tuple[np.ndarray, np.ndarray]) -> None:
    report = check(p[0], p[1])
    assert report.status in ("pass", "unstable")
    assert report.ok


@given(problems(max_k=12))
def test_the_reference_is_diagnosed_correct(p: tuple[np.ndarray, np.ndarray]) -> None:
    z, t = p
    report = check(z, t, grad=core.fused_gradient(z[None], t[None])[0])
    assert report.user is not None
    assert report.user.verdict == "correct"


def _mp_gradient(z: list[float], t: list[float]) -> list[float]:
    with mpmath.workdps(50):
        zs = [mpmath.mpf(x) for x in z]
        m = max(zs)
        e = [mpmath.exp(x - m) for x in zs]
        total = mpmath.fsum(e)
        s_sum = mpmath.fsum(mpmath.mpf(x) for x in t)
        return [float(ei / total * s_sum - mpmath.mpf(ti)) for ei, ti in zip(e, t, strict=False)]


def test_against_high_precision_reference() -> None:
    rng = np.random.default_rng(2026)
    for case in range(40):
        k = int(rng.integers(2, 20))
        z = rng.normal(0, 10 if case % 2 else 2, k)
        t = rng.uniform(0, 1, k) if case % 3 else np.eye(k)[int(rng.integers(k))]
        ref = np.array(_mp_gradient(z.tolist(), t.tolist()))
        r = check(z, t)
        assert np.allclose(r.fused, ref, rtol=1e-13, atol=1e-15), case
        if r.chained is not None:
            assert np.allclose(r.chained, ref, rtol=1e-9, atol=1e-12), case
        assert np.allclose(r.finite_difference, ref, rtol=1e-5, atol=1e-7), case


@pytest.mark.parametrize("offset", [1e4, 1e5, 1e6, -1e6, 3.7e7])
def test_the_finite_difference_agrees_at_large_logits_that_differ_little(offset: float) -> None:
    """The loss depends only on differences of logits: z = (10000, 10001) is (−1, 0) to the finite difference,
    whose steps must not grow with the logits' size."""
    from softgrad.core.finite_difference import finite_difference

    z = np.array([[offset, offset + 1.0, offset - 0.5]])
    t = np.array([[0.0, 1.0, 0.0]])
    fd = finite_difference(z, t)
    exact = core.fused_gradient(z, t, 1.0)
    assert np.all(np.abs(fd.value - exact) <= fd.error + 1e-9)
    assert np.max(np.abs(fd.value - exact)) < 1e-8


@given(problems(max_k=20), st.sampled_from([0.5, 1.0, 3.0]))
def test_the_vectorised_finite_difference_matches_one_evaluated_afresh(
    p: tuple[np.ndarray, np.ndarray], temperature: float
) -> None:
    """Every class moved at once from shared sums, against the loss recomputed at each perturbed point:
    the same difference quotient, with error estimates that cover each other's values."""
    from softgrad.core.finite_difference import _fresh_central

    z, t = p[0][None], p[1][None]
    est = core.finite_difference(z, t, temperature, method="central")
    shifted = z - z.max()
    fresh, fresh_err = _fresh_central(shifted.T.copy(), t.T.copy(), temperature)
    assert np.all(np.abs(est.value - fresh) <= est.error + fresh_err + 1e-12)
    assert np.all(est.error <= fresh_err * 10 + 1e-9)


@given(problems(max_k=40), st.sampled_from([0.5, 1.0, 3.0]), st.integers(0, 3))
def test_the_directional_difference_matches_one_evaluated_afresh(
    p: tuple[np.ndarray, np.ndarray], temperature: float, seed: int
) -> None:
    from softgrad.core.finite_difference import _directional_fresh, random_directions

    z, t = p[0][None], p[1][None]
    est = core.finite_difference(z, t, temperature, mode="directional", seed=seed)
    shifted = z - z.max()
    scale = np.maximum(1.0, np.max(np.abs(shifted), axis=1))
    fresh, fresh_err = _directional_fresh(
        shifted, t, temperature, "central", random_directions(z.shape[1], 8, seed), scale
    )
    assert np.all(np.abs(est.value - fresh) <= est.error + fresh_err + 1e-12)
    assert np.all(np.abs(est.value - core.fused_gradient(z, t, temperature) @ est.directions.T) <= est.error + 1e-7)
