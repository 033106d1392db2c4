"""``softgrad verify``: the command that checks the user's own function. It only wires: options in,
:func:`softgrad.verify` called, a renderer picked, the exit code out."""

from __future__ import annotations

from typing import Any

import click

from softgrad.cli.options import output_options
from softgrad.cli.output import emit, write_output
from softgrad.commands.verify.kinds import (
    BACKWARD_INPUTS,
    DEFAULT_TRIALS,
    JACOBIAN_INPUTS,
    KINDS,
    LAYOUTS,
    MAX_TRIALS,
    REDUCTIONS,
)
from softgrad.commands.verify.session import DEFAULT_BUDGET, DEFAULT_TIMEOUT
from softgrad.errors import exit_code
from softgrad.render.verify_doc import DEFAULT_SHOW

VERIFY_HELP = """Check your own function: import it and run it on a battery of inputs chosen to expose the
known mistakes, plus seeded random cases.

TARGET is PATH.py:FUNC or package.module:FUNC (the current directory is on the import path). Without
:FUNC the module must define exactly one public function. Importing the module RUNS ITS CODE: verify
only code you trust.

Your code runs in a child process of its own, one per run: what it prints is captured and shown at the
end of the report (never mixed into it); a call that exits, crashes or runs past --timeout is a failed
case naming what happened, and the run goes on.

\b
Kinds (--kind, detected from the signature when it is unambiguous):
  grad      f(z, t) -> dE/dz, one example (K,) or a batch (N, K)
  jacobian  f(s) -> ds/dz = diag(s) − s sᵀ, (K, K) or (N, K, K); or f(z), taking the softmax itself
  softmax   f(z) -> s = softmax(z)
  backward  f(s, g) -> J(s)ᵀ·g for an upstream gradient g = dE/ds, or f(s, t) -> dE/dz

\b
Each failing case names the catalogued mistake its numbers match and gives the exposing input as a
ready-to-run 'softgrad check' command. --format junit writes JUnit XML (a testcase per case) for CI.

\b
Exit codes: 0 every case passes, 1 a case fails (wrong numbers, an exception, a wrong shape, a call
that did not return or ended its process, a case not run),
2 usage error, or a target that does not exist, does not import, is not callable or whose kind
cannot be detected (give --kind).

\b
Examples:
  softgrad verify samples/verify/correct_grad.py:grad
  softgrad verify samples/verify/df2_on_logits.py:grad          # diagnoses jacobian_at_logits, exit 1
  softgrad verify samples/verify/df2_on_logits.py:df2           # right given s; what passing z gives
  softgrad verify mypkg.layers:softmax_backward --kind backward --trials 100 --seed 7
  softgrad verify model.py:grad --reduction sum --format json | jq .diagnosis
  softgrad verify model.py:grad --format junit -o verify.xml
  softgrad verify slow.py:grad --timeout 60 --budget 600          # a slow function: more time
"""


@click.command(
    "verify", help=VERIFY_HELP, short_help="Check your own gradient, Jacobian, softmax or backward function."
)
@click.argument("target", metavar="TARGET")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="What the function computes [default: detected].")
@click.option(
    "--layout",
    type=click.Choice(LAYOUTS),
    default="auto",
    show_default=True,
    help="row: one example (K,) at a time (the batch case is skipped); batch: (N, K) only (single examples "
    "as (1, K)); both: both must work; auto: detected by calling it both ways.",
)
@click.option(
    "--reduction",
    type=click.Choice(REDUCTIONS),
    default="mean",
    show_default=True,
    help="For a batch gradient: mean (the loss is averaged over the rows: each row ÷ N) or sum.",
)
@click.option(
    "--jacobian-input",
    type=click.Choice(JACOBIAN_INPUTS),
    default="auto",
    show_default=True,
    help="What a Jacobian function is given: s = softmax(z), or z (it takes the softmax itself); auto: "
    "whichever it passes with.",
)
@click.option(
    "--backward-input",
    type=click.Choice(BACKWARD_INPUTS),
    default="auto",
    show_default=True,
    help="The second argument of a backward function: upstream = dE/ds, or targets t; auto: from its "
    "parameter name, else whichever it passes with.",
)
@click.option(
    "--trials",
    type=click.IntRange(0, MAX_TRIALS),
    default=DEFAULT_TRIALS,
    show_default=True,
    metavar="N",
    help="Seeded random cases on top of the fixed battery.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, metavar="N", help="Seed of the random cases."
)
@click.option(
    "--rtol",
    type=float,
    metavar="R",
    help="Relative tolerance for every case (default per dtype: 1e-7 float64, 1e-4 float32).",
)
@click.option(
    "--atol",
    type=float,
    metavar="A",
    help="Absolute tolerance for every case (default per dtype: 1e-10 float64, 1e-6 float32).",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Longest one call of your function may take: a call past it is a failed case, its process is "
    "killed and the next case starts a new one; after two such calls in a row the rest are not run.",
)
@click.option(
    "--budget",
    type=float,
    default=DEFAULT_BUDGET,
    show_default=True,
    metavar="SECONDS",
    help="Longest your code may take over the whole run (every call, restarts included); the cases left "
    "when it is spent are not run, and fail.",
)
@click.option(
    "--show",
    type=click.IntRange(min=0),
    default=DEFAULT_SHOW,
    show_default=True,
    metavar="N",
    help="Failing cases shown in full in the table (all are in --format json).",
)
@output_options(["table", "json", "junit"])
def verify_cmd(target: str, show: int, fmt: str, output: str | None, no_color: bool, **options: Any) -> int:
    from softgrad.commands.verify.isolated import IsolatedSession

    # the child starts importing the target (and numpy) while this process imports numpy and the battery
    session = IsolatedSession(target, options["timeout"], options["budget"], wait=False)
    try:
        from softgrad.commands.verify.api import verify
    except BaseException:  # Ctrl-C while importing: the child goes too
        session.close()
        raise
    from softgrad.commands.verify.loader import target_file

    report = verify(session, options.pop("kind"), **options)  # closes the session
    sources = [p for p in (target_file(target),) if p]
    if fmt == "junit":
        from softgrad.render.verify_junit import render_junit

        write_output(render_junit(report), output, sources)
    else:
        from softgrad.render.verify_doc import verify_document

        emit(report.to_dict(), lambda: verify_document(report, show), fmt, output, no_color, sources)
    return exit_code(report.status)
