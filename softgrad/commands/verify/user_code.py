"""Calling the user's function: on copies of its arguments, with numpy's error handling as the user's code
set it, turning whatever it raises or returns into plain data (never an exception out of here, Ctrl-C and a
call that did not come back excepted: :class:`~softgrad.commands.verify.session.CallFailed`).

Every call goes through the function's :class:`~softgrad.commands.verify.session.Session`, as the steps
:func:`call_step` (call it, return a :class:`Called`) and :func:`describe_step` (what it is: a
:class:`~softgrad.commands.verify.session.Description`). ``UserFunction.fn`` is the object itself when it is
in this process, and a stand-in carrying its signature when it lives in a child process: inspect it with
``inspect.signature(user.fn)`` or ``user.description``, call it with ``user(args, names)``.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softgrad.commands.verify import session as _session
from softgrad.commands.verify.session import (
    Description,
    InProcessSession,
    Opaque,
    ParameterInfo,
    Session,
    plain,
    plain_data,
)


@plain_data
@dataclass(frozen=True)
class Called:
    """The outcome of one call of the user's function: what it returned as plain data (see
    :func:`~softgrad.commands.verify.session.plain`), or the exception it raised as text, and notes (warnings,
    arguments changed in place)."""

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
    try:
        text = str(exc).strip()
    except Exception:  # noqa: BLE001 - a user's exception's __str__ may raise anything
        text = ""
    message = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"


CHANGED = "your function changed its argument"


def call_step(
    fn: Callable[..., Any],
    args: Sequence[NDArray[Any]],
    names: Sequence[str],
    errstate: dict[str, Any],
    file: str | None,
) -> Called:
    """Call ``fn`` on copies of ``args`` with numpy's error handling ``errstate``, catching what it raises
    and warns and noticing changes it makes to its arguments."""
    copies = [a.copy() for a in args]
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught, np.errstate(**errstate):
        warnings.simplefilter("always")
        try:
            raw = fn(*copies)
        except _session.PASS_THROUGH:  # read when called: the child process sets it
            raise
        except BaseException as exc:  # noqa: BLE001 - whatever it raises is a failed case, never a crash
            return Called(None, exception_text(exc, file), ())
    notes.extend(warning_notes(caught))
    for name, before, after in zip(names, args, copies, strict=True):
        if before.shape != after.shape or not np.array_equal(before, after, equal_nan=True):
            notes.append(f"{CHANGED} {name} in place")
    return Called(sendable(plain(raw)), None, tuple(notes))


#: The largest array a call's result may hold (a bigger one is described, not carried).
MAX_RESULT_BYTES = 1 << 28


def warning_notes(caught: Sequence[warnings.WarningMessage]) -> list[str]:
    """One note per distinct warning the user's code raised during a call."""
    texts = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
    return [f"your function warned: {text}" for text in texts]


def sendable(value: Any) -> Any:
    """``value``, or an Opaque description of an array too large to carry back (256 MiB)."""
    if isinstance(value, np.ndarray) and value.nbytes > MAX_RESULT_BYTES:
        too_many = f"{value.nbytes} bytes, too many to carry back"
        return Opaque("numpy.ndarray", f"array of shape {value.shape}", tuple(value.shape), too_many)
    return value


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _root(module: object) -> str | None:
    name = module if isinstance(module, str) else None
    if not name or name in ("builtins", "__main__") or name.startswith("_softgrad_user_"):
        return None
    return name.split(".", 1)[0]


def _imports(module: ModuleType | None) -> tuple[str, ...]:
    """Top-level packages ``module`` imports: the modules it holds, and those of the functions and classes
    it imported from elsewhere."""
    if module is None:
        return ()
    found: set[str] = set()
    for value in list(vars(module).values()):
        root = _origin(value, module.__name__)
        if root:
            found.add(root)
    return tuple(sorted(found))


def _origin(value: object, here: str) -> str | None:
    """The top-level package a module, or an imported function or class, comes from."""
    try:
        if isinstance(value, ModuleType):
            return _root(value.__name__)
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
            origin = getattr(value, "__module__", None)
            return _root(origin) if origin != here else None
    except Exception:  # noqa: BLE001 - a user's object may raise on any attribute
        return None
    return None


def describe_step(obj: Any) -> Description:
    """What the user's object is: names, file, parameters, the packages its module imports and numpy's
    error handling as it left it."""
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__qualname__
    module_name = getattr(obj, "__module__", None) or type(obj).__module__
    parameters: tuple[ParameterInfo, ...] | None = None
    error = None
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    else:
        parameters = tuple(
            ParameterInfo(
                p.name,
                p.kind.name,
                None if p.default is p.empty else _short(_safe_repr(p.default)),
            )
            for p in sig.parameters.values()
        )
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    return Description(
        qualname=str(qualname),
        module=module_name if isinstance(module_name, str) else None,
        file=source_file(obj) if callable(obj) else None,
        type_name=type(obj).__qualname__,
        parameters=parameters,
        signature_error=error,
        imports=_imports(module),
        errstate={k: str(v) for k, v in np.geterr().items()},
    )


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a user's __repr__ may raise anything
        return f"<{type(value).__qualname__}>"


class Remote:
    """The stand-in for a user's object that lives in another process: its names and signature, from its
    :class:`~softgrad.commands.verify.session.Description` (so ``inspect.signature`` works on it). It cannot
    be called here: call it through :class:`UserFunction`."""

    def __init__(self, description: Description) -> None:
        self.description = description
        self.__qualname__ = description.qualname
        self.__name__ = description.qualname.rsplit(".", 1)[-1]
        self.__module__ = description.module or ""

    @property
    def __signature__(self) -> inspect.Signature:
        return self.description.signature()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{self.__qualname__} runs in another process: call it through UserFunction")

    def __repr__(self) -> str:
        return f"<{self.description.type_name} {self.__qualname__} in another process>"


@dataclass(frozen=True)
class UserFunction:
    """The user's function, where it is defined, and numpy's floating-point error handling as the user's
    code left it (restored around every call; softgrad's own arithmetic runs with errors ignored)."""

    #: the object (in-process), or a :class:`Remote` stand-in carrying its signature
    fn: Callable[..., Any]
    file: str | None
    errstate: dict[str, Any]
    #: where the object lives and how steps are run on it (see :mod:`softgrad.commands.verify.session`)
    session: Session

    @classmethod
    def open(cls, session: Session) -> UserFunction:
        """The function a session holds (asking where it lives what it is)."""
        description = session.apply(describe_step)
        fn = session.obj if isinstance(session, InProcessSession) else Remote(description)
        file = session.file or description.file
        user = cls(fn, file, dict(description.errstate), session)
        user.__dict__["description"] = description  # the cached property, known already
        return user

    @functools.cached_property
    def description(self) -> Description:
        """What the object is (its parameters, names, file, imports), asked where it lives."""
        return self.session.apply(describe_step)

    def __call__(self, args: Sequence[NDArray[Any]], names: Sequence[str]) -> Called:
        """Call the function on copies of ``args``, catching what it raises and warns and noticing changes it
        makes to its arguments. Raises CallFailed when the call does not come back."""
        return self.session.apply(call_step, list(args), list(names), self.errstate, self.file)


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def as_output(raw: object, shape: tuple[int, ...]) -> tuple[NDArray[np.float64] | None, str | None]:
    """The returned value as a float64 array of ``shape``, or a message saying what is wrong with it."""
    want = f"expected an array of shape {shape_text(shape)}"
    if raw is None:
        return None, f"returned None (a missing return statement?); {want}"
    if isinstance(raw, Opaque):
        if raw.dtype is not None:
            return None, f"returned {article(raw.short_type)} of {raw.dtype} values, not numbers; {want}"
        if raw.type_name == "numpy.ndarray" and raw.shape is not None and raw.shape != shape:
            return None, f"returned shape {shape_text(raw.shape)} ({raw.reason}), {want}"
        why = f" ({raw.reason})" if raw.reason else ""
        return None, f"returned {article(raw.short_type)} that is not an array{why}; {want}"
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
    if isinstance(x, Opaque):
        return x.shape
    try:
        return tuple(np.shape(x))
    except Exception:  # noqa: BLE001 - a returned object's __len__ or __array__ may raise anything
        return None


def returned(raw: object) -> str:
    shape = shape_of(raw)
    if raw is None:
        return "None"
    if isinstance(raw, Opaque) and shape is None:
        return article(raw.short_type)
    return f"shape {shape_text(shape)}" if shape is not None else article(type(raw).__name__)
