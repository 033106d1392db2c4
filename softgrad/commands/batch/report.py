"""The ``batch`` report: plain, frozen data that every renderer reads. ``to_dict()`` is exactly what
``softgrad batch --format json`` prints (NaN and inf become ``null``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from softgrad.core.numbers import json_float
from softgrad.core.tolerance import Tolerance
from softgrad.inputs.rows import BadRow


@dataclass(frozen=True, order=True)
class WorstRow:
    """A row among the worst (by relative error), with where it came from."""

    max_rel_err: float
    line: int = field(compare=False)
    source: str = field(compare=False)
    status: str = field(compare=False)
    max_abs_err: float = field(compare=False)
    diagnosis: str | None = field(compare=False)
    carried: dict[str, str] = field(compare=False, default_factory=dict)

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
        }


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

    def to_dict(self) -> dict[str, object]:
        total = self.total.to_dict()
        total.pop("file")
        return {
            "status": self.status,
            "total": total,
            "files": [f.to_dict() for f in self.files],
            "options": self.options.to_dict(),
        }
