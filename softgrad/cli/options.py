"""Options shared by the commands, defined once: the numbers of one example, tolerances and precision, the
finite difference, and the output (format, file, colour). Also how ``--z 1 2 3`` reaches click, and the
option each library quantity is given by, for error messages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import click

from softgrad.core import FD_CHOICES, rules
from softgrad.core.rules import DTYPES

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

#: The command-line option that gives each quantity the library names in its errors.
OPTION_FOR = {
    "z": "--z",
    "t": "--t",
    "label": "--label",
    "grad": "--grad",
    "jacobian": "--jacobian",
    "temperature": "--temperature",
    "dtype": "--dtype",
    "rtol": "--rtol",
    "atol": "--atol",
    "fd": "--fd",
    "seed": "--seed",
    "reduction": "--reduction",
    "batch_size": "--batch-size",
    "show": "--show",
    "kind": "--kind",
    "layout": "--layout",
    "jacobian_input": "--jacobian-input",
    "backward_input": "--backward-input",
    "targets": "--targets",
    "returns": "--returns",
    "call": "--call",
    "array": "--array",
    "trials": "--trials",
    "timeout": "--timeout",
    "budget": "--budget",
    "jobs": "--jobs",
    "k": "--k",
    "delimiter": "--delimiter",
    "input_format": "--input-format",
    # softgrad layer
    "a": "--a",
    "W": "--W",
    "b": "--b",
    "a_in": "--a-in",
    "W_h": "--W-h",
    "b_h": "--b-h",
    "activation": "--activation",
    "convention": "--convention",
    "reg": "--reg",
    "reg_convention": "--reg-convention",
    "delta": "--delta",
    "dW": "--dW",
    "db": "--db",
    "da": "--da",
    "delta_h": "--delta-h",
    "dW_h": "--dW-h",
    "db_h": "--db-h",
    # softgrad verify --kind weights / loss-and-grad
    "labels": "--labels",
    "case": "--case",
}


def option_for(where: str) -> str:
    """The option behind a library quantity (``rtol`` → ``--rtol``); other places (files, options) as they are."""
    return OPTION_FOR.get(where, where)


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


def _apply(options: Sequence[Decorator]) -> Decorator:
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        for opt in reversed(options):
            f = opt(f)
        return f

    return deco


def precision_options(*, temperature_default: float | None = None) -> Decorator:
    """--temperature, --dtype, --rtol and --atol (the rules on their values live in the library)."""
    return _apply(
        [
            click.option(
                "--temperature",
                type=float,
                default=temperature_default,
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
            click.option(
                "--rtol",
                type=float,
                metavar="R",
                help="Relative tolerance (default per --dtype); with --rtol or --atol the tolerance is exactly "
                "what you give (no precision allowed on top). Example: --rtol 1e-3.",
            ),
            click.option("--atol", type=float, metavar="A", help="Absolute tolerance (default per --dtype)."),
            click.option(
                "--exact",
                is_flag=True,
                help="Compare your numbers at the --dtype tolerance alone. By default a number you wrote with d "
                "decimals (0.7856) may be off by half a unit in its last digit (±5e-5) on top of it.",
            ),
        ]
    )


def rule_out_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--rule-out: an input that tells apart the mistakes this input cannot."""
    return click.option(
        "--rule-out",
        is_flag=True,
        help="When mistakes give the same numbers as yours at this input (or as each other), suggest an input "
        "that tells them apart, small enough to work by hand. Example: --z 1.75 1.75 --t 0 1 --grad 0.25 "
        "-0.25 --rule-out.",
    )(f)


def fd_options(help_fd: str) -> Decorator:
    """--fd and --seed."""
    return _apply(
        [
            click.option("--fd", type=click.Choice(FD_CHOICES), default="auto", show_default=True, help=help_fd),
            click.option(
                "--seed",
                type=int,
                default=0,
                show_default=True,
                callback=lambda ctx, param, value: rules.seed(value),
                help="Seed of the random directions (a whole number >= 0).",
            ),
        ]
    )


def input_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that describe one example (shared by check and explain)."""
    return _apply(
        [
            click.option("--z", "z", multiple=True, metavar="Z1 Z2 ...", help="Logits (K >= 2 numbers)."),
            click.option(
                "--t", "t", multiple=True, metavar="T1 T2 ...", help="Targets: one-hot, soft or unnormalised, >= 0."
            ),
            click.option("--label", type=int, metavar="I", help="Class index instead of --t (one-hot targets)."),
            click.option(
                "--z-file", metavar="PATH", help="Logits from a file (whitespace/comma separated; - is stdin)."
            ),
            click.option("--t-file", metavar="PATH", help="Targets from a file."),
            click.option(
                "--case",
                metavar="PATH",
                help='A JSON object {"z": [...], "t": [...]} (optional keys: label, grad, jacobian, temperature); '
                "options given on the command line take precedence.",
            ),
            click.option(
                "--grad",
                multiple=True,
                metavar="G1 G2 ...",
                help="Your gradient dE/dz, to check and diagnose: numbers, or a pasted printout such as "
                '"[0.659, -0.7576, 0.0986]" or "tensor([0.6590, -0.7576, 0.0986])". Each number is '
                "compared to the decimals you wrote.",
            ),
            click.option("--grad-file", metavar="PATH", help="Your gradient from a file (numbers or a printout)."),
            click.option(
                "--jacobian",
                multiple=True,
                metavar="J11 J12 ... JKK",
                help='Your softmax Jacobian, K×K row-major, or a nested printout "[[0.25, -0.25], [-0.25, 0.25]]".',
            ),
            click.option(
                "--jacobian-file",
                metavar="PATH",
                help="Your Jacobian from a file (K rows of K numbers, or a printout).",
            ),
            precision_options(),
        ]
    )(f)


FORMAT_HELP = {
    "table": "table: for people (plain text when piped)",
    "json": "json: one JSON object for scripts",
    "csv": "csv: one line per row",
    "junit": "junit: JUnit XML for CI",
    "github": "github: GitHub Actions annotations (::error file=…,line=…::…) and a count line",
    "markdown": "markdown: a compact summary (for $GITHUB_STEP_SUMMARY)",
    "html": "html: one self-contained page with charts (a CI artifact)",
}

#: Where the shared options leave what the renderers need (``click.Context.meta`` keys).
META_COLOR = "softgrad.color"
META_VERBOSITY = "softgrad.verbosity"
META_SUMMARY = "softgrad.summary"
COLOR_CHOICES = ("auto", "always", "never")


def _meta(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            ctx.meta[key] = value
        return value

    return store


def _verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value:
        step = 1 if param.name == "verbose" else -1
        given = ctx.get_parameter_source(param.name or "") == click.core.ParameterSource.COMMANDLINE
        level = ctx.meta.get(META_VERBOSITY, 0)
        if level and (level > 0) != (step > 0):
            if given and ctx.meta.get(META_VERBOSITY + ".given"):
                raise click.UsageError("--quiet and --verbose cannot be given together", ctx)
            if not given:  # a setting: the command line's choice stands
                return value
        ctx.meta[META_VERBOSITY] = step
        ctx.meta[META_VERBOSITY + ".given"] = given
        if step > 0:
            _tell_settings(ctx)
    return value


def _tell_settings(ctx: click.Context) -> None:
    """With --verbose: the settings of this command that came from a file or the environment (stderr)."""
    from softgrad.cli.output import say

    obj = ctx.find_root().obj
    if not isinstance(obj, dict) or "settings" not in obj:  # a value being checked, not a run
        return
    settings = obj["settings"]
    mine = [s for s in settings if s.command == ctx.info_name and s.source != "default"]
    for s in mine:
        say(f"softgrad: setting {s.key.replace('_', '-')} = {s.value} (from {s.source})")
    if not mine:
        say("softgrad: settings: all defaults or the command line (see 'softgrad config')")


def talk_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--quiet/-q and --verbose/-v, the same on every command (read back with ``cli.output.verbosity``)."""
    return _apply(
        [
            click.option(
                "--quiet",
                "-q",
                is_flag=True,
                expose_value=False,
                callback=_verbosity,
                help="Less on stderr: no progress bar, no notes (warnings and errors stay).",
            ),
            click.option(
                "--verbose",
                "-v",
                is_flag=True,
                expose_value=False,
                callback=_verbosity,
                help="More on stderr: the effective settings and where each came from, every bad row.",
            ),
        ]
    )(f)


def output_options(formats: Sequence[str]) -> Decorator:
    """--format, --output, --color/--no-color, --quiet/--verbose (and --summary with markdown), shared by
    every command."""
    options: list[Decorator] = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(list(formats)),
            default=formats[0],
            show_default=True,
            help="; ".join(FORMAT_HELP[f] for f in formats) + ".",
        ),
        click.option(
            "--output",
            "-o",
            metavar="PATH",
            help="Write the report to PATH instead of stdout: a regular file atomically (keeping its mode), "
            "a device or FIFO straight through; never over an input (stdin's included).",
        ),
        click.option(
            "--color",
            type=click.Choice(COLOR_CHOICES),
            default=None,
            expose_value=False,
            callback=_meta(META_COLOR),
            help="auto: colour on a terminal unless NO_COLOR is set (non-empty) or TERM=dumb; FORCE_COLOR "
            "(non-empty) forces it; always / never decide [default: auto].",
        ),
        click.option("--no-color", is_flag=True, help="No colour: the same as --color never."),
        talk_options,
    ]
    if "markdown" in formats:
        options.append(
            click.option(
                "--summary",
                is_flag=True,
                expose_value=False,
                callback=_meta(META_SUMMARY),
                help="Also append the Markdown summary to the file $GITHUB_STEP_SUMMARY names (GitHub "
                "Actions' job summary), whatever --format is; a note if it is not set.",
            )
        )
    return _apply(options)
