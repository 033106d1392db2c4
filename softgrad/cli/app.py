"""The command line: the ``softgrad`` group, the one boundary where every error becomes one line on stderr
and an exit code, and the console-script entry point. Each command lives in its own module."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from softgrad.cli.batch import batch_cmd
from softgrad.cli.check import check_cmd
from softgrad.cli.explain import explain_cmd
from softgrad.cli.layer import layer_cmd
from softgrad.cli.mistakes import mistakes_cmd
from softgrad.cli.options import option_for
from softgrad.cli.verify import verify_cmd
from softgrad.errors import ExitCode, InputError, SoftgradError


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried past click (which would print an extra blank line)."""


class SoftgradGroup(click.Group):
    """Maps every error to one line on stderr and an exit code; never a traceback for bad input."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _Interrupted from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(args, prog_name or "softgrad", complete_var, standalone_mode=False, **extra)
            code = int(rv) if isinstance(rv, int) else ExitCode.OK
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
            code = ExitCode.USAGE
        except click.ClickException as exc:
            where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "softgrad"
            msg = " ".join(exc.format_message().split())
            hint = f" (see '{where} --help')" if isinstance(exc, click.UsageError) else ""
            click.echo(f"{where}: error: {msg}{hint}", err=True)
            code = ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        except click.exceptions.Abort:
            click.echo("softgrad: interrupted", err=True)
            code = ExitCode.INTERRUPTED
        except (KeyboardInterrupt, _Interrupted):
            click.echo("softgrad: interrupted", err=True)
            code = ExitCode.INTERRUPTED
        except InputError as exc:
            where = option_for(exc.where)
            click.echo(f"softgrad: error: {where}: {exc.message}" if where else f"softgrad: error: {exc}", err=True)
            code = ExitCode.USAGE
        except SoftgradError as exc:
            click.echo(f"softgrad: error: {exc}", err=True)
            code = ExitCode.USAGE
        if standalone_mode:
            sys.exit(code)
        return code


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
    Exit codes: 0 all checks pass, 1 a check fails, 2 usage error or bad input.

    \b
    Example:
      softgrad check --z 1.75 1.75 --t 0 1
    """


for command in (check_cmd, explain_cmd, mistakes_cmd, batch_cmd, verify_cmd, layer_cmd):
    cli.add_command(command)


def main(args: Sequence[str] | None = None, prog_name: str = "softgrad") -> Any:
    """Console-script entry point."""
    return cli.main(args=args, prog_name=prog_name)
