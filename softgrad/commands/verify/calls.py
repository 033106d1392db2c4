"""The steps ``verify`` runs on the user's object (see :mod:`softgrad.commands.verify.session`): what the object
is and what it takes (:func:`describe`), and one call of it under a :class:`Plan` (:func:`call`) — a
function, a method on a fresh instance of its class, a ``@staticmethod``, a module-level instance called
through ``__call__``, or the layer protocol of "from scratch" code (``forward(...)`` then ``backward(...)``,
the result read from the attribute ``backward`` set).

Payloads and results are plain data; whatever the user's code raises is returned as text, located in the
user's own file. Nothing here prints.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from softgrad.commands.verify import session as _session
from softgrad.commands.verify.session import CallFailed, plain, plain_data
from softgrad.commands.verify.user_code import CHANGED, exception_text, sendable, warning_notes


@plain_data
@dataclass(frozen=True)
class Params:
    """The positional parameters of a callable, without ``self``/``cls``/``ctx``."""

    names: tuple[str, ...]
    #: how many have no default
    required: int
    varargs: bool
    #: keyword parameters with a default of False (``derivative=False``), in order
    flags: tuple[str, ...] = ()
    #: the first parameter is an autograd context ``ctx`` (not an input: verify passes its own)
    ctx: bool = False

    @property
    def used(self) -> tuple[str, ...]:
        """The parameters verify fills: the required ones, else all."""
        return self.names[: self.required] if self.required else self.names


@plain_data
@dataclass(frozen=True)
class Described:
    """What the user's object is, as plain data."""

    #: "function", "staticmethod", "method" (called on a fresh instance of its class), "bound method",
    #: "class" (instantiated with no arguments), "instance"
    what: str
    #: the parameters of the object's call (None: no inspectable signature, or not callable)
    params: Params | None
    #: the layer protocol: the name of the forward step ("forward" or "__call__") and both steps' parameters
    forward: str = ""
    forward_params: Params | None = None
    backward_params: Params | None = None
    #: the class, for methods and instances (``CrossEntropyLoss``)
    owner: str = ""
    #: what instantiating it with no arguments raised ('' when it did not, or was not tried)
    init_error: str = ""
    #: top-level modules the object's module imports (``numpy``, ``torch``, ``jax``)
    imports: tuple[str, ...] = ()
    #: the function's (or class's) name
    name: str = ""


@plain_data
@dataclass(frozen=True)
class Plan:
    """How the object is called (see :class:`Described`): ``what`` as described, and for the layer protocol
    the forward step's name (``layer`` True: forward then backward)."""

    what: str = "function"
    layer: bool = False
    forward: str = "forward"
    #: keyword arguments passed on every call (``derivative=True``)
    keywords: tuple[tuple[str, bool], ...] = ()
    #: the arrays it is given: "numpy", or float64 tensors of "torch" or "jax"
    array: str = "numpy"
    #: forward and backward take an autograd context first (``forward(ctx, z)``, ``backward(ctx, g)``)
    ctx: bool = False


class Context:
    """A stand-in for an autograd context: what ``forward(ctx, …)`` saves, ``backward(ctx, …)`` reads."""

    def __init__(self) -> None:
        self.saved_tensors: tuple[Any, ...] = ()
        self.needs_input_grad = (True,) * 8

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors: Any) -> None:
        return None

    def set_materialize_grads(self, value: bool) -> None:
        return None


@plain_data
@dataclass(frozen=True)
class Outcome:
    """One call: what it returned (plain data), what it raised (``Type: message (at file:line)``), what it
    warned or changed, and for the layer protocol the array attributes ``backward`` set."""

    raw: Any
    error: str | None = None
    notes: tuple[str, ...] = ()
    attributes: tuple[tuple[str, Any], ...] = ()
    #: the call did not come back (timeout, exit, crash): what happened, what may have caused it, and which
    #: of session.FAILURES it was
    failed: str | None = None
    failed_hint: str | None = None
    failure: str | None = None

    def failed_on(self, case: str | None = None) -> str | None:
        """What happened to a call that did not come back, naming the case when given ("did not return within
        10 s on case `shift_1000`"); None when it came back."""
        if self.failed is None:
            return None
        exc = CallFailed(self.failed, self.failed_hint, failure=self.failure or "died")
        return exc.on_case(case) if case else exc.message


def _params(fn: Any) -> Params | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    ps = list(sig.parameters.values())
    pos = [p for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    flags = tuple(p.name for p in ps if p.default is False)
    pos = [p for p in pos if p.name not in flags]
    ctx = bool(pos) and pos[0].name == "ctx"
    pos = pos[1:] if ctx else pos
    required = sum(p.default is p.empty for p in pos)
    return Params(tuple(p.name for p in pos), required, any(p.kind == p.VAR_POSITIONAL for p in ps), flags, ctx)


def _owner(fn: Any) -> type | None:
    """The class a function found as ``Class.method`` is defined in, from its module and qualname."""
    parts = getattr(fn, "__qualname__", "").split(".")
    if len(parts) < 2 or "<locals>" in parts:
        return None
    obj: Any = sys.modules.get(getattr(fn, "__module__", "") or "")
    for part in parts[:-1]:
        obj = getattr(obj, part, None)
    return obj if inspect.isclass(obj) else None


def _has(obj: Any, name: str) -> bool:
    return callable(getattr(obj, name, None))


def _layer_steps(obj: Any) -> str:
    """The forward step's name when ``obj`` (a class or an instance) has the layer protocol, else ''."""
    if not _has(obj, "backward"):
        return ""
    if _has(obj, "forward"):
        return "forward"
    cls = obj if inspect.isclass(obj) else type(obj)
    return "__call__" if "__call__" in vars(cls) or any("__call__" in vars(b) for b in cls.__mro__[1:-1]) else ""


def _imports(obj: Any) -> tuple[str, ...]:
    name = getattr(obj, "__module__", None) or getattr(type(obj), "__module__", "")
    module = sys.modules.get(str(name))
    if module is None:
        return ()
    names = set()
    for value in vars(module).values():
        mod = getattr(value, "__name__", None) if inspect.ismodule(value) else getattr(value, "__module__", None)
        if isinstance(mod, str):
            names.add(mod.split(".")[0])
    return tuple(sorted(n for n in names if n in ("numpy", "torch", "jax", "cupy")))


def _instance(cls: type) -> tuple[Any, str]:
    try:
        return cls(), ""
    except _session.PASS_THROUGH:  # Ctrl-C and an in-process timeout are softgrad's, not the code's outcome
        raise
    except BaseException as exc:  # noqa: BLE001 - whatever the user's __init__ raises is reported
        return None, exception_text(exc, inspect.getsourcefile(cls) if _has_source(cls) else None)


def _has_source(cls: type) -> bool:
    try:
        inspect.getsourcefile(cls)
    except (TypeError, OSError):
        return False
    return True


def describe(obj: Any) -> Described:
    """Step: what ``obj`` is and what its calls take (a class is instantiated once, to see it can be)."""
    found = _describe(obj)
    name = getattr(obj, "__name__", None)
    return replace(found, name=name if isinstance(name, str) else type(obj).__name__)


def _describe(obj: Any) -> Described:
    imports = _imports(obj)
    if inspect.isclass(obj):
        inst, error = _instance(obj)
        if inst is None:
            return Described("class", None, owner=obj.__qualname__, init_error=error, imports=imports)
        return _of_instance("class", inst, obj.__qualname__, imports)
    if inspect.ismethod(obj):
        owner = obj.__self__
        if obj.__name__ == "backward" and not inspect.isclass(owner) and _has(owner, "forward"):
            return _of_instance("bound method", owner, type(owner).__qualname__, imports, layer_only=True)
        return Described("bound method", _params(obj), owner=_qualname(owner), imports=imports)
    if inspect.isfunction(obj):
        cls = _owner(obj)
        if cls is None:
            return Described("function", _params(obj), imports=imports)
        if isinstance(inspect.getattr_static(cls, obj.__name__, None), staticmethod):
            return Described("staticmethod", _params(obj), owner=cls.__qualname__, imports=imports)
        inst, error = _instance(cls)
        if inst is None:
            return Described("method", None, owner=cls.__qualname__, init_error=error, imports=imports)
        if obj.__name__ == "backward" and _has(inst, "forward"):
            return _of_instance("method", inst, cls.__qualname__, imports, layer_only=True)
        return Described("method", _params(getattr(inst, obj.__name__)), owner=cls.__qualname__, imports=imports)
    if callable(obj) or _has(obj, "backward"):
        return _of_instance("instance", obj, type(obj).__qualname__, imports)
    return Described("instance", None, owner=type(obj).__qualname__, imports=imports)


def _qualname(owner: Any) -> str:
    return owner.__qualname__ if inspect.isclass(owner) else type(owner).__qualname__


def _of_instance(what: str, inst: Any, owner: str, imports: tuple[str, ...], layer_only: bool = False) -> Described:
    forward = _layer_steps(inst)
    call = _params(inst) if callable(inst) and not layer_only else None
    if forward:
        fwd, bwd = _params(getattr(inst, forward)), _params(inst.backward)
        return Described(what, call, forward, fwd, bwd, owner=owner, imports=imports)
    return Described(what, call, owner=owner, imports=imports)


def _target(obj: Any, plan: Plan) -> tuple[Any, Any]:
    """(the thing called, the instance it lives on or None): a fresh instance for a class or a method."""
    if plan.what == "class":
        inst = obj()
        return inst, inst
    if plan.what == "method":
        cls = _owner(obj)
        assert cls is not None
        inst = cls()
        return (inst if plan.layer else getattr(inst, obj.__name__)), inst
    if plan.what == "bound method" and plan.layer:
        return obj.__self__, obj.__self__
    return obj, obj if plan.what == "instance" else None


def _snapshot(inst: Any) -> dict[str, int]:
    try:
        return {k: id(v) for k, v in vars(inst).items()}
    except TypeError:
        return {}


def _set_by(inst: Any, before: dict[str, int]) -> tuple[tuple[str, Any], ...]:
    try:
        now = dict(vars(inst))
    except TypeError:
        return ()
    out = []
    for name, value in now.items():
        if before.get(name) != id(value):
            converted = plain(value)
            if isinstance(converted, np.ndarray) and converted.ndim >= 1:
                out.append((name, converted))
    return tuple(out)


#: Array libraries a function may be written for, and how an array becomes one of theirs.
ARRAYS = ("numpy", "torch", "jax")


def _framework(array: str) -> Callable[[Any], Any]:
    """numpy array -> the framework's float64 tensor (int64 for class indices); raises ImportError when the
    framework is not installed."""
    import importlib

    if array == "torch":
        torch = importlib.import_module("torch")
        return lambda a: torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a
    if array == "jax":
        jax = importlib.import_module("jax")
        jax.config.update("jax_enable_x64", True)
        jnp = importlib.import_module("jax.numpy")
        return lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a
    return lambda a: a


def _values(a: Any) -> Any:
    converted = plain(a)
    return converted if isinstance(converted, np.ndarray) else a


def call(
    obj: Any,
    plan: Plan,
    forward_args: tuple[Any, ...],
    args: tuple[Any, ...],
    names: tuple[str, ...],
    errstate: dict[str, Any],
    user_file: str | None,
) -> Outcome:
    """Step: one call of the user's object on copies of ``args`` (for the layer protocol, ``forward`` on
    ``forward_args`` first, then ``backward`` on ``args``), with numpy's error handling as the user's code
    set it; what it raised, warned and changed in place is returned as data."""
    try:
        convert = _framework(plan.array)
    except ImportError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc} (it is written for {plan.array} arrays)")
    copies = [convert(np.copy(a)) if isinstance(a, np.ndarray) else a for a in args]
    forward_copies = [convert(np.copy(a)) if isinstance(a, np.ndarray) else a for a in forward_args]
    notes: list[str] = []
    attributes: tuple[tuple[str, Any], ...] = ()
    keywords = dict(plan.keywords)
    with warnings.catch_warnings(record=True) as caught, np.errstate(**errstate):
        warnings.simplefilter("always")
        try:
            target, inst = _target(obj, plan)
            if plan.layer:
                ctx: tuple[Any, ...] = (Context(),) if plan.ctx else ()
                getattr(target, plan.forward)(*ctx, *forward_copies)
                before = _snapshot(inst)
                raw = target.backward(*ctx, *copies)
                attributes = _set_by(inst, before) if raw is None else ()
            else:
                raw = target(*copies, **keywords)
        except _session.PASS_THROUGH:  # Ctrl-C and an in-process timeout are softgrad's, not the code's outcome
            raise
        except BaseException as exc:  # noqa: BLE001 - whatever it raises is a failed case, never a crash
            return Outcome(None, exception_text(exc, user_file))
    # softgrad's own code: if the user's code broke it, that escapes the step; an array too large to carry
    # back is described, not sent
    result = sendable(plain(raw))
    notes.extend(warning_notes(caught))
    for name, before_arg, copy in zip(names, args, copies, strict=True):
        after = _values(copy)
        if isinstance(before_arg, np.ndarray) and (
            before_arg.shape != np.shape(after) or not np.array_equal(before_arg, after, equal_nan=True)
        ):
            notes.append(f"{CHANGED} {name} in place")
    return Outcome(result, None, tuple(notes), attributes)


def invoke(session: Any, step: Callable[..., Outcome], *payload: Any) -> Outcome:
    """``session.apply(step, *payload)``, a call that did not come back becoming an :class:`Outcome` that
    says what happened."""
    try:
        return session.apply(step, *payload)  # type: ignore[no-any-return]
    except CallFailed as exc:
        return Outcome(None, failed=exc.what, failed_hint=exc.hint, failure=exc.failure)
