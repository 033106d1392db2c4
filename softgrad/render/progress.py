"""A progress bar on stderr for long batch runs: shown only on a terminal, and only after about a second."""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any


def _width() -> int:
    """The terminal's width, whatever ``COLUMNS`` says (``COLUMNS=0`` must not hide the bar)."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and 20 <= int(env) <= 10_000:
        return int(env)
    try:
        cols = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        cols = 0
    return cols if 20 <= cols <= 10_000 else 80


class ProgressBar:
    """Call with (bytes done, total bytes or None); draws with rich once the work has taken ~1 s."""

    def __init__(self, enabled: bool, delay: float = 1.0) -> None:
        self.enabled = enabled and sys.stderr is not None and sys.stderr.isatty()
        self.delay = delay
        self.start = time.monotonic()
        self._progress: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if self._progress is None:
            if time.monotonic() - self.start < self.delay:
                return
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

            self._progress = Progress(
                "checking rows", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                console=Console(file=sys.stderr, width=_width()), transient=True,
            )  # fmt: skip
            self._progress.start()
            self._task = self._progress.add_task("batch", total=total)
        self._progress.update(self._task, completed=done, total=total)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
