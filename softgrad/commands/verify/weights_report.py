"""The report of ``verify --kind weights`` and ``--kind loss-and-grad``: plain frozen data, one case per
input, one check per returned quantity (the loss, dW, or each parameter's gradient), the worst entries of
each located by index. Same status semantics as :class:`~softgrad.commands.verify.report.VerifyReport`:
``"pass"`` when every case passed, else ``"fail"``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.core.layer import json_array
from softgrad.core.numbers import json_float
from softgrad.core.tolerance import Tolerance

KIND_TEXT = {
    "weights": "f(W, X, y, reg) -> (loss, dW) or dW: a softmax classifier's loss and weight gradient",
    "loss-and-grad": "f(params…) -> (loss, grads): gradients checked against finite differences of its own loss",
}


@dataclass(frozen=True)
class Entry:
    """One entry of a returned array: where it is, the user's value, the expected one (the reference, or the
    finite difference of the user's loss) and, for a finite difference, its error estimate."""

    index: tuple[int, ...]
    yours: float
    expected: float
    error_estimate: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "index": list(self.index),
            "yours": json_float(self.yours),
            "expected": json_float(self.expected),
            "error_estimate": None if self.error_estimate is None else json_float(self.error_estimate),
        }


@dataclass(frozen=True)
class QuantityResult:
    """One returned quantity of one case, compared entry by entry."""

    #: "loss", "dW", or a parameter's name ("W1", "b2", "params.W1")
    name: str
    #: "pass", "fail" (wrong numbers), "error" (missing, wrong shape or type)
    status: str
    expected_shape: tuple[int, ...]
    shape: tuple[int, ...] | None = None
    yours: Any = None
    expected: Any = None
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    #: the entries furthest out of tolerance, worst first (at most 3)
    worst: tuple[Entry, ...] = ()
    #: catalogue ids whose numbers equal the user's here, best first (a scaled family with its factor)
    matches: tuple[str, ...] = ()
    #: entries compared, and entries in all (a finite difference may sample, or leave out uncertain entries)
    compared: int = 0
    entries: int = 0
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": self.status,
            "expected_shape": list(self.expected_shape),
            "shape": None if self.shape is None else list(self.shape),
            "yours": json_array(self.yours) if self.yours is not None else None,
            "expected": json_array(self.expected) if self.expected is not None else None,
            "max_abs_err": None if self.max_abs_err is None else json_float(self.max_abs_err),
            "max_rel_err": None if self.max_rel_err is None else json_float(self.max_rel_err),
            "worst": [e.to_dict() for e in self.worst],
            "matches": list(self.matches),
            "compared": self.compared,
            "entries": self.entries,
            "error": self.error,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class WeightsCaseResult:
    """One input the function was called on, and what came of each quantity it returned."""

    name: str
    description: str
    #: how it was called, e.g. ``"f(W, X, y, reg=0.1)"``
    call: str
    #: the arguments (as passed: y as indices or one-hot), for the JSON report and reproducing the case
    inputs: dict[str, Any]
    #: "pass", "fail" (a quantity has wrong numbers), "error" (it raised, or returned the wrong shape or type)
    status: str
    checks: tuple[QuantityResult, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    @property
    def random(self) -> bool:
        return self.name.startswith("random_")

    def check(self, name: str) -> QuantityResult | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "call": self.call,
            "inputs": {k: _json_value(v) for k, v in self.inputs.items()},
            "checks": [c.to_dict() for c in self.checks],
            "error": self.error,
            "notes": list(self.notes),
        }


def _json_value(value: Any) -> Any:
    """An argument for JSON: arrays and numbers as nested numbers (NaN and inf as null), dicts item by item,
    strings, booleans and None as they are, anything else as its repr."""
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) or (isinstance(value, np.ndarray) and value.dtype.kind in "biuf"):
        return json_array(value)
    return repr(value)


@dataclass(frozen=True)
class WeightsDiagnosis:
    """A catalogued mistake, the quantity it makes wrong, and the failing cases whose numbers it reproduces."""

    id: str
    quantity: str
    cases: tuple[str, ...]
    #: it reproduces every failing case of that quantity
    consistent: bool
    #: for a scaled family: the factor ("× N = 5")
    factor: str = ""

    @property
    def title(self) -> str:
        return MISTAKES[self.id].title

    @property
    def formula(self) -> str:
        return MISTAKES[self.id].formula

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "quantity": self.quantity,
            "title": self.title,
            "formula": self.formula,
            "factor": self.factor,
            "cases": list(self.cases),
            "consistent": self.consistent,
        }


@dataclass(frozen=True)
class WeightsReport:
    """Everything ``softgrad verify --kind weights`` (or ``loss-and-grad``) found about one function."""

    target: str
    #: "weights" or "loss-and-grad"
    kind: str
    kind_reason: str
    #: what it returns: "loss and dW", "dW", "loss and grads"
    returns: str
    returns_reason: str
    #: weights: "indices" or "one-hot" (how y is passed); else None
    labels: str | None
    labels_reason: str
    #: weights: "full" (reg·‖W‖²) or "half" (½·reg·‖W‖²); loss-and-grad: None
    reg_convention: str | None
    reg_reason: str
    #: what the returned values are compared with
    reference: str
    tolerance: Tolerance
    trials: int
    seed: int
    cases: tuple[WeightsCaseResult, ...]
    diagnosis: tuple[WeightsDiagnosis, ...]
    notes: tuple[str, ...]

    @property
    def failed(self) -> tuple[WeightsCaseResult, ...]:
        return tuple(c for c in self.cases if not c.ok)

    @property
    def ok(self) -> bool:
        """True when every case passed (a run of no cases never passes)."""
        return bool(self.cases) and not self.failed

    @property
    def status(self) -> str:
        return "pass" if self.ok else "fail"

    def counts(self) -> dict[str, int]:
        out = {"cases": len(self.cases), "pass": 0, "fail": 0, "error": 0}
        for c in self.cases:
            out[c.status] += 1
        return out

    @property
    def verdict(self) -> str:
        """One sentence: right, or wrong and which mistake in which quantity."""
        n = self.counts()
        if self.ok:
            what = "its gradients" if self.kind == "loss-and-grad" else self.returns
            return f"right: {what} match {self.reference} on all {n['cases']} cases"
        bad = n["fail"] + n["error"]
        raised = sum(c.status == "error" and (c.error or "").startswith("raised") for c in self.cases)
        extra = f" ({raised} raised an exception)" if raised else ""
        by_id: dict[tuple[str, str], list[str]] = {}
        for quantity in dict.fromkeys(d.quantity for d in self.diagnosis):
            first = next(d for d in self.diagnosis if d.quantity == quantity)
            by_id.setdefault((first.id, first.factor), []).append(quantity)
        named = []
        for (mid, factor), quantities in by_id.items():
            shown = f" ({factor})" if factor else ""
            named.append(f"{', '.join(quantities)}: {mid}{shown} — {MISTAKES[mid].title}")
        wrong = sorted(
            {q.name for c in self.cases for q in c.checks if not q.ok} - {d.quantity for d in self.diagnosis}
        )
        if wrong:
            named.append(f"{', '.join(wrong)}: wrong, matching no catalogued mistake")
        what = "; " + "; ".join(named) if named else ""
        return f"wrong: {bad} of {n['cases']} cases fail{extra}{what}"

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "verdict": self.verdict,
            "target": self.target,
            "kind": self.kind,
            "kind_reason": self.kind_reason,
            "returns": self.returns,
            "returns_reason": self.returns_reason,
            "labels": self.labels,
            "labels_reason": self.labels_reason,
            "reg_convention": self.reg_convention,
            "reg_reason": self.reg_reason,
            "reference": self.reference,
            "tolerance": self.tolerance.to_dict(),
            "trials": self.trials,
            "seed": self.seed,
            "summary": self.counts(),
            "diagnosis": [d.to_dict() for d in self.diagnosis],
            "notes": list(self.notes),
            "cases": [c.to_dict() for c in self.cases],
        }
