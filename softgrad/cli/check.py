"""``softgrad check``: the gradient at one input, three ways, and the user's numbers diagnosed."""

from __future__ import annotations

from typing import Any

import click

from softgrad.cli.options import NumbersCommand, fd_options, input_options, output_options, rule_out_option
from softgrad.cli.output import ci_summary, emit
from softgrad.errors import exit_code

HELP = """Check the gradient at one input: logits z and targets t.

Numbers you type keep the precision you wrote them with: 0.7856 may be off by ±5e-5 (half a unit in its
last digit), on top of the --dtype tolerance; an integer (0, -1) and 17 significant digits are exact.
--exact compares at the tolerance alone; --rtol/--atol, when given, are the whole tolerance.

\b
Examples:
  softgrad check --z 1.75 1.75 --t 0 1
  softgrad check --z 2 0.5 -1 --label 1 --grad 0.7856 -0.8247 0.0391     # correct to 4 decimals
  softgrad check --z 1.75 1.75 --t 0 1 --grad 6.125 2.625        # names the mistake, exit 1
  softgrad check --z 1.75 1.75 --t 0 1 --grad 0.25 -0.25 --rule-out
  softgrad check --z 2 0.5 -1 --label 1 --grad "tensor([0.7856, -0.8247, 0.0391])"
  softgrad check --case samples/worked_example.json --format json
  softgrad check --z 1.75 1.75 --t 0 1 --grad 6.125 2.625 --format github --summary
"""

FD_HELP = (
    "Finite difference: auto = central differences, every component up to K = 256 and along random "
    "directions above; full / directional force one; complex = complex step (exact to rounding)."
)


@click.command("check", cls=NumbersCommand, help=HELP)
@input_options
@fd_options(FD_HELP)
@rule_out_option
@output_options(["table", "json", "github", "markdown"])
def check_cmd(fmt: str, output: str | None, no_color: bool, fd: str, seed: int, rule_out: bool, **inputs: Any) -> int:
    from softgrad.commands.check.api import check
    from softgrad.inputs.values import problem_from_options
    from softgrad.render.check_doc import check_document

    problem, sources = problem_from_options(**inputs)
    report = check(
        problem, rtol=inputs["rtol"], atol=inputs["atol"], fd=fd, seed=seed, exact=inputs["exact"], rule_out=rule_out
    )
    emit(
        report.to_dict(), lambda: check_document(report), fmt, output, no_color, sources, ci=ci_summary(report, sources)
    )
    return exit_code(report.status)
