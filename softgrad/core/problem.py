"""A validated single-example problem: the arrays every check works on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from softgrad.core import rules
from softgrad.core.formulas import Array
from softgrad.errors import InputError

ArrayLike = Sequence[float] | Array
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """Logits, targets and optional user numbers, validated: finite, K >= 2, shapes consistent.

    ``grad_precision`` / ``jacobian_precision``: per element, the precision the user's numbers were written
    with (half a unit in the last digit; 0 = exact), when they were given as text. ``label``: the class index
    when the targets were given as one (the user works with one-hot targets).
    """

    z: Array
    t: Array
    temperature: float = 1.0
    dtype: str = "float64"
    grad: Array | None = None
    jacobian: Array | None = None
    grad_precision: Array | None = None
    jacobian_precision: Array | None = None
    label: int | None = None

    @property
    def k(self) -> int:
        return int(self.z.shape[0])


API_NAMES = {
    "z": "z",
    "t": "t",
    "label": "label",
    "grad": "grad",
    "jacobian": "jacobian",
    "temperature": "temperature",
    "dtype": "dtype",
}


def _vector(values: ArrayLike, where: str) -> Array:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(where, f"expected numbers ({exc})") from None
    if arr.ndim != 1:
        raise InputError(where, f"expected a flat list of numbers, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise InputError(where, f"value {i + 1} is {arr[i]!r}: numbers must be finite (no NaN or inf)")
    return arr


def _named(where: str, rule: Callable[..., T], *args: Any) -> T:
    """Apply a rule, naming the input as the caller calls it."""
    try:
        return rule(*args)
    except InputError as exc:
        raise InputError(where, exc.message) from None


def make_problem(
    z: ArrayLike,
    t: ArrayLike | None = None,
    *,
    label: int | None = None,
    grad: ArrayLike | None = None,
    jacobian: ArrayLike | None = None,
    temperature: float = 1.0,
    dtype: str = "float64",
    names: Mapping[str, str] = API_NAMES,
    allow_nonfinite_grad: bool = True,
    grad_precision: ArrayLike | None = None,
    jacobian_precision: ArrayLike | None = None,
) -> Problem:
    """Validate user input into a :class:`Problem`; ``names`` says how to call each input in errors."""
    zv = _vector(z, names["z"])
    k = zv.shape[0]
    if k < 2:
        raise InputError(names["z"], f"softmax needs at least 2 classes, got {k}")
    if (t is None) == (label is None):
        raise InputError(names["t"], f"give the targets with {names['t']} or a class index with {names['label']}")
    if label is not None:
        label = _named(
            names["label"], rules.class_index, "label", int(label) if isinstance(label, np.integer) else label, k
        )
        tv = np.zeros(k)
        tv[label] = 1.0
    else:
        assert t is not None
        tv = _vector(t, names["t"])
        if tv.shape[0] != k:
            raise InputError(names["t"], f"has {tv.shape[0]} values but {names['z']} has {k}")
        neg = np.flatnonzero(tv < 0)
        if neg.size:
            i = int(neg[0])
            raise InputError(names["t"], f"value {i + 1} is {tv[i]:g}: targets must be >= 0")
    temperature = _named(names["temperature"], rules.temperature, temperature)
    with np.errstate(over="ignore"):
        scaled = zv / temperature
    if not np.all(np.isfinite(scaled)):
        i = int(np.flatnonzero(~np.isfinite(scaled))[0])
        raise InputError(names["temperature"], f"z/τ overflows: z[{i}]/τ = {zv[i]:g}/{temperature:g} is not finite")
    dtype = _named(names["dtype"], rules.dtype, dtype)
    gv = None
    if grad is not None:
        gv = np.asarray(grad, dtype=np.float64) if allow_nonfinite_grad else _vector(grad, names["grad"])
        if gv.ndim != 1:
            raise InputError(names["grad"], f"expected a flat list of numbers, got shape {gv.shape}")
        if gv.shape[0] != k:
            raise InputError(names["grad"], f"has {gv.shape[0]} values but {names['z']} has {k}")
    jv = None
    if jacobian is not None:
        jv = np.asarray(jacobian, dtype=np.float64)
        if jv.size != k * k or jv.ndim not in (1, 2) or (jv.ndim == 2 and jv.shape != (k, k)):
            raise InputError(names["jacobian"], f"expected K×K = {k * k} values (row-major) for K = {k}, got {jv.size}")
        jv = jv.reshape(k, k)
    gp = _precision(grad_precision, gv)
    jp = _precision(jacobian_precision, jv)
    return Problem(zv, tv, float(temperature), dtype, gv, jv, gp, jp, label)


def _precision(precision: ArrayLike | None, values: Array | None) -> Array | None:
    """The precision of each of ``values`` (same shape), or None where every one is exact."""
    if precision is None or values is None:
        return None
    p = np.asarray(precision, dtype=np.float64).reshape(values.shape)
    return p if np.any(p > 0) else None


def as_problem(
    z: ArrayLike | Problem,
    t: ArrayLike | None = None,
    *,
    label: int | None = None,
    grad: ArrayLike | None = None,
    jacobian: ArrayLike | None = None,
    temperature: float = 1.0,
    dtype: str = "float64",
) -> Problem:
    """``z`` itself when it is already a :class:`Problem`, else the validated problem of these arrays."""
    if isinstance(z, Problem):
        return z
    return make_problem(z, t, label=label, grad=grad, jacobian=jacobian, temperature=temperature, dtype=dtype)
