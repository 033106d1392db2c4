"""The ``batch`` report as a document: totals, mistakes, worst rows, bad rows and an error histogram."""

from __future__ import annotations

from softgrad.commands.batch.report import BATCH_MISTAKES, BatchReport
from softgrad.commands.batch.summary import HIST_HI, HIST_LO
from softgrad.core.tolerance import FORMULA
from softgrad.render.layout import Cell, Document, Table, line, num

BAR = 40
STYLE = {"pass": "ok", "fail": "bad", "unstable": "warn", "bad": "bad"}


def batch_document(r: BatchReport, *, show_bad: int = 20) -> Document:
    doc: Document = [line(Cell("softgrad batch", "head"))]
    table = Table(
        ["file", "K", "rows", "pass", "fail", "unstable", "bad", "status"], align=["left"] + ["right"] * 6 + ["left"]
    )
    for f in [*r.files, r.total] if len(r.files) > 1 else r.files:
        c = f.counts
        table.add(
            f.file,
            str(f.k or "—"),
            str(f.rows),
            str(c["pass"]),
            Cell(str(c["fail"]), "bad" if c["fail"] else ""),
            Cell(str(c["unstable"]), "warn" if c["unstable"] else ""),
            Cell(str(c["bad"]), "bad" if c["bad"] else ""),
            Cell(f.status, STYLE[f.status]),
        )
    doc.append(table)
    total = r.total
    if total.mistakes:
        mt = Table(["diagnosis", "rows"], align=["left", "right"], title="diagnosed mistakes")
        for mid, count in total.mistakes.items():
            mt.add(Cell(mid, "warn"), str(count))
        doc.append(mt)
        if total.ambiguous_rows:
            doc.append(
                line(
                    Cell(
                        f"{total.ambiguous_rows} rows match more than one mistake "
                        "(softgrad check on such a row proposes an input that tells them apart)",
                        "dim",
                    )
                )
            )
    for reason, count in total.unstable_reasons.items():
        doc.append(line(Cell("unstable: ", "warn"), f"{count} rows — {reason}"))
    doc.extend(_precision_lines(r))
    doc.extend(_batch_level_lines(r))
    worst = total.worst_rows
    if worst:
        carried = sorted({k for w in worst for k in w.carried})
        wt = Table(
            ["file", "line", *carried, "status", "max abs err", "max rel err", "diagnosis"],
            align=["left", "right", *["left"] * len(carried), "left", "right", "right", "left"],
            title=f"worst rows (by relative error; {len(worst)} shown, --show N for more or fewer)",
        )
        for w in worst:
            wt.add(
                w.source,
                str(w.line),
                *(w.carried.get(k, "") for k in carried),
                Cell(w.status, STYLE[w.status]),
                num(w.max_abs_err, 3),
                num(w.max_rel_err, 3),
                w.diagnosis or "",
            )
        doc.append(wt)
    bad = total.bad_rows
    if bad:
        doc.append(line(Cell(f"bad rows ({total.counts['bad']}):", "bad")))
        for b in bad[:show_bad]:
            doc.append(line(f"  {b}"))
        if total.counts["bad"] > show_bad:
            doc.append(line(Cell(f"  … {total.counts['bad'] - show_bad} more (all in --format json or csv)", "dim")))
        doc.append(line(""))
    doc.extend(_histogram(total.histogram))
    grad = "your gradient vs the expected one" if any(f.has_grad for f in r.files) else None
    what = grad or "finite difference vs the fused reference (no gradient columns)"
    doc.append(
        line(
            Cell(
                f"errors: {what}; tolerance {FORMULA} with rtol = "
                f"{num(r.options.tolerance.rtol)}, atol = {num(r.options.tolerance.atol)}",
                "dim",
            )
        )
    )
    doc.append(line(""))
    doc.append(line("status: ", Cell(r.status.upper(), STYLE[r.status])))
    return doc


def _precision_lines(r: BatchReport) -> Document:
    """The float32 hint per file (as check gives it), and how many rows passed only to their written decimals."""
    doc: Document = []
    several = len(r.files) > 1
    for f in r.files:
        where = f"{f.file}: " if several else ""
        if f.float32_hint:
            doc.append(
                line(Cell("hint: ", "warn"), f"{where}these gradients agree to float32 precision: --dtype float32")
            )
        elif f.float32_rows:
            doc.append(
                line(
                    Cell("hint: ", "warn"),
                    f"{where}{f.float32_rows} of the {f.counts['fail']} failing rows agree to float32 precision "
                    "(--dtype float32)",
                )
            )
    total = r.total
    if total.within_precision_rows:
        doc.append(
            line(
                Cell(
                    f"{_rows_pass(total.within_precision_rows)} "
                    "to the decimals their gradient was written with "
                    "(± half a unit in the last decimal; --exact: without)",
                    "dim",
                )
            )
        )
    return doc


def _batch_level_lines(r: BatchReport) -> Document:
    """What a common factor of the unexplained failing rows suggests, and where the batch-level mistakes were
    not looked for (rows checked in streamed blocks)."""
    doc: Document = []
    several = len(r.files) > 1
    for f in r.files:
        note = f.scale_note
        if note:
            doc.append(line(Cell("hint: ", "warn"), f"{f.file}: {note}" if several else note))
    n = r.total.rows_not_batch_checked
    if n:
        doc.append(
            line(
                Cell("note: ", "warn"),
                f"batch-level mistakes ({', '.join(BATCH_MISTAKES)}) were not looked for in {n} rows, checked "
                "in streamed blocks rather than as one batch: --batch-size N looks for them in every batch of N rows",
            )
        )
    return doc


def _histogram(hist: dict[str, int]) -> Document:
    """One bar per non-empty decade of relative error; a run of empty decades shows as one ⋮ line."""
    if not hist:
        return []
    biggest = max(hist.values())
    doc: Document = [line(Cell("per-row max relative error", "bold"))]

    def bar(label: str, count: int, style: str) -> None:
        doc.append(line(f"  {label:<16}", Cell("█" * max(1, round(BAR * count / biggest)), style), f" {count}"))

    if "0" in hist:
        bar("exactly 0", hist["0"], "ok")
    decades = [e for e in range(HIST_LO, HIST_HI) if f"1e{e}" in hist]
    previous = None
    for e in decades:
        if previous is not None and e > previous + 1:
            doc.append(line(Cell("  ⋮", "dim")))
        label = f"[1e{e}, 1e{e + 1})" if e < HIST_HI - 1 else f">= 1e{e}"
        bar(label, hist[f"1e{e}"], "bad" if e >= -3 else "warn" if e >= -7 else "ok")
        previous = e
    doc.append(line(""))
    return doc


def _rows_pass(n: int) -> str:
    return f"{n} row passes" if n == 1 else f"{n} rows pass"
