"""Every rule about an input value, checked once, with a message that names the quantity (``rtol``,
``temperature``), never a command-line flag: the CLI puts the option name in front in one place."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from softgrad.errors import InputError

#: What a batch gradient holds: per-row gradients, or the gradient of the batch mean or sum.
REDUCTIONS = ("none", "mean", "sum")
#: Worst rows a batch report lists by default.
DEFAULT_SHOW = 10
#: The precisions numbers can be compared at (each with its default tolerance).
DTYPES = ("float64", "float32")

T = TypeVar("T")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def tolerance(name: str, value: float | None) -> float | None:
    """``rtol`` / ``atol``: None (the default) or a finite number >= 0."""
    if value is None:
        return None
    if not (_is_number(value) and math.isfinite(value) and value >= 0):
        raise InputError(name, f"must be a finite number >= 0, got {value!r}")
    return float(value)


def temperature(value: float) -> float:
    """The softmax temperature τ: a finite number > 0."""
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise InputError("temperature", f"must be a finite number > 0, got {value!r}")
    return float(value)


def choice(name: str, value: T, allowed: Sequence[T]) -> T:
    """One of ``allowed``."""
    if value not in allowed:
        raise InputError(name, f"must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return value


def whole_number(name: str, value: object, lo: int = 0, hi: int | None = None) -> int:
    """An integer from ``lo`` to ``hi`` (no upper bound if None); booleans are not numbers."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= lo and (hi is None or value <= hi)
    if not ok:
        span = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
        raise InputError(name, f"must be a whole number {span}, got {value!r}")
    assert isinstance(value, int)
    return value


def class_index(name: str, value: object, k: int) -> int:
    """A class index from 0 to K − 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(name, f"expected a class index, got {value!r}")
    if not 0 <= value < k:
        raise InputError(name, f"class index {value} is out of range for K = {k} (0 to {k - 1})")
    return value


def dtype(value: str) -> str:
    """``float64`` or ``float32``."""
    return choice("dtype", value, DTYPES)


def reduction(value: str, allowed: Sequence[str] = REDUCTIONS) -> str:
    """What a batch gradient holds: ``none``, ``mean`` or ``sum``."""
    return choice("reduction", value, allowed)


#: The most rows one batch (``batch_size``) may have.
MAX_BATCH_SIZE = 1_000_000_000
#: The most classes a row may have (``k``).
MAX_CLASSES = 10_000_000


def seed(value: object) -> int:
    """The seed of the random directions: a whole number >= 0."""
    return whole_number("seed", value, 0)


def jobs(value: object, cpus: int) -> int:
    """Worker processes: a whole number >= 1, at most ``cpus`` (more is capped: the caller may say so)."""
    return min(whole_number("jobs", value, 1), max(1, cpus))


def batch_size(value: object) -> int | None:
    """Rows per batch: None (the whole input) or a whole number from 1 to :data:`MAX_BATCH_SIZE`."""
    return None if value is None else whole_number("batch_size", value, 1, MAX_BATCH_SIZE)


def show(value: object) -> int:
    """How many worst rows a report lists: a whole number >= 0."""
    return whole_number("show", value, 0)


def classes(value: object) -> int | None:
    """The number of classes K: None (found from the data) or a whole number from 2 to :data:`MAX_CLASSES`."""
    return None if value is None else whole_number("k", value, 2, MAX_CLASSES)


#: Characters that cannot separate fields: they are part of numbers, quotes or line ends.
_NOT_DELIMITERS = set('"\r\n0123456789.+-eE') | {"\0"}


def delimiter(value: str | None) -> str | None:
    """The field delimiter: None (sniffed), one character, or ``tab`` / ``\\t`` for a tab."""
    if value is None:
        return None
    if value.lower() in ("tab", "\\t", "\t"):
        return "\t"
    if len(value) != 1:
        raise InputError("delimiter", f"expected one character (or 'tab'), got {value!r}")
    if value in _NOT_DELIMITERS:
        raise InputError("delimiter", f"{value!r} cannot separate fields (it is part of numbers, quotes or line ends)")
    return value
