"""The ``batch`` report: plain, frozen data that every renderer reads. ``to_dict()`` is exactly what
``softgrad batch --format json`` prints (NaN and inf become ``null``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.core.numbers import json_float
from softgrad.core.rules import DEFAULT_SHOW
from softgrad.core.tolerance import Tolerance
from softgrad.errors import InputError
from softgrad.inputs.rows import BadRow

#: The batch-level mistakes (looked for only where the rows are one whole batch).
BATCH_MISTAKES = tuple(m.id for m in MISTAKES.batches())


@dataclass(frozen=True)
class WorstRow:
    """A row among the worst (by relative error), with where it came from. Rows rank by relative error,
    then (equal errors) the earlier line first, so that the worst rows of any split of the rows are the same."""

    max_rel_err: float
    line: int
    source: str
    status: str
    max_abs_err: float
    diagnosis: str | None
    carried: dict[str, str] = field(default_factory=dict)

    def rank(self) -> tuple[float, int, str]:
        err = math.inf if math.isnan(self.max_rel_err) else self.max_rel_err
        return (err, -self.line, self.source)

    def __lt__(self, other: WorstRow) -> bool:
        return self.rank() < other.rank()

    def __gt__(self, other: WorstRow) -> bool:
        return self.rank() > other.rank()

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.source,
            "line": self.line,
            "status": self.status,
            "max_abs_err": json_float(self.max_abs_err),
            "max_rel_err": json_float(self.max_rel_err),
            "diagnosis": self.diagnosis,
            "carried": self.carried,
        }


@dataclass(frozen=True)
class FileReport:
    """Totals over one input (or over all of them: ``file`` is then ``"total"``)."""

    file: str
    #: "pass", "fail", "unstable", or "bad" (an unreadable row)
    status: str
    k: int | None
    #: rows read, bad rows included
    rows: int
    #: rows per status: pass, fail, unstable, bad
    counts: dict[str, int]
    #: rows per diagnosis (a catalogue id, or "unknown"), most frequent first
    mistakes: dict[str, int]
    #: rows whose gradient matches more than one catalogue entry
    ambiguous_rows: int
    unstable_reasons: dict[str, int]
    #: rows per decade of the per-row max relative error (``"1e-16"`` is [1e-16, 1e-15)); ``"0"``: exact
    histogram: dict[str, int]
    worst_rows: tuple[WorstRow, ...]
    bad_rows: tuple[BadRow, ...]
    #: the finite difference used, ``method/mode``
    finite_difference: str
    has_grad: bool
    #: rows that pass only to the decimals their gradient was written with (half a unit in the last one)
    within_precision_rows: int = 0
    #: failing rows whose gradient agrees with the expected one to float32 precision
    float32_rows: int = 0
    #: failing rows allowed no precision because their block has a value of 15+ significant digits
    full_precision_rows: int = 0
    #: how many worst rows are kept
    show: int = DEFAULT_SHOW
    #: whole batches in which the batch-level mistakes were looked for
    batches_checked: int = 0
    #: rows with user gradients checked in streamed blocks, where the batch-level mistakes were not looked for
    rows_not_batch_checked: int = 0
    #: failing rows no catalogue entry explains whose gradient is c × the expected one: c -> rows ("other":
    #: rows whose factor is not among the most frequent kept), most frequent first
    scaled_rows: dict[str, int] = field(default_factory=dict)
    #: the expected gradients were per-row ones (--reduction none): a factor 1/N then suggests a mean
    per_row: bool = True

    @property
    def scale_note(self) -> str | None:
        """What the failing rows' common factor suggests, if the unexplained failing rows share one."""
        unknown = self.mistakes.get("unknown", 0)
        factors = [(k, v) for k, v in self.scaled_rows.items() if k != "other"]
        if not factors or not unknown:
            return None
        top, rows = max(factors, key=lambda kv: (kv[1], -float(kv[0])))
        passing = self.counts.get("pass", 0)
        # a reduction is suggested only where it could explain the rows: per-row expectations, every
        # unexplained failing row scaled alike, and no row that passes as it is
        suggest = self.per_row and rows == unknown and not passing
        factor, hint = _factor_text(float(top), suggest)
        if rows == unknown:
            lead = "every failing row that no catalogue entry explains" + (f" ({rows})" if rows > 1 else "") + " is"
        else:
            lead = f"{rows} of the {unknown} failing rows that no catalogue entry explains are"
        against = "" if self.per_row else " of the --reduction in force"
        tail = f"; {passing} rows pass as they are" if passing else ""
        return f"{lead} the expected gradient{against} × {factor}{hint}{tail}"

    @property
    def batch_level_note(self) -> str | None:
        """Says where the batch-level mistakes were not looked for; None if they were everywhere."""
        if not self.rows_not_batch_checked:
            return None
        return (
            f"batch-level mistakes ({', '.join(BATCH_MISTAKES)}) not looked for in "
            f"{self.rows_not_batch_checked} rows: they were checked in streamed blocks, not as one batch "
            "(give the batch size to look for them in each batch)"
        )

    def merge(self, other: FileReport) -> FileReport:
        """The report of both sets of rows, as if they had been checked in one run (same options)."""
        if other.k is not None and self.k is not None and other.k != self.k:
            raise InputError("reports", f"cannot merge a report of K = {other.k} into one of K = {self.k}")
        counts = {key: self.counts.get(key, 0) + other.counts.get(key, 0) for key in {**self.counts, **other.counts}}
        show = max(self.show, other.show)
        worst = sorted((*self.worst_rows, *other.worst_rows), reverse=True)[:show]
        bad = sorted((*self.bad_rows, *other.bad_rows), key=lambda b: (b.source, b.line))[:BAD_KEPT]
        status = "bad" if counts["bad"] else "fail" if counts["fail"] else "unstable" if counts["unstable"] else "pass"
        return replace(
            self,
            file=self.file if self.file == other.file else "total",
            status=status,
            k=self.k if self.k is not None else other.k,
            rows=self.rows + other.rows,
            counts=counts,
            mistakes=sorted_counts(_add(self.mistakes, other.mistakes)),
            ambiguous_rows=self.ambiguous_rows + other.ambiguous_rows,
            unstable_reasons=_add(self.unstable_reasons, other.unstable_reasons),
            histogram=_add(self.histogram, other.histogram),
            worst_rows=tuple(worst),
            bad_rows=tuple(bad),
            finite_difference=self.finite_difference or other.finite_difference,
            has_grad=self.has_grad or other.has_grad,
            within_precision_rows=self.within_precision_rows + other.within_precision_rows,
            float32_rows=self.float32_rows + other.float32_rows,
            full_precision_rows=self.full_precision_rows + other.full_precision_rows,
            show=show,
            batches_checked=self.batches_checked + other.batches_checked,
            rows_not_batch_checked=self.rows_not_batch_checked + other.rows_not_batch_checked,
            scaled_rows=merge_scaled(self.scaled_rows, other.scaled_rows),
            per_row=self.per_row and other.per_row,
        )

    @property
    def float32_hint(self) -> bool:
        """Every failing row agrees to float32 precision: the numbers were probably computed in float32."""
        return 0 < self.float32_rows == self.counts["fail"]

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "status": self.status,
            "k": self.k,
            "rows": self.rows,
            "counts": dict(self.counts),
            "mistakes": dict(self.mistakes),
            "ambiguous_rows": self.ambiguous_rows,
            "unstable_reasons": dict(self.unstable_reasons),
            "histogram": dict(self.histogram),
            "worst_rows": [w.to_dict() for w in self.worst_rows],
            "bad_rows": [b.to_dict() for b in self.bad_rows],
            "finite_difference": self.finite_difference,
            "has_grad": self.has_grad,
            "precision": {
                "within_precision_rows": self.within_precision_rows,
                "full_precision_rows": self.full_precision_rows,
                "float32_rows": self.float32_rows,
            },
            "batch_level": {
                "mistakes": list(BATCH_MISTAKES),
                "batches_checked": self.batches_checked,
                "rows_not_looked_for": self.rows_not_batch_checked,
                "note": self.batch_level_note,
                "scaled_rows": dict(self.scaled_rows),
                "scale_note": self.scale_note,
            },
        }


#: Bad rows kept in a report.
BAD_KEPT = 1000
#: Distinct factors kept in ``scaled_rows`` (the most frequent).
SCALES_KEPT = 16


def merge_scaled(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    """Both factor counts, the SCALES_KEPT most frequent kept (ties: the smaller factor), the rest "other"."""
    total = _add(a, b)
    other = total.pop("other", 0)
    ranked = sorted(total.items(), key=lambda kv: (-kv[1], float(kv[0])))
    out = dict(ranked[:SCALES_KEPT])
    other += sum(v for _, v in ranked[SCALES_KEPT:])
    if other:
        out["other"] = other
    return out


def _factor_text(c: float, suggest: bool) -> tuple[str, str]:
    """(the factor as a reader would write it, what it suggests: a mean over batches, where ``suggest``)."""
    if 0 < c < 1:
        n = round(1 / c)
        if n >= 2 and abs(1 / c - n) <= 1e-4 * n:
            if not suggest:
                return f"1/{n}", ""
            hint = f" — as if averaged over {n} rows: a mean over batches of {n} rows? "
            return f"1/{n}", hint + f"(--reduction mean --batch-size {n} checks that)"
    if c > 1:
        n = round(c)
        if abs(c - n) <= 1e-4 * n:
            return f"{n}", f" — {n} times too large: a loss multiplied by {n}, or a gradient added up {n} times?"
    return f"{c:.6g}", ""


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out


def sorted_counts(counts: dict[str, int]) -> dict[str, int]:
    """Most frequent first; equal counts by name."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class BatchSettings:
    """How the rows were checked."""

    temperature: float
    dtype: str
    tolerance: Tolerance
    fd: str
    reduction: str
    batch_size: int | None
    seed: int

    def to_dict(self) -> dict[str, object]:
        return {
            "temperature": self.temperature,
            "dtype": self.dtype,
            "tolerance": self.tolerance.to_dict(),
            "fd": self.fd,
            "reduction": self.reduction,
            "batch_size": self.batch_size,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class BatchReport:
    """Totals over every input (files, or arrays for :func:`softgrad.check_batch`)."""

    files: tuple[FileReport, ...]
    total: FileReport
    options: BatchSettings
    skip_bad: bool = False

    @property
    def status(self) -> str:
        """``"bad"`` if any row was unreadable (unless skipped); else ``"fail"`` if any row failed; else
        ``"unstable"`` or ``"pass"``."""
        counts = self.total.counts
        if counts["bad"] and not self.skip_bad:
            return "bad"
        if counts["fail"]:
            return "fail"
        return "unstable" if counts["unstable"] else "pass"

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "unstable")

    def merge(self, other: BatchReport) -> BatchReport:
        """Both reports as one: the files of the same name merged (rows checked apart, e.g. the partitions
        of a data set, add up exactly), the others listed, and the totals merged. The options must match."""
        if other.options != self.options:
            raise InputError("reports", "cannot merge reports checked with different options")
        files = list(self.files)
        names = [f.file for f in files]
        for f in other.files:
            if f.file in names:
                i = names.index(f.file)
                files[i] = files[i].merge(f)
            else:
                files.append(f)
                names.append(f.file)
        return BatchReport(tuple(files), self.total.merge(other.total), self.options, self.skip_bad or other.skip_bad)

    def to_dict(self) -> dict[str, object]:
        total = self.total.to_dict()
        total.pop("file")
        return {
            "status": self.status,
            "total": total,
            "files": [f.to_dict() for f in self.files],
            "options": self.options.to_dict(),
        }
