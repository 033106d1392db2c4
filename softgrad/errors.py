"""softgrad's exceptions and exit codes."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What the ``softgrad`` process exits with."""

    OK = 0  #: every check passed (an unstable chained path alone still passes)
    FAIL = 1  #: a gradient check failed
    USAGE = 2  #: usage error or bad input
    HANGUP = 129  #: stopped by SIGHUP (the terminal went away)
    INTERRUPTED = 130  #: stopped by Ctrl-C (SIGINT)
    BROKEN_PIPE = 141  #: the reader of stdout (or of an --output FIFO) went away before the report was written
    TERMINATED = 143  #: stopped by SIGTERM (a CI timeout, ``kill``)


class SoftgradError(Exception):
    """Base class of every error softgrad raises on purpose."""


class InputError(SoftgradError, ValueError):
    """Bad input: ``where`` names the place (an option, or ``file:line:column``), ``message`` what is wrong."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


#: The exit code of each report status.
_STATUS_CODES = {"pass": ExitCode.OK, "unstable": ExitCode.OK, "fail": ExitCode.FAIL, "bad": ExitCode.USAGE}


def exit_code(status: str) -> ExitCode:
    """The exit code of a report's status: ``pass`` and ``unstable`` 0, ``fail`` 1, ``bad`` (an unreadable
    input row) 2."""
    return _STATUS_CODES[status]
