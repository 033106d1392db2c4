"""``softgrad verify``: the command that checks the user's own function. It only wires: options in,
:func:`softgrad.verify` called, a renderer picked, the exit code out."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from softgrad.cli.completion import complete_target, function_location
from softgrad.cli.options import output_options
from softgrad.cli.output import ci_summary, emit
from softgrad.commands.verify.kinds import (
    BACKWARD_INPUTS,
    DEFAULT_TRIALS,
    JACOBIAN_INPUTS,
    KINDS,
    LAYOUTS,
    MAX_TRIALS,
    REDUCTIONS,
    TARGETS,
)
from softgrad.commands.verify.session import DEFAULT_BUDGET, DEFAULT_TIMEOUT
from softgrad.commands.verify.weights import LABEL_CHOICES, REG_CONVENTION_CHOICES
from softgrad.errors import exit_code
from softgrad.render.layout import Document
from softgrad.render.verify_doc import DEFAULT_SHOW

VERIFY_HELP = """Check your own function: import it and run it on a battery of inputs chosen to expose the
known mistakes, plus seeded random cases.

TARGET is PATH.py:FUNC or package.module:FUNC (the current directory is on the import path). FUNC may
be a function, Class.method (on a new instance made with no arguments), a @staticmethod, a class or a
module-level instance (called through __call__, or forward(...) then backward(...), the result read
from the attribute backward sets, such as self.dinputs). Without :FUNC the module must define exactly
one public function. Importing the module RUNS ITS CODE: verify
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
  elementwise  f(s) -> (K,) "derivative" multiplied with the upstream (sigmoid-style): always
            wrong for a softmax; the mistake is named (diagonal_only, hadamard_rowsum)
  loss-backward  f(s, t) -> dE/ds = −t/s (÷ N for a mean), the loss half of a chained layer
  weights   f(W, X, y, reg) -> (loss, dW) or dW: a softmax classifier's loss, W (D, C), X (N, D),
            y (N,) class indices or (N, C) one-hot; dW and the loss checked against the reference
  loss-and-grad  f(params, X, y[, reg]) -> (loss, grads) (a two-layer network's dict of gradients), or
            any f(...) -> (loss, grads) with --case ARGS.json: every gradient against finite
            differences of its own loss
A softmax(x, derivative=False) flag is tested both ways, each call as what it computes.

\b
Conventions are detected and stated in the report, each with one option to override it: the call
(targets first or second, logits or probabilities: --call 'f(t, s)'), the targets (--targets), one
example, a batch or examples as columns (--layout), mean or sum over the batch (--reduction), the
gradient's place in a returned tuple (--returns).

\b
Each failing case names the catalogued mistake its numbers match and gives the exposing input as a
ready-to-run 'softgrad check' command. --format junit writes JUnit XML (a testcase per case);
github (annotations at your function), markdown and html are for CI too.

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
  softgrad verify layers.py:SoftmaxCrossEntropy              # forward, then backward -> self.dinputs
  softgrad verify layers.py:SoftmaxCrossEntropy --targets onehot   # hard labels only
  softgrad verify losses.py:loss_fn                           # a module-level instance
  softgrad verify course.py:softmax_backward --layout columns # Z of shape (classes, examples)
  softgrad verify losses.py:CrossEntropy.grad --returns 1     # (loss, grad) -> item 1
  softgrad verify nn.py:backward --call "f(labels, s)"        # class indices first, then probabilities
  softgrad verify kernels.py:softmax_bwd --array torch        # given float64 torch tensors
  softgrad verify model.py:grad --format junit -o verify.xml
  softgrad verify model.py:grad --format github --summary       # annotations at your def line
  softgrad verify samples/verify/weights_correct.py:softmax_loss_naive        # kind weights, detected
  softgrad verify samples/verify/weights_reg_missing_2.py:softmax_loss_vectorized   # reg_gradient_factor
  softgrad verify samples/verify/two_layer_bug_W2.py:two_layer_loss            # kind loss-and-grad
  softgrad verify net.py:loss --kind loss-and-grad --case args.json
  softgrad verify slow.py:grad --timeout 60 --budget 600          # a slow function: more time
"""


@click.command(
    "verify",
    help=VERIFY_HELP,
    short_help="Check your own gradient, Jacobian, softmax, backward or layer-loss function.",
)
@click.argument("target", metavar="TARGET", shell_complete=complete_target)
@click.option("--kind", type=click.Choice(KINDS), default=None, help="What the function computes [default: detected].")
@click.option(
    "--layout",
    type=click.Choice(LAYOUTS),
    default="auto",
    show_default=True,
    help="row: one example (K,) at a time (the batch case is skipped); batch: (N, K) only (single examples "
    "as (1, K)); both: both must work; columns: examples are columns, (K, N), one example (K, 1); auto: "
    "detected by calling it each way.",
)
@click.option(
    "--reduction",
    type=click.Choice(REDUCTIONS),
    default="auto",
    show_default=True,
    help="For a batch gradient: mean (the loss is averaged over the rows: each row ÷ N), sum or none "
    "(each row its own gradient); auto: detected from the batch case, either passes.",
)
@click.option(
    "--targets",
    type=click.Choice(TARGETS),
    default="auto",
    show_default=True,
    help="The targets it is tested with: soft (one-hot, soft and unnormalised floats), onehot (hard labels "
    "as floats only), index (class indices: an int array (N,), an int for one example); auto: probed.",
)
@click.option(
    "--call",
    "call",
    metavar="TEMPLATE",
    default=None,
    help="How to call it when detection cannot decide, e.g. 'f(t, s)', 'f(z, labels)', 'f(s, upstream)' "
    "(names: z logits, s probabilities, t targets, labels class indices, upstream dE/ds).",
)
@click.option(
    "--array",
    type=click.Choice(["auto", "numpy", "torch", "jax"]),
    default="auto",
    show_default=True,
    help="The arrays it is given: numpy, or float64 torch or jax tensors (the framework must be installed; "
    "what it returns is converted back); auto: from what its module imports.",
)
@click.option(
    "--returns",
    type=click.IntRange(0, 99),
    default=None,
    metavar="N",
    help="The item of a returned tuple that is the gradient, e.g. 1 for (loss, grad) [default: the item of "
    "the gradient's shape].",
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
    "--reg-convention",
    type=click.Choice(REG_CONVENTION_CHOICES),
    default="auto",
    show_default=True,
    help="--kind weights: the loss's regulariser, full = reg·‖W‖² (gradient 2·reg·W) or half = ½·reg·‖W‖² "
    "(reg·W); auto: read from the loss it returns at reg = 0 and reg ≠ 0.",
)
@click.option(
    "--labels",
    type=click.Choice(LABEL_CHOICES),
    default="auto",
    show_default=True,
    help="--kind weights: y as class indices (N,) or one-hot (N, C); auto: whichever it takes.",
)
@click.option(
    "--case",
    metavar="FILE",
    default=None,
    help="--kind loss-and-grad: a JSON object of the function's arguments by parameter name (nested objects "
    "for dict parameters; a list of objects for several cases) [default: generated for f(params, X, y, reg)].",
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
@output_options(["table", "json", "junit", "github", "markdown", "html"])
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
    from softgrad.commands.verify.weights_report import WeightsReport

    report = verify(session, options.pop("kind"), **options)  # closes the session
    sources = [p for p in (target_file(target), options.get("case")) if p]
    where = function_location(target)
    ci = ci_summary(report, sources, show=show, where=where)
    document: Callable[[], Document]
    if isinstance(report, WeightsReport):
        from softgrad.render.verify_weights_doc import render_weights_junit, verify_weights_document

        text = render_weights_junit(report) if fmt == "junit" else None
        document = functools.partial(verify_weights_document, report, show)
    else:
        from softgrad.render.verify_doc import verify_document
        from softgrad.render.verify_junit import render_junit

        text = render_junit(report, where) if fmt == "junit" else None
        document = functools.partial(verify_document, report, show)  # built only for the table
    emit(report.to_dict(), document, fmt, output, no_color, sources, text, ci=ci, show=show)
    return exit_code(report.status)
