"""Input handling for ``softgrad mistakes``: which entry, at which input (kept out of the CLI body)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.core.problem import make_problem
from softgrad.errors import InputError
from softgrad.inputs.values import parse_values
from softgrad.render.layout import Document


def mistakes_output(
    mistake_id: str | None, z: Sequence[str], t: Sequence[str], label: int | None, temperature: float
) -> tuple[dict[str, object], Callable[[], Document]]:
    """(JSON data, document builder) for the catalogue or one entry."""
    from softgrad.commands.check.explain import mistake_at
    from softgrad.render.mistakes_doc import catalogue_document, mistake_document

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
    if m.scope != "row":
        data: dict[str, object] = {**m.to_dict(), "note": "a batch-level mistake: softgrad batch evaluates it"}
        return data, lambda: catalogue_document([m])
    problem = None
    if z or t or label is not None:
        if not z:
            raise InputError("--z", "missing: give the logits with --z Z1 Z2 ...")
        zs = parse_values(z, "--z")
        ts = parse_values(t, "--t") if t else None
        names = {
            "z": "--z",
            "t": "--t",
            "label": "--label",
            "grad": "--grad",
            "jacobian": "--jacobian",
            "temperature": "--temperature",
            "dtype": "--dtype",
        }
        problem = make_problem(zs, ts, label=label, temperature=temperature, names=names)
    data = mistake_at(mistake_id, problem)
    return data, lambda: mistake_document(m, data)
