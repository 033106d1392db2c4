"""``softgrad mistakes``: the catalogue, or one entry evaluated at an input."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

import click

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.cli.options import NumbersCommand, output_options
from softgrad.cli.output import emit
from softgrad.errors import ExitCode, InputError
from softgrad.render.layout import Document

HELP = """List the catalogue of known mistakes, or show one at an input.

Without ID: every entry's id, title, wrong formula and the inputs that expose it. With ID: that mistake's
gradient (and wrong Jacobian, for Jacobian mistakes) next to the reference, at --z/--t or, without them,
at an input softgrad finds that exposes it. A layer mistake (softgrad layer) is shown at a layer input
that exposes it, with the softgrad layer command that reproduces it.

\b
Examples:
  softgrad mistakes
  softgrad mistakes jacobian_at_logits --z 1.75 1.75 --t 0 1
  softgrad mistakes assumes_one_hot
  softgrad mistakes sigma_prime_at_activation
"""


@click.command("mistakes", cls=NumbersCommand, help=HELP)
@click.argument("mistake_id", metavar="[ID]", required=False)
@click.option("--z", "z", multiple=True, metavar="Z1 Z2 ...", help="Logits to evaluate the mistake at.")
@click.option("--t", "t", multiple=True, metavar="T1 T2 ...", help="Targets (or --label).")
@click.option("--label", type=int, metavar="I", help="Class index instead of --t.")
@click.option("--temperature", type=float, default=1.0, metavar="τ", help="Softmax temperature [default: 1].")
@output_options(["table", "json"])
def mistakes_cmd(
    mistake_id: str | None, z: tuple[str, ...], t: tuple[str, ...], label: int | None, temperature: float, **out: Any
) -> int:
    data, document = _mistakes_output(mistake_id, z, t, label, temperature)
    emit(data, document, out["fmt"], out["output"], out["no_color"], ())
    return ExitCode.OK


def _mistakes_output(
    mistake_id: str | None, z: Sequence[str], t: Sequence[str], label: int | None, temperature: float
) -> tuple[dict[str, object], Callable[[], Document]]:
    """(JSON data, document builder) for the catalogue or one entry."""
    from softgrad.catalogue.exposing import mistake_at
    from softgrad.core.problem import make_problem
    from softgrad.inputs.values import parse_values
    from softgrad.render.mistakes_doc import batch_mistake_document, catalogue_document, mistake_document

    if mistake_id is None:
        if z or t or label is not None:
            raise InputError("--z", "give a mistake ID to evaluate at an input (see softgrad mistakes)")
        entries = list(MISTAKES.values())
        return {"mistakes": [m.to_dict() for m in entries]}, lambda: catalogue_document(entries)
    if mistake_id not in MISTAKES:
        close = difflib.get_close_matches(mistake_id, list(MISTAKES), n=1)
        hint = f" (did you mean {close[0]}?)" if close else " (softgrad mistakes lists them)"
        raise InputError("ID", f"unknown mistake {mistake_id!r}{hint}")
    m = MISTAKES[mistake_id]
    if m.scope == "layer":
        return _layer_mistake(m.id, bool(z or t or label is not None))
    if m.scope != "row":
        if z or t or label is not None:
            raise InputError(
                "--z", f"{m.id} is a batch-level mistake: it needs a batch of rows; look for it with softgrad batch"
            )
        data: dict[str, object] = {**m.to_dict(), "note": "a batch-level mistake: softgrad batch evaluates it"}
        return data, lambda: batch_mistake_document(m)
    problem = None
    if z or t or label is not None:
        if not z:
            raise InputError("--z", "missing: give the logits with --z Z1 Z2 ...")
        ts = parse_values(t, "--t") if t else None
        problem = make_problem(parse_values(z, "--z"), ts, label=label, temperature=temperature)
    found = mistake_at(mistake_id, problem)
    return found.to_dict(), lambda: mistake_document(m, found)


def _layer_mistake(mistake_id: str, given: bool) -> tuple[dict[str, object], Callable[[], Document]]:
    """A layer entry at a layer input softgrad finds that exposes it."""
    from softgrad.catalogue.layer_diagnose import layer_mistake_at
    from softgrad.render.layer_doc import layer_mistake_document

    if given:
        raise InputError("--z", f"{mistake_id} is a layer mistake: check your layer with softgrad layer (see --help)")
    found = layer_mistake_at(mistake_id)
    return found.to_dict(), lambda: layer_mistake_document(MISTAKES[mistake_id], found)
