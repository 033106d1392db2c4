"""The ``verify`` report as a document (lines and tables) for the table renderers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.verify.report import CaseResult, OtherInput, VerifyReport
from softgrad.core.tolerance import FORMULA
from softgrad.render.layout import CROSS, TICK, Cell, Document, Table, line, matrix_lines, num, vector

#: With more random trials than this, the table shows them as one summary row.
RANDOM_ROWS_MAX = 10
#: Failing cases shown in full by default (``--show``).
DEFAULT_SHOW = 3
#: The right formula, per reference (kind, or kind:input).
RIGHT = {
    "grad": "(−t/s)·J(s) = s·Σt − t, with J(s) = diag(s) − s sᵀ",
    "backward:targets": "(−t/s)·J(s) = s·Σt − t, with J(s) = diag(s) − s sᵀ",
    "backward:upstream": "J(s)ᵀ·g = s⊙g − (g·s)·s, with J(s) = diag(s) − s sᵀ",
    "jacobian:s": "J(s) = diag(s) − s sᵀ, evaluated at s = softmax(z)",
    "jacobian:z": "J(s) = diag(s) − s sᵀ, evaluated at s = softmax(z)",
    "softmax": "s = exp(z − max z) / Σ exp(z − max z), along the classes (the last axis)",
    "loss-backward": "dE/ds = −t/s for E = −Σ t·log s (÷ N per row for a mean over a batch)",
    "elementwise:s": "(−t/s)·J(s) = s·Σt − t: the full Jacobian J(s) = diag(s) − s sᵀ, not an element-wise product",
    "elementwise:z": "(−t/s)·J(s) = s·Σt − t: the full Jacobian J(s) = diag(s) − s sᵀ, not an element-wise product",
}


def verify_document(r: VerifyReport, show: int = DEFAULT_SHOW) -> Document:
    """Header, one table row per case, the first ``show`` failing cases in full, the diagnosis, the
    other-input statement and the status."""
    doc: Document = [line(Cell(f"softgrad verify {r.target}", "head"))]
    doc += _header(r)
    doc.append(line(""))
    doc.append(_cases_table(r))
    failed = list(r.failed)
    for i, case in enumerate(failed[:show]):
        if i:
            doc.append(line(""))
        doc += _case_detail(r, case)
    if len(failed) > show:
        doc.append(
            line(
                Cell(
                    f"{len(failed) - show} more failing case{'s' if len(failed) - show > 1 else ''} not shown in full "
                    "(--show N shows more; every case is in --format json)",
                    "dim",
                )
            )
        )
    if failed:
        doc.append(line(""))
    doc += _diagnosis(r)
    doc += _other_input(r)
    for note in r.notes:
        doc.append(line(Cell(f"note: {note}", "dim")))
    doc += _printed(r.printed)
    doc.append(line(""))
    style = "ok" if r.ok else "bad"
    doc.append(line("status: ", Cell(r.status.upper(), style), Cell(f"  {r.verdict}", "dim")))
    return _tidy(doc)


#: Lines of what the user's code printed shown at each end (all of it, shortened, is in --format json).
PRINTED_LINES = 5


def _printed(text: str) -> Document:
    """What the user's code printed, its first and last lines."""
    if not text:
        return []
    lines = text.rstrip("\n").splitlines() or [""]
    n = len(lines)
    if n > 2 * PRINTED_LINES + 1:
        lines = [*lines[:PRINTED_LINES], f"… {n - 2 * PRINTED_LINES} more lines …", *lines[-PRINTED_LINES:]]
    head = f"your code printed {n} line{'s' if n > 1 else ''} (not part of the report; --format json has it):"
    return [line(Cell(head, "dim")), *(line(Cell(f"  | {text_line[:200]}", "dim")) for text_line in lines)]


def failure_summary(r: VerifyReport) -> Document:
    """A short account of a failing report, for an assertion message: the verdict, the diagnosis, the first
    failing case in full and what the function does given the other input."""
    doc: Document = [line(f"softgrad verify {r.target}: {r.verdict}")]
    doc.append(line(f"  kind {r.kind} ({r.kind_reason}); layout {r.layout}"))
    doc += _diagnosis(r)
    failed = list(r.failed)
    if failed:
        doc.append(line("first failing case:"))
        doc += _case_detail(r, failed[0])
    if len(failed) > 1:
        names = ", ".join(c.name for c in failed[1:8]) + (", …" if len(failed) > 8 else "")
        doc.append(line(f"{len(failed) - 1} more failing: {names} (all in softgrad.verify(...).to_dict())"))
    doc += _other_input(r)
    return _tidy(doc)


def _header(r: VerifyReport) -> Document:
    rows: list[tuple[str, str]] = [("kind", f"{r.kind} — {r.kind_reason}")]
    if r.call:
        rows.append(("call", r.call + (f" — {r.call_reason}" if r.call_reason else "")))
    if r.array != "numpy":
        rows.append(("arrays", f"{r.array} — {r.array_reason}"))
    if r.input is not None or r.input_reason:
        shown = r.input or ("s" if r.kind == "loss-backward" else "z")
        rows.append(("input", f"{shown} — {r.input_reason}"))
    if r.targets:
        rows.append(("targets", f"{'/'.join(r.targets)} — {r.targets_reason}"))
    rows.append(("layout", f"{r.layout} — {r.layout_reason}"))
    if r.reduction is not None:
        what = {
            "mean": "a batch gradient is the mean over its rows: each row ÷ N",
            "sum": "a batch gradient is the sum over its rows: each row is that row's own gradient",
            "none": "unreduced: each row of a batch is that row's own gradient",
        }[r.reduction]
        why = f" ({r.reduction_reason})" if r.reduction_reason else ""
        rows.append(("reduction", f"{r.reduction} — {what}{why}"))
    if r.result:
        rows.append(("result", r.result + (f" — {r.result_reason}" if r.result_reason else "")))
    rows.append(("reference", r.reference))
    tols = ", ".join(f"{d} rtol {num(t.rtol)} atol {num(t.atol)}" for d, t in r.tolerances.items())
    rows.append(("tolerance", f"{FORMULA}; {tols}"))
    trials = f"{r.trials} seeded random cases (--seed {r.seed})" if r.trials else "none (--trials 0)"
    rows.append(("trials", trials))
    width = max(len(k) for k, _ in rows)
    return [line(f"  {k.ljust(width)}  ", v) for k, v in rows]


def _tidy(doc: Document) -> Document:
    """No blank line after a table (the plain renderer adds one), none twice in a row, none at the end."""
    out: Document = []
    for block in doc:
        blank = not isinstance(block, Table) and all(not c.text for c in block)
        if blank and (not out or isinstance(out[-1], Table) or _is_blank(out[-1])):
            continue
        out.append(block)
    while out and _is_blank(out[-1]):
        out.pop()
    return out


def _is_blank(block: object) -> bool:
    return isinstance(block, tuple) and all(not c.text for c in block)


def _result_cell(c: CaseResult) -> Cell:
    if c.status == "pass":
        return Cell("✓ pass", "ok")
    if c.status == "skipped":
        return Cell("— skipped", "warn")
    if c.status == "error":
        return Cell(f"✗ {_short_error(c.error or '')}", "bad")
    if c.matches:
        return Cell(f"✗ {', '.join(c.matches)}", "bad")
    return Cell("✗ wrong" + (": see below" if c.hints else ", no catalogued match"), "bad")


def _short_error(error: str) -> str:
    if error.startswith("raised "):
        return "raised " + error[len("raised ") :].split(":")[0].split(" (at")[0]
    if error.startswith("returned "):
        return error.split(",")[0].split(";")[0]
    return error


def _cases_table(r: VerifyReport) -> Table:
    t = Table(["case", "input", "result"], align=["left", "left", "left"])
    randoms = [c for c in r.cases if c.random]
    for c in r.cases:
        if c.random and len(randoms) > RANDOM_ROWS_MAX:
            continue
        t.add(c.name, c.description, _result_cell(c))
    if len(randoms) > RANDOM_ROWS_MAX:
        bad = [c for c in randoms if not c.ok]
        ids = sorted({m for c in bad for m in c.matches[:1]})
        result = (
            Cell(f"✓ all {len(randoms)} pass", "ok")
            if not bad
            else Cell(f"✗ {len(bad)} of {len(randoms)} fail" + (f": {', '.join(ids)}" if ids else ""), "bad")
        )
        t.add(f"random_1…random_{len(randoms)}", f"{len(randoms)} random cases (seed {r.seed})", result)
    return t


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _case_detail(r: VerifyReport, c: CaseResult) -> Document:
    doc: Document = [line(CROSS, Cell(f" {c.name}", "bold"), f": {c.description}")]
    n = len(c.z)
    row = c.worst[0] if c.worst is not None else 0
    head = c.call.split("(", 1)[-1].split(",")[0].split(")")[0] or "z"
    if head in ("t", "labels"):
        head = "z" if "z" in c.call else "s"
    doc.append(line(f"    called {c.call} with {head} of shape {_shape(c.shape)}, {c.dtype}"))
    if c.output is None and n > 1:  # it failed on the whole batch: show all of it
        for name, rows in (("z", c.z), ("upstream g", c.upstream), ("t" if c.upstream is None else "t = −g⊙s", c.t)):
            if rows is not None:
                doc.append(line(f"    {name} ="))
                doc += [line("      ", text) for text in matrix_lines(rows)]
    else:
        which = f" (row {row} of {n})" if n > 1 else ""
        doc.append(line(f"    z{which} = ", vector(c.z[row])))
        if c.upstream is not None:
            doc.append(line(f"    upstream g{which} = ", vector(c.upstream[row])))
            doc.append(line(f"    t = −g⊙s{which} = ", vector(c.t[row])))
        else:
            doc.append(line(f"    t{which} = ", vector(c.t[row])))
    if c.error is not None:
        doc.append(line("    ", Cell(c.error, "bad")))
    if c.output is not None and c.expected is not None and c.comparison is not None:
        doc += _values("yours", c.output[row], "bad")
        doc += _values("expected", c.expected[row], "ok")
        cmp = c.comparison
        if math.isfinite(cmp.max_abs_err):
            errors = f"max abs err {num(cmp.max_abs_err, 3)}, max rel err {num(cmp.max_rel_err, 3)}"
        else:
            errors = "the error is not finite (NaN or inf in yours)"
        doc.append(line(f"    {errors}, worst at {_where(c.worst, n)}"))
    if c.matches:
        first = MISTAKES[c.matches[0]]
        doc.append(line("    it matches ", Cell(first.id, "bad"), f": {first.title}"))
        doc.append(line(Cell(f"      {_wrong(r, first.id)}", "bad")))
        for other in c.matches[1:]:
            doc.append(line(f"    it also matches {other}: {MISTAKES[other].title}"))
    for hint in c.hints:
        doc.append(line(Cell(f"    {hint}", "warn")))
    for note in c.notes:
        doc.append(line(Cell(f"    note: {note}", "dim")))
    if c.command is not None:
        label = "    reproduce: " if c.status == "fail" else "    the input: "
        doc.append(line(label, Cell(c.command, "bold")))
    return doc


def _wrong(r: VerifyReport, mid: str) -> str:
    """The wrong formula: the mistake's Jacobian for a Jacobian function, else its gradient."""
    m = MISTAKES[mid]
    if r.kind == "jacobian" and m.jacobian_formula:
        return f"wrong: {m.jacobian_formula}"
    if r.kind == "jacobian":
        return f"the gradient it leads to: {m.formula}"
    return f"wrong: {m.formula}"


def _where(worst: tuple[int, ...] | None, rows: int) -> str:
    if worst is None:
        return "—"
    at = f"row {worst[0]}, " if rows > 1 else ""
    rest = worst[1:]
    return at + (f"index {rest[0]}" if len(rest) == 1 else "entry [" + "][".join(map(str, rest)) + "]")


def _values(label: str, values: Any, style: str) -> Document:
    if values and isinstance(values[0], tuple):
        lines = matrix_lines(values)
        out: Document = [line(f"    {label}:")]
        out += [line("      ", Cell(text, style)) for text in lines]
        return out
    return [line(f"    {label}".ljust(13) + "= ", Cell(vector(values), style))]


def _diagnosis(r: VerifyReport) -> Document:
    if not r.diagnosis:
        return []
    doc: Document = []
    first = r.diagnosis[0]
    failing = len(r.failed)
    if first.consistent:
        how = f"it reproduces your function's output on every case ({len(first.cases)} failing)"
    else:
        how = f"it reproduces {len(first.cases)} of the {failing} failing cases, not every case"
    ids = r.ambiguous or (first.id,)
    doc.append(line("diagnosis: ", Cell(", ".join(ids), "bad"), f" — {first.title}"))
    doc.append(line(Cell(f"  {_wrong(r, first.id)}", "bad")))
    doc.append(line(Cell(f"  right: {RIGHT[r.reference_key]}", "ok")))
    doc.append(line(Cell(f"  {how}", "dim")))
    if r.ambiguous:
        doc.append(line(Cell(f"  these inputs cannot tell {', '.join(r.ambiguous)} apart", "warn")))
        if r.distinguishing_input is not None:
            doc.append(line("  run your function at: ", Cell(r.distinguishing_input.command(), "bold")))
    for d in r.diagnosis[1:]:
        if d.id not in r.ambiguous:
            doc.append(line(Cell(f"  also matches at {', '.join(d.cases)}: {d.id}", "dim")))
    return doc


def _other_input(r: VerifyReport) -> Document:
    o = r.other_input
    if o is None:
        return []
    if not r.ok:
        if o.passes_battery:
            given = "the logits z" if o.passed == "z" else "s = softmax(z)"
            opt = f"--jacobian-input {o.passed}"
            python = f"jacobian_input={o.passed!r}"
            return [
                line(""),
                line(
                    TICK,
                    f" given {given} instead, it passes every case: the function is right, the call is wrong "
                    f"(judge it so with {opt}; {python} in Python)",
                ),
            ]
        return []
    return _other_input_statement(r, o)


def _other_input_statement(r: VerifyReport, o: OtherInput) -> Document:
    instead = "z instead of s = softmax(z)" if o.passed == "z" else "s = softmax(z) instead of the logits z"
    doc: Document = [line(""), line(Cell(f"a caller that passes {instead} gets something else:", "warn"))]
    doc.append(line(f"  at z = {vector(o.z)}, t = {vector(o.t)}:"))
    if o.error is not None or o.output is None:
        doc.append(line(Cell(f"    it {o.error}", "bad")))
        return doc
    if r.kind == "jacobian":
        doc.append(line("    your function returns"))
        doc += [line("      ", Cell(text, "bad")) for text in matrix_lines(o.output)]
    for mid in o.matches:
        doc.append(line("    that is ", Cell(mid, "bad"), f": {MISTAKES[mid].title}"))
    if o.gradient is not None:
        via = "the chained gradient (−t/s)·J becomes " if r.kind == "jacobian" else "the gradient becomes "
        doc.append(
            line(
                f"    {via}",
                Cell(vector(o.gradient), "bad"),
                " instead of ",
                Cell(vector(o.reference), "ok"),
            )
        )
    if o.command is not None:
        doc.append(line("    reproduce: ", Cell(o.command, "bold")))
    return doc
