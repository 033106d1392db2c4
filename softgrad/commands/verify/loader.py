"""Loading the user's function for ``verify``: ``PATH.py:FUNC`` or ``package.module:FUNC``.

Importing a module runs its top-level code: that is the point (the function has to be defined), and the
reason the README says so plainly. Every way loading can fail becomes one :class:`InputError` naming the
target and what is wrong; nothing here prints.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from softgrad.commands.verify.user_code import display_path
from softgrad.errors import InputError

SPEC_HELP = "expected PATH.py:FUNC or package.module:FUNC"


@dataclass(frozen=True)
class Target:
    """A loaded user function and how to name it."""

    #: a function, a class, a method, or an object (a layer instance with forward and backward)
    fn: Callable[..., Any]
    #: the target as the user wrote it (``samples/verify/x.py:grad``)
    spec: str
    #: the file it was defined in, when known
    path: str | None


def split_spec(spec: str) -> tuple[str, str | None]:
    """``(module or path, function name or None)``; the function part may be dotted (``Class.method``)."""
    if not spec or not spec.strip():
        raise InputError("TARGET", f"empty target; {SPEC_HELP}")
    mod, sep, func = spec.rpartition(":")
    if not sep:
        return spec, None
    if not mod:
        raise InputError(spec, f"no module or file before ':'; {SPEC_HELP}")
    if not func or not all(part.isidentifier() for part in func.split(".")):
        raise InputError(spec, f"{func!r} is not a function name; {SPEC_HELP}")
    return mod, func


def target_file(spec: str) -> str | None:
    """The file a ``PATH.py:FUNC`` target names (None for ``package.module:FUNC`` or a malformed target)."""
    try:
        mod, _ = split_spec(spec)
    except InputError:
        return None
    return mod if _is_path(mod) else None


def _is_path(mod: str) -> bool:
    return mod.endswith(".py") or os.sep in mod or "/" in mod


def _user_frame(exc: BaseException, path: str | None) -> str:
    """``file:line`` of the deepest frame in the user's file (or the deepest frame at all)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        col = f":{exc.offset}" if exc.offset else ""
        return f"{display_path(exc.filename)}:{exc.lineno}{col}"
    own = [f for f in frames if path is not None and os.path.abspath(f.filename) == os.path.abspath(path)]
    pick = own[-1] if own else (frames[-1] if frames else None)
    return f"{display_path(pick.filename)}:{pick.lineno}" if pick else (path or "")


def _import_failure(spec: str, exc: BaseException, path: str | None) -> InputError:
    where = _user_frame(exc, path)
    if isinstance(exc, SyntaxError):
        return InputError(where, f"cannot import {spec}: SyntaxError: {exc.msg}")
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return InputError(where or spec, f"importing {spec} raised {what}")


def _load_file(mod: str, spec: str) -> tuple[ModuleType, str]:
    path = Path(mod)
    if not path.exists():
        raise InputError(mod, "no such file")
    if path.is_dir():
        raise InputError(mod, "is a directory; " + SPEC_HELP)
    if path.suffix != ".py":
        raise InputError(mod, f"is not a Python file (.py); {SPEC_HELP}")
    resolved = str(path.resolve())
    name = (
        "_softgrad_user_"
        + hashlib.sha1(resolved.encode(), usedforsecurity=False).hexdigest()[:12]
        + "_"
        + _identifier(path.stem)
    )
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise InputError(mod, "cannot be imported as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    directory = str(path.resolve().parent)
    if directory not in sys.path:  # sibling imports work, as when running the file with python
        sys.path.insert(0, directory)
    sys.modules[name] = module
    writes_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # leave no __pycache__ beside the user's file
    try:
        module_spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit too: a module that exits on import did not import
        sys.modules.pop(name, None)
        raise _import_failure(spec, exc, resolved) from None
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module, resolved


def _identifier(stem: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in stem)


def _load_module(mod: str, spec: str) -> tuple[ModuleType, str | None]:
    if not all(part.isidentifier() for part in mod.split(".")):
        raise InputError(spec, f"{mod!r} is neither a .py file nor a module name; {SPEC_HELP}")
    if os.getcwd() not in sys.path and "" not in sys.path:  # like `python -m`: the current directory first
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(mod)
    except ModuleNotFoundError as exc:
        if exc.name and (mod == exc.name or mod.startswith(exc.name + ".")):
            looked = "looked in the current directory and sys.path"
            raise InputError(spec, f"no module named {exc.name!r} ({looked})") from None
        raise _import_failure(spec, exc, None) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - whatever the user's module raises on import is reported
        raise _import_failure(spec, exc, getattr(sys.modules.get(mod), "__file__", None)) from None
    return module, getattr(module, "__file__", None)


def _public_functions(module: ModuleType) -> list[str]:
    """Functions defined in ``module`` itself (not imported), without a leading underscore."""
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == module.__name__
    ]


def _describe(obj: object) -> str:
    if obj is None:
        return "None"
    if isinstance(obj, ModuleType):
        return "a module"
    article = "an" if type(obj).__name__[:1].lower() in "aeiou" else "a"
    return f"{article} {type(obj).__name__}"


def load_target(spec: str) -> Target:
    """Import the module or file of ``spec`` and return its function.

    Without ``:FUNC`` the module must define exactly one public function. Raises :class:`InputError` if
    the file or module does not exist or does not import, or the name is missing or not callable.
    """
    mod, func = split_spec(spec)
    module, path = _load_file(mod, spec) if _is_path(mod) else _load_module(mod, spec)
    shown = mod if _is_path(mod) else (path and display_path(path)) or mod
    if func is None:
        names = _public_functions(module)
        if len(names) != 1:
            listed = f": {', '.join(names)}" if names else " (it defines none)"
            raise InputError(spec, f"say which function to verify, as {mod}:FUNC; public functions{listed}")
        func = names[0]
    obj: object = module
    for i, part in enumerate(func.split(".")):
        if not hasattr(obj, part):
            where = ".".join(func.split(".")[:i]) or shown
            candidates = _public_functions(module) if i == 0 else []
            hint = f" (functions it defines: {', '.join(candidates)})" if candidates else ""
            raise InputError(spec, f"{where} has no attribute {part!r}{hint}")
        obj = getattr(obj, part)
    if not callable(obj) and not callable(getattr(obj, "backward", None)):  # a layer object has backward
        raise InputError(spec, f"{func} is {_describe(obj)}, not a function")
    return Target(cast(Callable[..., Any], obj), f"{mod}:{func}", path)
