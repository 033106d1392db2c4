"""Numbers as text and as JSON: the shortest text that reads back as the same float, and NaN / inf as
JSON ``null`` (JSON has no such numbers)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


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
