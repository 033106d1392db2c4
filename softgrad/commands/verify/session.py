"""Where the user's code runs for ``verify``: the one seam between *what* verify asks of the user's object
(probing, calling, reading results: softgrad functions of the form ``step(obj, *payload) -> plain data``)
and *where* that happens (in this process, or in a child process that holds the loaded object).

A step is a module-level softgrad function, named by ``module:qualname`` so that a child process can
import it; its payload and result are plain data (None, bool, int, float, str, tuples, lists, dicts with
str keys, numeric numpy arrays and frozen dataclasses of those). A step catches what the user's code
raises and returns it as data; :class:`CallFailed` is only for a call that did not come back at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class CallFailed(Exception):
    """The user's code did not return: it ran past the timeout, exited, or its process died.

    ``message`` says what happened in the user's terms ("did not return within 10 s", "exited with code 0
    (os._exit or sys.exit in your code?)", "killed by signal 11 (segmentation fault)").
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Session(Protocol):
    """A loaded user object and a way to run softgrad steps on it."""

    #: the target as the user wrote it, or the function's ``module:qualname``
    target: str
    #: the file the object is defined in, when known
    file: str | None

    def apply(self, step: Callable[..., T], *payload: Any) -> T:
        """``step(obj, *payload)``, wherever the object lives. Raises :class:`CallFailed` when the call
        did not come back."""
        ...

    def printed(self) -> str:
        """What the user's code has written to stdout/stderr so far ('' when not captured)."""
        ...

    def close(self) -> None:
        """Release the object (and its process, if any)."""
        ...


@dataclass
class InProcessSession:
    """The user's object in softgrad's own process (``softgrad.verify(fn)`` on a function object)."""

    obj: Any
    target: str
    file: str | None
    calls: int = field(default=0)

    def apply(self, step: Callable[..., T], *payload: Any) -> T:
        self.calls += 1
        return step(self.obj, *payload)

    def printed(self) -> str:
        return ""

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class Opaque:
    """A value the user's code returned that is not plain data, described instead of carried."""

    #: ``type(value).__qualname__``, with its module when not builtins (``torch.Tensor``)
    type_name: str
    #: ``repr(value)``, shortened
    text: str
    #: the shape numpy or the object reports, when it has one
    shape: tuple[int, ...] | None = None
    #: why it could not be converted to an array, when something was tried
    reason: str | None = None


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as plain data: numbers and strings as they are, tuples/lists item by item, numeric numpy
    arrays as they are, array-likes (``__array__``, ``.numpy()``, ``.detach()``, ``.data`` — framework
    tensors) as numpy arrays, and anything else as an :class:`Opaque` description. Never raises."""
    import numpy as np

    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind in "biufc" else Opaque(_type_name(value), _short(repr(value)), value.shape)
    if isinstance(value, np.generic):
        return np.asarray(value)
    if depth < 4 and isinstance(value, tuple | list):
        items = [plain(v, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    try:
        text = _short(repr(value))
    except Exception:  # noqa: BLE001 - a user's __repr__ may raise anything
        text = f"<{_type_name(value)}>"
    reason = None
    for convert in (_detached, np.asarray):
        try:
            arr = np.asarray(convert(value))
        except Exception as exc:  # noqa: BLE001 - a user's __array__ may raise anything
            reason = f"{type(exc).__name__}: {exc}"
            continue
        if arr.dtype.kind in "biufc":
            return arr
    shape = None
    try:
        got = getattr(value, "shape", None)
        shape = tuple(int(n) for n in got) if got is not None else None
    except Exception:  # noqa: BLE001
        shape = None
    return Opaque(_type_name(value), text, shape, reason)


def _detached(value: Any) -> Any:
    """A framework tensor's values (torch: ``.detach().cpu().numpy()``; jax arrays have ``__array__``)."""
    for name in ("detach", "cpu", "numpy"):
        method = getattr(value, name, None)
        if callable(method):
            value = method()
    if not hasattr(value, "__array__") and hasattr(value, "data") and not callable(value.data):
        value = value.data
    return value
