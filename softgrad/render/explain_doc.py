"""The ``explain`` report as a document: numbered steps, then the wrong step beside the right one."""

from __future__ import annotations

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.check.explain import ExplainReport
from softgrad.render.check_doc import to_precision
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
    u = c.user
    if u is not None and u.ok:
        doc.append(line(TICK, f" your gradient matches dE/dz{to_precision(u.within_precision, u.precision)}"))
        if u.not_ruled_out:
            doc.append(line(Cell(f"  not ruled out by this input: {', '.join(m.id for m in u.not_ruled_out)}", "dim")))
    if c.user_jacobian is not None and c.user_jacobian.ok:
        flat = tuple(x for row in c.user_jacobian.precision for x in row)
        doc.append(line(TICK, f" your Jacobian matches J(s){to_precision(c.user_jacobian.within_precision, flat)}"))
    if u is not None and u.ambiguous:
        doc.append(
            line(Cell(f"✗ your gradient matches {' and '.join(u.ambiguous)}: this input cannot tell them apart", "bad"))
        )
    numbers = {s.id: i for i, s in enumerate(r.steps, start=1)}
    previous = None
    for w in r.wrong_steps:
        first = w.mistake != previous or previous is None
        if first:
            if w.mistake:
                match = next((m for m in (u.matches if u else ()) if m.id == w.mistake), None)
                at = to_precision(match.within_precision, u.precision) if match and u else ""
                title = f"✗ {w.mistake}{at}: {MISTAKES[w.mistake].title}"
            else:
                title = "✗ your numbers match no catalogued mistake"
            doc.append(line(Cell(title, "bad")))
        previous = w.mistake
        where = f"step {numbers[w.step]}, {r.steps[numbers[w.step] - 1].title}" if w.step in numbers else w.step
        said = "where it goes wrong" if first else "which then gives"
        doc.append(line(f"  {said if w.mistake else 'yours beside the result of'}: {where}"))
        left = [f"wrong: {w.wrong_formula}", *("  " + x for x in value_lines(w.wrong_value))]
        right = [f"right: {w.right_formula}", *("  " + x for x in value_lines(w.right_value))]
        for text in side_by_side(left, right):
            doc.append(line("    ", text))
        if w.advice:
            doc.append(line(Cell(f"    {w.advice}", "dim")))
    if u is not None and u.distinguishing_input is not None:
        what = ("rule it out" if len(u.not_ruled_out) == 1 else "rule them out") if u.ok else "tell them apart"
        doc.append(line(f"  to {what}, compute your gradient at: ", Cell(u.distinguishing_input.command(), "bold")))
    if r.wrong_steps or (u is not None and u.not_ruled_out):
        doc.append(line(""))
    doc.append(line("status: ", Cell(r.status.upper(), "ok" if r.ok else "bad")))
    return doc
