"""The child process that runs the user's code for ``verify``: it loads the target, then answers softgrad's
requests ``(step name, payload)`` with ``("ok", result)`` until softgrad closes the pipe.

Started by :class:`softgrad.commands.verify.isolated.IsolatedSession` as ``python -u -c isolated.BOOT`` with the
descriptors of two pipes (requests in, answers out), the target, softgrad's process id and the directory
softgrad is imported from. Descriptors 0, 1 and 2 are /dev/null and softgrad's capture of what the code
prints: nothing here writes to them. Everything softgrad needs is imported before the user's directory is
put on ``sys.path`` (so a ``random.py`` or ``json.py`` beside the user's file cannot replace numpy's or
softgrad's modules); a step module imported later is imported with that directory off the path.

Messages to softgrad: ``("ready", spec, path)`` once the target is loaded, ``("input_error", where,
message)`` when it cannot be, ``("ok", result)`` per request, ``("error", text)`` when softgrad's step
itself raised (the user's code may have changed softgrad or numpy).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import importlib
import os
import signal
import sys
import traceback
from typing import Any

import numpy  # noqa: F401 - imported before the user's directory is on sys.path

from softgrad.commands.verify import calls, session, user_code, weights_calls  # noqa: F401 - the steps and their plain-data types
from softgrad.commands.verify.loader import load_target
from softgrad.commands.verify.wire import MAX_MESSAGE, WireError, decode, encode, read_frame, write_frame
from softgrad.errors import InputError

#: Descriptors at or above this are softgrad's (out of the way of descriptors the user's code opens).
HIGH_FD = 100
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when softgrad dies (best effort), and end now if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def _private(fd: int) -> int:
    """``fd`` moved out of the way of the user's code: a high number, closed on exec (not inherited by the
    processes it starts)."""
    try:
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
    except OSError:
        os.set_inheritable(fd, False)
        return fd
    os.close(fd)
    return moved


def _resolve(name: str, clean_path: list[str]) -> Any:
    """The step ``module:qualname`` (softgrad's own modules only), importing its module with the user's
    directories off ``sys.path``."""
    module_name, _, qualname = name.partition(":")
    if not (module_name == "softgrad" or module_name.startswith("softgrad.")) or not qualname:
        raise LookupError(f"{name!r} is not a softgrad step")
    module = sys.modules.get(module_name)
    if module is None:
        saved = sys.path[:]
        sys.path[:] = clean_path
        try:
            module = importlib.import_module(module_name)
        finally:
            sys.path[:] = saved
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _escaped(exc: BaseException, name: str) -> str:
    """What escaped softgrad's step: ``softgrad's call_step raised TypeError: … (at file:line)``."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {user_code.display_path(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    text = str(exc).strip()
    message = f": {text.splitlines()[0]}" if text else ""
    return f"softgrad's {name.rpartition(':')[2]} raised {type(exc).__name__}{message}{where}"


def serve(requests: int, answers: int, spec: str) -> int:
    """Load ``spec`` and answer requests until the pipe closes."""
    session.PASS_THROUGH = (session.TimeUp,)  # here a KeyboardInterrupt is the user's code's own
    clean_path = sys.path[:]
    try:
        target = load_target(spec)
    except InputError as exc:
        write_frame(answers, encode(("input_error", exc.where, exc.message)))
        return 0
    write_frame(answers, encode(("ready", target.spec, target.path)))
    me = os.getpid()
    while True:
        body = read_frame(requests)
        if body is None:
            return 0
        name, payload = decode(body)
        try:
            result = _resolve(name, clean_path)(target.fn, *payload)
            answer = encode(("ok", result))
        except BaseException as exc:  # noqa: BLE001 - whatever escapes a step is reported, the loop goes on
            try:
                answer = encode(("error", _escaped(exc, name)))
            except BaseException:  # noqa: BLE001 - even the message may fail (a user's __str__, memory)
                answer = encode(("error", f"softgrad's step {name} failed"))
        if os.getpid() != me:  # the user's code forked and this is the copy: only the original answers
            os._exit(0)
        if len(answer) > MAX_MESSAGE:
            answer = encode(("error", f"the answer to {name} is {len(answer)} bytes, more than the {MAX_MESSAGE}"))
        write_frame(answers, answer)


def main(argv: list[str]) -> int:
    """``REQUESTS_FD ANSWERS_FD SPEC PARENT_PID``: serve, exiting 0 when softgrad closes the pipe."""
    requests, answers, spec, parent = int(argv[0]), int(argv[1]), argv[2], int(argv[3])
    _die_with_parent(parent)
    requests, answers = _private(requests), _private(answers)
    sys.dont_write_bytecode = True  # leave no __pycache__ beside the user's files
    try:
        return serve(requests, answers, spec)
    except (BrokenPipeError, WireError):
        return 3  # softgrad went away, or sent what it should not: nothing to answer
