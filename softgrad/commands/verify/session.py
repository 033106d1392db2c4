"""Where the user's code runs for ``verify``: the one seam between *what* verify asks of the user's object
(probing, calling, reading results: softgrad functions of the form ``step(obj, *payload) -> plain data``)
and *where* that happens (in this process, or in a child process that holds the loaded object).

A step is a module-level softgrad function, named by ``module:qualname`` so that a child process can
import it; its payload and result are plain data (None, bool, int, float, str, tuples, lists, dicts with
str keys, numeric numpy arrays and the frozen dataclasses registered with :func:`plain_data`). A step
catches what the user's code raises and returns it as data; :class:`CallFailed` is only for a call that did
not come back at all.

The steps softgrad has (in :mod:`softgrad.commands.verify.user_code`): ``call_step`` calls the object on
arguments and returns a ``Called``; ``describe_step`` returns a :class:`Description` of the object (its
parameters, names, file, the packages its module imports, numpy's error state as the module left it),
which is all the parent process can know about an object that lives in a child. Code that inspects the
user's object must use ``UserFunction.description`` (or ``inspect.signature(user.fn)``, which reads it),
never the object itself: in the isolated case the parent does not have it.

Writing a new step: a module-level function in a softgrad module that imports only the standard library,
numpy and softgrad (the child imports it with the user's directory off ``sys.path``); take and return plain
data (register result dataclasses with :func:`plain_data`); catch what the user's code raises, letting
:data:`PASS_THROUGH` through. Every place that runs a step must expect :class:`CallFailed` and turn it into
a failed case or a statement, never let it escape: ``judge.run_case`` makes the case an error with
``exc.on_case(case.name)`` as its message and ``exc.failure`` as its ``failure``.

Two sessions: :class:`InProcessSession` (``softgrad.verify(fn)`` on a function object: the object is here,
a timeout is honoured with SIGALRM where the platform allows) and
:class:`softgrad.commands.verify.isolated.IsolatedSession` (``softgrad.verify("path.py:func")`` and the
command line: the object is in a child process, with a timeout, a time budget and its output captured).
"""

from __future__ import annotations

import inspect
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, is_dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
C = TypeVar("C", bound=type)

#: The default limit on one call of the user's code, in seconds.
DEFAULT_TIMEOUT = 10.0
#: The default limit on the time the user's code may take over the whole run (every call, and restarting
#: its process after a crash), in seconds.
DEFAULT_BUDGET = 60.0
#: After this many calls in a row did not come back (ran past the timeout, ended the process, broke softgrad's
#: code there), the remaining calls are not run.
STOP_AFTER_FAILED_CALLS = 2

#: The frozen dataclasses that may cross the process boundary, by ``module.qualname``.
PLAIN_TYPES: dict[str, type] = {}


def plain_data(cls: C) -> C:
    """Register a frozen dataclass (whose fields hold plain data) as something a step may take or return."""
    params = getattr(cls, "__dataclass_params__", None)
    if not (is_dataclass(cls) and params is not None and params.frozen):
        raise TypeError(f"{cls.__qualname__} is not a frozen dataclass")
    PLAIN_TYPES[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return cls


def step_name(step: Callable[..., Any]) -> str:
    """``module:qualname`` of a step, as a child process imports it."""
    return f"{step.__module__}:{step.__qualname__}"


class CallFailed(Exception):
    """The user's code did not return: it ran past the timeout, exited, or its process died (or the call was
    not made at all, the run's time being spent).

    ``message`` says what happened in the user's terms ("did not return within 10 s", "exited with code 0
    (os._exit or sys.exit in your code?)", "was killed by signal 11 (segmentation fault)"); :meth:`on_case`
    puts the case's name in it. ``failure`` is one of :data:`FAILURES`.
    """

    def __init__(self, what: str, hint: str | None = None, *, failure: str = "died") -> None:
        assert failure in FAILURES
        message = f"{what} ({hint})" if hint else what
        super().__init__(message)
        self.message = message
        #: what happened, without the hint
        self.what = what
        #: what may have caused it ("os._exit or sys.exit in your code?")
        self.hint = hint
        self.failure = failure

    @property
    def timed_out(self) -> bool:
        return self.failure == "timeout"

    @property
    def ran(self) -> bool:
        return self.failure != "not run"

    def on_case(self, case: str) -> str:
        """The message naming the case: "did not return within 10 s on case `shift_1000`", "exited with code
        0 while computing case `batch` (os._exit or sys.exit in your code?)", "not run: …"."""
        if not self.ran:
            return f"not run: {self.message}"
        where = f"on case `{case}`" if self.timed_out else f"while computing case `{case}`"
        return f"{self.what} {where}" + (f" ({self.hint})" if self.hint else "")


#: Why a call did not come back: it ran past its time, its process ended, softgrad's own code failed where
#: the user's code runs (the code may have changed softgrad or numpy), or it was not made at all.
FAILURES = ("timeout", "died", "broken", "not run")


class TimeUp(BaseException):
    """Raised inside the user's code by an in-process timeout (never caught as the code's own outcome)."""


#: Exceptions that are signals to softgrad in this process, not an outcome of the user's code: a step
#: lets them through. In softgrad's own process, Ctrl-C and an in-process timeout; a child process that
#: runs the user's code sets this to ``(TimeUp,)`` (there a KeyboardInterrupt is raised by the code itself:
#: the child is in its own session, so Ctrl-C at the terminal reaches softgrad, not the child).
PASS_THROUGH: tuple[type[BaseException], ...] = (KeyboardInterrupt, TimeUp)


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


def check_seconds(name: str, value: object) -> float | None:
    """``timeout`` / ``budget``: None (no limit) or a finite number of seconds > 0."""
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if not ok:
        from softgrad.errors import InputError

        raise InputError(name, f"must be a number of seconds > 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def seconds(value: float) -> str:
    """``10 s``, ``0.5 s``."""
    return f"{value:g} s"


class Clock:
    """The per-call timeout and the budget of a run: how long the next call may take, and what to say when
    a call is not made because the budget is spent or the calls before it kept not coming back."""

    def __init__(self, timeout: float | None, budget: float | None) -> None:
        self.timeout = timeout
        self.budget = budget
        #: seconds the user's code has taken so far
        self.spent = 0.0
        #: the last calls in a row that did not come back
        self.in_a_row: list[CallFailed] = []

    def allowed(self) -> float | None:
        """Seconds the next call may take (None: no limit); raises CallFailed when it is not to be made."""
        if len(self.in_a_row) >= STOP_AFTER_FAILED_CALLS:
            what = f"{len(self.in_a_row)} calls in a row did not come back (the last: {self.in_a_row[-1].message})"
            raise CallFailed(what, failure="not run")
        left = None if self.budget is None else self.budget - self.spent
        if left is not None and left <= 0:
            raise CallFailed(f"the run's time budget of {seconds(self.budget or 0)} was spent", failure="not run")
        if left is None:
            return self.timeout
        return left if self.timeout is None else min(self.timeout, left)

    def over(self, allowed: float) -> CallFailed:
        """The CallFailed of a call that ran past ``allowed`` seconds (the timeout, or what was left of the
        budget)."""
        if self.timeout is not None and allowed >= self.timeout:
            return CallFailed(f"did not return within {seconds(self.timeout)}", failure="timeout")
        return CallFailed(
            f"did not return before the run's time budget of {seconds(self.budget or 0)} ran out", failure="timeout"
        )

    def record(self, failed: CallFailed | None) -> None:
        """A call came back (None) or did not: after :data:`STOP_AFTER_FAILED_CALLS` calls in a row that ran past
        the timeout, ended the process or broke softgrad's code there, the rest are not made."""
        if failed is None or not failed.ran:
            self.in_a_row.clear()
        else:
            self.in_a_row.append(failed)


def _can_alarm() -> bool:
    """Can a timeout interrupt code in this thread: POSIX, the main thread, SIGALRM not used by anyone else
    (pytest-timeout, for one, uses it) and no interval timer running."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return False
    return signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None) and signal.getitimer(signal.ITIMER_REAL)[0] == 0


def _time_up(signum: int, frame: object) -> None:
    raise TimeUp


@dataclass
class InProcessSession:
    """The user's object in softgrad's own process (``softgrad.verify(fn)`` on a function object).

    ``timeout`` (seconds per call) is honoured with SIGALRM: on POSIX, in the main thread, when nothing
    else in the process uses SIGALRM (pytest-timeout's signal method does) — elsewhere calls are not
    limited. The alarm interrupts Python code; a long computation inside one C call (one huge numpy
    operation) ends when that call returns. ``budget`` limits the time of all calls together.
    """

    obj: Any
    target: str
    file: str | None
    calls: int = field(default=0)
    timeout: float | None = None
    budget: float | None = None
    clock: Clock = field(init=False)

    def __post_init__(self) -> None:
        self.clock = Clock(self.timeout, self.budget)

    def apply(self, step: Callable[..., T], *payload: Any) -> T:
        allowed = self.clock.allowed()
        self.calls += 1
        start = time.monotonic()
        alarm = allowed is not None and math.isfinite(allowed) and _can_alarm()
        previous = signal.signal(signal.SIGALRM, _time_up) if alarm else None
        try:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, max(float(allowed or 0), 1e-3))
            result = step(self.obj, *payload)
        except TimeUp:
            failed = self.clock.over(allowed or 0)
            self.clock.record(failed)
            raise failed from None
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            self.clock.spent += time.monotonic() - start
        self.clock.record(None)
        return result

    def printed(self) -> str:
        return ""

    def close(self) -> None:
        return None


@plain_data
@dataclass(frozen=True)
class Opaque:
    """A value the user's code returned that is not plain data, described instead of carried."""

    #: ``type(value).__qualname__``, with its module when not builtins or the user's own (``torch.Tensor``)
    type_name: str
    #: ``repr(value)``, shortened
    text: str
    #: the shape numpy or the object reports, when it has one
    shape: tuple[int, ...] | None = None
    #: why it could not be converted to an array, when something was tried
    reason: str | None = None
    #: the dtype numpy gives it when that is not a number type (``object``, ``<U3``)
    dtype: str | None = None

    @property
    def short_type(self) -> str:
        """The type's own name, without its module (``Tensor``)."""
        return self.type_name.rsplit(".", 1)[-1]


def _type_name(value: object) -> str:
    cls = type(value)
    module = cls.__module__
    own = module in ("builtins", "__main__") or module.startswith("_softgrad_user_")
    return cls.__qualname__ if own else f"{module}.{cls.__qualname__}"


@plain_data
@dataclass(frozen=True)
class ParameterInfo:
    """One parameter of the user's callable."""

    name: str
    #: ``inspect.Parameter`` kind name: POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD, VAR_POSITIONAL, KEYWORD_ONLY,
    #: VAR_KEYWORD
    kind: str
    #: ``repr`` of its default value, shortened; None when it has none
    default: str | None = None


_KINDS = {
    k.name: k
    for k in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.VAR_KEYWORD,
    )
}


class _Default:
    """A parameter's default as the parent process knows it: its text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


@plain_data
@dataclass(frozen=True)
class Description:
    """What the parent process knows about the user's object (made by ``user_code.describe_step`` where the
    object lives)."""

    #: ``__qualname__`` (or ``__name__``, or the type's name for an instance)
    qualname: str
    #: ``__module__`` as the object reports it (a file's module is ``_softgrad_user_…``)
    module: str | None
    #: the file it is defined in, when known
    file: str | None
    #: the type of the object (``function``, ``method``, ``builtin_function_or_method``, a class's name)
    type_name: str
    #: its parameters; None when it has no inspectable signature (then ``signature_error`` says why)
    parameters: tuple[ParameterInfo, ...] | None
    signature_error: str | None
    #: the top-level packages its module imports (modules, and the modules of functions and classes it
    #: imported): ``("numpy", "torch")``
    imports: tuple[str, ...]
    #: numpy's floating-point error handling as the user's code left it (``np.geterr()`` after importing it)
    errstate: dict[str, str]

    def signature(self) -> inspect.Signature:
        """The object's signature, rebuilt (defaults are stand-ins showing their text). Raises ValueError
        when it has none."""
        if self.parameters is None:
            raise ValueError(self.signature_error or "no signature")
        if any(p.kind not in _KINDS for p in self.parameters):
            raise ValueError("a parameter of an unknown kind")
        return inspect.Signature(
            [
                inspect.Parameter(
                    p.name,
                    _KINDS[p.kind],
                    default=inspect.Parameter.empty if p.default is None else _Default(p.default),
                )
                for p in self.parameters
            ]
        )


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
        if value.dtype.kind in "biufc":
            return value
        return Opaque(_type_name(value), _short(repr(value)), value.shape, dtype=str(value.dtype))
    if isinstance(value, np.generic):
        return np.asarray(value)
    if depth < 4 and isinstance(value, tuple | list):
        items = [plain(v, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    try:
        text = _short(repr(value))
    except Exception:  # noqa: BLE001 - a user's __repr__ may raise anything
        text = f"<{_type_name(value)}>"
    reason = dtype = None
    for convert in (_detached, np.asarray):
        try:
            arr = np.asarray(convert(value))
        except Exception as exc:  # noqa: BLE001 - a user's __array__ may raise anything
            reason = f"{type(exc).__name__}: {exc}"
            continue
        if arr.dtype.kind in "biufc":
            return arr
        dtype = str(arr.dtype)
    shape = None
    try:
        got = getattr(value, "shape", None)
        shape = tuple(int(n) for n in got) if got is not None else None
    except Exception:  # noqa: BLE001
        shape = None
    return Opaque(_type_name(value), text, shape, reason, dtype)


def _detached(value: Any) -> Any:
    """A framework tensor's values (torch: ``.detach().cpu().numpy()``; jax arrays have ``__array__``)."""
    for name in ("detach", "cpu", "numpy"):
        method = getattr(value, name, None)
        if callable(method):
            value = method()
    if not hasattr(value, "__array__") and hasattr(value, "data") and not callable(value.data):
        value = value.data
    return value
