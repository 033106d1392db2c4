"""The shortcuts the row checks take for speed give exactly what the plain computations give: the explicit
Jacobian product laid out rows-last, the row-wise tolerance ratio, the user's ratio and errors from one
difference, and the quick test that no target can make −t/s unstable (in unstable_targets itself)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from softgrad.catalogue.diagnose import match_ratio, ratio_and_errors
from softgrad.core import formulas
from softgrad.core.checks import errors, row_max
from softgrad.core.tolerance import DEFAULT_TOLERANCES, excess, row_excess

TOL = DEFAULT_TOLERANCES["float64"]
#: values of every kind the arrays can hold: ordinary, tiny, huge, zero of both signs, inf and NaN
ANY = st.one_of(
    st.floats(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-310, 5e-324, 1e308, -1e308]),
)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit (-0.0 is not 0.0), any NaN matching any NaN."""
    if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    a, b = np.where(np.isnan(a), 0.0, a), np.where(np.isnan(b), 0.0, b)
    return np.array_equal(np.ascontiguousarray(a).view(np.int64), np.ascontiguousarray(b).view(np.int64))


@st.composite
def pairs(draw: st.DrawFn, elements: st.SearchStrategy[float] = ANY) -> tuple[np.ndarray, np.ndarray]:
    n, k = draw(st.integers(1, 6)), draw(st.integers(1, 7))
    a = draw(arrays(np.float64, (n, k), elements=elements))
    b = draw(arrays(np.float64, (n, k), elements=elements))
    order = draw(st.sampled_from("CF"))
    return np.asarray(a, order=order), np.asarray(b, order=order)


@given(pairs(st.floats(-50, 50)), st.integers(1, 3000))
def test_the_explicit_product_is_each_row_times_its_jacobian(p: tuple[np.ndarray, np.ndarray], block: int) -> None:
    z, t = p[0], np.abs(p[1])
    s = formulas.softmax(np.asfortranarray(z))
    g = formulas.dE_ds(t, s)
    jac = formulas.softmax_jacobian(s)
    plain = np.einsum("nj,njk->nk", g, jac)
    with np.errstate(all="ignore"):
        old_block = formulas.JACOBIAN_CACHE_BLOCK
        formulas.JACOBIAN_CACHE_BLOCK = block
        try:
            assert same_bits(formulas._explicit_product(g, s), plain)
        finally:
            formulas.JACOBIAN_CACHE_BLOCK = old_block


@given(pairs(), st.booleans())
def test_row_excess_is_the_row_maximum_of_excess(p: tuple[np.ndarray, np.ndarray], slack: bool) -> None:
    a, b = p
    extra = np.abs(b) * 1e-3 if slack else None
    with np.errstate(all="ignore"):
        assert same_bits(row_excess(a, b, TOL, extra), row_max(excess(a, b, TOL, extra)))


@given(pairs())
def test_ratio_and_errors_are_match_ratio_and_errors(p: tuple[np.ndarray, np.ndarray]) -> None:
    user, expected = p
    with np.errstate(all="ignore"):
        ratio, abs_err, rel_err = ratio_and_errors(user, expected, TOL)
        plain_abs, plain_rel = errors(user, expected, TOL)
        assert same_bits(ratio, match_ratio(user, expected, TOL))
    assert same_bits(abs_err, plain_abs)
    assert same_bits(rel_err, plain_rel)


@given(
    pairs(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1e-310, 5e-324, 1e-40, 2.0, 3.0, 1e300]))),
    st.sampled_from(["float64", "float32"]),
)
def test_unstable_targets_is_the_element_by_element_rule(p: tuple[np.ndarray, np.ndarray], dtype: str) -> None:
    """Its quick test (every probability normal, no target above 2) never hides an unstable element."""
    s, t = p
    info = np.finfo(np.dtype(dtype))
    with np.errstate(all="ignore"):
        plain = (t > 0) & ((s < info.tiny) | ~(np.where(t > 0, t / s, 0.0) <= float(info.max)))
    assert np.array_equal(formulas.unstable_targets(t, s, dtype), plain)
