"""The ``layer`` report: plain, frozen data every renderer reads; ``to_dict()`` is exactly what
``--format json`` prints (NaN and inf as ``null``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from softgrad.catalogue.diagnose import Match
from softgrad.catalogue.layer_diagnose import LayerDistinguishingInput, LayerInput
from softgrad.core.layer import json_array
from softgrad.core.numbers import json_float
from softgrad.core.tolerance import Tolerance

#: A value in the user's layout: a number, or nested tuples of numbers.
Nested = tuple[object, ...] | float


@dataclass(frozen=True)
class EntryComparison:
    """An array compared with the reference entry by entry: ``|a − b| <= atol + rtol·|ref|`` (plus the
    finite difference's own error estimate), the worst entry located by its index (row, col)."""

    ok: bool
    max_abs_err: float | None
    max_rel_err: float | None
    #: the entry furthest out of tolerance (its index in the user's layout), None when nothing was compared
    worst: tuple[int, ...] | None
    #: entries compared
    compared: int
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "ok": self.ok,
            "max_abs_err": json_float(self.max_abs_err),
            "max_rel_err": json_float(self.max_rel_err),
            "worst": None if self.worst is None else list(self.worst),
            "compared": self.compared,
        }
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class ShownMistake:
    """A catalogued mistake's value of one quantity at the input."""

    id: str
    formula: str
    value: Nested
    differs: bool

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "formula": self.formula, "value": json_array(self.value), "differs": self.differs}


@dataclass(frozen=True)
class UserQuantity:
    """What softgrad says of the user's value of one quantity."""

    value: Nested
    comparison: EntryComparison
    #: "correct", "mistake" or "unknown"
    verdict: str
    matches: tuple[Match, ...]
    ambiguous: tuple[str, ...]
    distinguishing_input: LayerDistinguishingInput | None
    closest: tuple[Match, ...]
    #: does it agree with the reference, the chained value, the finite difference (None: not computable)
    agreement: dict[str, bool | None]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.comparison.ok

    def to_dict(self) -> dict[str, object]:
        return {
            "value": json_array(self.value),
            "ok": self.ok,
            "verdict": self.verdict,
            "comparison": self.comparison.to_dict(),
            "matches": [m.id for m in self.matches],
            "match_details": [m.to_dict() for m in self.matches],
            "ambiguous": list(self.ambiguous),
            "distinguishing_input": self.distinguishing_input.to_dict() if self.distinguishing_input else None,
            "closest": [m.to_dict() for m in self.closest],
            "agreement": dict(self.agreement),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class QuantityCheck:
    """One quantity (δ, ∂L/∂W, …): the reference, the chained value, the finite difference, the user's."""

    name: str
    #: ``∂L/∂W``
    label: str
    #: the right formula in the user's convention, ``δ aᵀ + 2·reg·W``
    formula: str
    shape: tuple[int, ...]
    reference: Nested
    chained: Nested | None
    finite_difference: Nested | None
    fd_error: Nested | None
    comparisons: dict[str, EntryComparison]
    mistakes: tuple[ShownMistake, ...] = ()
    user: UserQuantity | None = None

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "label": self.label,
            "formula": self.formula,
            "shape": list(self.shape),
            "reference": json_array(self.reference),
            "chained": json_array(self.chained),
            "finite_difference": json_array(self.finite_difference),
            "fd_error_estimate": json_array(self.fd_error),
            "comparisons": {k: c.to_dict() for k, c in self.comparisons.items()},
            "mistakes": [m.to_dict() for m in self.mistakes],
        }
        if self.user is not None:
            d["user"] = self.user.to_dict()
        return d


@dataclass(frozen=True)
class Diagnosis:
    """A catalogue id that reproduces the user's wrong quantities, with which ones."""

    id: str
    quantities: tuple[str, ...]
    #: ``"layer"`` (a layer entry) or ``"delta"`` (a dE/dz entry carried through the backward pass)
    via: str
    #: it reproduces every quantity the user gave, the right ones too
    consistent: bool = True

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "quantities": list(self.quantities),
            "via": self.via,
            "consistent": self.consistent,
        }


@dataclass(frozen=True)
class LayerReport:
    """Everything ``softgrad layer`` found."""

    input: LayerInput
    tolerance: Tolerance
    dtype: str
    #: the forward pass in the user's layout: z_h, a, z, s
    forward: dict[str, Nested]
    loss: float
    data_loss: float
    reg_loss: float
    quantities: tuple[QuantityCheck, ...]
    #: how the finite difference was taken, in words
    fd_note: str
    unstable: tuple[str, ...]
    failures: tuple[str, ...]
    #: remarks that change no status (a chained quantity not computed, its tensor too large)
    notes: tuple[str, ...] = field(default=())
    diagnosis: tuple[Diagnosis, ...] = field(default=())

    @property
    def status(self) -> str:
        """``"fail"`` if any check failed, else ``"unstable"`` if something could not be trusted, else
        ``"pass"``."""
        if self.failures:
            return "fail"
        return "unstable" if self.unstable else "pass"

    @property
    def ok(self) -> bool:
        return not self.failures

    def quantity(self, name: str) -> QuantityCheck:
        return next(q for q in self.quantities if q.name == name)

    def to_dict(self) -> dict[str, object]:
        n = self.input.net
        return {
            "status": self.status,
            "input": {
                **self.input.to_dict(),
                "n": n.n,
                "d": n.d,
                "h": n.h,
                "k": n.k,
                "dtype": self.dtype,
            },
            "reference": "analytic",
            "tolerance": self.tolerance.to_dict(),
            "forward": {k: json_array(v) for k, v in self.forward.items()},
            "loss": json_float(self.loss),
            "data_loss": json_float(self.data_loss),
            "reg_loss": json_float(self.reg_loss),
            "quantities": {q.name: q.to_dict() for q in self.quantities},
            "finite_difference": {"method": "central", "note": self.fd_note},
            "unstable": list(self.unstable),
            "failures": list(self.failures),
            "notes": list(self.notes),
            "diagnosis": [d.to_dict() for d in self.diagnosis],
        }
