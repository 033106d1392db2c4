"""``softgrad explain``: the derivation of dE/dz with the numbers, and where the user's numbers went off."""

from __future__ import annotations

from typing import Any

import click

from softgrad.cli.options import NumbersCommand, input_options, output_options
from softgrad.cli.output import emit
from softgrad.errors import exit_code

HELP = """Show the derivation of dE/dz with the actual numbers, step by step.

Softmax, loss, dE/ds, the softmax Jacobian J(s), the vector–Jacobian product, the fused shortcut and why
they agree. With --grad or --jacobian, the step where your numbers went wrong, beside the right one.

\b
Examples:
  softgrad explain --z 1.75 1.75 --t 0 1
  softgrad explain --z 1.75 1.75 --t 0 1 --grad 6.125 2.625
  softgrad explain --z 1.75 1.75 --t 0 1 --grad 0.25 -0.25     # ambiguous: an input that tells them apart
  softgrad explain --z 1.75 1.75 --t 0 1 --jacobian -1.3125 -3.0625 -3.0625 -1.3125
  softgrad explain --case samples/layer/hidden_layer.json     # a layer case: see softgrad layer --explain
"""


@click.command("explain", cls=NumbersCommand, help=HELP)
@input_options
@output_options(["table", "json"])
def explain_cmd(fmt: str, output: str | None, no_color: bool, **inputs: Any) -> int:
    from softgrad.commands.check.explain import explain
    from softgrad.inputs.values import problem_from_options
    from softgrad.render.explain_doc import explain_document

    if inputs["case"]:
        from softgrad.cli.layer import explain_layer_case

        code = explain_layer_case(inputs, fmt, output, no_color)
        if code is not None:
            return code
    problem, sources = problem_from_options(**inputs)
    report = explain(problem, rtol=inputs["rtol"], atol=inputs["atol"], exact=inputs["exact"])
    emit(report.to_dict(), lambda: explain_document(report), fmt, output, no_color, sources)
    return exit_code(report.status)
