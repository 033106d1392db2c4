"""The ``explain`` report as a document: numbered steps, then the wrong step beside the right one."""

from __future__ import annotations

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.check.explain import ExplainReport
from softgrad.render.layout import TICK, Cell, Document, line, side_by_side, value_lines, vector


def explain_document(r: ExplainReport) -> Document:
    c = r.check
    head = f"softgrad explain — z = {vector(c.z)}, t = {vector(c.t)}"
    if c.temperature != 1.0:
        head += f", τ = {c.temperature:g}"
    doc: Document = [line(Cell(head, "head")), line("")]
    for i, step in enumerate(r.steps, start=1):
        doc.append(line(Cell(f"{i}. {step.title}", "bold")))
        doc.append(line(f"   {step.formula}"))
        values = value_lines(step.value)
        doc.append(line("     = ", values[0]))
        doc.extend(line("       ", v) for v in values[1:])
        if step.note:
            doc.append(line(Cell(f"   {step.note}", "dim")))
        doc.append(line(""))
    doc.extend(_verdict(r))
    return doc


def _verdict(r: ExplainReport) -> Document:
    c = r.check
    doc: Document = []
    if c.user is not None and c.user.ok:
        doc.append(line(TICK, " your gradient matches dE/dz"))
    if c.user_jacobian is not None and c.user_jacobian.ok:
        doc.append(line(TICK, " your Jacobian matches J(s)"))
    numbers = {s.id: i for i, s in enumerate(r.steps, start=1)}
    previous = None
    for w in r.wrong_steps:
        first = w.mistake != previous or previous is None
        if first:
            title = (
                f"✗ {w.mistake}: {MISTAKES[w.mistake].title}"
                if w.mistake
                else "✗ your numbers match no catalogued mistake"
            )
            doc.append(line(Cell(title, "bad")))
        previous = w.mistake
        where = f"step {numbers[w.step]}, {r.steps[numbers[w.step] - 1].title}" if w.step in numbers else w.step
        doc.append(line(f"  {'where it goes wrong' if first else 'which then gives'}: {where}"))
        left = [f"wrong: {w.wrong_formula}", *("  " + x for x in value_lines(w.wrong_value))]
        right = [f"right: {w.right_formula}", *("  " + x for x in value_lines(w.right_value))]
        for text in side_by_side(left, right):
            doc.append(line("    ", text))
    if r.wrong_steps:
        doc.append(line(""))
    doc.append(line("status: ", Cell(r.status.upper(), "ok" if r.ok else "bad")))
    return doc
