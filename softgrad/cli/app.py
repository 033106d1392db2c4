"""The command line: the ``softgrad`` group, the one boundary where every error becomes one line on stderr
and an exit code, and the console-script entry point. Each command lives in its own module."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import click

from softgrad.cli.options import option_for
from softgrad.cli.output import say
from softgrad.errors import ExitCode, InputError, SoftgradError

#: Each command's module, imported when the command is run (or listed): a run pays only for its own.
COMMANDS = {
    "check": "softgrad.cli.check:check_cmd",
    "explain": "softgrad.cli.explain:explain_cmd",
    "mistakes": "softgrad.cli.mistakes:mistakes_cmd",
    "batch": "softgrad.cli.batch:batch_cmd",
    "verify": "softgrad.cli.verify:verify_cmd",
    "layer": "softgrad.cli.layer:layer_cmd",
    "config": "softgrad.cli.config:config_cmd",
}


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried past click (which would print an extra blank line)."""


class _BrokenPipe(Exception):
    """A broken pipe inside a command, carried past click (which would exit 1 without a word)."""


class _Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread like KeyboardInterrupt so that the same cleanup runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: The signals handled like Ctrl-C: the exit code and the line each one gives.
_ENDING: dict[int, tuple[ExitCode, str]] = {
    signal.SIGTERM: (ExitCode.TERMINATED, "terminated"),
    signal.SIGHUP: (ExitCode.HANGUP, "hung up"),
}


def _on_signal(signum: int, frame: object) -> None:
    for sig in _ENDING:
        signal.signal(sig, signal.SIG_DFL)  # a second signal ends the process at once
    raise _Terminated(signum)


def _standard_descriptors() -> None:
    """Descriptors 0, 1 and 2 that were closed by the caller (``>&-``) are reopened on /dev/null, so that
    no file softgrad opens later takes their place (and receives what is meant for stdout). Python has
    already set the stream itself to None; writing the report to it is then a one-line error."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)


def _stdout_gone() -> None:
    """After a broken pipe: point descriptor 1 at /dev/null so that Python's final flush stays quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


class SoftgradGroup(click.Group):
    """Maps every error to one line on stderr and an exit code; never a traceback for bad input. Commands
    are imported when first asked for (:data:`COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(dict.fromkeys([*COMMANDS, *self.commands]))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import importlib

            module, attr = COMMANDS[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return self.commands.get(cmd_name)

    def all_commands(self) -> dict[str, click.Command]:
        """Every command, imported."""
        for name in COMMANDS:
            self.get_command(click.Context(self), name)
        return {name: self.commands[name] for name in self.list_commands(click.Context(self))}  # in one order

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted from None
        except BrokenPipeError:
            raise _BrokenPipe from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        _standard_descriptors()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in _ENDING:
                if signal.getsignal(sig) is signal.SIG_DFL:  # an ignored signal (nohup) stays ignored
                    previous[sig] = signal.signal(sig, _on_signal)
        try:
            code = self._run(args, prog_name, complete_var, **extra)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: Sequence[str] | None, prog_name: str | None, complete_var: str | None, **extra: Any) -> int:
        try:
            if "default_map" not in extra:
                from softgrad.cli.config import any_settings, effective

                # Settings are checked against every command's options (a key no command takes is an
                # error), so with a settings file or SOFTGRAD_* variable every command is imported; without,
                # everything is a default and only the command that runs is imported.
                commands = self.all_commands() if any_settings() else {}
                extra["default_map"], settings = effective({n: c for n, c in commands.items() if n != "config"})
                extra.setdefault("obj", {})["settings"] = settings
            rv = super().main(args, prog_name or "softgrad", complete_var, standalone_mode=False, **extra)
            return int(rv) if isinstance(rv, int) else ExitCode.OK
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
            return ExitCode.USAGE
        except click.ClickException as exc:
            where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "softgrad"
            msg = " ".join(exc.format_message().split())
            hint = f" (see '{where} --help')" if isinstance(exc, click.UsageError) else ""
            say(f"{where}: error: {msg}{hint}")
            return ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except (click.exceptions.Abort, KeyboardInterrupt, _Interrupted):
            say("softgrad: interrupted")
            return ExitCode.INTERRUPTED
        except _Terminated as exc:
            ending, what = _ENDING.get(exc.signum, (ExitCode.TERMINATED, "terminated"))
            say(f"softgrad: {what}")
            return ending
        except (BrokenPipeError, _BrokenPipe):
            _stdout_gone()
            say("softgrad: the reader of the output went away before the report was written (broken pipe)")
            return ExitCode.BROKEN_PIPE
        except InputError as exc:
            where = option_for(exc.where)
            say(f"softgrad: error: {where}: {exc.message}" if where else f"softgrad: error: {exc}")
            return ExitCode.USAGE
        except SoftgradError as exc:
            say(f"softgrad: error: {exc}")
            return ExitCode.USAGE
        except MemoryError:
            say("softgrad: error: out of memory (try a smaller --batch-size, or split the input)")
            return ExitCode.USAGE
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            say(f"softgrad: error: {where}{exc.strerror or exc}")
            return ExitCode.USAGE


@click.group(
    "softgrad",
    cls=SoftgradGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="softgrad", prog_name="softgrad")
def cli() -> None:
    """Check the gradient of softmax + cross-entropy with respect to the logits.

    softgrad computes dE/dz three independent ways (the fused formula s·Σt − t, the chained product
    (−t/s)·J(s) with the explicit softmax Jacobian, and a finite difference), compares them, and — given
    your own gradient or Jacobian — says whether it is right and which known mistake produces it.

    \b
    Exit codes: 0 all checks pass, 1 a check fails, 2 usage error or bad input, 130 interrupted
    (Ctrl-C), 129 hung up (SIGHUP), 141 the reader of the output went away (broken pipe), 143 terminated
    (SIGTERM).

    \b
    Example:
      softgrad check --z 1.75 1.75 --t 0 1
    """


def main(args: Sequence[str] | None = None, prog_name: str = "softgrad") -> Any:
    """Console-script entry point."""
    return cli.main(args=args, prog_name=prog_name)
