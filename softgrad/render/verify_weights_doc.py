"""The report of ``verify --kind weights`` / ``--kind loss-and-grad`` as a document (lines and tables) for
the table renderers, and as JUnit XML (one testcase per case)."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.verify.weights_report import QuantityResult, WeightsCaseResult, WeightsReport
from softgrad.core.numbers import shortest
from softgrad.core.tolerance import FORMULA
from softgrad.render.layout import CROSS, Cell, Document, Table, line, matrix_lines, num, vector
from softgrad.render.verify_doc import DEFAULT_SHOW, RANDOM_ROWS_MAX

#: Arrays of more entries than this are not printed in a failing case's detail (the worst entries are).
SHOW_MAX_ENTRIES = 40


def verify_weights_document(r: WeightsReport, show: int = DEFAULT_SHOW) -> Document:
    """Header, one table row per case (a column per returned quantity), the first ``show`` failing cases in
    full, the diagnosis per quantity, the notes and the status."""
    doc: Document = [line(Cell(f"softgrad verify {r.target}", "head"))]
    doc += _header(r)
    doc.append(line(""))
    doc.append(_table(r))
    failed = list(r.failed)
    for case in failed[:show]:
        doc.append(line(""))
        doc += _case_detail(case)
    if len(failed) > show:
        more = len(failed) - show
        doc.append(
            line(
                Cell(
                    f"{more} more failing case{'s' if more > 1 else ''} not shown in full "
                    "(--show N shows more; every case is in --format json)",
                    "dim",
                )
            )
        )
    doc += _diagnosis(r)
    if r.notes:
        doc.append(line(""))
    for note in r.notes:
        doc.append(line(Cell(f"note: {note}", "dim")))
    doc.append(line(""))
    doc.append(line("status: ", Cell(r.status.upper(), "ok" if r.ok else "bad"), Cell(f"  {r.verdict}", "dim")))
    return tidy(doc)


def tidy(doc: Document) -> Document:
    """No blank line after a table (the plain renderer adds one), none twice in a row, none at the end."""
    out: Document = []
    for block in doc:
        blank = isinstance(block, tuple) and all(not c.text for c in block)
        if blank and (not out or isinstance(out[-1], Table) or _blank(out[-1])):
            continue
        out.append(block)
    while out and _blank(out[-1]):
        out.pop()
    return out


def _blank(block: object) -> bool:
    return isinstance(block, tuple) and all(not c.text for c in block)


def _header(r: WeightsReport) -> Document:
    rows: list[tuple[str, str]] = [("kind", f"{r.kind} — {r.kind_reason}")]
    rows.append(("returns" if r.kind == "weights" else "arguments", f"{r.returns_reason}"))
    if r.labels is not None:
        rows.append(("labels", f"{r.labels} — {r.labels_reason}"))
    if r.reg_convention is not None:
        rows.append(("regulariser", f"{r.reg_convention} — {r.reg_reason}"))
    rows.append(("reference", r.reference))
    slack = " + the finite difference's error estimate" if r.kind == "loss-and-grad" else ""
    rows.append(("tolerance", f"{FORMULA}{slack}; rtol {num(r.tolerance.rtol)} atol {num(r.tolerance.atol)}, float64"))
    if r.kind == "weights":
        trials = f"{r.trials} seeded random cases (--seed {r.seed})" if r.trials else "none (--trials 0)"
        rows.append(("trials", trials))
    width = max(len(k) for k, _ in rows)
    return [line(f"  {k.ljust(width)}  ", v) for k, v in rows]


def _quantity_cell(q: QuantityResult | None) -> Cell:
    if q is None:
        return Cell("—", "dim")
    if q.ok:
        return Cell("✓", "ok")
    if q.matches:
        return Cell(f"✗ {', '.join(q.matches)}", "bad")
    return Cell("✗ " + ("error" if q.status == "error" else "wrong"), "bad")


def _status_cell(c: WeightsCaseResult) -> Cell:
    if c.ok:
        return Cell("✓ pass", "ok")
    if c.error is not None:
        return Cell(f"✗ {_short(c.error)}", "bad")
    return Cell(f"✗ {c.status}", "bad")


def _short(error: str) -> str:
    if error.startswith("raised "):
        return "raised " + error[len("raised ") :].split(":")[0].split(" (at")[0]
    return error.split(";")[0]


def _table(r: WeightsReport) -> Table:
    names = list(dict.fromkeys(q.name for c in r.cases for q in c.checks))
    t = Table(["case", "call", *names, "result"], align=["left"] * (3 + len(names)))
    randoms = [c for c in r.cases if c.random]
    for c in r.cases:
        if c.random and len(randoms) > RANDOM_ROWS_MAX:
            continue
        t.add(c.name, c.call, *(_quantity_cell(c.check(n)) for n in names), _status_cell(c))
    if len(randoms) > RANDOM_ROWS_MAX:
        bad = [c for c in randoms if not c.ok]
        cells = []
        for n in names:
            wrong = [q for c in randoms if (q := c.check(n)) is not None and not q.ok]
            ids = sorted({m for q in wrong for m in q.matches[:1]})
            cells.append(
                Cell(f"✓ all {len(randoms)}", "ok")
                if not wrong
                else Cell(f"✗ {len(wrong)}" + (f": {', '.join(ids)}" if ids else ""), "bad")
            )
        result = Cell("✓ all pass", "ok") if not bad else Cell(f"✗ {len(bad)} of {len(randoms)} fail", "bad")
        t.add(f"random_0…random_{len(randoms) - 1}", f"{len(randoms)} random cases (seed {r.seed})", *cells, result)
    return t


def _index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, idx)) + "]" if idx else "(the value)"


def _case_detail(c: WeightsCaseResult) -> Document:
    doc: Document = [line(CROSS, Cell(f" {c.name}", "bold"), f": {c.description}")]
    doc.append(line(f"    called {c.call}"))
    if c.error is not None:
        doc.append(line("    ", Cell(c.error, "bad")))
    for q in c.checks:
        if q.ok:
            continue
        doc += _quantity_detail(q)
    for note in c.notes:
        doc.append(line(Cell(f"    note: {note}", "dim")))
    return doc


def _quantity_detail(q: QuantityResult) -> Document:
    doc: Document = []
    if q.error is not None:
        doc.append(line(f"    {q.name}: ", Cell(q.error, "bad")))
    if q.name == "loss" and q.yours is not None:
        doc.append(
            line(
                "    loss: yours ",
                Cell(num(_float(q.yours), 10), "bad"),
                ", expected ",
                Cell(num(_float(q.expected), 10), "ok"),
            )
        )
    elif q.max_abs_err is not None:
        if math.isfinite(q.max_abs_err):
            errors = f"max abs err {num(q.max_abs_err, 3)}, max rel err {num(q.max_rel_err, 3)}"
        else:
            errors = "the error is not finite (NaN or inf in yours)"
        counted = f", {q.compared} of {q.entries} entries compared" if q.compared != q.entries else ""
        doc.append(line(f"    {q.name}: {errors}{counted}; worst entries:"))
        for e in q.worst:
            est = f" (± {num(e.error_estimate, 2)})" if e.error_estimate is not None else ""
            doc.append(
                line(
                    f"      {q.name}{_index(e.index)}: yours ",
                    Cell(num(e.yours, 8), "bad"),
                    ", expected ",
                    Cell(num(e.expected, 8) + est, "ok"),
                )
            )
        doc += _array_lines(q)
    for i, mid in enumerate(q.matches):
        m = MISTAKES[mid.split(" ", 1)[0]]
        lead = "    it matches " if i == 0 else "    it also matches "
        doc.append(line(lead, Cell(mid, "bad"), f": {m.title}"))
        if i == 0:
            doc.append(line(Cell(f"      wrong: {m.formula}", "bad")))
    for note in q.notes:
        doc.append(line(Cell(f"    note: {note}", "dim")))
    return doc


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _array_lines(q: QuantityResult) -> Document:
    """yours and expected side by side as matrices, when small."""
    try:
        yours = np.asarray(q.yours, dtype=np.float64)
        expected = np.asarray(q.expected, dtype=np.float64)
    except (TypeError, ValueError):
        return []
    if yours.size > SHOW_MAX_ENTRIES or yours.ndim not in (1, 2) or yours.shape != expected.shape:
        return []
    doc: Document = []
    for label, arr, style in (("yours", yours, "bad"), ("expected", expected, "ok")):
        if arr.ndim == 1:
            doc.append(line(f"      {label}".ljust(15) + "= ", Cell(vector(arr.tolist()), style)))
        else:
            doc.append(line(f"      {label}:"))
            doc += [line("        ", Cell(text, style)) for text in matrix_lines(arr.tolist())]
    return doc


def _diagnosis(r: WeightsReport) -> Document:
    if not r.diagnosis:
        return []
    doc: Document = [line("")]
    for quantity in dict.fromkeys(d.quantity for d in r.diagnosis):
        ds = [d for d in r.diagnosis if d.quantity == quantity]
        first = ds[0]
        failing = sum(1 for c in r.cases if (q := c.check(quantity)) is not None and not q.ok)
        factor = f" ({first.factor})" if first.factor else ""
        doc.append(line(f"diagnosis, {quantity}: ", Cell(first.id + factor, "bad"), f" — {first.title}"))
        doc.append(line(Cell(f"  wrong: {first.formula}", "bad")))
        how = (
            f"it reproduces every failing case of {quantity} ({len(first.cases)})"
            if first.consistent
            else f"it reproduces {len(first.cases)} of the {failing} failing cases of {quantity}"
        )
        doc.append(line(Cell(f"  {how}", "dim")))
        for d in ds[1:]:
            doc.append(line(Cell(f"  also matches at {', '.join(d.cases)}: {d.id}", "dim")))
    return doc


# ---------------------------------------------------------------------------------------------------------
# JUnit XML

_INVALID = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _INVALID.sub("\ufffd", text)


def _details(c: WeightsCaseResult) -> str:
    lines = [c.description, f"called {c.call}"]
    if c.error:
        lines.append(c.error)
    for q in c.checks:
        if q.ok:
            continue
        if q.error:
            lines.append(f"{q.name}: {q.error}")
        if q.name == "loss":
            lines.append(f"loss: yours {shortest(_float(q.yours))}, expected {shortest(_float(q.expected))}")
        for e in q.worst if q.name != "loss" else ():
            est = f" ± {shortest(e.error_estimate)}" if e.error_estimate is not None else ""
            lines.append(f"{q.name}{_index(e.index)}: yours {shortest(e.yours)}, expected {shortest(e.expected)}{est}")
        for mid in q.matches:
            m = MISTAKES[mid.split(" ", 1)[0]]
            lines.append(f"{q.name} matches {mid}: {m.title} — {m.formula}")
    lines += [f"note: {n}" for n in c.notes]
    return _clean("\n".join(lines))


def _message(c: WeightsCaseResult) -> str:
    if c.error:
        return _clean(c.error)
    named = [f"{q.name}: {q.matches[0]}" for q in c.checks if not q.ok and q.matches]
    if named:
        return _clean("; ".join(named))
    wrong = [q.name for q in c.checks if not q.ok]
    return _clean(f"wrong {', '.join(wrong)}: no catalogued mistake matches")


def render_weights_junit(r: WeightsReport) -> str:
    """JUnit XML for the report (UTF-8, with an XML declaration)."""
    n = r.counts()
    attrs = {"tests": str(n["cases"]), "failures": str(n["fail"]), "errors": str(n["error"]), "skipped": "0"}
    suites = ET.Element("testsuites", {"name": "softgrad verify", **attrs})
    suite = ET.SubElement(suites, "testsuite", {"name": _clean(f"softgrad verify {r.target}"), **attrs})
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("kind", r.kind),
        ("labels", r.labels or ""),
        ("reg_convention", r.reg_convention or ""),
        ("seed", str(r.seed)),
        ("trials", str(r.trials)),
        ("verdict", r.verdict),
    ):
        ET.SubElement(props, "property", {"name": name, "value": _clean(value)})
    for c in r.cases:
        case = ET.SubElement(suite, "testcase", {"classname": _clean(r.target), "name": c.name})
        if c.status in ("fail", "error"):
            tag = "failure" if c.status == "fail" else "error"
            first = next((q.matches[0] for q in c.checks if not q.ok and q.matches), None)
            el = ET.SubElement(
                case, tag, {"message": _message(c), "type": first or ("wrong" if tag == "failure" else "exception")}
            )
            el.text = _details(c)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
