"""Helpers for the hostile tests: softgrad in a real child process, and root without its power to read
and write every file (so that permission tests mean something in a CI container running as root)."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
IS_ROOT = os.geteuid() == 0
#: prctl(PR_CAPBSET_DROP, cap): drop a capability from the bounding set (it is then gone after exec)
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_powers() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def bound_by_permissions() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes a root child obey file permission bits (None when not root)."""
    return _drop_file_powers if IS_ROOT else None


def softgrad(
    *args: str,
    stdin: Any = subprocess.DEVNULL,
    stdout: Any = subprocess.PIPE,
    stderr: Any = subprocess.PIPE,
    env: dict[str, str] | None = None,
    obey_permissions: bool = False,
    preexec_fn: Callable[[], Any] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m softgrad ARGS`` in a child process (stdout and stderr captured as bytes unless
    given); ``obey_permissions``: as root, without the power to ignore file permissions."""
    drop = bound_by_permissions() if obey_permissions else None

    def before() -> None:
        if drop is not None:
            drop()
        if preexec_fn is not None:
            preexec_fn()

    return subprocess.run(
        [sys.executable, "-m", "softgrad", *args],
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env=child_env(env),
        timeout=timeout,
        preexec_fn=before if drop or preexec_fn else None,
        check=False,
        cwd=cwd,
    )


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a softgrad child process: this checkout first on the path."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **(extra or {})}


def one_line(stderr: bytes | str) -> str:
    """The single line of stderr (asserting there is exactly one, and no traceback)."""
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def rows_csv(path: Path, rows: int, k: int = 4) -> Path:
    """A valid CSV of ``rows`` identical passing rows with K classes."""
    header = ",".join([f"z{i}" for i in range(k)] + [f"t{i}" for i in range(k)])
    z = ",".join(str(0.25 * i - 0.5) for i in range(k))
    t = ",".join("1" if i == 1 else "0" for i in range(k))
    path.write_text(header + "\n" + f"{z},{t}\n" * rows)
    return path


__all__: Sequence[str] = [
    "IS_ROOT",
    "ROOT",
    "bound_by_permissions",
    "child_env",
    "children",
    "one_line",
    "rows_csv",
    "softgrad",
]
