"""The steps ``verify --kind weights`` and ``--kind loss-and-grad`` run on the user's object (see
:mod:`softgrad.commands.verify.session`): reading its signature, and calling it on copies of plain
arguments. Each is ``step(obj, *payload) -> plain data``; what the user's code raises, warns or changes in
place comes back as data, never as an exception (Ctrl-C excepted)."""

from __future__ import annotations

import copy
import inspect
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from softgrad.commands.verify.session import plain, plain_data
from softgrad.commands.verify.user_code import exception_text, source_file


@plain_data
@dataclass(frozen=True)
class Signature:
    """The positional parameters the object takes: their names, which have no default, and *args."""

    names: tuple[str, ...]
    required: tuple[str, ...]
    varargs: bool


def signature(obj: Any) -> Signature | None:
    """The object's positional parameters, or None when it has no inspectable signature."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    pos = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return Signature(
        tuple(p.name for p in pos),
        tuple(p.name for p in pos if p.default is p.empty),
        any(p.kind == p.VAR_POSITIONAL for p in params),
    )


@plain_data
@dataclass(frozen=True)
class Outcome:
    """One call of the user's function: what it returned (as plain data), or what it raised."""

    value: Any
    error: str | None
    #: "your function warned: …", "your function changed its argument X in place"
    notes: tuple[str, ...]


def plain_tree(value: Any, depth: int = 0) -> Any:
    """``value`` as plain data, dicts with string keys included (a dict of gradients), else as
    :func:`~softgrad.commands.verify.session.plain` converts it."""
    if depth < 4 and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: plain_tree(v, depth + 1) for k, v in value.items()}
    if depth < 4 and isinstance(value, tuple | list):
        items = [plain_tree(v, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    return plain(value, depth)


def _same(before: Any, after: Any) -> bool:
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and before.keys() == after.keys()
            and all(_same(before[k], after[k]) for k in before)
        )
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and bool(np.array_equal(before, after, equal_nan=True))
        )
    return bool(before == after)


def call(obj: Any, args: tuple[Any, ...], names: tuple[str, ...], errstate: dict[str, Any]) -> Outcome:
    """``obj(*args)`` on deep copies of ``args`` (arrays, numbers, dicts of arrays), with numpy's error
    handling as the user's code set it; its return value as plain data."""
    copies = copy.deepcopy(args)
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught, np.errstate(**errstate):
        warnings.simplefilter("always")
        try:
            raw = obj(*copies)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - whatever it raises is a failed case, never a crash
            return Outcome(None, exception_text(exc, source_file(obj)), ())
        seen: set[str] = set()
        for w in caught:
            text = f"{w.category.__name__}: {w.message}"
            if text not in seen:
                seen.add(text)
                notes.append(f"your function warned: {text}")
    for name, before, after in zip(names, args, copies, strict=True):
        if not _same(before, after):
            notes.append(f"your function changed its argument {name} in place")
    with np.errstate(all="ignore"):
        return Outcome(plain_tree(raw), None, tuple(notes))
