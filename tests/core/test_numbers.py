"""The precision a number was written with: from its text, and from a value read back from a file."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softgrad.core.numbers import (
    describe_precision,
    machine_written,
    significant_digits,
    value_precision,
    written_precision,
)
from softgrad.core.tolerance import compare, tolerance_for


@pytest.mark.parametrize(
    ("text", "precision"),
    [
        ("0.7856", 5e-5),
        ("1.2e-3", 5e-5),
        ("0.50", 5e-3),
        ("-0.5", 5e-2),
        ("6.125", 5e-4),
        (".25", 5e-3),
        ("1e-3", 5e-4),
        ("2.5E+02", 5.0),
        ("0", 0.0),  # an integer without point or exponent is exact
        ("-1", 0.0),
        ("1.", 0.0),  # numpy and torch print whole numbers so
        ("0.30000000000000004", 0.0),  # 17 significant digits: all a float64 holds
        ("2.0694788142861750", 0.0),
        ("nan", 0.0),
        ("-inf", 0.0),
    ],
)
def test_written_precision(text: str, precision: float) -> None:
    assert written_precision(text) == pytest.approx(precision, rel=1e-12, abs=0)


def test_sixteen_digits_are_still_rounded_but_harmlessly() -> None:
    assert written_precision("2.069478814286175") == pytest.approx(5e-16)


def test_value_precision_from_the_values_of_a_file() -> None:
    got = value_precision(np.array([0.7856, 0.5, 1.0, 0.0, -3.0, 0.1 + 0.2, np.nan, 1.25e-3]))
    assert got.tolist() == pytest.approx([5e-5, 5e-2, 0, 0, 0, 0, 0, 5e-6])


def test_significant_digits() -> None:
    got = significant_digits(np.array([0.7856, 120.5, 1e-20, 0.1 + 0.2, 0.0, np.inf, 123.456789012345]))
    assert got.tolist() == [4, 4, 1, 16, 0, 0, 15]


def test_machine_written_blocks() -> None:
    assert not machine_written(np.array([[0.7856, -0.8247, 0.0391], [0.5, -0.5, 0.0]]))
    assert machine_written(np.array([[0.5, -0.5], [0.785597026348114, -0.7855970263481140]]))
    assert machine_written(np.r_[np.full(1000, 0.5), 0.1 + 0.2])  # past the first values looked at


@pytest.mark.parametrize(
    ("precision", "words"),
    [
        ([5e-5, 5e-5, 0.0], "the 4 decimals you gave"),
        ([5e-2], "the 1 decimal you gave"),
        ([5e-4, 5e-5], "the 3–4 decimals you gave"),
        ([0.5], "the precision you gave (±0.5)"),
        ([0.0, 0.0], ""),
    ],
)
def test_describe_precision(precision: list[float], words: str) -> None:
    assert describe_precision(precision) == words


@given(st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 12))
def test_a_value_rounded_to_d_decimals_is_within_its_precision(x: float, d: int) -> None:
    text = f"{x:.{d}f}"
    off = abs(float(text) - x) - 4e-16 * abs(x)  # less the float spacing, which the rtol covers
    assert off <= written_precision(text) * (1 + 1e-9) or d == 0
    # read back from a file, a trailing zero is lost: the precision found is never finer than written
    back = value_precision(np.array([float(text)]))[0]
    assert off <= back * (1 + 1e-9) or float(text) == int(float(text))


def test_compare_allows_the_precision_and_says_so() -> None:
    tol = tolerance_for("float64", written=True)
    ref = np.array([0.785597, -0.82471])
    typed = np.array([0.7856, -0.8247])
    strict = compare(typed, ref, tol)
    loose = compare(typed, ref, tol, precision=np.array([5e-5, 5e-5]))
    assert not strict.ok
    assert loose.ok
    assert loose.within_precision
    assert compare(ref, ref, tol, precision=np.array([5e-5, 5e-5])).within_precision is False


def test_tolerance_rules() -> None:
    assert tolerance_for("float64", written=True).precision == "as written"
    assert tolerance_for("float64", written=False).precision == "exact"
    given_tol = tolerance_for("float64", rtol=1e-3, written=True)
    assert not given_tol.written
    assert given_tol.precision == "rtol/atol given"
    assert tolerance_for("float64").to_dict() == {
        "rtol": 1e-7,
        "atol": 1e-10,
        "formula": "|a − b| <= atol + rtol·|ref|",
    }
    assert tolerance_for("float32", written=True).to_dict()["formula"].endswith("+ precision")


def test_written_digits_and_machine_written_text() -> None:
    from softgrad.core.numbers import machine_written_text, written_digits

    assert [written_digits(x) for x in ("0.0391", "6.125e0", "0", "-1.50", "nan")] == [3, 4, 0, 3, 0]
    assert machine_written_text(["0.5", "0.7855970263481143"])
    assert not machine_written_text(["0.5", "0.78559703"])
