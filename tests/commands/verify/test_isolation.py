"""The user's code in its own process: whatever it does (exit, crash, hang, print, patch softgrad, send
softgrad garbage) is a failed case or a verdict, never softgrad's own outcome; and the wire between the two
reads plain data only."""

from __future__ import annotations

import signal
import struct
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import softgrad
from softgrad.commands.verify import wire
from softgrad.commands.verify.isolated import IsolatedSession
from softgrad.commands.verify.session import (
    CallFailed,
    Description,
    InProcessSession,
    Opaque,
    ParameterInfo,
    plain,
)
from softgrad.commands.verify.user_code import Called, UserFunction, as_output, call_step
from softgrad.errors import InputError

SOFTMAX = """
import numpy as np

def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
"""
RIGHT = "_softmax(z) * t.sum(axis=-1, keepdims=True) - t if z.ndim == 1 else (_softmax(z) - t) / len(z)"
# the battery's batch has one soft row: (s − t)/N is right only for rows whose targets sum to 1, which they do


def _module(tmp_path: Path, body: str, name: str = "user_grad.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(SOFTMAX) + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def _errors(report: softgrad.VerifyReport) -> dict[str, str | None]:
    return {c.name: c.error for c in report.cases if c.status != "pass"}


def test_a_correct_function_passes_in_its_own_process(tmp_path: Path) -> None:
    target = _module(tmp_path, f"def grad(z, t):\n    return {RIGHT}\n")
    report = softgrad.verify(f"{target}:grad", trials=2)
    assert report.status == "pass", report.verdict
    assert report.target == f"{target}:grad"
    assert report.printed == ""


def test_os_exit_inside_the_function_fails_the_case_it_was_computing(tmp_path: Path) -> None:
    body = f"""
    import os

    def grad(z, t):
        if z.ndim == 2:
            os._exit(0)
        return {RIGHT}
    """
    report = softgrad.verify(f"{_module(tmp_path, body)}:grad", trials=0)
    assert report.status == "fail"
    assert _errors(report) == {
        "batch": "exited with code 0 while computing case `batch` (os._exit or sys.exit in your code?)"
    }
    assert report.layout == "both"  # dying on a batch does not make it a one-example function
    assert "exited with code 0 while computing case `batch`" in report.verdict


def test_sys_exit_inside_the_function_is_an_exception_at_its_line(tmp_path: Path) -> None:
    target = _module(tmp_path, "import sys\n\ndef grad(z, t):\n    sys.exit(0)\n")
    report = softgrad.verify(f"{target}:grad", trials=0)
    line = Path(target).read_text().splitlines().index("    sys.exit(0)") + 1
    assert report.status == "fail"
    assert set(_errors(report).values()) == {f"raised SystemExit: 0 (at {target}:{line})"}


@pytest.mark.parametrize(
    ("top", "message"),
    [
        ("import sys\nsys.exit(3)\n", "raised SystemExit: 3"),
        ("import os\nos._exit(0)\n", "importing it ended its process: exited with code 0"),
    ],
)
def test_exiting_at_import_is_an_input_error(tmp_path: Path, top: str, message: str) -> None:
    target = _module(tmp_path, top + f"def grad(z, t):\n    return {RIGHT}\n")
    with pytest.raises(InputError, match=message):
        softgrad.verify(f"{target}:grad")


def test_a_hang_on_one_case_fails_that_case_and_the_run_goes_on(tmp_path: Path) -> None:
    body = f"""
    def grad(z, t):
        while z.max() > 500:  # the shift_1000 case
            pass
        return {RIGHT}
    """
    start = time.monotonic()
    report = softgrad.verify(f"{_module(tmp_path, body)}:grad", trials=1, timeout=0.5)
    assert time.monotonic() - start < 30
    assert _errors(report) == {"shift_1000": "did not return within 0.5 s on case `shift_1000`"}
    shift = next(c for c in report.cases if c.name == "shift_1000")
    assert shift.failure == "timeout"
    assert sum(c.status == "pass" for c in report.cases) == len(report.cases) - 1  # a new child served the rest
    assert "did not return within 0.5 s on case `shift_1000`" in report.verdict


def test_a_function_that_always_hangs_stops_after_two_timeouts(tmp_path: Path) -> None:
    target = _module(tmp_path, "def grad(z, t):\n    while True:\n        pass\n")
    start = time.monotonic()
    report = softgrad.verify(f"{target}:grad", trials=3, timeout=0.3)
    assert time.monotonic() - start < 30
    assert report.status == "fail"
    assert {c.failure for c in report.cases} == {"not run"}
    said = "not run: 2 calls in a row did not come back (the last: did not return within 0.3 s))"
    assert report.verdict.endswith(said)


def test_the_budget_ends_the_run_with_the_rest_not_run(tmp_path: Path) -> None:
    body = f"""
    import time

    def grad(z, t):
        time.sleep(0.15)
        return {RIGHT}
    """
    # detection probes the function four times (one-hot and class-index targets, a row and a batch) first
    report = softgrad.verify(f"{_module(tmp_path, body)}:grad", trials=5, budget=1.2)
    failures = [c.failure for c in report.cases]
    assert report.status == "fail"
    assert "not run" in failures
    assert failures[0] is None  # the first cases ran and passed
    assert "the run's time budget of 1.2 s was spent" in report.verdict


def test_a_segfault_is_a_failed_case_with_the_signal(tmp_path: Path) -> None:
    body = f"""
    import ctypes

    def grad(z, t):
        if z.ndim == 2:
            ctypes.string_at(0)
        return {RIGHT}
    """
    report = softgrad.verify(f"{_module(tmp_path, body)}:grad", trials=0)
    assert _errors(report) == {"batch": "was killed by signal 11 (segmentation fault) while computing case `batch`"}
    assert next(c for c in report.cases if c.name == "batch").failure == "died"


def test_memory_error_and_exceptions_are_located_in_the_users_file(tmp_path: Path) -> None:
    body = """
    def grad(z, t):
        if z.ndim == 2:
            raise MemoryError
        return _helper(z)

    def _helper(z):
        raise ValueError("bad\\nsecond line")
    """
    target = _module(tmp_path, body)
    lines = Path(target).read_text().splitlines()
    report = softgrad.verify(f"{target}:grad", trials=0)
    errors = _errors(report)
    assert errors["batch"] == f"raised MemoryError (at {target}:{lines.index('        raise MemoryError') + 1})"
    at = lines.index('    raise ValueError("bad\\nsecond line")') + 1
    assert errors["asymmetric"] == f"raised ValueError: bad (at {target}:{at})"


def test_output_of_threads_subprocesses_and_os_write_is_captured(tmp_path: Path) -> None:
    body = f"""
    import os, subprocess, sys, threading, time

    print("at import")

    def _late():
        time.sleep(0.05)
        print("from a thread, after returning", flush=True)

    def grad(z, t):
        os.write(1, b"os.write to 1\\n")
        os.write(2, b"os.write to 2\\n")
        if z.ndim == 2:
            threading.Thread(target=_late).start()
            subprocess.run([sys.executable, "-c", "print('from a subprocess')"], check=True)
        return {RIGHT}
    """
    report = softgrad.verify(f"{_module(tmp_path, body)}:grad", trials=0)
    assert report.status == "pass", report.verdict
    for text in ("at import", "os.write to 1", "os.write to 2", "from a subprocess"):
        assert text in report.printed


def test_a_module_beside_the_target_named_random_or_json_does_not_break_softgrad(tmp_path: Path) -> None:
    for name in ("random", "json", "numbers", "inspect"):
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('the shadowing {name}.py was imported')\n")
    target = _module(tmp_path, f"def grad(z, t):\n    return {RIGHT}\n")
    path_before = list(sys.path)
    report = softgrad.verify(f"{target}:grad", trials=1)
    assert report.status == "pass", report.verdict
    assert sys.path == path_before  # softgrad's own process never had the user's directory on its path


def test_monkeypatching_softgrad_in_the_users_code_cannot_fake_a_pass(tmp_path: Path) -> None:
    body = """
    import sys
    import softgrad.core.formulas
    import softgrad.commands.verify.user_code as user_code

    def wrong(z, t, *args, **kwargs):
        return 2 * (_softmax(z) - t)

    def grad(z, t):
        # make softgrad's reference agree with this wrong gradient, wherever it could be looked up
        for name, module in list(sys.modules.items()):
            if name.startswith("softgrad") and hasattr(module, "fused_gradient"):
                module.fused_gradient = wrong
        user_code.as_output = lambda raw, shape: (raw, None)
        return wrong(z, t)
    """
    from softgrad.core import formulas

    original = formulas.fused_gradient
    report = softgrad.verify(f"{_module(tmp_path, body)}:grad", trials=0)
    assert report.status == "fail"
    assert formulas.fused_gradient is original
    assert any(c.status == "fail" for c in report.cases)


def test_a_step_broken_by_the_users_code_is_a_failed_case(tmp_path: Path) -> None:
    body = f"""
    import softgrad.commands.verify.calls as calls

    def grad(z, t):
        calls.plain = None  # softgrad's own code in the child now fails after the call
        return {RIGHT}
    """
    report = softgrad.verify(f"{_module(tmp_path, body)}:grad", trials=0)
    assert report.status == "fail"
    assert report.layout_reason.startswith("not detected: given a (4,) row it softgrad's call raised TypeError")
    assert {c.failure for c in report.cases} == {"not run"}  # two such calls in a row: the rest are not run
    assert report.verdict.endswith("(did your code change softgrad or numpy?)))")


def test_a_pickle_written_to_softgrads_pipe_is_not_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    body = f"""
    import os, pickle, struct

    class Evil:
        def __reduce__(self):
            return (open, ({str(marker)!r}, "w"))

    def grad(z, t):
        payload = pickle.dumps(("ok", Evil()))
        for fd in range(100, 120):  # where softgrad keeps the child's ends of its pipes
            try:
                os.write(fd, struct.pack(">Q", len(payload)) + payload)
            except OSError:
                pass
        return {RIGHT}
    """
    report = softgrad.verify(f"{_module(tmp_path, body)}:grad", trials=0)
    assert not marker.exists()
    assert report.status == "fail"
    assert "sent softgrad a message it cannot read (unknown tag b'\\x80')" in report.layout_reason


def test_a_session_kills_its_child_and_process_group_on_close(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    body = f"""
    import os, subprocess, sys

    def grad(z, t):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open({str(pid_file)!r}, "w") as fh:
            fh.write(f"{{os.getpid()}} {{child.pid}}")
        return {RIGHT}
    """
    session = IsolatedSession(f"{_module(tmp_path, body)}:grad")
    user = UserFunction.open(session)
    called = user([np.array([1.0, 2.0]), np.array([0.0, 1.0])], ["z", "t"])
    assert called.error is None
    session.close()
    for pid in map(int, pid_file.read_text().split()):
        assert _gone(pid)


def _gone(pid: int, wait: float = 5.0) -> bool:
    """The process has ended (a zombie counts: its code no longer runs)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_the_description_crosses_the_process_boundary(tmp_path: Path) -> None:
    body = """
    np.seterr(over="raise")

    def grad(z, t, eps=1e-12, *, scale=1.0):
        return z
    """
    with IsolatedSession(f"{_module(tmp_path, body)}:grad") as session:
        user = UserFunction.open(session)
    import inspect

    assert str(inspect.signature(user.fn)) == "(z, t, eps=1e-12, *, scale=1.0)"
    assert user.description.imports == ("numpy",)
    assert user.errstate["over"] == "raise"
    assert user.file is not None
    assert user.file.endswith("user_grad.py")


# -- in this process ------------------------------------------------------------------------------------


def test_in_process_timeout_for_a_function_object() -> None:
    def grad(z: np.ndarray, t: np.ndarray) -> np.ndarray:
        while z.max() > 500:
            pass
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        s = e / e.sum(axis=-1, keepdims=True)
        g = s * t.sum(axis=-1, keepdims=True) - t
        return g / len(z) if z.ndim == 2 else g

    before = signal.getsignal(signal.SIGALRM)
    report = softgrad.verify(grad, trials=0, timeout=0.3)
    assert _errors(report) == {"shift_1000": "did not return within 0.3 s on case `shift_1000`"}
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_in_process_calls_are_not_limited_when_sigalrm_is_taken() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        session = InProcessSession(lambda: time.sleep(0.2) or 1, "f", None, timeout=0.05)
        assert session.apply(lambda obj: obj()) == 1  # someone else's SIGALRM (pytest-timeout): not touched
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert fired == []


def test_bad_timeout_and_budget_values_are_input_errors() -> None:
    for name, value in (("timeout", 0), ("timeout", -1.0), ("budget", float("nan")), ("timeout", True)):
        with pytest.raises(InputError, match=f"^{name}: must be a number of seconds > 0"):
            softgrad.verify(lambda z, t: z, **{name: value})


def test_call_failed_names_the_case() -> None:
    exc = CallFailed("exited with code 0", "os._exit or sys.exit in your code?")
    assert exc.message == "exited with code 0 (os._exit or sys.exit in your code?)"
    assert (
        exc.on_case("batch") == "exited with code 0 while computing case `batch` (os._exit or sys.exit in your code?)"
    )
    timeout = CallFailed("did not return within 10 s", failure="timeout")
    assert timeout.on_case("shift_1000") == "did not return within 10 s on case `shift_1000`"


# -- plain data and the wire -------------------------------------------------------------------------------


def test_returns_are_judged_as_plain_data_with_todays_messages() -> None:
    class Weird:
        def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
            raise RuntimeError("no")

    cases = [
        (
            (np.ones(2), 0.5),
            "returned a tuple of 2 items of different shapes; expected an array of shape (2,) (a (loss, grad) pair?)",
        ),
        (Weird(), "returned a Weird that is not an array (RuntimeError: no); expected an array of shape (2,)"),
        ("ab", "returned a str of <U2 values, not numbers; expected an array of shape (2,)"),
        (
            np.array([object(), 1], dtype=object),
            "returned a ndarray of object values, not numbers; expected an array of shape (2,)",
        ),
        ({"g": 1}, "returned a dict of object values, not numbers; expected an array of shape (2,)"),
    ]
    for value, message in cases:
        raw = wire.decode(wire.encode(plain(value)))
        assert as_output(raw, (2,)) == (None, message)


def test_the_wire_carries_plain_data_exactly() -> None:
    value = (
        None,
        True,
        False,
        -(2**70),
        1.5,
        float("inf"),
        "ü\ud800",
        [np.arange(6, dtype=np.float32).reshape(2, 3)[:, ::2], np.array(3 + 1j), np.zeros((0, 3), bool)],
        {"a": (1, 2)},
        Opaque("torch.Tensor", "tensor([1.])", (1,), "TypeError: no", None),
        Description("f", "m", None, "function", (ParameterInfo("z", "POSITIONAL_OR_KEYWORD"),), None, (), {}),
        Called(np.ones(2), None, ("note",)),
    )
    back = wire.decode(wire.encode(value))
    assert back[:7] == value[:7]
    for a, b in zip(back[7], value[7], strict=True):
        assert (a.dtype, a.shape) == (b.dtype, b.shape)
        assert np.array_equal(a, b)
    assert back[8:11] == value[8:11]
    assert np.array_equal(back[11].raw, value[11].raw)


def test_the_wire_refuses_what_is_not_plain_data() -> None:
    import pickle

    for value in (object(), {1: 2}, np.array([object()]), {"k": {1, 2}}, b"bytes"):
        with pytest.raises(wire.WireError):
            wire.encode(value)
    good = wire.encode(("ok", np.ones(2)))
    hostile = [
        pickle.dumps(("ok", 1)),  # a pickle is not a message
        b"C" + wire.encode("os.system") + wire.encode({"command": "true"}),  # not a registered type
        b"C" + wire.encode("softgrad.commands.verify.session.Opaque") + wire.encode({"evil": 1}),  # unknown field
        b"A" + wire.encode("|O") + wire.encode((1,)) + struct.pack(">Q", 8) + b"\0" * 8,  # object dtype
        b"A" + wire.encode("V8") + wire.encode((1,)) + struct.pack(">Q", 8) + b"\0" * 8,  # void dtype
        b"A" + wire.encode("<f8") + wire.encode((10**6,)) + struct.pack(">Q", 8) + b"\0" * 8,  # too few bytes
        b"A" + wire.encode("<f8") + wire.encode((-1,)) + struct.pack(">Q", 0),  # negative shape
        b"S" + struct.pack(">Q", 2**40) + b"x",  # a length past the end
        b"U" + struct.pack(">I", 1) * 200 + b"N",  # nested too deeply
        good[:-3],  # truncated
        good + b"N",  # trailing bytes
        b"M" + struct.pack(">I", 1) + wire.encode(1) + wire.encode(2),  # a non-str key
        b"Z",
    ]
    for data in hostile:
        with pytest.raises(wire.WireError):
            wire.decode(data)
    with pytest.raises(wire.WireError):
        wire.body_length(struct.pack(">Q", wire.MAX_MESSAGE + 1))


def test_call_step_returns_plain_data_in_process() -> None:
    class Tensorish:
        def __init__(self, values: list[float]) -> None:
            self.data = np.array(values)

        def detach(self) -> Tensorish:
            return self

        def numpy(self) -> np.ndarray:
            return self.data

    called = call_step(lambda z: Tensorish([1.0, 2.0]), [np.zeros(2)], ["z"], dict(np.geterr()), None)
    assert isinstance(called.raw, np.ndarray)
    assert called.raw.tolist() == [1.0, 2.0]


def test_a_package_the_caller_can_import_is_found_by_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "verifypkg_on_path"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    _module(pkg, f"def grad(z, t):\n    return {RIGHT}\n", "losses.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    report = softgrad.verify("verifypkg_on_path.losses:grad", trials=0)
    assert report.status == "pass", report.verdict


def test_a_module_that_kills_its_process_at_import_says_what_it_printed(tmp_path: Path) -> None:
    target = _module(tmp_path, "import os\nprint('cannot go on without a GPU', flush=True)\nos._exit(1)\n")
    with pytest.raises(InputError, match=r"exited with code 1 .*; its last output: cannot go on without a GPU$"):
        softgrad.verify(f"{target}:grad")


def test_a_fork_in_the_users_code_and_a_huge_result_do_not_confuse_softgrad(tmp_path: Path) -> None:
    body = f"""
    import os

    def grad(z, t):
        if os.fork() == 0 and z.ndim == 2:
            return np.zeros((2, 2))  # the copy's answer is never sent
        return {RIGHT}

    def huge(z, t):
        if z.ndim == 2:  # only for a batch: probed once (each 512 MiB answer takes seconds to make)
            return np.zeros((1 << 26) + 1)  # 512 MiB
        return {RIGHT}
    """
    target = _module(tmp_path, body)
    assert softgrad.verify(f"{target}:grad", trials=1).status == "pass"
    report = softgrad.verify(f"{target}:huge", trials=0, targets="onehot")
    message = "given a (3, 4) batch it returned shape (67108865,) (536870920 bytes, too many to carry back)"
    assert message in report.layout_reason
    assert report.layout == "row"
