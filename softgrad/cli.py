"""The command line: parses options, calls the input layer and the core, renders, maps to an exit code.
Command bodies stay thin; every computation lives in the library."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import click

from softgrad.errors import ExitCode, SoftgradError
from softgrad.tolerance import DTYPES

NUMBER = re.compile(r"^[+-]?(\d|\.\d|inf|nan|infinity)", re.IGNORECASE)


def _is_value(token: str) -> bool:
    return not token.startswith("-") or bool(NUMBER.match(token))


def expand_multi_values(args: Sequence[str], many: frozenset[str]) -> list[str]:
    """Rewrite ``--z 1 2 3`` as ``--z 1 --z 2 --z 3`` for the options in ``many`` (negative numbers count
    as values), so click can collect them with ``multiple=True``."""
    out: list[str] = []
    current: str | None = None
    got = False
    rest = list(args)
    while rest:
        a = rest.pop(0)
        if a == "--":
            out += [a, *rest]
            break
        if current is not None and _is_value(a):
            out += [current, a]
            got = True
            continue
        if current is not None and not got:
            out.append(current)
        current = None
        if a in many:
            current, got = a, False
            continue
        out.append(a)
    if current is not None and not got:
        out.append(current)
    return out


class NumbersCommand(click.Command):
    """A command whose ``--z``-style options take several numbers: ``--z 1.75 1.75``."""

    many: ClassVar[frozenset[str]] = frozenset({"--z", "--t", "--grad", "--jacobian"})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_multi_values(args, self.many))


class SoftgradGroup(click.Group):
    """Maps every error to one line on stderr and an exit code; never a traceback for bad input."""

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
        except KeyboardInterrupt:
            click.echo("softgrad: interrupted", err=True)
            code = ExitCode.INTERRUPTED
        except SoftgradError as exc:
            click.echo(f"softgrad: error: {exc}", err=True)
            code = ExitCode.USAGE
        if standalone_mode:
            sys.exit(code)
        return code


def use_color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def output_options(formats: Sequence[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--format, --output and --no-color, shared by every command."""

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option("--no-color", is_flag=True, help="No colour (also: the NO_COLOR environment variable).")(f)
        f = click.option(
            "--output",
            "-o",
            metavar="PATH",
            help="Write the report to PATH (atomically; never over an input) instead of stdout.",
        )(f)
        f = click.option(
            "--format",
            "fmt",
            type=click.Choice(list(formats)),
            default=formats[0],
            show_default=True,
            help="table: for people (plain text when piped); json: one JSON object for scripts.",
        )(f)
        return f

    return deco


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


CHECK_HELP = """Check the gradient at one input: logits z and targets t.

\b
Examples:
  softgrad check --z 1.75 1.75 --t 0 1
  softgrad check --z 2 0.5 -1 --label 1 --grad 0.7856 -0.8247 0.0391 --rtol 1e-3
  softgrad check --z 1.75 1.75 --t 0 1 --grad 6.125 2.625        # names the mistake, exit 1
  softgrad check --case samples/worked_example.json --format json
"""


def input_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that describe one example (shared by check and explain)."""
    opts = [
        click.option("--z", "z", multiple=True, metavar="Z1 Z2 ...", help="Logits (K >= 2 numbers)."),
        click.option(
            "--t",
            "t",
            multiple=True,
            metavar="T1 T2 ...",
            help="Targets: one-hot, soft or unnormalised, >= 0.",
        ),
        click.option("--label", type=int, metavar="I", help="Class index instead of --t (one-hot targets)."),
        click.option("--z-file", metavar="PATH", help="Logits from a file (whitespace/comma separated; - is stdin)."),
        click.option("--t-file", metavar="PATH", help="Targets from a file."),
        click.option(
            "--case",
            metavar="PATH",
            help='A JSON object {"z": [...], "t": [...]} (optional keys: label, grad, jacobian, temperature); '
            "options given on the command line take precedence.",
        ),
        click.option("--grad", multiple=True, metavar="G1 G2 ...", help="Your gradient dE/dz, to check and diagnose."),
        click.option("--grad-file", metavar="PATH", help="Your gradient from a file."),
        click.option(
            "--jacobian",
            multiple=True,
            metavar="J11 J12 ... JKK",
            help="Your softmax Jacobian, K×K row-major.",
        ),
        click.option("--jacobian-file", metavar="PATH", help="Your Jacobian from a file (K rows of K numbers)."),
        click.option(
            "--temperature",
            type=float,
            default=None,
            metavar="τ",
            help="Softmax temperature: s = softmax(z/τ) [default: 1].",
        ),
        click.option(
            "--dtype",
            type=click.Choice(DTYPES),
            default="float64",
            show_default=True,
            help="Precision your numbers were computed in; selects the default tolerances.",
        ),
        click.option("--rtol", type=float, metavar="R", help="Relative tolerance (default per --dtype)."),
        click.option("--atol", type=float, metavar="A", help="Absolute tolerance (default per --dtype)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@cli.command("check", cls=NumbersCommand, help=CHECK_HELP)
@input_options
@click.option(
    "--fd",
    type=click.Choice(["auto", "full", "directional", "complex"]),
    default="auto",
    show_default=True,
    help="Finite difference: auto = central differences, every component up to K = 256 and along random "
    "directions above; full / directional force one; complex = complex step (exact to rounding).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random directions.")
@output_options(["table", "json"])
def check_cmd(fmt: str, output: str | None, no_color: bool, fd: str, seed: int, **inputs: Any) -> int:
    from softgrad.checks import check
    from softgrad.inputs import problem_from_options

    problem, sources = problem_from_options(**inputs)
    report = check(problem, rtol=inputs["rtol"], atol=inputs["atol"], fd=fd, seed=seed)
    _emit(report.to_dict(), lambda: _check_doc(report), fmt, output, no_color, sources)
    return ExitCode.OK if report.ok else ExitCode.FAIL


def _check_doc(report: Any) -> Any:
    from softgrad.render.check_doc import check_document

    return check_document(report)


def _emit(
    data: dict[str, Any],
    document: Callable[[], Any],
    fmt: str,
    output: str | None,
    no_color: bool,
    sources: Sequence[str],
) -> None:
    """Render (json, or a document as table/plain text) and write to stdout or --output."""
    from softgrad.output import write_output

    if fmt == "json":
        from softgrad.render.json_out import render_json

        text = render_json(data)
    else:
        from softgrad.render.text import render_text

        terminal = output is None and sys.stdout.isatty()
        text = render_text(document(), terminal=terminal, color=terminal and use_color(no_color))
    write_output(text, output, sources)


def main(args: Sequence[str] | None = None, prog_name: str = "softgrad") -> Any:
    """Console-script entry point."""
    return cli.main(args=args, prog_name=prog_name)


from softgrad import cli_verify  # noqa: E402,F401  (registers `softgrad verify`)
