"""Reports: plain, frozen data that every renderer reads. ``to_dict()`` is exactly what ``--format json``
prints (NaN and inf become ``null``, since JSON has no such numbers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from softgrad.catalogue.diagnose import Invariant, Match, WrongEntry
from softgrad.catalogue.exposing import DistinguishingInput
from softgrad.core.numbers import json_float, json_list, json_nested
from softgrad.core.tolerance import Comparison, Tolerance

Vector = tuple[float, ...]


@dataclass(frozen=True)
class MistakeRow:
    """One catalogued mistake evaluated at the input."""

    id: str
    title: str
    formula: str
    gradient: Vector
    differs: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "gradient": json_list(self.gradient),
            "differs": self.differs,
        }


@dataclass(frozen=True)
class GradientVerdict:
    """What softgrad says of a user's gradient."""

    gradient: Vector
    comparison: Comparison
    #: "correct", "mistake" or "unknown"
    verdict: str
    matches: tuple[Match, ...]
    ambiguous: tuple[str, ...]
    distinguishing_input: DistinguishingInput | None
    closest: tuple[Match, ...]
    agreement: dict[str, bool | None]
    notes: tuple[str, ...]
    #: per element, the precision allowed on top of the tolerance (0: compared exactly)
    precision: Vector = ()
    #: correct verdict: mistakes that give the same numbers at this input, and that another input of the
    #: user's conventions would tell apart
    not_ruled_out: tuple[Match, ...] = ()
    #: an input telling apart the ambiguous (or not ruled out) ids was looked for (``rule_out``)
    searched: bool = False

    @property
    def ok(self) -> bool:
        return self.comparison.ok

    @property
    def within_precision(self) -> bool:
        """It matches the reference only thanks to the precision the numbers were written with."""
        return self.comparison.within_precision

    def to_dict(self) -> dict[str, object]:
        return {
            "gradient": json_list(self.gradient),
            "precision": list(self.precision),
            "within_precision": self.within_precision,
            "ok": self.ok,
            "verdict": self.verdict,
            **{k: v for k, v in self.comparison.to_dict().items() if k != "ok"},
            "matches": [m.id for m in self.matches],
            "match_details": [m.to_dict() for m in self.matches],
            "ambiguous": list(self.ambiguous),
            "not_ruled_out": [m.id for m in self.not_ruled_out],
            "distinguishing_input": self.distinguishing_input.to_dict() if self.distinguishing_input else None,
            "closest": [m.to_dict() for m in self.closest],
            "agreement": dict(self.agreement),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class JacobianVerdict:
    """What softgrad says of a user's softmax Jacobian."""

    matrix: tuple[Vector, ...]
    expected: tuple[Vector, ...]
    comparison: Comparison
    matches: tuple[str, ...]
    wrong_entries: tuple[WrongEntry, ...]
    invariants: tuple[Invariant, ...]
    #: per entry, the precision allowed on top of the tolerance (0: compared exactly)
    precision: tuple[Vector, ...] = ()

    @property
    def ok(self) -> bool:
        return self.comparison.ok

    @property
    def within_precision(self) -> bool:
        return self.comparison.within_precision

    def to_dict(self) -> dict[str, object]:
        return {
            "matrix": json_nested(self.matrix),
            "expected": json_nested(self.expected),
            "precision": json_nested(self.precision),
            "within_precision": self.within_precision,
            "ok": self.ok,
            **{k: v for k, v in self.comparison.to_dict().items() if k != "ok"},
            "matches": list(self.matches),
            "wrong_entries": [w.to_dict() for w in self.wrong_entries],
            "invariants": [i.to_dict() for i in self.invariants],
        }


@dataclass(frozen=True)
class CheckReport:
    """Everything ``softgrad check`` found at one input."""

    z: Vector
    t: Vector
    temperature: float
    dtype: str
    tolerance: Tolerance
    softmax: Vector
    loss: float
    fused: Vector
    chained: Vector | None
    finite_difference: Vector | None
    fd_method: str
    fd_mode: str
    fd_error: Vector
    comparisons: dict[str, Comparison]
    unstable: tuple[str, ...]
    mistakes: tuple[MistakeRow, ...]
    user: GradientVerdict | None = None
    user_jacobian: JacobianVerdict | None = None
    failures: tuple[str, ...] = field(default=())

    @property
    def k(self) -> int:
        return len(self.z)

    @property
    def status(self) -> str:
        """``"fail"`` if any check failed, else ``"unstable"`` if the chained path could not be trusted, else
        ``"pass"``."""
        if self.failures:
            return "fail"
        return "unstable" if self.unstable else "pass"

    @property
    def ok(self) -> bool:
        """True unless a check failed (an unstable chained path alone is not a failure)."""
        return not self.failures

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "status": self.status,
            "input": {
                "z": list(self.z),
                "t": list(self.t),
                "k": self.k,
                "temperature": self.temperature,
                "dtype": self.dtype,
            },
            "reference": "fused",
            "tolerance": self.tolerance.to_dict(),
            "softmax": json_list(self.softmax),
            "loss": json_float(self.loss),
            "gradients": {
                "fused": json_list(self.fused),
                "chained": json_list(self.chained),
                "finite_difference": json_list(self.finite_difference),
            },
            "finite_difference": {
                "method": self.fd_method,
                "mode": self.fd_mode,
                "error_estimate": json_list(self.fd_error),
            },
            "comparisons": {name: c.to_dict() for name, c in self.comparisons.items()},
            "unstable": list(self.unstable),
            "failures": list(self.failures),
            "mistakes": [m.to_dict() for m in self.mistakes],
        }
        if self.user is not None:
            d["user"] = self.user.to_dict()
        if self.user_jacobian is not None:
            d["user_jacobian"] = self.user_jacobian.to_dict()
        return d
