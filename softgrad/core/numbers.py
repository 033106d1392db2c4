"""Numbers as text and as JSON: the shortest text that reads back as the same float, NaN / inf as JSON
``null`` (JSON has no such numbers), and the precision a number was written with (half a unit in its last
written digit), from its text or, for a value read from a file, from the value itself."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray


def shortest(x: float) -> str:
    """The shortest text that reads back as the same float: ``2`` rather than ``2.0``; ``nan``, ``inf``,
    ``-inf`` for the non-finite values."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def json_float(x: float | None) -> float | None:
    """A float for JSON: NaN and inf become None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def json_list(values: Sequence[float] | None) -> list[float | None] | None:
    """A vector for JSON: NaN and inf become None."""
    if values is None:
        return None
    return [json_float(v) for v in values]


def json_nested(values: Any) -> Any:
    """Nested sequences of floats (vectors, matrices, stacks of matrices) for JSON: NaN and inf become None."""
    if values is None:
        return None
    if isinstance(values, (tuple, list)):
        return [json_nested(v) for v in values]
    return json_float(values)


def nested(values: Any) -> Any:
    """An array (or nested lists) as nested tuples of Python floats: plain, hashable, frozen data."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, (tuple, list)):
        return tuple(nested(v) for v in values)
    return float(values)


def vector(values: Any) -> tuple[float, ...]:
    """Any flat sequence of numbers as a tuple of Python floats."""
    return tuple(float(x) for x in values)


# --- the precision a number was written with -------------------------------------------------------------

#: From this many significant digits a number written as text counts as exact: it is all a float64 holds.
FULL_DIGITS = 17
#: The most decimals looked for in a value read from a file (beyond them a value counts as exact).
MAX_DECIMALS = 15
#: A block of values read from a file with a value of this many significant digits is machine-written.
MACHINE_DIGITS = 15

_DECIMAL = re.compile(r"^[+-]?(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?$")


def written_precision(text: str) -> float:
    """Half a unit in the last digit of a number written as text: ``0.7856`` → 5e-5, ``1.2e-3`` → 5e-5,
    ``0.50`` → 5e-3. Exact (0) for an integer written without a point or an exponent (``0``, ``-1``; also
    ``1.``, the way numpy and torch print a whole number), for 17 or more significant digits (all a float64
    holds), and for anything that is not a plain decimal (``nan``, ``inf``)."""
    m = _DECIMAL.match(text.strip())
    if m is None or not (m["int"] or m["frac"]):
        return 0.0
    if not m["frac"] and m["exp"] is None:
        return 0.0  # an integer, also with a trailing point as numpy and torch print them (``1.``)
    digits = ((m["int"] or "") + (m["frac"] or "")).lstrip("0")
    if len(digits) >= FULL_DIGITS:
        return 0.0
    last = int(m["exp"] or 0) - len(m["frac"] or "")
    return float(f"5e{last - 1}")


def written_digits(text: str) -> int:
    """How many significant digits a number written as text has (``0.0391`` → 3, ``6.125e0`` → 4; 0 for
    anything that is not a plain decimal)."""
    m = _DECIMAL.match(text.strip())
    if m is None:
        return 0
    return len(((m["int"] or "") + (m["frac"] or "")).lstrip("0"))


def machine_written_text(texts: Sequence[str]) -> bool:
    """A list of numbers in which one has 15 or more significant digits was written by a program (``repr``,
    ``%.17g``): its short numbers (``0.5``) are exact values, not rounded ones."""
    return any(written_digits(t) >= MACHINE_DIGITS for t in texts)


def decimals_of(values: NDArray[np.float64], max_decimals: int = MAX_DECIMALS) -> NDArray[np.int64]:
    """Per value read back from text: the smallest d <= ``max_decimals`` with round(x, d) == x (0 for integers
    and for NaN/inf), or -1 where there is none. Vectorised; each pass only looks at the values not yet placed."""
    x = np.asarray(values, dtype=np.float64)
    out = np.full(x.shape, -1, np.int64)
    flat_out = out.reshape(-1)
    flat = x.reshape(-1)
    todo = np.flatnonzero(np.isfinite(flat))
    flat_out[~np.isfinite(flat)] = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for d in range(max_decimals + 1):
            if not todo.size:
                break
            v = flat[todo]
            hit = np.round(v, d) == v
            flat_out[todo[hit]] = d
            todo = todo[~hit]
    return out


def significant_digits(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Per value read back from text: how many significant digits its shortest decimal form has (16 or more
    reported as 16; 0 for zero and for NaN/inf). Tiny values are looked at past 15 decimals (1e-20 has one
    significant digit)."""
    x = np.asarray(values, dtype=np.float64)
    d = decimals_of(x, 2 * MAX_DECIMALS)
    with np.errstate(divide="ignore", invalid="ignore"):
        magnitude = np.floor(np.log10(np.abs(x)))
    magnitude = np.where(np.isfinite(magnitude), magnitude, 0).astype(np.int64)
    nonzero = np.isfinite(x) & (x != 0)
    sig = np.where(d >= 0, np.minimum(d + magnitude + 1, MAX_DECIMALS + 1), MAX_DECIMALS + 1)
    out: NDArray[np.int64] = np.where(nonzero, np.maximum(sig, 1), 0)
    return out


def machine_written(values: NDArray[np.float64], probe: int = 256) -> bool:
    """True when any value has 15 or more significant digits: a file written by a program (``repr``, ``%.17g``),
    whose short numbers are then exact values, not rounded ones. Looks at the first values first."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat.size > probe and bool(np.any(significant_digits(flat[:probe]) >= MACHINE_DIGITS)):
        return True
    return bool(np.any(significant_digits(flat) >= MACHINE_DIGITS))


def value_precision(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per value read back from text (a file field parsed to a float): half a unit in its last decimal, found
    from the value itself (``0.7856`` → 5e-5); exact (0) for integers, NaN/inf and values with more than 15
    decimals. A trailing zero written in the file (``0.50``) is not seen: the value is ``0.5``."""
    d = decimals_of(values)
    out: NDArray[np.float64] = np.where(d > 0, 0.5 * np.power(10.0, -np.maximum(d, 0)), 0.0)
    return out


def describe_precision(precision: Sequence[float]) -> str:
    """In words, the precision numbers were written with: ``"the 4 decimals you gave"``, ``"the 3–4 decimals
    you gave"``, or ``"the precision you gave (±0.5)"``; ``""`` when every number is exact."""
    places = sorted({_decimals_of_precision(p) for p in precision if p > 0})
    if not places:
        return ""
    if places[0] <= 0:
        return f"the precision you gave (±{shortest(max(precision))})"
    if len(places) == 1:
        d = places[0]
        return f"the {d} decimal{'s' if d != 1 else ''} you gave"
    return f"the {places[0]}–{places[-1]} decimals you gave"


def _decimals_of_precision(p: float) -> int:
    """5e-5 → 4 (the number of decimals whose half unit ``p`` is)."""
    return -round(math.log10(2 * p))
