"""Bounded-size totals over any number of checked rows: counts per status and per mistake, the worst rows,
a histogram of relative errors and the bad rows; mergeable, so that blocks checked apart add up."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from softgrad.commands.batch.report import BAD_KEPT, FileReport, WorstRow, merge_scaled, sorted_counts
from softgrad.commands.batch.rows import STATUS_NAMES, UNSTABLE_REASONS, RowResults, diagnosis_name
from softgrad.core import Array
from softgrad.core.numbers import shortest
from softgrad.core.rules import DEFAULT_SHOW
from softgrad.inputs.rows import BadRow

#: Bins of the log10 relative error histogram: [-17, -16), ..., [2, 3), plus the zero-error bin.
HIST_LO, HIST_HI = -17, 3


@dataclass
class Summary:
    """Bounded-size totals over any number of rows: counts, worst rows, histogram, bad rows."""

    source: str
    show: int = DEFAULT_SHOW
    keep_bad: int = BAD_KEPT
    rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_NAMES, 0))
    mistakes: dict[str, int] = field(default_factory=dict)
    ambiguous: int = 0
    unstable_reasons: dict[str, int] = field(default_factory=dict)
    histogram: NDArray[np.int64] = field(default_factory=lambda: np.zeros(HIST_HI - HIST_LO + 2, np.int64))
    worst: list[WorstRow] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    k: int | None = None
    has_grad: bool = False
    fd_mode: str = ""
    #: rows that pass only to the decimals their gradient was written with
    within_precision: int = 0
    #: failing rows whose gradient agrees to float32 precision
    float32: int = 0
    #: failing rows allowed no precision: their block has a value of 15+ significant digits (machine-written)
    full_precision: int = 0
    #: whole batches in which the batch-level mistakes were looked for
    batches: int = 0
    #: rows with user gradients checked in streamed blocks, where batch-level mistakes were not looked for
    unbatched: int = 0
    #: failing rows no catalogue entry explains that are c × the expected gradient: factor (6 digits) -> rows,
    #: as in FileReport.scaled_rows (the most frequent kept, the rest under "other")
    scales: dict[str, int] = field(default_factory=dict)
    #: the expected gradients are per-row ones (--reduction none), so a factor can suggest a reduction
    per_row: bool = True

    def add(self, res: RowResults, lines: NDArray[np.int64], carried: Sequence[dict[str, str]] | None = None) -> None:
        """Fold one block of row results in."""
        n = len(res.status)
        self.rows += n
        if res.whole_batch:
            self.batches += 1
        elif self.has_grad:
            self.unbatched += n
        for code, name in enumerate(STATUS_NAMES[:3]):
            self.counts[name] += int(np.count_nonzero(res.status == code))
        # codes are >= UNKNOWN (-2): counted in one pass, shifted to start at 0
        for shifted, count in _counts(res.diagnosis, 2):
            mid = diagnosis_name(shifted - 2)
            if mid is not None:
                self.mistakes[mid] = self.mistakes.get(mid, 0) + count
        self.ambiguous += int(np.count_nonzero(res.n_matches > 1))
        if res.within_precision is not None:
            self.within_precision += int(np.count_nonzero(res.within_precision))
        if res.float32 is not None:
            self.float32 += int(np.count_nonzero(res.float32))
        self.full_precision += int(np.count_nonzero(res.status == 1)) if res.machine_written else 0
        for code, count in _counts(res.unstable, 0):
            if code:
                reason = UNSTABLE_REASONS[code]
                self.unstable_reasons[reason] = self.unstable_reasons.get(reason, 0) + count
        self.histogram += histogram(res.max_rel_err)
        if res.scale is not None:
            self.scales = merge_scaled(self.scales, _factors(res.scale))
        if self.show > 0 and n:
            # the worst first; among equal errors the earliest line (the order WorstRow ranks them in)
            key = -np.nan_to_num(res.max_rel_err, nan=np.inf)
            candidates = np.arange(n)
            if n > self.show:  # only the rows that can make the top: at most the show-th key, ties included
                candidates = np.flatnonzero(key <= np.partition(key, self.show - 1)[self.show - 1])
            top = candidates[np.lexsort((lines[candidates], key[candidates]))][: self.show]
            for i in top:
                row = WorstRow(
                    float(res.max_rel_err[i]),
                    int(lines[i]),
                    self.source,
                    STATUS_NAMES[int(res.status[i])],
                    float(res.max_abs_err[i]),
                    diagnosis_name(int(res.diagnosis[i])),
                    dict(carried[i]) if carried else {},
                )
                if len(self.worst) < self.show:
                    heapq.heappush(self.worst, row)
                elif row > self.worst[0]:
                    heapq.heapreplace(self.worst, row)

    def add_bad(self, bad: Sequence[BadRow]) -> None:
        self.counts["bad"] += len(bad)
        room = self.keep_bad - len(self.bad)
        if room > 0:
            self.bad.extend(bad[:room])

    def merge(self, other: Summary) -> None:
        """Fold another summary (of the same source) in."""
        self.rows += other.rows
        for key, value in other.counts.items():
            self.counts[key] += value
        for key, value in other.mistakes.items():
            self.mistakes[key] = self.mistakes.get(key, 0) + value
        for key, value in other.unstable_reasons.items():
            self.unstable_reasons[key] = self.unstable_reasons.get(key, 0) + value
        self.ambiguous += other.ambiguous
        self.within_precision += other.within_precision
        self.float32 += other.float32
        self.full_precision += other.full_precision
        self.histogram += other.histogram
        for row in other.worst:
            if len(self.worst) < self.show:
                heapq.heappush(self.worst, row)
            elif row > self.worst[0]:
                heapq.heapreplace(self.worst, row)
        self.batches += other.batches
        self.unbatched += other.unbatched
        self.scales = merge_scaled(self.scales, other.scales)
        self.per_row = self.per_row and other.per_row
        self.bad.extend(other.bad[: max(0, self.keep_bad - len(self.bad))])
        self.k = self.k or other.k
        self.has_grad = self.has_grad or other.has_grad
        self.fd_mode = self.fd_mode or other.fd_mode

    @property
    def status(self) -> str:
        if self.counts["bad"]:
            return "bad"
        if self.counts["fail"]:
            return "fail"
        return "unstable" if self.counts["unstable"] else "pass"

    def worst_rows(self) -> list[WorstRow]:
        return sorted(self.worst, reverse=True)

    def report(self, name: str | None = None) -> FileReport:
        """The totals as plain, frozen data (``name`` overrides the source, e.g. ``"total"``)."""
        return FileReport(
            file=self.source if name is None else name,
            status=self.status,
            k=self.k,
            rows=self.rows + self.counts["bad"],
            counts=dict(self.counts),
            mistakes=sorted_counts(self.mistakes),
            ambiguous_rows=self.ambiguous,
            unstable_reasons=dict(self.unstable_reasons),
            histogram=histogram_dict(self.histogram),
            worst_rows=tuple(self.worst_rows()),
            bad_rows=tuple(self.bad),
            finite_difference=self.fd_mode,
            has_grad=self.has_grad,
            within_precision_rows=self.within_precision,
            float32_rows=self.float32,
            full_precision_rows=self.full_precision,
            show=self.show,
            batches_checked=self.batches,
            rows_not_batch_checked=self.unbatched,
            scaled_rows=dict(self.scales),
            per_row=self.per_row,
        )


def total_of(summaries: Sequence[Summary]) -> FileReport:
    """Totals across files."""
    total = Summary("total", show=max((s.show for s in summaries), default=DEFAULT_SHOW))
    for s in summaries:
        total.merge(s)
    return total.report()


def _factors(scale: Array) -> dict[str, int]:
    """The distinct factors of a block (rounded to 6 significant digits) and how many rows have each."""
    values = scale[np.isfinite(scale)]
    if not values.size:
        return {}
    step = 10.0 ** (np.floor(np.log10(np.abs(values))) - 5)
    rounded, counts = np.unique(np.round(values / step) * step, return_counts=True)
    out: dict[str, int] = {}
    for v, c in zip(rounded, counts, strict=True):
        key = shortest(float(f"{v:.6g}"))
        out[key] = out.get(key, 0) + int(c)
    return out


def _counts(codes: NDArray[np.integer], offset: int) -> list[tuple[int, int]]:
    """(code + offset, how many) for each code present, codes being >= -offset."""
    counts = np.bincount(codes.astype(np.int64) + offset) if codes.size else np.zeros(0, np.int64)
    return [(int(c), int(counts[c])) for c in np.flatnonzero(counts)]


def histogram(rel_err: Array) -> NDArray[np.int64]:
    """Counts of log10 relative error per decade from 10^-17 to 10^3; the last bin holds exact zeros."""
    out = np.zeros(HIST_HI - HIST_LO + 2, np.int64)
    zero = rel_err == 0
    out[-1] = int(np.count_nonzero(zero))
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.floor(np.log10(rel_err[~zero]))
    lg = np.where(np.isfinite(lg), lg, HIST_HI - 1)
    idx = np.clip(lg, HIST_LO, HIST_HI - 1).astype(np.int64) - HIST_LO
    out[:-1] += np.bincount(idx, minlength=HIST_HI - HIST_LO + 1)[: HIST_HI - HIST_LO + 1]
    return out


def histogram_dict(h: NDArray[np.int64]) -> dict[str, int]:
    d = {f"1e{HIST_LO + i}": int(h[i]) for i in range(HIST_HI - HIST_LO + 1) if h[i]}
    if h[-1]:
        d["0"] = int(h[-1])
    return d
