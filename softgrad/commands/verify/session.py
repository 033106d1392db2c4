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
