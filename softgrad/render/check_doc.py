"""The ``check`` report as a document (lines and tables) for the table renderers."""

from __future__ import annotations

import math

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.check.report import CheckReport, GradientVerdict, JacobianVerdict, MistakeRow
from softgrad.core import FULL_FD_MAX_K
from softgrad.core.numbers import describe_precision
from softgrad.core.tolerance import FORMULA, Comparison
from softgrad.render.layout import CROSS, TICK, Cell, Document, Table, line, matrix_lines, num, vector

#: Up to this many classes the gradients are laid out with one column per component.
HORIZONTAL_MAX_K = 6
CLASSIC = "jacobian_at_logits"


def _mark(ok: bool | None) -> Cell:
    if ok is None:
        return Cell("—", "warn")
    return TICK if ok else CROSS


def check_document(r: CheckReport) -> Document:
    """Inputs and softmax, the gradients table, the comparisons, mistakes and the verdict."""
    tau = "" if r.temperature == 1.0 else f", τ = {num(r.temperature)}"
    doc: Document = [
        line(Cell(f"softgrad check — K = {r.k}{tau}, {r.dtype}", "head")),
        line("  z          = ", vector(r.z)),
        line("  t          = ", vector(r.t), Cell(f"   (Σt = {num(sum(r.t))})", "dim")),
        line("  s = softmax(z/τ) = " if tau else "  softmax(z) = ", vector(r.softmax)),
        line("  loss       = ", num(r.loss)),
        line(""),
    ]
    shown = _shown_mistakes(r)
    doc.append(_gradients_horizontal(r, shown) if r.k <= HORIZONTAL_MAX_K else _gradients_vertical(r, shown))
    doc.append(_comparisons(r))
    doc.append(
        line(
            Cell(
                f"reference: fused s·Σt − t{' (÷τ)' if tau else ''}; each check passes where {FORMULA} "
                f"with rtol = {num(r.tolerance.rtol)}, atol = {num(r.tolerance.atol)} ({r.dtype})",
                "dim",
            )
        )
    )
    doc.append(line(Cell(_fd_text(r), "dim")))
    precision = _precision_text(r)
    if precision:
        doc.append(line(Cell(precision, "dim")))
    for reason in r.unstable:
        doc.append(line(Cell("unstable: ", "warn"), reason))
    for m in shown:
        if m.differs:
            doc.append(
                line(
                    Cell(f"mistake {m.id}: ", "warn"),
                    f"{m.formula} gives {vector(m.gradient)} — {m.title}",
                )
            )
    if r.user is not None:
        doc.append(line(""))
        doc.extend(_user_gradient(r.user, r.temperature))
    if r.user_jacobian is not None:
        doc.append(line(""))
        doc.extend(_user_jacobian(r.user_jacobian, r.temperature))
    doc.append(line(""))
    style = {"pass": "ok", "fail": "bad", "unstable": "warn"}[r.status]
    doc.append(line("status: ", Cell(r.status.upper(), style), Cell(_status_reason(r), "dim")))
    return doc


def _precision_text(r: CheckReport) -> str:
    """How the user's numbers were compared, where the precision they were written with mattered."""
    u, j = r.user, r.user_jacobian
    used = [*(u.precision if u else ()), *(x for row in (j.precision if j else ()) for x in row)]
    mattered = (u is not None and (u.within_precision or u.verdict == "unknown" or any(
        m.within_precision for m in (*u.matches, *u.not_ruled_out)
    ))) or (j is not None and j.within_precision)  # fmt: skip
    if any(p > 0 for p in used) and mattered:
        return (
            f"your numbers may also be off by half a unit in the last digit you wrote ({_example(r)}): "
            f"{FORMULA} + precision (--exact: without)"
        )
    if r.tolerance.precision == "rtol/atol given" and (u or j):
        return "your numbers are compared at exactly this tolerance (rtol/atol given: no precision on top)"
    return ""


def _example(r: CheckReport) -> str:
    """One of the user's own numbers with the precision it was given (``0.79: ±5e-3``)."""
    u, j = r.user, r.user_jacobian
    pairs = list(zip(u.gradient, u.precision, strict=False)) if u else []
    if j is not None:
        pairs += [
            (v, p) for vrow, prow in zip(j.matrix, j.precision, strict=False) for v, p in zip(vrow, prow, strict=False)
        ]
    for value, p in pairs:
        if p > 0:
            decimals = max(0, round(-math.log10(2 * p)))
            return f"{value:.{decimals}f}: ±{p:.0e}".replace("e-0", "e-")
    return "0.7856: ±5e-5"


def right_formula(temperature: float) -> str:
    """The right gradient, as the verdict states it."""
    if temperature == 1.0:
        return "(−t/s)·J(s) = s·Σt − t, with J(s) = diag(s) − s sᵀ"
    return "(−t/s)·J(s)/τ = (s·Σt − t)/τ, with J(s) = diag(s) − s sᵀ and s = softmax(z/τ)"


def to_precision(within: bool, precision: tuple[float, ...]) -> str:
    """`` to the 4 decimals you gave`` where a match needed the precision the numbers were written with."""
    words = describe_precision(precision)
    return f" to {words}" if within and words else ""


def _status_reason(r: CheckReport) -> str:
    if r.failures:
        return f"  ({', '.join(r.failures)} failed)"
    if r.unstable:
        return "  (the reference is sound; the chained product is not)"
    return ""


def _fd_text(r: CheckReport) -> str:
    how = "central differences at steps h and 2h" if r.fd_method == "central" else "complex step"
    if r.fd_mode == "directional":
        return (
            f"finite difference: {how}, along seeded random directions (K = {r.k} > {FULL_FD_MAX_K}; "
            "--fd full forces every component); allowed its own error estimate on top"
        )
    return f"finite difference: {how}; allowed its own error estimate (max {num(max(r.fd_error), 3)}) on top"


def _shown_mistakes(r: CheckReport) -> list[MistakeRow]:
    ids = {CLASSIC}
    if r.user is not None:
        ids |= {m.id for m in r.user.matches}
    return [m for m in r.mistakes if m.id in ids]


def _rows(r: CheckReport, shown: list[MistakeRow]) -> list[tuple[Cell, tuple[float, ...] | None, Cell]]:
    chained_ok = r.comparisons["chained"].ok if "chained" in r.comparisons else None
    rows = [
        (Cell("fused s·Σt − t (reference)", "ref"), r.fused, Cell("ref", "ref")),
        (Cell("chained (−t/s)·J(s)"), r.chained, _mark(chained_ok)),
    ]
    if r.finite_difference is not None:
        rows.append(
            (
                Cell(f"finite difference ({r.fd_method})"),
                r.finite_difference,
                _mark(r.comparisons["finite_difference"].ok),
            )
        )
    if r.user is not None:
        rows.append((Cell("yours", "bold"), r.user.gradient, _mark(r.user.ok)))
    for m in shown:
        rows.append(
            (
                Cell(f"{m.id}: {m.formula}", "warn"),
                m.gradient,
                Cell("differs" if m.differs else "same", "dim"),
            )
        )
    return rows


def _gradients_horizontal(r: CheckReport, shown: list[MistakeRow]) -> Table:
    t = Table(
        ["dE/dz", *[f"[{i}]" for i in range(r.k)], ""],
        align=["left", *["right"] * r.k, "left"],
    )
    for label, values, mark in _rows(r, shown):
        cells = [Cell(num(v)) for v in values] if values is not None else [Cell("—", "warn")] * r.k
        t.add(label, *cells, mark)
    return t


def _gradients_vertical(r: CheckReport, shown: list[MistakeRow]) -> Table:
    rows = _rows(r, shown)
    t = Table(
        ["k", "z", "t", "s", *[label.text.split(" (")[0].split(":")[0] for label, _, _ in rows]],
        align=["right"] * (4 + len(rows)),
        title=f"dE/dz, one row per class (K = {r.k})",
    )
    for k in range(r.k):
        vals = [Cell(num(v[k])) if v is not None else Cell("—", "warn") for _, v, _ in rows]
        t.add(str(k), num(r.z[k]), num(r.t[k]), num(r.softmax[k]), *vals)
    return t


def _comparisons(r: CheckReport) -> Table:
    t = Table(
        ["compared with the reference", "max abs err", "max rel err", "worst index", "ok"],
        align=["left", "right", "right", "right", "left"],
    )

    def add(name: str, c: Comparison | None) -> None:
        if c is None:
            t.add(name, "—", "—", "—", Cell("not computable", "warn"))
        else:
            t.add(name, num(c.max_abs_err, 3), num(c.max_rel_err, 3), str(c.worst_index), _mark(c.ok))

    add("chained", r.comparisons.get("chained"))
    fd_name = "finite difference" + (" (directional)" if r.fd_mode == "directional" else "")
    add(fd_name, r.comparisons["finite_difference"])
    if r.user is not None:
        add("yours", r.user.comparison)
    if r.user_jacobian is not None:
        add("your Jacobian vs J(s)", r.user_jacobian.comparison)
    return t


def _user_gradient(u: GradientVerdict, temperature: float = 1.0) -> Document:
    doc: Document = []
    c = u.comparison
    if u.verdict == "correct":
        doc.append(line(TICK, f" your gradient matches the reference{to_precision(u.within_precision, u.precision)}"))
        if u.not_ruled_out:
            ids = ", ".join(m.id for m in u.not_ruled_out)
            at = to_precision(any(m.within_precision for m in u.not_ruled_out), u.precision)
            at = f" ({at.strip()})" if at else ""
            them = "it" if len(u.not_ruled_out) == 1 else "them"
            ask = "" if u.searched else f"  (--rule-out: an input that rules {them} out)"
            doc.append(line(Cell(f"  not ruled out by this input{at}: {ids}{ask}", "dim")))
    else:
        doc.append(
            line(
                CROSS,
                f" your gradient does not match the reference (max abs err {num(c.max_abs_err, 4)}, "
                f"furthest out of tolerance at index {c.worst_index})",
            )
        )
    if u.verdict == "mistake":
        first = u.matches[0]
        m = MISTAKES[first.id]
        at = to_precision(first.within_precision, u.precision)
        doc.append(line("  it matches ", Cell(first.id, "bad"), f"{at}: {m.title}"))
        if first.factor:
            doc.append(line(Cell(f"    wrong: your gradient is the reference {first.factor} — {first.advice}", "bad")))
        else:
            doc.append(line(Cell(f"    wrong: {m.formula}", "bad")))
        doc.append(line(Cell(f"    right: {right_formula(temperature)}", "ok")))
        for other in u.matches[1:]:
            at = to_precision(other.within_precision, u.precision)
            doc.append(line(f"  it also matches {other.id}{at}: {MISTAKES[other.id].title}"))
    elif u.verdict == "unknown":
        if u.closest:
            doc.append(line("  it matches no catalogued mistake; the closest are:"))
            for near in u.closest:
                doc.append(line(f"    {near.id}: max abs err {num(near.max_abs_err, 4)}"))
        else:
            doc.append(line("  it matches no catalogued mistake"))
    if u.ambiguous:
        ask = "" if u.searched else "  (--rule-out: an input that tells them apart)"
        doc.append(line(Cell(f"  ambiguous at this input: {', '.join(u.ambiguous)}{ask}", "warn")))
    for note in u.notes:
        doc.append(line(Cell(f"  note: {note}", "dim")))
    if u.distinguishing_input is not None:
        what = ("rule it out" if len(u.not_ruled_out) == 1 else "rule them out") if u.ok else "tell them apart"
        doc.append(line(f"  to {what}, compute your gradient at: ", Cell(u.distinguishing_input.command(), "bold")))
    elif u.searched and (u.ambiguous or u.not_ruled_out):
        doc.append(line(Cell("  no small input found that tells them apart", "dim")))
    return doc


def _user_jacobian(j: JacobianVerdict, temperature: float = 1.0) -> Document:
    doc: Document = []
    flat = tuple(x for row in j.precision for x in row)
    # with a temperature the Jacobian checked is ∂s/∂z = J(s)/τ, not J(s) = ∂s/∂(z/τ)
    right = "J(s) = diag(s) − s sᵀ" if temperature == 1.0 else f"∂s/∂z = J(s)/τ = (diag(s) − s sᵀ)/{temperature:g}"
    if j.ok:
        doc.append(line(TICK, f" your Jacobian matches {right}{to_precision(j.within_precision, flat)}"))
    else:
        n = len(j.wrong_entries)
        doc.append(
            line(
                CROSS,
                f" your Jacobian differs from {right} in {n} entr{'y' if n == 1 else 'ies'}",
            )
        )
        for mid in j.matches:
            doc.append(line("  it matches ", Cell(mid, "bad"), f": {MISTAKES[mid].title}"))
        if len(j.matrix) <= 8:
            doc.append(line("  yours:"))
            doc.extend(line("    ", Cell(text, "bad")) for text in matrix_lines(j.matrix))
            doc.append(line("  J(s):"))
            doc.extend(line("    ", Cell(text, "ok")) for text in matrix_lines(j.expected))
        for w in j.wrong_entries[:20]:
            doc.append(line(f"    J[{w.row}][{w.col}] = {num(w.got)}, expected {num(w.expected)}"))
        if len(j.wrong_entries) > 20:
            doc.append(
                line(
                    Cell(
                        f"    … and {len(j.wrong_entries) - 20} more wrong entries (all in --format json)",
                        "dim",
                    )
                )
            )
    for inv in j.invariants:
        doc.append(line("  ", _mark(inv.ok), f" {inv.name}: {inv.detail}"))
    return doc
