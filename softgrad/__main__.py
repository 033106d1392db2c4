"""``python -m softgrad`` and the ``softgrad`` console script.

Importing numpy and the commands takes a few tenths of a second; Ctrl-C (or SIGTERM) in that time ends
the run quietly with the documented exit code instead of a traceback from inside an import.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any

_QUIET_EXIT: dict[int, tuple[int, str]] = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}


def _during_import(signum: int, frame: object) -> None:
    code, what = _QUIET_EXIT[signum]
    with contextlib.suppress(OSError):
        os.write(2, f"softgrad: {what}\n".encode())
    os._exit(code)  # nothing has been written or opened yet: there is nothing to clean up


def run() -> Any:
    """Console-script entry point: import the command line with a quiet Ctrl-C, then run it."""
    previous: dict[int, Any] = {}
    for sig in _QUIET_EXIT:
        handler = signal.getsignal(sig)
        if handler in (signal.SIG_DFL, signal.default_int_handler):  # an ignored signal stays ignored
            previous[sig] = signal.signal(sig, _during_import)
    try:
        from softgrad.cli.app import main
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)
    return main(prog_name="softgrad")


if __name__ == "__main__":
    sys.exit(run())
