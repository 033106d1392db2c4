"""The ``layer`` reports as documents: the check (inputs, each quantity's values side by side, the
comparisons, the verdicts), the derivation of ``explain``, and one layer mistake at an input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from softgrad.catalogue.diagnose import Match
from softgrad.catalogue.layer_diagnose import LayerMistakeAt
from softgrad.catalogue.mistakes import MISTAKES, Mistake
from softgrad.commands.layer.explain import LayerExplainReport
from softgrad.commands.layer.report import EntryComparison, LayerReport, Nested, QuantityCheck, UserQuantity
from softgrad.core.layer import as_nested
from softgrad.core.tolerance import FORMULA
from softgrad.render.layout import CROSS, TICK, Cell, Document, Table, line, matrix_lines, num, side_by_side, vector

#: Matrices with more entries than this are summarised (every entry is in --format json).
MATRIX_MAX_ENTRIES = 64
#: Blocks wider than this together are stacked instead of laid side by side.
WIDTH = 110


def _mark(ok: bool | None) -> Cell:
    if ok is None:
        return Cell("—", "warn")
    return TICK if ok else CROSS


def value_text(value: Nested | None, digits: int = 6, *, listed: bool = False) -> list[str]:
    """A number, vector or matrix as text lines (large matrices summarised); ``listed``: None is an array
    left out of the report for its size."""
    if value is None:
        return ["— (not listed: too large)" if listed else "—"]
    if isinstance(value, float):
        return [num(value, digits)]
    if value and isinstance(value[0], tuple):
        rows: Sequence[Sequence[float]] = value  # type: ignore[assignment]
        if len(rows) * len(rows[0]) > MATRIX_MAX_ENTRIES:
            return [f"{len(rows)}×{len(rows[0])} matrix (every entry in --format json)"]
        return matrix_lines(rows, digits)
    return [vector(value, digits)]  # type: ignore[arg-type]


def _one_line(value: Nested) -> str:
    if isinstance(value, float):
        return num(value)
    if value and isinstance(value[0], tuple):
        return "[" + ", ".join(_one_line(r) for r in value) + "]"  # type: ignore[arg-type]
    return vector(value)  # type: ignore[arg-type]


def index_text(idx: tuple[int, ...] | None) -> str:
    """``(row, col)`` for a matrix entry, ``[i]`` for a vector's."""
    if idx is None:
        return "—"
    if len(idx) == 1:
        return f"[{idx[0]}]"
    return "(" + ", ".join(map(str, idx)) + ")"


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape)) if shape else "a number"


def _header(r: LayerReport) -> Document:
    n = r.input.net
    if n.convention == "column":
        how = "column convention (z = W a + b), " + ("one example" if n.single else f"{n.n} examples as columns")
    else:
        how = f"row convention (Z = A W + b), N = {n.n} rows, {n.reduction} over the rows"
    dims = f"K = {n.k}, H = {n.h}" + (f", D = {n.d}" if n.hidden else "")
    doc: Document = [line(Cell(f"softgrad layer — {how}; {dims}, {r.dtype}", "head"))]
    labels = {k: k for k in ("a_in", "W_h", "b_h", "a", "W", "b", "t")}
    arrays = r.input.arrays()
    values: list[tuple[str, Nested | str | None]] = [
        (labels[k], _summary(arrays[k]) or _nested(arrays[k]))
        for k in ("a_in", "W_h", "b_h", "a", "W", "b", "t")
        if k in arrays
    ]
    if n.hidden:
        values.insert(sum(1 for k in ("a_in", "W_h", "b_h") if k in arrays), ("σ", n.activation or ""))
    fwd = r.forward
    zh = "z_h = W_h a_in + b_h" if n.convention == "column" else "Z_h = A_in W_h + b_h"
    z = "z = W a + b" if n.convention == "column" else "Z = A W + b"
    if "z_h" in fwd:
        values += [(zh, fwd["z_h"]), ("a = σ(z_h)", fwd["a"])]
    values += [(z, fwd["z"]), ("s = softmax(z)", fwd["s"])]
    width = max(len(k) for k, _ in values)
    for key, value in values:
        if isinstance(value, str):
            doc.append(line(f"  {key.ljust(width)} = {value}"))
            continue
        if value is None:
            doc.append(line(f"  {key.ljust(width)} = (too large to list)"))
            continue
        text = value_text(value)
        doc.append(line(f"  {key.ljust(width)} = ", text[0]))
        doc.extend(line(" " * (width + 5), t) for t in text[1:])
    loss = f"  loss{' ' * (width - 4)} = {num(r.loss)}"
    if r.reg_loss:
        reg = "reg·‖W‖²" if n.reg_convention == "full" else "½·reg·‖W‖²"
        loss += f"   (cross-entropy {num(r.data_loss)} + {reg} {num(r.reg_loss)}, reg = {num(n.reg)})"
    doc.append(line(loss))
    return doc


def _summary(arr: Any) -> str | None:
    """A one-line description of an array too large to print (None for the others)."""
    if arr.size <= MATRIX_MAX_ENTRIES:
        return None
    return f"{_shape_text(arr.shape)} {'matrix' if arr.ndim == 2 else 'array'}"


def _nested(arr: object) -> Nested:
    out: Nested = as_nested(arr)
    return out


def _blocks(q: QuantityCheck, *, agreeing: bool = True) -> list[tuple[str, Nested | None, str]]:
    """The values shown side by side; without ``agreeing``, the chained value and the finite difference
    only where they disagree with the reference (the comparisons table has them either way)."""
    out: list[tuple[str, Nested | None, str]] = [("reference", q.reference, "ref")]
    for title, value, name in (("chained", q.chained, "chained"), ("finite difference", q.finite_difference,
                                                                        "finite_difference")):  # fmt: skip
        c = q.comparisons.get(name)
        if agreeing or c is None or not c.ok:
            out.append((title, value, ""))
    if q.user is not None:
        out.append(("yours", q.user.value, "bold"))
    for m in q.mistakes:
        out.append((f"{m.id}:", m.value, "warn"))
    return out


def _merged(q: QuantityCheck, agreeing: bool) -> tuple[list[list[str]], list[str]]:
    blocks = [[title, *("  " + t for t in value_text(value))] for title, value, _ in _blocks(q, agreeing=agreeing)]
    merged = blocks[0]
    for b in blocks[1:]:
        merged = side_by_side(merged, b, gap=4)
    return blocks, merged


def _quantity(q: QuantityCheck) -> Document:
    doc: Document = [line(Cell(f"{q.label} = {q.formula}", "bold"), Cell(f"   (shape {_shape_text(q.shape)})", "dim"))]
    if q.reference is None:
        doc.append(line(Cell("  (too large to list: the comparisons are below)", "dim")))
        doc.append(line(""))
        return doc
    blocks, merged = _merged(q, agreeing=True)
    if max(len(x) for x in merged) > WIDTH:
        blocks, merged = _merged(q, agreeing=False)
        doc.append(line(Cell("  (chained and finite difference agree with the reference: see the table below)", "dim")))
    if max(len(x) for x in merged) <= WIDTH:
        doc.extend(line("  ", x) for x in merged)
    else:
        for b in blocks:
            doc.extend(line("  ", x) for x in b)
    doc.append(line(""))
    return doc


def _comparisons(r: LayerReport) -> Table:
    t = Table(
        ["quantity", "compared with the reference", "max abs err", "max rel err", "worst entry", "ok"],
        align=["left", "left", "right", "right", "right", "left"],
    )

    def add(q: QuantityCheck, name: str, c: EntryComparison | None) -> None:
        if c is None:
            t.add(q.label, name, "—", "—", "—", Cell("not computable", "warn"))
        elif c.compared == 0 and c.max_abs_err is None:
            t.add(q.label, name, "—", "—", "—", Cell(c.note or "nothing compared", "warn"))
        else:
            t.add(q.label, name, num(c.max_abs_err, 3), num(c.max_rel_err, 3), index_text(c.worst), _mark(c.ok))

    for q in r.quantities:
        add(q, "chained", q.comparisons.get("chained"))
        add(q, "finite difference", q.comparisons.get("finite_difference"))
        if q.user is not None:
            add(q, "yours", q.user.comparison)
    return t


def layer_document(r: LayerReport) -> Document:
    """Inputs and forward pass, each quantity's values side by side, the comparisons, the verdicts."""
    doc = _header(r)
    doc.append(line(""))
    for q in r.quantities:
        doc.extend(_quantity(q))
    doc.append(_comparisons(r))
    doc.append(
        line(
            Cell(
                f"reference: the analytic formulas; each check passes where {FORMULA} with rtol = "
                f"{num(r.tolerance.rtol)}, atol = {num(r.tolerance.atol)} ({r.dtype}); worst entry = (row, col)",
                "dim",
            )
        )
    )
    doc.append(line(Cell(f"finite difference: {r.fd_note}", "dim")))
    for reason in r.unstable:
        doc.append(line(Cell("unstable: ", "warn"), reason))
    for note in r.notes:
        doc.append(line(Cell(f"note: {note}", "dim")))
    for q in r.quantities:
        for m in q.mistakes:
            small = isinstance(m.value, float) or len(_one_line(m.value)) <= 60
            if small and m.differs and (q.user is None or m.id not in {x.id for x in q.user.matches}):
                doc.append(
                    line(
                        Cell(f"mistake {m.id}: ", "warn"),
                        f"{m.formula.split('   ')[0]} gives {_one_line(m.value)} — {MISTAKES[m.id].title}",
                    )
                )
    for q in r.quantities:
        if q.user is not None:
            doc.append(line(""))
            doc.extend(_user(q, q.user))
    if r.diagnosis and sum(1 for q in r.quantities if q.user is not None) > 1:
        doc.append(line(""))
        doc.append(line("diagnosis (over every quantity you gave):"))
        for d in r.diagnosis:
            labels = ", ".join(r.quantity(x).label for x in d.quantities)
            but = "" if d.consistent else Cell("  (but it would change another of yours, which is right)", "dim")
            doc.append(line("  ", Cell(d.id, "bad"), f" explains your {labels}: {MISTAKES[d.id].title}", but))
    doc.append(line(""))
    style = {"pass": "ok", "fail": "bad", "unstable": "warn"}[r.status]
    reason = f"  ({', '.join(r.failures)} failed)" if r.failures else ""
    if not reason and r.unstable:
        reason = "  (the reference is sound; see the unstable lines)"
    doc.append(line("status: ", Cell(r.status.upper(), style), Cell(reason, "dim")))
    return doc


def _match_line(q: QuantityCheck, m: Match, first: bool) -> Document:
    entry = MISTAKES[m.id]
    doc: Document = [line("  it matches " if first else "  it also matches ", Cell(m.id, "bad"), f": {entry.title}")]
    if not first:
        return doc
    if m.factor:
        doc.append(line(Cell(f"    wrong: your {q.label} is the reference {m.factor} — {m.advice}", "bad")))
    elif entry.scope == "layer":
        doc.append(line(Cell(f"    wrong: {entry.formula}", "bad")))
    else:
        doc.append(line(Cell(f"    wrong: δ = {entry.formula} (a dE/dz mistake), carried on to {q.label}", "bad")))
    doc.append(line(Cell(f"    right: {q.label} = {q.formula}", "ok")))
    return doc


def _user(q: QuantityCheck, u: UserQuantity) -> Document:
    doc: Document = []
    c = u.comparison
    if u.verdict == "correct":
        doc.append(line(TICK, f" your {q.label} matches the reference"))
    elif c.max_abs_err is None:
        doc.append(line(CROSS, f" your {q.label} does not match the reference: {c.note}"))
    else:
        doc.append(
            line(
                CROSS,
                f" your {q.label} does not match the reference (max abs err {num(c.max_abs_err, 4)}, "
                f"furthest out of tolerance at {index_text(c.worst)})",
            )
        )
    if u.verdict == "mistake":
        for i, m in enumerate(u.matches):
            doc.extend(_match_line(q, m, i == 0))
    elif u.verdict == "unknown":
        doc.append(line("  it matches no catalogued mistake; the closest are:"))
        for near in u.closest:
            doc.append(line(f"    {near.id}: max abs err {num(near.max_abs_err, 4)}"))
    if u.ambiguous:
        doc.append(line(Cell(f"  ambiguous at this input: {', '.join(u.ambiguous)}", "warn")))
    for note in u.notes:
        doc.append(line(Cell(f"  note: {note}", "dim")))
    if u.distinguishing_input is not None:
        doc.append(line("  try: ", Cell(u.distinguishing_input.command(), "bold")))
    return doc


# ---------------------------------------------------------------------------------------------------------
# explain


def layer_explain_document(r: LayerExplainReport) -> Document:
    """The derivation with the numbers, step by step, then the wrong steps beside the right ones."""
    c = r.check
    n = c.input.net
    head = "softgrad explain — a layer, " + (
        "column convention (z = W a + b)" if n.convention == "column" else "row convention (Z = A W + b)"
    )
    doc: Document = [line(Cell(head, "head")), line("")]
    for i, step in enumerate(r.steps, start=1):
        ref = f"   [{step.ref}]" if step.ref else ""
        doc.append(line(Cell(f"{i}. {step.title}", "bold"), Cell(ref, "dim")))
        doc.append(line(f"   {step.formula}"))
        values = value_text(step.value, listed=True)
        doc.append(line("     = ", values[0]))
        doc.extend(line("       ", v) for v in values[1:])
        if step.note:
            doc.append(line(Cell(f"   {step.note}", "dim")))
        doc.append(line(""))
    numbers = {s.id: i for i, s in enumerate(r.steps, start=1)}
    previous: str | None = None
    for w in r.wrong_steps:
        first = w.mistake != previous
        if first:
            if w.mistake:
                m = MISTAKES[w.mistake]
                kind = "" if m.scope == "layer" else " (a dE/dz mistake)"
                doc.append(line(Cell(f"✗ {w.mistake}: {m.title}{kind}", "bad")))
            else:
                doc.append(line(Cell(f"✗ your {w.label} matches no catalogued mistake", "bad")))
        previous = w.mistake
        where = f"step {numbers[w.step]}, {r.steps[numbers[w.step] - 1].title}" if w.step in numbers else w.step
        doc.append(line(f"  {'where it goes wrong' if first else 'which then gives'}: {where}"))
        left = [f"wrong: {w.wrong_formula}", *("  " + x for x in value_text(w.wrong_value))]
        right = [f"right: {w.right_formula}", *("  " + x for x in value_text(w.right_value))]
        for text in side_by_side(left, right):
            doc.append(line("    ", text))
    if r.wrong_steps:
        doc.append(line(""))
    for q in c.quantities:
        if q.user is not None and q.user.ok:
            doc.append(line(TICK, f" your {q.label} matches the reference"))
    doc.append(line("status: ", Cell(r.status.upper(), "ok" if r.ok else "bad")))
    return doc


# ---------------------------------------------------------------------------------------------------------
# mistakes ID


def layer_mistake_document(m: Mistake, at: LayerMistakeAt) -> Document:
    """One layer entry at an input that exposes it: each quantity it changes, wrong beside right."""
    labels = {
        "delta": "δ",
        "dW": "∂L/∂W",
        "db": "∂L/∂b",
        "da": "∂L/∂a",
        "delta_h": "δ_h",
        "dW_h": "∂L/∂W_h",
        "db_h": "∂L/∂b_h",
        "loss": "L",
    }
    doc: Document = [
        line(Cell(m.id, "head"), f" — {m.title}"),
        line("  wrong formula: ", Cell(m.formula, "warn")),
        line("  exposed by:    ", m.exposes),
        line("  goes wrong at: ", m.step),
        line(""),
        line("at an input softgrad found that exposes it:"),
        line("  ", Cell(at.input.command() or "", "bold")),
    ]
    for q, wrong, right in at.values:
        left = [f"{m.id}: {labels[q]}", *("  " + x for x in value_text(wrong))]
        rgt = [f"right: {labels[q]}", *("  " + x for x in value_text(right))]
        doc.extend(line("  ", x) for x in side_by_side(left, rgt))
    doc.append(line("  ", Cell("differs from the reference here", "bad")))
    return doc
