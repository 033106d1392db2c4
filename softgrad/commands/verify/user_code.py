"""Calling the user's function: on copies of its arguments, with numpy's error handling as the user's code
set it, turning whatever it raises or returns into data (never an exception out of here, Ctrl-C excepted)."""

from __future__ import annotations

import inspect
import os
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softgrad.commands.verify.session import Session


@dataclass(frozen=True)
class Called:
    """The outcome of one call of the user's function."""

    raw: object
    error: str | None
    notes: tuple[str, ...]


def source_file(fn: Callable[..., Any]) -> str | None:
    """The file ``fn`` is defined in, when Python knows it."""
    try:
        return inspect.getsourcefile(inspect.unwrap(fn))
    except (TypeError, ValueError):
        return None


def display_path(path: str) -> str:
    """A path relative to the current directory when it lies below it, else as given."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def exception_text(exc: BaseException, user_file: str | None) -> str:
    """``Type: message (at file:line)``, the line being the deepest one in the user's file."""
    frames = traceback.extract_tb(exc.__traceback__)[1:]  # the first frame is our call
    own = [f for f in frames if user_file and os.path.abspath(f.filename) == os.path.abspath(user_file)]
    frame = own[-1] if own else (frames[0] if frames else None)
    where = f" (at {display_path(frame.filename)}:{frame.lineno})" if frame is not None else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"


CHANGED = "your function changed its argument"


@dataclass(frozen=True)
class UserFunction:
    """The user's function, where it is defined, and numpy's floating-point error handling as the user's
    code left it (restored around every call; softgrad's own arithmetic runs with errors ignored)."""

    fn: Callable[..., Any]
    file: str | None
    errstate: dict[str, Any]
    #: where the object lives and how steps are run on it (see :mod:`softgrad.commands.verify.session`)
    session: Session

    def __call__(self, args: Sequence[NDArray[Any]], names: Sequence[str]) -> Called:
        """Call the function on copies of ``args``, catching what it raises and warns and noticing changes it
        makes to its arguments."""
        copies = [a.copy() for a in args]
        notes: list[str] = []
        with warnings.catch_warnings(record=True) as caught, np.errstate(**self.errstate):
            warnings.simplefilter("always")
            try:
                raw = self.fn(*copies)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - whatever it raises is a failed case, never a crash
                return Called(None, exception_text(exc, self.file), ())
        seen = set()
        for w in caught:
            text = f"{w.category.__name__}: {w.message}"
            if text not in seen:
                seen.add(text)
                notes.append(f"your function warned: {text}")
        for name, before, after in zip(names, args, copies, strict=True):
            if before.shape != after.shape or not np.array_equal(before, after, equal_nan=True):
                notes.append(f"{CHANGED} {name} in place")
        return Called(raw, None, tuple(notes))


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def as_output(raw: object, shape: tuple[int, ...]) -> tuple[NDArray[np.float64] | None, str | None]:
    """The returned value as a float64 array of ``shape``, or a message saying what is wrong with it."""
    want = f"expected an array of shape {shape_text(shape)}"
    if raw is None:
        return None, f"returned None (a missing return statement?); {want}"
    try:
        arr = np.asarray(raw)
    except Exception as exc:  # noqa: BLE001 - a returned object's __array__ may raise anything
        if isinstance(raw, tuple):
            return None, f"returned a tuple of {len(raw)} items of different shapes; {want} (a (loss, grad) pair?)"
        return (
            None,
            f"returned {article(type(raw).__name__)} that is not an array ({type(exc).__name__}: {exc}); {want}",
        )
    if np.iscomplexobj(arr):
        return None, f"returned complex numbers ({arr.dtype}); {want} of real numbers"
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        return None, f"returned {article(type(raw).__name__)} of {arr.dtype} values, not numbers; {want}"
    if arr.shape != shape:
        got = "a single number" if arr.ndim == 0 else f"shape {shape_text(arr.shape)}"
        hint = ""
        if arr.ndim == 2 and arr.shape == shape[::-1]:
            hint = " (transposed?)"
        elif arr.size == int(np.prod(shape)) and arr.ndim:
            hint = " (the right number of values in the wrong shape)"
        return None, f"returned {got}, {want}{hint}"
    return arr.astype(np.float64), None


def article(noun: str) -> str:
    """``a str``, ``an int``."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def shape_of(x: Any) -> tuple[int, ...] | None:
    """The shape numpy sees in ``x``, or None when it is None or not array-like."""
    if x is None:
        return None
    try:
        return tuple(np.shape(x))
    except Exception:  # noqa: BLE001 - a returned object's __len__ or __array__ may raise anything
        return None


def returned(raw: object) -> str:
    shape = shape_of(raw)
    if raw is None:
        return "None"
    return f"shape {shape_text(shape)}" if shape is not None else article(type(raw).__name__)
