"""The catalogue (``softgrad mistakes``) as documents."""

from __future__ import annotations

from collections.abc import Sequence

from softgrad.catalogue.exposing import MistakeAt
from softgrad.catalogue.mistakes import Mistake
from softgrad.render.layout import Cell, Document, Table, line, side_by_side, value_lines


def catalogue_document(entries: Sequence[Mistake]) -> Document:
    table = Table(["id", "title", "wrong formula", "exposed by"], title=f"{len(entries)} known mistakes")
    for m in entries:
        table.add(Cell(m.id, "bold"), m.title, Cell(m.formula, "warn"), m.exposes)
    doc: Document = [
        table,
        line(Cell("notation: s = softmax(z), g = −t/s, J(x) = diag(x) − x xᵀ, S = Σt", "dim")),
    ]
    if any(m.scope == "layer" for m in entries):
        layer = "layer entries (softgrad layer): z = W a + b, δ = ∂L/∂z, a_h = σ(z_h), δ_h = (Wᵀ δ) ⊙ σ′(z_h)"
        doc.append(line(Cell(layer, "dim")))
    doc.append(line(Cell("details and numbers: softgrad mistakes ID [--z ... --t ...]", "dim")))
    return doc


#: how a batch-level entry is checked, shown by ``softgrad mistakes ID`` for it
BATCH_CHECK = "softgrad batch ROWS.csv --reduction mean   (or sum; the rows of a batch, with your gradient columns)"


def batch_mistake_document(m: Mistake) -> Document:
    """A batch-level entry: it is a property of a whole batch, not of one input, so it is described and the
    command that looks for it given."""
    return [
        line(Cell(m.id, "head"), f" — {m.title}"),
        line("  wrong formula: ", Cell(m.formula, "warn")),
        line("  exposed by:    ", m.exposes),
        line(""),
        line("a batch-level mistake: softgrad batch looks for it in a file of rows"),
        line("  ", Cell(BATCH_CHECK, "bold")),
    ]


def mistake_document(m: Mistake, at: MistakeAt) -> Document:
    """One entry, evaluated at an input."""
    doc: Document = [
        line(Cell(m.id, "head"), f" — {m.title}"),
        line("  wrong formula: ", Cell(m.formula, "warn")),
        line("  exposed by:    ", m.exposes),
        line("  goes wrong at: ", m.step),
        line(""),
        line(
            f"at z = {value_lines(at.z)[0]}, t = {value_lines(at.t)[0]}"
            + (f", τ = {at.temperature:g}" if at.temperature != 1.0 else "")
            + (" (found by softgrad: an input that exposes it)" if at.found else "")
        ),
    ]
    left = [f"{m.id}:", *("  " + x for x in value_lines(at.gradient))]
    right = ["reference s·Σt − t:", *("  " + x for x in value_lines(at.reference))]
    doc.extend(line("  ", x) for x in side_by_side(left, right))
    if at.jacobian is not None:
        left = [f"{m.jacobian_formula}:", *("  " + x for x in value_lines(at.jacobian))]
        right = ["J(s) = diag(s) − s sᵀ:", *("  " + x for x in value_lines(at.expected_jacobian))]
        doc.extend(line("  ", x) for x in side_by_side(left, right))
    differs = at.differs
    doc.append(
        line(
            "  ",
            Cell(
                "differs from the reference here" if differs else "equals the reference at this input",
                "bad" if differs else "warn",
            ),
        )
    )
    if not differs and at.exposing_command:
        doc.append(line(f"  an input that exposes it: {at.exposing_command}"))
    return doc
