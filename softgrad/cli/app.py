"""The command line: parses options, calls the input layer and the core, renders, maps to an exit code.
Command bodies stay thin; every computation lives in the library."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any, ClassVar

import click

from softgrad.core import FD_CHOICES
from softgrad.core.tolerance import DTYPES
from softgrad.errors import ExitCode, SoftgradError

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
        except SoftgradError as exc:
            click.echo(f"softgrad: error: {exc}", err=True)
            code = ExitCode.USAGE
        if standalone_mode:
            sys.exit(code)
        return code


class _Tolerance(click.ParamType):  # type: ignore[type-arg]
    """A finite number >= 0."""

    name = "tolerance"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not (x >= 0 and x != float("inf")):
            self.fail(f"{value!r} must be a finite number >= 0", param, ctx)
        return x


TOLERANCE = _Tolerance()


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
        click.option("--rtol", type=TOLERANCE, metavar="R", help="Relative tolerance (default per --dtype)."),
        click.option("--atol", type=TOLERANCE, metavar="A", help="Absolute tolerance (default per --dtype)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@cli.command("check", cls=NumbersCommand, help=CHECK_HELP)
@input_options
@click.option(
    "--fd",
    type=click.Choice(FD_CHOICES),
    default="auto",
    show_default=True,
    help="Finite difference: auto = central differences, every component up to K = 256 and along random "
    "directions above; full / directional force one; complex = complex step (exact to rounding).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random directions.")
@output_options(["table", "json"])
def check_cmd(fmt: str, output: str | None, no_color: bool, fd: str, seed: int, **inputs: Any) -> int:
    from softgrad.commands.check.api import check
    from softgrad.inputs.values import problem_from_options

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
    text: str | IO[str] | None = None,
) -> None:
    """Render (json, or a document as table/plain text; or ready ``text``) and write to stdout or --output."""
    from softgrad.cli.output import write_output

    if text is None and fmt == "json":
        from softgrad.render.json_out import render_json

        text = render_json(data)
    elif text is None:
        from softgrad.render.text import render_text

        terminal = output is None and sys.stdout.isatty()
        text = render_text(document(), terminal=terminal, color=terminal and use_color(no_color))
    write_output(text, output, sources)


EXPLAIN_HELP = """Show the derivation of dE/dz with the actual numbers, step by step.

Softmax, loss, dE/ds, the softmax Jacobian J(s), the vector–Jacobian product, the fused shortcut and why
they agree. With --grad or --jacobian, the step where your numbers went wrong, beside the right one.

\b
Examples:
  softgrad explain --z 1.75 1.75 --t 0 1
  softgrad explain --z 1.75 1.75 --t 0 1 --grad 6.125 2.625
  softgrad explain --z 1.75 1.75 --t 0 1 --jacobian -1.3125 -3.0625 -3.0625 -1.3125
"""


@cli.command("explain", cls=NumbersCommand, help=EXPLAIN_HELP)
@input_options
@output_options(["table", "json"])
def explain_cmd(fmt: str, output: str | None, no_color: bool, **inputs: Any) -> int:
    from softgrad.commands.check.explain import explain
    from softgrad.inputs.values import problem_from_options
    from softgrad.render.explain_doc import explain_document

    problem, sources = problem_from_options(**inputs)
    report = explain(problem, rtol=inputs["rtol"], atol=inputs["atol"])
    _emit(report.to_dict(), lambda: explain_document(report), fmt, output, no_color, sources)
    return ExitCode.OK if report.ok else ExitCode.FAIL


MISTAKES_HELP = """List the catalogue of known mistakes, or show one at an input.

Without ID: every entry's id, title, wrong formula and the inputs that expose it. With ID: that mistake's
gradient (and wrong Jacobian, for Jacobian mistakes) next to the reference, at --z/--t or, without them,
at an input softgrad finds that exposes it.

\b
Examples:
  softgrad mistakes
  softgrad mistakes jacobian_at_logits --z 1.75 1.75 --t 0 1
  softgrad mistakes assumes_one_hot
"""


@cli.command("mistakes", cls=NumbersCommand, help=MISTAKES_HELP)
@click.argument("mistake_id", metavar="[ID]", required=False)
@click.option("--z", "z", multiple=True, metavar="Z1 Z2 ...", help="Logits to evaluate the mistake at.")
@click.option("--t", "t", multiple=True, metavar="T1 T2 ...", help="Targets (or --label).")
@click.option("--label", type=int, metavar="I", help="Class index instead of --t.")
@click.option("--temperature", type=float, default=1.0, metavar="τ", help="Softmax temperature [default: 1].")
@output_options(["table", "json"])
def mistakes_cmd(
    mistake_id: str | None, z: tuple[str, ...], t: tuple[str, ...], label: int | None, temperature: float, **out: Any
) -> int:
    from softgrad.cli.mistakes import mistakes_output

    data, document = mistakes_output(mistake_id, z, t, label, temperature)
    _emit(data, document, out["fmt"], out["output"], out["no_color"], ())
    return ExitCode.OK


BATCH_HELP = """Check every row of CSV/TSV, JSON Lines or .npz files (- reads stdin).

CSV/TSV columns are found by name: logits z0..z{K-1} (or z_0, z1..zK, logit_0), targets t0.. (or t_0,
target_0) or one label column, and optionally your gradient g0.. (or g_0, grad_0); other columns are
carried into the report. Each row is checked as `softgrad check` does, vectorised; with gradient
columns, each failing row gets a diagnosis from the mistake catalogue.

\b
Exit codes: 0 every row passes (or is unstable), 1 a row fails, 2 usage error or a bad row
(with --skip-bad, bad rows are listed and counted but the exit code comes from the good rows).

\b
Examples:
  softgrad batch samples/batch/mixed.csv
  softgrad batch logs/*.csv --format junit --output report.xml
  softgrad batch rows.tsv --no-header --k 10 --label-column
  softgrad batch grads.csv --reduction mean --batch-size 32
  cat rows.csv | softgrad batch - --format json | jq .total.counts
"""


@cli.command("batch", help=BATCH_HELP)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--delimiter", metavar="C", help="Field delimiter (default: sniffed; 'tab' or \\t for tabs).")
@click.option("--no-header", is_flag=True, help="The first line is data: columns are z (K), t (K) or a label, g (K).")
@click.option("--k", "k", type=click.IntRange(min=2), metavar="K", help="Number of classes (with --no-header).")
@click.option("--label-column", is_flag=True, help="With --no-header: one class-index column instead of K targets.")
@click.option("--z-prefix", metavar="P", help="Name prefix of the logit columns (e.g. 'logit_').")
@click.option("--t-prefix", metavar="P", help="Name prefix of the target columns.")
@click.option("--grad-prefix", metavar="P", help="Name prefix of your gradient columns.")
@click.option("--temperature", type=float, default=1.0, metavar="τ", help="Softmax temperature [default: 1].")
@click.option("--dtype", type=click.Choice(DTYPES), default="float64", show_default=True, help="Selects tolerances.")
@click.option("--rtol", type=TOLERANCE, metavar="R", help="Relative tolerance (default per --dtype).")
@click.option("--atol", type=TOLERANCE, metavar="A", help="Absolute tolerance (default per --dtype).")
@click.option(
    "--fd",
    type=click.Choice(FD_CHOICES),
    default="auto",
    show_default=True,
    help="Finite difference: every component up to K = 256, random directions above (full forces all).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random directions.")
@click.option(
    "--reduction",
    type=click.Choice(["none", "mean", "sum"]),
    default="none",
    show_default=True,
    help="What your gradient rows are: per-row (none), or a batch mean or sum.",
)
@click.option("--batch-size", type=click.IntRange(min=1), metavar="B", help="Rows per batch (default: the whole file).")
@click.option("--show", type=click.IntRange(min=0), default=10, show_default=True, help="Worst rows to list.")
@click.option("--skip-bad", is_flag=True, help="Bad rows become warnings: still listed and counted.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N", help="Worker processes [default: CPUs]."
)
@output_options(["table", "json", "csv", "junit"])
def batch_cmd(files: tuple[str, ...], fmt: str, output: str | None, no_color: bool, **o: Any) -> int:
    from softgrad.cli.batch import run_batch_command

    out = run_batch_command(files, fmt, o, progress=not o["quiet"])
    _emit(out.data, out.document, fmt, output, no_color, files, text=out.text)
    return out.code


def main(args: Sequence[str] | None = None, prog_name: str = "softgrad") -> Any:
    """Console-script entry point."""
    return cli.main(args=args, prog_name=prog_name)


from softgrad.cli import verify as _verify  # noqa: E402,F401  (registers `softgrad verify`)
