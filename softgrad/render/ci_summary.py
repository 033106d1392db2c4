"""What the CI formats (``github``, ``markdown``, ``html``) say about a report, gathered once from the
report's own fields: the status and verdict, the counts per status and per mistake, the worst rows, one
annotation per failing row or case, the commands that reproduce it, and the error distribution."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from softgrad.catalogue.exposing import check_command
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.batch.report import BatchReport
from softgrad.commands.batch.summary import HIST_HI, HIST_LO
from softgrad.commands.check.report import CheckReport
from softgrad.commands.layer.report import LayerReport
from softgrad.commands.verify.report import CaseResult, VerifyReport
from softgrad.commands.verify.weights_report import WeightsCaseResult, WeightsReport
from softgrad.render.layout import num
from softgrad.render.verify_junit import case_message


@dataclass(frozen=True)
class Annotation:
    """One finding, as a CI system shows it beside the code or the input row."""

    #: "error" or "warning"
    level: str
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None


@dataclass(frozen=True)
class CiSummary:
    """A report reduced to what a CI page shows."""

    command: str
    subject: str
    status: str
    verdict: str
    #: what is counted: "rows", "cases" or "checks"
    unit: str
    counts: dict[str, int]
    mistakes: dict[str, int]
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    #: every failing row or case, worst first (the renderers show the first --show)
    annotations: tuple[Annotation, ...] = ()
    #: failing rows or cases not among ``annotations`` (counted, not listed)
    unlisted: int = 0
    reproduce: tuple[str, ...] = ()
    #: rows (or cases) per decade of max relative error: "0" for exact, "1e-7" for [1e-7, 1e-6)
    histogram: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def decade(x: float) -> str | None:
    """The histogram bin of a relative error (None for NaN)."""
    if math.isnan(x):
        return None
    if x == 0:
        return "0"
    e = HIST_HI - 1 if math.isinf(x) else min(max(math.floor(math.log10(x)), HIST_LO), HIST_HI - 1)
    return f"1e{e}"


def decades(errors: Iterable[float | None]) -> dict[str, int]:
    """How many of the errors (None and NaN left out) fall in each decade bin."""
    hist: Counter[str] = Counter()
    for err in errors:
        key = decade(err) if err is not None else None
        if key is not None:
            hist[key] += 1
    return dict(hist)


def batch_summary(r: BatchReport, show: int) -> CiSummary:
    """Counts per status and mistake over every file; the worst rows; an annotation per failing (or
    unstable) row among the worst and per bad row."""
    total = r.total
    carried = sorted({k for w in total.worst_rows for k in w.carried})
    rows = tuple(
        (
            w.source,
            str(w.line),
            *(w.carried.get(k, "") for k in carried),
            w.status,
            num(w.max_abs_err, 3),
            num(w.max_rel_err, 3),
            w.diagnosis or "",
        )
        for w in total.worst_rows[:show]
    )
    notes: list[Annotation] = []
    for w in total.worst_rows:
        if w.status not in ("fail", "unstable"):
            continue
        ids = ", ".join(f"{k}={v}" for k, v in w.carried.items())
        known = w.diagnosis if w.diagnosis not in (None, "unknown") else None
        what = known or ("gradient mismatch, no catalogued mistake matches" if w.status == "fail" else "unstable")
        text = f"row {w.line}: {what} (max rel err {num(w.max_rel_err, 3)}, max abs err {num(w.max_abs_err, 3)})"
        notes.append(
            Annotation(
                "error" if w.status == "fail" else "warning",
                text + (f" [{ids}]" if ids else ""),
                w.source,
                w.line,
                "softgrad batch",
            )
        )
    bad_level = "warning" if r.skip_bad else "error"
    for b in total.bad_rows:
        notes.append(Annotation(bad_level, f"row {b.line}: bad row: {b.message}", b.source, b.line, "softgrad batch"))
    listed_fail = sum(a.level == "error" for a in notes if not a.message.startswith(f"row {a.line}: bad row"))
    files = " ".join(f.file for f in r.files)
    counts = dict(total.counts)
    done = counts["pass"] + counts["fail"] + counts["unstable"]
    verdict = f"{counts['fail']} of {done} rows fail" if counts["fail"] else f"all {done} checked rows pass"
    if counts["bad"]:
        verdict += f"; {counts['bad']} bad rows" + (" (skipped)" if r.skip_bad else "")
    return CiSummary(
        "batch",
        files,
        r.status,
        verdict,
        "rows",
        counts,
        dict(total.mistakes),
        ("file", "line", *carried, "status", "max abs err", "max rel err", "diagnosis"),
        rows,
        tuple(notes),
        max(0, counts["fail"] - listed_fail),
        (f"softgrad batch {files}", f"softgrad batch {files} --format csv | grep ',fail,'"),
        dict(total.histogram),
        _batch_notes(r),
    )


def _batch_notes(r: BatchReport) -> tuple[str, ...]:
    """A common factor of the unexplained failing rows, per file, and where batch-level mistakes were not
    looked for."""
    several = len(r.files) > 1
    notes = [f"{f.file}: {f.scale_note}" if several else f.scale_note for f in r.files if f.scale_note]
    if r.total.batch_level_note:
        notes.append(r.total.batch_level_note)
    return tuple(notes)


def _case_rel_err(c: CaseResult) -> float | None:
    return c.comparison.max_rel_err if c.comparison is not None else None


def verify_summary(r: VerifyReport, show: int, where: tuple[str, int] | None) -> CiSummary:
    """Counts per case status and per diagnosed mistake; the failing cases, worst first; an annotation at
    the function's definition per failing case."""
    n = r.counts()
    counts = {k: n[k] for k in ("pass", "fail", "error", "skipped")}
    failed = sorted(r.failed, key=lambda c: -(_case_rel_err(c) or math.inf))
    mistakes = Counter(c.matches[0] for c in r.cases if c.status == "fail" and c.matches)
    rows = tuple(
        (c.name, c.status, num(_case_rel_err(c), 3), c.matches[0] if c.matches else "", c.command or "")
        for c in failed[:show]
    )
    file, line = where if where else (None, None)
    notes = tuple(
        Annotation("error", f"{c.name}: {case_message(c)}", file, line, f"softgrad verify {r.target}") for c in failed
    )
    hist = decades(_case_rel_err(c) for c in r.cases)
    reproduce = [f"softgrad verify {r.target} --kind {r.kind}"]
    reproduce += list(dict.fromkeys(c.command for c in failed if c.command))
    return CiSummary(
        "verify",
        r.target,
        r.status,
        r.verdict,
        "cases",
        counts,
        dict(mistakes.most_common()),
        ("case", "status", "max rel err", "matches", "reproduce"),
        rows,
        notes,
        0,
        tuple(reproduce),
        hist,
        r.notes,
    )


def _check_failure(r: CheckReport, name: str) -> str:
    if name == "user gradient" and r.user is not None:
        text = f"your gradient dE/dz is wrong (max rel err {num(r.user.comparison.max_rel_err, 3)})"
        if r.user.matches:
            mid = r.user.matches[0].id
            text += f": matches {mid}: {MISTAKES[mid].title}"
        return text
    if name == "user jacobian" and r.user_jacobian is not None:
        text = f"your softmax Jacobian is wrong (max rel err {num(r.user_jacobian.comparison.max_rel_err, 3)})"
        if r.user_jacobian.matches:
            mid = r.user_jacobian.matches[0]
            text += f": matches {mid}: {MISTAKES[mid].title}"
        return text
    c = r.comparisons.get(name)
    return f"{name} disagrees with the fused formula" + (f" (max rel err {num(c.max_rel_err, 3)})" if c else "")


def _weights_case_err(c: WeightsCaseResult) -> float | None:
    errs = [q.max_rel_err for q in c.checks if q.max_rel_err is not None]
    return max(errs) if errs else None


def _weights_case_message(c: WeightsCaseResult) -> str:
    if c.status == "error":
        return c.error or "error"
    parts = []
    for q in c.checks:
        if not q.ok:
            what = f"{q.matches[0]}: {MISTAKES[q.matches[0]].title}" if q.matches else "wrong"
            parts.append(f"{q.name} {what} (max rel err {num(q.max_rel_err, 3)})")
    return "; ".join(parts) or "wrong"


def weights_summary(r: WeightsReport, show: int, where: tuple[str, int] | None) -> CiSummary:
    """The layer-code kinds of verify (weights, loss-and-grad): counts per case status and per diagnosed
    mistake, the failing cases worst first, an annotation at the function per failing case."""
    n = r.counts()
    failed = sorted(r.failed, key=lambda c: -(_weights_case_err(c) or math.inf))
    mistakes = Counter(q.matches[0] for c in r.cases for q in c.checks if not q.ok and q.matches)
    rows = tuple((c.name, c.status, num(_weights_case_err(c), 3), _weights_case_message(c)) for c in failed[:show])
    file, line = where if where else (None, None)
    title = f"softgrad verify {r.target}"
    notes = tuple(Annotation("error", f"{c.name}: {_weights_case_message(c)}", file, line, title) for c in failed)
    hist = decades(_weights_case_err(c) for c in r.cases)
    return CiSummary(
        "verify",
        r.target,
        r.status,
        r.verdict,
        "cases",
        {k: n[k] for k in ("pass", "fail", "error")},
        dict(mistakes.most_common()),
        ("case", "status", "max rel err", "what"),
        rows,
        notes,
        0,
        (f"softgrad verify {r.target} --kind {r.kind}",),
        hist,
        r.notes,
    )


def check_summary(r: CheckReport, source: str | None) -> CiSummary:
    """One annotation per failed check (and a warning per unstable path)."""
    failures = [_check_failure(r, f) for f in r.failures]
    notes = [Annotation("error", f, source, None, "softgrad check") for f in failures]
    notes += [Annotation("warning", u, source, None, "softgrad check") for u in r.unstable]
    mistakes: dict[str, int] = {}
    if r.user is not None and not r.user.ok and r.user.matches:
        mistakes[r.user.matches[0].id] = 1
    if r.user_jacobian is not None and not r.user_jacobian.ok and r.user_jacobian.matches:
        mistakes[r.user_jacobian.matches[0]] = 1
    rows = [(name, "pass" if c.ok else "fail", num(c.max_rel_err, 3)) for name, c in r.comparisons.items()]
    if r.user is not None:
        rows.append(("your gradient", "pass" if r.user.ok else "fail", num(r.user.comparison.max_rel_err, 3)))
    if r.user_jacobian is not None:
        j = r.user_jacobian
        rows.append(("your Jacobian", "pass" if j.ok else "fail", num(j.comparison.max_rel_err, 3)))
    counts = {"pass": sum(row[1] == "pass" for row in rows), "fail": len(r.failures), "unstable": len(r.unstable)}
    grad = r.user.gradient if r.user is not None else None
    return CiSummary(
        "check",
        source or "z = " + " ".join(num(x) for x in r.z),
        r.status,
        "; ".join(failures) if failures else "every check passes",
        "checks",
        counts,
        mistakes,
        ("comparison", "status", "max rel err"),
        tuple(rows),
        tuple(notes),
        0,
        (check_command(r.z, r.t, temperature=r.temperature, dtype=r.dtype, grad=grad),),
    )


def layer_summary(r: LayerReport, source: str | None) -> CiSummary:
    """One annotation per failed check of a layer quantity (and a warning per unstable one)."""
    rows: list[tuple[str, ...]] = []
    failures = {f: f for f in r.failures}
    ok = bad = 0
    for q in r.quantities:
        for name, c in q.comparisons.items():
            ok += c.ok
            bad += not c.ok
            rows.append((q.label, name, "pass" if c.ok else "fail", num(c.max_rel_err, 3)))
        if q.user is not None:
            u = q.user
            ok += u.ok
            bad += not u.ok
            rows.append((q.label, "yours", "pass" if u.ok else "fail", num(u.comparison.max_rel_err, 3)))
            for f in failures:
                if not u.ok and f == f"your {q.label}":
                    text = f"{f} is wrong (max rel err {num(u.comparison.max_rel_err, 3)})"
                    if u.matches:
                        text += f": matches {u.matches[0].id}"
                    failures[f] = text
    notes = [Annotation("error", f, source, None, "softgrad layer") for f in failures.values()]
    notes += [Annotation("warning", u, source, None, "softgrad layer") for u in r.unstable]
    mistakes = {d.id: len(d.quantities) for d in r.diagnosis}
    return CiSummary(
        "layer",
        source or "the layer given on the command line",
        r.status,
        "; ".join(failures.values()) if failures else "every check passes",
        "checks",
        {"pass": ok, "fail": bad, "unstable": len(r.unstable)},
        mistakes,
        ("quantity", "comparison", "status", "max rel err"),
        tuple(rows),
        tuple(notes),
    )


def summary_of(report: object, *, show: int, where: tuple[str, int] | None, sources: Sequence[str]) -> CiSummary:
    """The CI summary of any command's report."""
    source = sources[0] if sources else None
    if isinstance(report, BatchReport):
        return batch_summary(report, show)
    if isinstance(report, VerifyReport):
        return verify_summary(report, show, where)
    if isinstance(report, WeightsReport):
        return weights_summary(report, show, where)
    if isinstance(report, CheckReport):
        return check_summary(report, source)
    if isinstance(report, LayerReport):
        return layer_summary(report, source)
    raise TypeError(f"no CI summary for {type(report).__name__}")
