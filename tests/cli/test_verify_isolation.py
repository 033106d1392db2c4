"""`softgrad verify` with the user's code in its own process, through the command line: exit codes that are
never 0 unless every case ran and passed, JSON that stays JSON whatever the code prints, --timeout and
--budget, and signals that end softgrad and the code's whole process group."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.commands.verify.test_isolation import RIGHT, SOFTMAX, _gone
from tests.conftest import ROOT, run


def _module(tmp_path: Path, body: str, name: str = "mygrad.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(SOFTMAX) + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def test_json_stays_valid_and_ascii_whatever_the_code_prints(tmp_path: Path) -> None:
    body = f"""
    import os, subprocess, sys, threading, time

    print("\\x1b[31mat import: ü ✓\\x00")

    def _late():
        time.sleep(0.05)
        print("late thread", flush=True)

    def grad(z, t):
        print('{{"not": "the report"}}')
        os.write(1, b"\\xff\\xfe raw bytes\\n")
        sys.stderr.write("to stderr\\n")
        threading.Thread(target=_late).start()
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.1); print('late subprocess')"])
        return {RIGHT}
    """
    r = run("verify", f"{_module(tmp_path, body)}:grad", "--format", "json", "--trials", "0")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.isascii()
    data = json.loads(r.stdout)
    assert data["status"] == "pass"
    assert "at import: ü ✓" in data["printed"]
    assert '{"not": "the report"}' in data["printed"]
    assert r.stderr == ""


def test_an_infinite_loop_with_timeout_1_fails_and_the_run_ends(tmp_path: Path) -> None:
    target = _module(tmp_path, "def grad(z, t):\n    while True:\n        pass\n")
    start = time.monotonic()
    r = run("verify", f"{target}:grad", "--timeout", "1", "--trials", "1", "--format", "json")
    assert time.monotonic() - start < 30
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["status"] == "fail"
    assert "did not return within 1 s" in data["verdict"]
    assert "did not return within 1 s" in data["layout_reason"]


def test_os_exit_0_in_every_call_is_exit_1_never_a_false_pass(tmp_path: Path) -> None:
    target = _module(tmp_path, "import os\n\ndef grad(z, t):\n    os._exit(0)\n")
    r = run("verify", f"{target}:grad", "--trials", "0")
    assert r.exit_code == 1
    assert "exited with code 0 (os._exit or sys.exit in your code?)" in r.stdout
    assert "status: FAIL" in r.stdout


def test_sys_exit_at_import_is_one_line_exit_2(tmp_path: Path) -> None:
    target = _module(tmp_path, "import sys\nsys.exit(0)\n")
    r = run("verify", f"{target}:grad")
    assert r.exit_code == 2
    line = Path(target).read_text().splitlines().index("sys.exit(0)") + 1
    assert r.stderr == f"softgrad: error: {target}:{line}: importing {target}:grad raised SystemExit: 0\n"
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "0"], "--timeout: must be a number of seconds > 0, got 0.0"),
        (["--timeout", "-2"], "--timeout: must be a number of seconds > 0, got -2.0"),
        (["--timeout", "nan"], "--timeout: must be a number of seconds > 0, got nan"),
        (["--budget", "inf"], "--budget: must be a number of seconds > 0, got inf"),
        (["--timeout", "soon"], "'soon' is not a valid float"),
    ],
)
def test_bad_timeout_or_budget_is_one_line_exit_2(args: list[str], message: str) -> None:
    r = run("verify", str(ROOT / "samples" / "verify" / "correct_grad.py:grad"), *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert r.stdout == ""


def test_help_documents_timeout_and_budget() -> None:
    text = " ".join(run("verify", "--help").stdout.split())
    assert "--timeout SECONDS" in text
    assert "--budget SECONDS" in text
    assert "child process" in text


def _start_sleeper(tmp_path: Path) -> tuple[subprocess.Popen[str], list[int]]:
    """softgrad verifying a function that starts a process of its own and sleeps; (softgrad, [the child's
    pid, its subprocess's pid]) once the function is running."""
    pids = tmp_path / "pids"
    body = f"""
    import os, subprocess, sys, time

    def grad(z, t):
        sub = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open({str(pids)!r} + ".tmp", "w") as fh:
            fh.write(f"{{os.getpid()}} {{sub.pid}}")
        os.replace({str(pids)!r} + ".tmp", {str(pids)!r})
        time.sleep(60)
    """
    target = _module(tmp_path, body)
    proc = subprocess.Popen(
        [sys.executable, "-m", "softgrad", "verify", f"{target}:grad", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while not pids.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pids.exists(), proc.communicate(timeout=10)
    return proc, [int(p) for p in pids.read_text().split()]


@pytest.mark.parametrize(
    ("sig", "code", "said"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_ctrl_c_ends_softgrad_and_the_child_group(tmp_path: Path, sig: int, code: int, said: str) -> None:
    proc, pids = _start_sleeper(tmp_path)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    assert stderr == f"softgrad: {said}\n"
    assert stdout == ""
    for pid in pids:
        assert _gone(pid), pid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_softgrad_leaves_no_child_running(tmp_path: Path) -> None:
    proc, pids = _start_sleeper(tmp_path)
    proc.kill()
    proc.communicate(timeout=30)
    assert _gone(pids[0])  # the child (its own subprocess is beyond softgrad's reach once softgrad is gone)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pids[1], signal.SIGKILL)
