"""``softgrad layer``: a layer's weight, bias and hidden-layer gradients, three ways, and the user's numbers
diagnosed."""

from __future__ import annotations

from typing import Any, ClassVar

import click

from softgrad.cli.options import NumbersCommand, output_options
from softgrad.cli.output import ci_summary, emit
from softgrad.core.layer import ACTIVATIONS, CONVENTIONS, LAYER_REDUCTIONS, REG_CONVENTIONS
from softgrad.core.rules import DTYPES
from softgrad.errors import exit_code

HELP = """Check a layer's gradients: ∂L/∂W, ∂L/∂b and δ of the softmax + cross-entropy output layer, and
δ_h, ∂L/∂W_h, ∂L/∂b_h of one hidden layer before it, each three ways (the analytic formulas, the chain
rule with explicit Jacobians, finite differences of the loss) — and your numbers, diagnosed.

Column convention (default): z = W a + b, W is K×H, a one example (H numbers) or H×N (examples as
columns). Row convention: Z = A W + b, W is H×K, A is N×H (one row per example), the loss the mean (or
sum) over the rows. Matrices are written as nested lists, "[[0.2, 0.4], [0.1, -0.3]]" (numpy's printed
form works too, and rows separated by ';'); vectors as numbers.

\b
Examples:
  softgrad layer --a 1 -0.5 --W "[[2, 0.5], [2, 0.5]]" --b 0 0 --t 0 1
  softgrad layer --a 1 -0.5 --W "[[2, 0.5], [2, 0.5]]" --b 0 0 --t 0 1 --dW "[[0.5, -0.5], [-0.25, 0.25]]"
  softgrad layer --case samples/layer/hidden_layer.json --explain
  softgrad layer --case samples/layer/course_batch.npz --reg 0.1 --format json
"""


class LayerCommand(NumbersCommand):
    """``--a 1 -0.5``-style options for every array of a layer."""

    many: ClassVar[frozenset[str]] = frozenset(
        {
            "--a",
            "--W",
            "--b",
            "--t",
            "--label",
            "--a-in",
            "--W-h",
            "--b-h",
            "--delta",
            "--dW",
            "--db",
            "--da",
            "--delta-h",
            "--dW-h",
            "--db-h",
        }
    )


#: (option, key, help) of every array option.
ARRAYS = (
    ("--a", "a", "The output layer's input a: H numbers (column), or N×H rows (row), e.g. --a 1 -0.5."),
    ("--W", "W", 'Its weights: K×H (column) or H×K (row), e.g. "[[0.2, 0.4], [0.1, -0.3]]".'),
    ("--b", "b", "Its bias: K numbers, e.g. --b 0 0 (optional: no bias without it)."),
    ("--t", "t", "Targets >= 0: K numbers (one example), or one row (column) per example, e.g. --t 0 1."),
    ("--a-in", "a_in", "Hidden layer: its input a_in (D numbers, or one row/column per example), e.g. --a-in 1 -2."),
    ("--W-h", "W_h", 'Hidden layer: its weights W_h, H×D (column) or D×H (row), e.g. --W-h "[[0.3, -0.1]]".'),
    ("--b-h", "b_h", "Hidden layer: its bias b_h, H numbers (optional), e.g. --b-h 0.1."),
    ("--delta", "delta", "Your δ = ∂L/∂z (the shape of z; with the 1/N of a mean)."),
    ("--dW", "dW", 'Your ∂L/∂W (the shape of W), e.g. --dW "[[0.5, -0.25], [-0.5, 0.25]]".'),
    ("--db", "db", "Your ∂L/∂b (the shape of b), e.g. --db 0.5 -0.5."),
    ("--da", "da", "Your ∂L/∂a (the shape of a)."),
    ("--delta-h", "delta_h", "Your δ_h = ∂L/∂z_h (the shape of z_h), e.g. --delta-h 0.12 -0.07."),
    ("--dW-h", "dW_h", "Your ∂L/∂W_h (the shape of W_h)."),
    ("--db-h", "db_h", "Your ∂L/∂b_h (the shape of b_h)."),
)


def _array_options(f: Any) -> Any:
    for flag, key, text in reversed(ARRAYS):
        f = click.option(flag, key, multiple=True, metavar="VALUES", help=text)(f)
    return f


@click.command("layer", cls=LayerCommand, help=HELP)
@_array_options
@click.option(
    "--label",
    "label",
    multiple=True,
    metavar="I ...",
    help="Class indices instead of --t, one per example, e.g. --label 1 or --label 2 0 1.",
)
@click.option(
    "--case",
    metavar="PATH",
    help="A layer case: a JSON object with keys a, W, b, t (or label); a_in, W_h, b_h, activation; your "
    "delta, dW, db, da, delta_h, dW_h, db_h; convention, reduction, reg, reg_convention — or an .npz with "
    "those arrays. Options on the command line take precedence.",
)
@click.option("--activation", type=click.Choice(ACTIVATIONS), help="The hidden layer's σ, e.g. --activation relu.")
@click.option(
    "--convention",
    type=click.Choice(CONVENTIONS),
    help="column: z = W a + b, W K×H [default]; row: Z = A W + b, W H×K, one row per example.",
)
@click.option(
    "--reduction",
    type=click.Choice(LAYER_REDUCTIONS),
    help="The loss over several examples: their mean [default] or sum.",
)
@click.option(
    "--reg",
    type=float,
    metavar="R",
    help="L2 regularisation strength on the weights W, W_h, e.g. --reg 0.1 [default: 0].",
)
@click.option(
    "--reg-convention",
    "reg_convention",
    type=click.Choice(REG_CONVENTIONS),
    help="full: the loss adds reg·‖W‖² (gradient 2·reg·W) [default]; half: ½·reg·‖W‖² (gradient reg·W).",
)
@click.option(
    "--dtype",
    type=click.Choice(DTYPES),
    default="float64",
    show_default=True,
    help="Precision your numbers were computed in; selects the default tolerances.",
)
@click.option("--rtol", type=float, metavar="R", help="Relative tolerance (default per --dtype).")
@click.option("--atol", type=float, metavar="A", help="Absolute tolerance (default per --dtype).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampled entries of huge arrays.")
@click.option("--explain", is_flag=True, help="Show the derivation with the numbers, step by step, instead.")
@output_options(["table", "json", "github", "markdown"])
def layer_cmd(fmt: str, output: str | None, no_color: bool, explain: bool, **options: Any) -> int:
    from softgrad.inputs.layer import INPUT_KEYS, USER_KEYS, layer_from_options

    texts = {k: options[k] for k in (*INPUT_KEYS, *USER_KEYS) if k != "label"}
    settings = {k: options[k] for k in ("activation", "convention", "reduction", "reg", "reg_convention")}
    kwargs, names, sources = layer_from_options(
        case=options["case"], texts=texts, label=options["label"], settings=settings
    )
    extra = {"dtype": options["dtype"], "rtol": options["rtol"], "atol": options["atol"], "seed": options["seed"]}
    return run_layer(kwargs, names, extra, explain, fmt, output, no_color, sources)


def run_layer(
    kwargs: dict[str, Any],
    names: dict[str, str],
    extra: dict[str, Any],
    explain: bool,
    fmt: str,
    output: str | None,
    no_color: bool,
    sources: list[str],
) -> int:
    """Check (or explain) a gathered layer and write the report; the exit code of its status."""
    if explain:
        from softgrad.commands.layer.explain import explain_layer

        if fmt not in ("table", "json"):
            from softgrad.errors import InputError

            raise InputError("--format", f"--explain writes table or json, not {fmt}")
        from softgrad.render.layer_doc import layer_explain_document

        ex = explain_layer(**kwargs, **extra, names=names)
        emit(ex.to_dict(), lambda: layer_explain_document(ex), fmt, output, no_color, sources)
        return exit_code(ex.status)
    from softgrad.commands.layer.api import check_layer
    from softgrad.render.layer_doc import layer_document

    report = check_layer(**kwargs, **extra, names=names)
    emit(
        report.to_dict(), lambda: layer_document(report), fmt, output, no_color, sources, ci=ci_summary(report, sources)
    )
    return exit_code(report.status)


#: Options of ``explain`` that describe a dE/dz input, not a layer.
CHECK_ONLY = ("z", "t", "label", "z_file", "t_file", "grad", "grad_file", "jacobian", "jacobian_file", "temperature")


def explain_layer_case(inputs: dict[str, Any], fmt: str, output: str | None, no_color: bool) -> int | None:
    """``softgrad explain --case layer.json``: the layer's derivation when the case is a layer case (an
    ``.npz``, or JSON with a key ``W``); None when it is a dE/dz case."""
    from softgrad.errors import InputError
    from softgrad.inputs.layer import is_layer_case, layer_from_options

    if not is_layer_case(inputs["case"]):
        return None
    for key in CHECK_ONLY:
        if inputs.get(key):
            flag = "--" + key.replace("_", "-")
            raise InputError(
                flag, f"{inputs['case']} is a layer case; give the layer's options to softgrad layer --explain"
            )
    kwargs, names, sources = layer_from_options(case=inputs["case"], texts={}, label=(), settings={})
    extra = {"dtype": inputs["dtype"], "rtol": inputs["rtol"], "atol": inputs["atol"]}
    return run_layer(kwargs, names, extra, True, fmt, output, no_color, sources)
