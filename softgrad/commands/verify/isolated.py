"""The user's code in its own process: :class:`IsolatedSession` starts one child Python process per run
(:mod:`softgrad.commands.verify.child`) that imports the target and serves every call, talking to softgrad
over a pipe pair of its own (not its stdin/stdout).

What the code does stays in the child and becomes a reported outcome, never softgrad's:

- its descriptors 1 and 2 are a pipe softgrad drains (``print``, ``os.write(1, …)``, threads and the
  processes it starts cannot touch softgrad's stdout); :meth:`IsolatedSession.printed` is what it wrote;
- a call that runs past ``timeout`` seconds is a :class:`CallFailed` ("did not return within 10 s"): the
  child's whole process group is ended (SIGTERM, then SIGKILL), and the next call starts a new child;
  after :data:`~softgrad.commands.verify.session.STOP_AFTER_FAILED_CALLS` such calls in a row, or once the
  code has taken ``budget`` seconds in all, the remaining calls are not made;
- a child that exits or is killed is a CallFailed saying how ("exited with code 0 (os._exit or sys.exit in
  your code?)", "was killed by signal 11 (segmentation fault)");
- the child is in its own session and process group: Ctrl-C at the terminal reaches softgrad alone, which
  ends the group on the way out; on Linux the child is also killed if softgrad itself is killed.

POSIX only (pipes passed by descriptor, process groups, ``poll``). This module imports the standard library
only, so that the command line can start the child before it imports numpy itself (``wait=False``).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from softgrad.commands.verify.session import (
    DEFAULT_BUDGET,
    DEFAULT_TIMEOUT,
    CallFailed,
    Clock,
    check_seconds,
    seconds,
    step_name,
)
from softgrad.errors import InputError

T = TypeVar("T")

#: What the parent runs with ``python -u -c``: the current directory off sys.path (``-c`` puts it first);
#: softgrad's own directory and the parent's other sys.path entries last (softgrad, and packages the
#: caller can import, are found; nothing there comes before the standard library or numpy); then ``main``.
BOOT = (
    "import sys\n"
    "args, extra = sys.argv[1:5], sys.argv[5:]\n"
    "sys.path[:] = [p for p in sys.path if p not in ('', '.')]\n"
    "sys.path += [p for p in dict.fromkeys(extra) if p not in sys.path]\n"
    "from softgrad.commands.verify.child import main\n"
    "sys.exit(main(args))\n"
)

#: The directory softgrad is imported from (the child finds softgrad there even when it is not installed).
ROOT = str(Path(__file__).resolve().parents[3])
#: Importing the module may take this long at least (a framework such as torch imports slowly).
MIN_IMPORT_TIMEOUT = 30.0
#: How long a child is given to end after SIGTERM (or, at the end of the run, after its pipe closes).
GRACE = 0.5
#: How often a wait looks at whether the child is still alive.
TICK = 0.1
#: What the capture keeps of the code's output: its first and its last this many bytes.
KEEP = 32 * 1024


class _Capture:
    """A pipe for the child's descriptors 1 and 2, drained by a thread: the first and last :data:`KEEP`
    bytes are kept (and the count of those in between), so a chatty child never blocks or fills memory."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="softgrad-verify-capture", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while chunk := os.read(self.read_fd, 1 << 16):
                with self._lock:
                    room = KEEP - len(self.head)
                    self.head += chunk[:room]
                    self.tail += chunk[room:] if room > 0 else chunk
                    if len(self.tail) > KEEP:
                        self.dropped += len(self.tail) - KEEP
                        del self.tail[: len(self.tail) - KEEP]
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                os.close(self.read_fd)

    def text(self) -> str:
        with self._lock:
            head, tail, dropped = bytes(self.head), bytes(self.tail), self.dropped
        gap = f"\n… {dropped} bytes left out …\n".encode() if dropped else b""
        return (head + gap + tail).decode("utf-8", "replace")

    def close(self, wait: float) -> None:
        """Stop writing (the child is gone) and let the thread read what is left, for at most ``wait`` s."""
        if self.write_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.write_fd)
            self.write_fd = -1
        self._thread.join(wait)


class _Child:
    """One child process and softgrad's ends of its pipes."""

    def __init__(self, proc: subprocess.Popen[bytes], requests: int, answers: int) -> None:
        self.proc = proc
        self.requests = requests
        self.answers = answers
        self.buffer = bytearray()
        os.set_blocking(requests, False)
        os.set_blocking(answers, False)

    def close_pipes(self) -> None:
        for fd in (self.requests, self.answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.requests = self.answers = -1


class _Ended(Exception):
    """The child closed its end (it exited, or closed the pipe)."""


class _Late(Exception):
    """The deadline passed."""


class IsolatedSession:
    """A target ``PATH.py:FUNC`` / ``package.module:FUNC`` loaded in a child process (see the module
    docstring). Raises :class:`InputError` when it does not load, as :func:`loader.load_target` would.

    ``timeout``: seconds one call may take (None: no limit); ``budget``: seconds the code may take over the
    whole run, restarts included (None: no limit). Importing the module may take ``timeout`` or
    :data:`MIN_IMPORT_TIMEOUT`, whichever is longer. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        target_spec: str,
        timeout: float | None = DEFAULT_TIMEOUT,
        budget: float | None = DEFAULT_BUDGET,
        *,
        wait: bool = True,
    ) -> None:
        check_seconds("timeout", timeout)
        check_seconds("budget", budget)
        self.target = target_spec
        self.file: str | None = None
        self.spec = target_spec
        self.timeout = timeout
        self.clock = Clock(timeout, budget)
        #: children started after the first one (after a timeout or a crash)
        self.restarts = 0
        self.calls = 0
        self._capture = _Capture()
        self._child: _Child | None = None
        self._closed = False
        #: a child started but not yet known to have loaded the target (``wait=False``)
        self._pending: _Child | None = None
        try:
            self._pending = self._spawn()
            if wait:
                self.wait_ready()
        except BaseException:
            self.close()
            raise

    def wait_ready(self) -> None:
        """Wait until the first child has loaded the target (InputError when it does not)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._child = self._loaded(pending)

    # -- the Session protocol -------------------------------------------------------------------------

    def apply(self, step: Callable[..., T], *payload: Any) -> T:
        from softgrad.commands.verify.wire import encode

        if self._closed:
            raise RuntimeError("the session is closed")
        self.wait_ready()
        allowed = self.clock.allowed()
        body = encode((step_name(step), list(payload)))
        self.calls += 1
        start = time.monotonic()
        try:
            if self._child is None:
                self._child = self._restart()
            answer = self._exchange(self._child, body, allowed)
        except CallFailed as exc:
            self.clock.record(exc)
            raise
        finally:
            self.clock.spent += time.monotonic() - start
        if answer[0] == "ok":
            self.clock.record(None)
            return answer[1]  # type: ignore[no-any-return]
        self._stop()  # softgrad's code there may have been changed: the next call gets a new process
        failed = CallFailed(str(answer[1]), "did your code change softgrad or numpy?", failure="broken")
        self.clock.record(failed)
        raise failed

    def printed(self) -> str:
        return self._capture.text()

    def close(self) -> None:
        """End the child and its whole process group (at once: there is nothing it still needs to do; what it
        printed is already in the capture, its output being unbuffered)."""
        self._closed = True
        try:
            self._stop(gentle=False)
        finally:
            self._capture.close(GRACE)

    def __enter__(self) -> IsolatedSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the child ------------------------------------------------------------------------------------

    def _spawn(self) -> _Child:
        if not sys.executable:
            raise InputError(self.spec, "cannot start a Python process to run it (sys.executable is unknown)")
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        env = dict(os.environ)
        env.setdefault("PYTHONIOENCODING", "utf-8:backslashreplace")
        here = {"", ".", os.getcwd()}
        paths = [ROOT, *(p for p in sys.path if isinstance(p, str) and p not in here)]
        argv = [sys.executable, "-u", "-c", BOOT, str(req_r), str(ans_w), self.spec, str(os.getpid()), *paths]
        try:
            proc = subprocess.Popen(  # noqa: S603 - this Python, softgrad's own child module, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._capture.write_fd,
                stderr=self._capture.write_fd,
                pass_fds=(req_r, ans_w),
                start_new_session=True,
                env=env,
            )
        except BaseException:
            for fd in (req_r, req_w, ans_r, ans_w):
                os.close(fd)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.close(req_r)
            with contextlib.suppress(OSError):
                os.close(ans_w)
        return _Child(proc, req_w, ans_r)

    def _start(self) -> _Child:
        """A child with the target loaded; InputError when it does not load."""
        return self._loaded(self._spawn())

    def _loaded(self, child: _Child) -> _Child:
        """``child`` once it has loaded the target; InputError when it does not."""
        wait = max(self.timeout or 0.0, MIN_IMPORT_TIMEOUT)
        try:
            answer = self._receive(child, time.monotonic() + wait)
        except _Late:
            self._kill(child)
            raise InputError(self.spec, f"importing it did not finish within {seconds(wait)}") from None
        except _Ended:
            failed = self._ended(child)
            last = [text for text in self._capture.text().splitlines() if text.strip()][-1:]
            said = f"; its last output: {last[0].strip()[:200]}" if last else ""
            raise InputError(self.spec, f"importing it ended its process: {failed.message}{said}") from None
        except BaseException:
            self._kill(child)
            raise
        if answer[0] == "input_error":
            self._kill(child)
            raise InputError(str(answer[1]), str(answer[2]))
        if answer[0] != "ready":
            self._kill(child)
            raise InputError(self.spec, f"its process sent softgrad {answer[0]!r} instead of being ready")
        self.target, self.file = str(answer[1]), answer[2]
        return child

    def _restart(self) -> _Child:
        self.restarts += 1
        try:
            return self._start()
        except InputError as exc:
            raise CallFailed(f"its process could not be started again: {exc.message}") from None

    def _exchange(self, child: _Child, body: bytes, allowed: float | None) -> tuple[Any, ...]:
        from softgrad.commands.verify.wire import frame

        deadline = None if allowed is None else time.monotonic() + allowed
        try:
            self._send(child, frame(body), deadline)
            return self._receive(child, deadline)
        except _Late:
            self._stop()
            raise self.clock.over(allowed or 0.0) from None
        except _Ended:
            self._child = None
            raise self._ended(child) from None

    def _send(self, child: _Child, data: bytes, deadline: float | None) -> None:
        view = memoryview(data)
        poller = select.poll()
        poller.register(child.requests, select.POLLOUT)
        while view:
            try:
                n = os.write(child.requests, view)
            except BlockingIOError:
                self._wait(child, poller, deadline)
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise _Ended from None
            view = view[n:]

    def _receive(self, child: _Child, deadline: float | None) -> tuple[Any, ...]:
        from softgrad.commands.verify.wire import HEADER, WireError, body_length, decode

        poller = select.poll()
        poller.register(child.answers, select.POLLIN)
        while True:
            if len(child.buffer) >= HEADER:
                try:
                    end = HEADER + body_length(bytes(child.buffer[:HEADER]))
                    if len(child.buffer) >= end:
                        answer = decode(bytes(child.buffer[HEADER:end]))
                        del child.buffer[:end]
                        if not (isinstance(answer, tuple) and answer and answer[0] in _ANSWERS):
                            raise WireError("not an answer")
                        return answer
                except WireError as exc:
                    raise self._garbled(exc) from None
            try:
                chunk = os.read(child.answers, 1 << 20)
            except BlockingIOError:
                self._wait(child, poller, deadline)
                continue
            if not chunk:
                raise _Ended
            child.buffer += chunk

    def _wait(self, child: _Child, poller: select.poll, deadline: float | None) -> None:
        """Until the pipe is ready, the deadline passes (_Late) or the child has exited (_Ended)."""
        while True:
            left = TICK if deadline is None else min(TICK, deadline - time.monotonic())
            if left <= 0:
                raise _Late
            if poller.poll(left * 1000):
                return
            if child.proc.poll() is not None:
                # the child is gone; what it wrote before going is still readable
                if not poller.poll(0):
                    raise _Ended
                return

    def _garbled(self, exc: Exception) -> CallFailed:
        self._stop()
        return CallFailed(
            f"sent softgrad a message it cannot read ({exc})",
            "did your code write to softgrad's pipe?",
            failure="broken",
        )

    def _ended(self, child: _Child) -> CallFailed:
        """What became of a child whose pipe closed (it is then killed, with its group, if still there)."""
        try:
            code = child.proc.wait(GRACE)
        except subprocess.TimeoutExpired:
            self._kill(child)
            return CallFailed("closed its connection to softgrad", "did your code close descriptors it did not open?")
        self._kill(child)
        if code >= 0:
            return CallFailed(f"exited with code {code}", "os._exit or sys.exit in your code?")
        return CallFailed(f"was killed by signal {-code} ({_signal_name(-code)})", _SIGNAL_HINTS.get(-code))

    def _stop(self, gentle: bool = True) -> None:
        child, self._child = self._child, None
        if self._pending is not None:
            self._kill(self._pending, gentle)
            self._pending = None
        if child is not None:
            self._kill(child, gentle)

    def _kill(self, child: _Child, gentle: bool = True) -> None:
        """End the child's process group: SIGTERM and a moment to end (``gentle``), then SIGKILL (always, for
        what it started)."""
        try:
            if gentle and child.proc.poll() is None:
                _signal_group(child.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(GRACE)
        finally:
            _signal_group(child.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(GRACE)
            child.close_pipes()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _signal_name(sig: int) -> str:
    try:
        name = signal.strsignal(sig)
    except ValueError:
        name = None
    return (name or f"signal {sig}").lower()


#: What a child may send.
_ANSWERS = ("ok", "error", "ready", "input_error")

_SIGNAL_HINTS: dict[int, str] = {
    signal.SIGKILL: "out of memory? the system kills a process that takes too much",
    signal.SIGABRT: "a failed assertion in a C extension?",
}
