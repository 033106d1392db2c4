"""Workers die with their parent: real signals to a real `softgrad batch --jobs 2`, a worker killed mid-run,
and workers that cannot be started.

Worker processes are used where the fast parser is not (``SOFTGRAD_FAST=0`` here); with it, the workers are
threads of the one process, and a signal to it ends them all (the last tests)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from softgrad.commands.batch.rows import BatchOptions
from softgrad.commands.batch.run import RunOptions, run_batch
from softgrad.inputs.rows import ReadOptions
from tests.inputs.special import child_env, children, rows_csv

ROWS = 600_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rows_csv(tmp_path_factory.mktemp("big") / "rows.csv", ROWS)


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.append(pid)
        except OSError:
            pass
    return out


def _start(big: Path, out: Path, fmt: str = "csv") -> tuple[subprocess.Popen[bytes], list[int]]:
    """``softgrad batch big --jobs 2`` with its workers running; (process, worker pids)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "softgrad", "batch", str(big), "--jobs", "2", "--format", fmt, "--output", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env({"SOFTGRAD_FAST": "0"}),
    )
    deadline = time.monotonic() + 30
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.05)
        workers = children(proc.pid)
    if proc.poll() is not None:
        pytest.skip("the run finished before its workers could be seen")
    assert len(workers) >= 2, "the workers did not start"
    time.sleep(0.2)  # let them take a chunk each
    return proc, workers


def _gone(pids: list[int], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [
        (signal.SIGTERM, 143, b"softgrad: terminated\n"),
        (signal.SIGHUP, 129, b"softgrad: hung up\n"),
        (signal.SIGINT, 130, b"softgrad: interrupted\n"),
        (signal.SIGKILL, -9, b""),
    ],
    ids=["SIGTERM", "SIGHUP", "SIGINT", "SIGKILL"],
)
def test_workers_die_with_their_parent(big: Path, tmp_path: Path, sig: signal.Signals, code: int, line: bytes) -> None:
    out = tmp_path / "out.csv"
    proc, workers = _start(big, out)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal")
    assert proc.returncode == code
    assert stderr == line
    assert stdout == b""
    assert _gone(workers), f"workers {_alive(workers)} outlived their parent"
    assert list(tmp_path.iterdir()) == []  # no partial output, no temporary file


def test_a_worker_killed_mid_run_is_replaced_by_the_parent(big: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    proc, workers = _start(big, out, fmt="json")
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert stderr == b"softgrad: warning: a worker process died; checking the rest of the rows in this process\n"
    assert json.loads(out.read_text())["total"]["counts"] == {"pass": ROWS, "fail": 0, "unstable": 0, "bad": 0}
    assert _gone(workers)


def _failing_fork(monkeypatch: pytest.MonkeyPatch, allowed: int) -> None:
    real: Callable[[], int] = os.fork
    calls = [0]

    def fork() -> int:
        calls[0] += 1
        if calls[0] > allowed:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real()

    monkeypatch.setattr(os, "fork", fork)


@pytest.mark.parametrize("allowed", [0, 1])
def test_workers_that_cannot_start_mean_fewer_workers_and_one_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allowed: int
) -> None:
    rows = rows_csv(tmp_path / "rows.csv", 3000)
    monkeypatch.setenv("SOFTGRAD_FAST", "0")  # processes are the workers of the numpy path
    _failing_fork(monkeypatch, allowed)
    notes: list[str] = []
    read = ReadOptions(chunk_bytes=4096)  # many chunks, so that workers are wanted
    result = run_batch([str(rows)], read, BatchOptions(), RunOptions(jobs=2), note=notes.append)
    assert result.report.total.counts == {"pass": 3000, "fail": 0, "unstable": 0, "bad": 0}
    assert notes == [
        "could not start 2 worker processes (Resource temporarily unavailable); checking the rows in this process"
    ]


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [
        (signal.SIGTERM, 143, b"softgrad: terminated\n"),
        (signal.SIGINT, 130, b"softgrad: interrupted\n"),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_ends_a_run_whose_workers_are_threads(
    big: Path, tmp_path: Path, sig: signal.Signals, code: int, line: bytes
) -> None:
    pytest.importorskip("polars")
    out = tmp_path / "out.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "softgrad", "batch", str(big), "--jobs", "2", "--format", "csv", "--output", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None and _threads(proc.pid) < 3:
        time.sleep(0.02)  # the main thread and two worker threads (polars adds its own)
    if proc.poll() is not None:
        pytest.skip("the run finished before its workers could be seen")
    assert children(proc.pid) == []  # no worker processes: the workers are threads
    time.sleep(0.2)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal")
    assert (proc.returncode, stderr, stdout) == (code, line, b"")
    assert list(tmp_path.iterdir()) == []  # no partial output, no temporary file


def test_threads_and_processes_give_the_same_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("polars")
    rows = rows_csv(tmp_path / "rows.csv", 5000)
    read = ReadOptions(chunk_bytes=8192)  # many chunks, so that the workers are used
    reports = {}
    for fast in ("1", "0"):
        monkeypatch.setenv("SOFTGRAD_FAST", fast)
        for jobs in (1, 2):
            result = run_batch([str(rows)], read, BatchOptions(written=True), RunOptions(jobs=jobs, show=5))
            reports[fast, jobs] = result.report.to_dict()
    assert len({json.dumps(r, sort_keys=True) for r in reports.values()}) == 1


def test_the_allocator_setting_of_the_user_wins_and_the_report_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """batch asks glibc to reuse freed arrays (fewer page faults) unless the user tuned the allocator; either
    way the report is the same."""
    import ctypes

    from softgrad.cli import batch as cli_batch

    calls: list[object] = []
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: calls.append(a))
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    cli_batch._keep_freed_memory()
    assert calls == []
    rows = rows_csv(tmp_path / "rows.csv", 40_000)  # several chunks
    outs = []
    for env in ({}, {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}):
        r = subprocess.run(
            [sys.executable, "-m", "softgrad", "batch", str(rows), "--format", "json"],
            capture_output=True,
            env={**child_env(), **env},
            check=False,
        )
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(r.stdout))
    assert outs[0] == outs[1]
