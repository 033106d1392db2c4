"""The ``verify`` report: plain, frozen data that every renderer reads. ``to_dict()`` is exactly what
``softgrad verify --format json`` prints (NaN and inf become ``null``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from softgrad.catalogue.exposing import DistinguishingInput
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.core.tolerance import Comparison, Tolerance

Vector = tuple[float, ...]
#: a vector, matrix or stack of matrices as nested tuples of floats
Nested = tuple[Any, ...]

#: What each kind (and input convention) is compared with: (short name, full description).
REFERENCES: dict[str, tuple[str, str]] = {
    "grad": ("dE/dz = s·Σt − t", "dE/dz = s·Σt − t with a max-shifted softmax s = softmax(z)"),
    "backward:targets": ("dE/dz = s·Σt − t", "dE/dz = s·Σt − t, given s = softmax(z) and the targets t"),
    "backward:upstream": (
        "J(s)ᵀ·g = s⊙g − (g·s)·s",
        "J(s)ᵀ·g = s⊙g − (g·s)·s, given s = softmax(z) and a dense upstream gradient g = dE/ds",
    ),
    "jacobian:s": ("J(s) = diag(s) − s sᵀ", "J(s) = diag(s) − s sᵀ, given s = softmax(z)"),
    "jacobian:z": ("J(softmax(z))", "J(s) = diag(s) − s sᵀ at s = softmax(z), given the logits z"),
    "softmax": ("softmax(z)", "softmax(z) along the last axis (rows sum to 1), max-shifted"),
    "loss-backward": (
        "dE/ds = −t/s",
        (
            "dE/ds = −t/s (÷ N per row for a mean over a batch), given s = softmax(z) and the targets t; judged "
            "also as the dE/dz = J(s)ᵀ·dE/ds it leads to"
        ),
    ),
    "elementwise:s": (
        "dE/dz = s·Σt − t",
        (
            "the gradient (−t/s) ⊙ f(s) it leads to, given s = softmax(z), against dE/dz = s·Σt − t (no element-wise "
            "function is the softmax's derivative: its Jacobian is not diagonal)"
        ),
    ),
    "elementwise:z": (
        "dE/dz = s·Σt − t",
        (
            "the gradient (−t/s) ⊙ f(z) it leads to, given the logits z, against dE/dz = s·Σt − t (no element-wise "
            "function is the softmax's derivative: its Jacobian is not diagonal)"
        ),
    ),
}


#: How the verdict counts the cases whose call did not come back, by ``CaseResult.failure``.
FAILURE_TEXT = {
    "timeout": "did not return in time",
    "died": "ended the process running your code",
    "broken": "broke softgrad's code in the process running yours",
    "not run": "not run",
}


def json_nested(values: Any) -> Any:
    """Nested tuples of floats for JSON: NaN and inf become None."""
    if values is None:
        return None
    if isinstance(values, (tuple, list)):
        return [json_nested(v) for v in values]
    x = float(values)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class CaseResult:
    """One input of the battery, what the function returned there, and what softgrad makes of it."""

    name: str
    description: str
    #: "float64" or "float32": the precision the arguments were passed in (and the tolerance used)
    dtype: str
    #: the rows of the input: logits z, targets t, shape (N, K); N = 1 for a single example
    z: tuple[Vector, ...]
    t: tuple[Vector, ...]
    #: for ``backward`` with an upstream gradient: the upstream g = −t/s that was passed, (N, K)
    upstream: tuple[Vector, ...] | None
    #: how the function was called, e.g. ``"f(z, t)"``, and the shape of its first argument
    call: str
    shape: tuple[int, ...]
    #: "pass", "fail" (wrong numbers), "error" (raised, or returned the wrong shape or type), "skipped"
    status: str
    #: what the function returned and what it should have, stacked per row: (N, K) or (N, K, K)
    output: Nested | None = None
    expected: Nested | None = None
    comparison: Comparison | None = None
    #: index of the worst element in ``output`` (row first)
    worst: tuple[int, ...] | None = None
    failing_rows: tuple[int, ...] = ()
    #: catalogue ids whose numbers equal the function's here, best first
    matches: tuple[str, ...] = ()
    #: what a failing batch looks like instead (reduction or axis mix-ups, which are not catalogue entries)
    hints: tuple[str, ...] = ()
    error: str | None = None
    #: a ready-to-run ``softgrad check`` command at the exposing input (the worst row)
    command: str | None = None
    notes: tuple[str, ...] = ()
    #: when the call did not come back: "timeout", "died" (its process ended), "broken" (softgrad's code
    #: failed where the user's code runs) or "not run" (the run's time was spent); ``error`` says how
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "skipped")

    @property
    def random(self) -> bool:
        return self.name.startswith("random_")

    def to_dict(self) -> dict[str, object]:
        c = self.comparison
        return {
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "dtype": self.dtype,
            "call": self.call,
            "shape": list(self.shape),
            "z": json_nested(self.z),
            "t": json_nested(self.t),
            "upstream": json_nested(self.upstream),
            "output": json_nested(self.output),
            "expected": json_nested(self.expected),
            "max_abs_err": json_nested(c.max_abs_err) if c else None,
            "max_rel_err": json_nested(c.max_rel_err) if c else None,
            "worst": list(self.worst) if self.worst is not None else None,
            "failing_rows": list(self.failing_rows),
            "matches": list(self.matches),
            "hints": list(self.hints),
            "error": self.error,
            "command": self.command,
            "notes": list(self.notes),
            "failure": self.failure,
        }


@dataclass(frozen=True)
class Diagnosis:
    """A catalogued mistake and the failing cases whose numbers it reproduces."""

    id: str
    #: the failing cases whose output it reproduces
    cases: tuple[str, ...]
    #: it reproduces every case that ran, the passing ones too: the function behaves exactly like it
    consistent: bool

    @property
    def title(self) -> str:
        return MISTAKES[self.id].title

    @property
    def formula(self) -> str:
        return MISTAKES[self.id].formula

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "formula": self.formula,
            "cases": list(self.cases),
            "consistent": self.consistent,
        }


@dataclass(frozen=True)
class OtherInput:
    """What the function gives when a caller passes the other input: the logits z where it expects
    s = softmax(z) (the classic mistake), or s where it expects z."""

    #: "z" (logits passed instead of probabilities) or "s" (probabilities instead of logits)
    passed: str
    #: where it was evaluated
    z: Vector
    t: Vector
    output: Nested | None
    error: str | None
    #: catalogue ids that output matches
    matches: tuple[str, ...]
    #: the dE/dz such a caller ends up with (for a Jacobian: the chained product (−t/s)·M) and the right one
    gradient: Vector | None
    reference: Vector
    command: str | None
    #: for a Jacobian function: does it pass the whole battery when given this input instead? (None: not run)
    passes_battery: bool | None

    def to_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "z": list(self.z),
            "t": list(self.t),
            "output": json_nested(self.output),
            "error": self.error,
            "matches": list(self.matches),
            "gradient": json_nested(self.gradient),
            "reference": json_nested(self.reference),
            "command": self.command,
            "passes_battery": self.passes_battery,
        }


@dataclass(frozen=True)
class VerifyReport:
    """Everything ``softgrad verify`` found about one function."""

    target: str
    kind: str
    #: how the kind was chosen: "given" (--kind) or "detected: …"
    kind_reason: str
    #: "row" (one example (K,) at a time), "batch" ((N, K) only) or "both"
    layout: str
    layout_reason: str
    #: jacobian: "s" or "z" (what the function is given); backward: "upstream" or "targets"; else None
    input: str | None
    input_reason: str
    #: grad and backward with targets: "mean" or "sum" over the rows of a batch; else None
    reduction: str | None
    tolerances: dict[str, Tolerance]
    trials: int
    seed: int
    cases: tuple[CaseResult, ...]
    diagnosis: tuple[Diagnosis, ...]
    ambiguous: tuple[str, ...]
    distinguishing_input: DistinguishingInput | None
    other_input: OtherInput | None
    notes: tuple[str, ...]
    #: how the function is called (``f(z, t)``, ``f(t, s)``, ``forward(z); backward(g)``) and why
    call: str = ""
    call_reason: str = ""
    #: the target families tested ("soft", "onehot", "index"), how they were chosen
    targets: tuple[str, ...] = ()
    targets_reason: str = ""
    #: how the reduction was chosen ("given", "detected: …")
    reduction_reason: str = ""
    #: where the result was found in what it returns ("item 1 of the 2-tuple it returns", "self.dinputs"),
    #: and why ('' when it is what the function returns)
    result: str = ""
    result_reason: str = ""
    #: a softmax with a derivative flag: what the flagged call is compared with ("with derivative=True, …")
    flagged: str = ""
    #: the arrays it is given ("numpy", "torch", "jax") and why
    array: str = "numpy"
    array_reason: str = ""
    #: what the user's code wrote to its stdout and stderr (a target run in its own process), shortened
    printed: str = ""

    @property
    def failed(self) -> tuple[CaseResult, ...]:
        return tuple(c for c in self.cases if not c.ok)

    @property
    def ok(self) -> bool:
        """True when every case that ran passed."""
        return not self.failed

    @property
    def status(self) -> str:
        """``"pass"`` or ``"fail"``."""
        return "pass" if self.ok else "fail"

    @property
    def reference_key(self) -> str:
        return f"{self.kind}:{self.input}" if self.input else self.kind

    @property
    def reference_short(self) -> str:
        return REFERENCES[self.reference_key][0]

    @property
    def reference(self) -> str:
        """What the function's output is compared with."""
        return REFERENCES[self.reference_key][1]

    def counts(self) -> dict[str, int]:
        out = {"cases": len(self.cases), "pass": 0, "fail": 0, "error": 0, "skipped": 0}
        for c in self.cases:
            out[c.status] += 1
        return out

    @property
    def verdict(self) -> str:
        """One sentence: right (and in which sense) or wrong (and which mistake)."""
        n = self.counts()
        ran = n["cases"] - n["skipped"]
        if self.ok:
            if self.kind == "jacobian":
                given = "s = softmax(z)" if self.input == "s" else "the logits z (it takes the softmax itself)"
                return f"right when given {given}: matches J(s) = diag(s) − s sᵀ on all {ran} cases"
            also = f" and, {self.flagged}," if self.flagged else ""
            return f"right: matches {self.reference_short}{also} on all {ran} cases"
        bad = n["fail"] + n["error"]
        raised_n = sum(c.status == "error" and (c.error or "").startswith("raised") for c in self.cases)
        parts = [f"{raised_n} raised an exception"] if raised_n else []
        stopped = {f: sum(c.failure == f for c in self.cases) for f in ("timeout", "died", "broken", "not run")}
        if n["error"] > raised_n + sum(stopped.values()):
            parts.append(f"{n['error'] - raised_n - sum(stopped.values())} returned the wrong shape or type")
        for failure, said in FAILURE_TEXT.items():
            count = stopped[failure]
            case = next((c for c in self.cases if c.failure == failure), None)
            if case is None:
                continue
            if failure == "not run":
                parts.append(f"{count} {case.error or 'not run'}" if count > 1 else case.error or "not run")
            else:
                parts.append(case.error or said if count == 1 else f"{count} {said}, the first {case.error}")
        raised = f" ({', '.join(parts)})" if parts else ""
        head = "wrong"
        if self.kind == "jacobian":
            head = "wrong when given " + ("s = softmax(z)" if self.input == "s" else "the logits z")
            if self.input_reason.startswith("not detected"):
                head = "wrong, whether given s = softmax(z) or the logits z"
        if self.diagnosis:
            first = self.diagnosis[0]
            also = f" (or {', '.join(self.ambiguous[1:])})" if len(self.ambiguous) > 1 else ""
            if first.consistent:
                what = f"; diagnosed {first.id}{also}: {first.title}"
            else:
                what = f"; {first.id}{also} reproduces {len(first.cases)} of the {n['fail']} failing: {first.title}"
            if first.id == "scaled_gradient":  # name the factor
                factor = next((n for n in self.notes if n.startswith("your gradient is the reference")), None)
                what += f" — {factor}" if factor else ""
            hinted = next((c for c in self.cases if c.hints and first.id in c.matches), None)
            if hinted is not None:  # the batch-level hint says what to do about it
                what += f" — {hinted.hints[0]}"
        elif any(c.hints for c in self.cases):
            hinted = next(c for c in self.cases if c.hints)
            what = f"; {hinted.name}: {hinted.hints[0]}"
        elif n["fail"]:
            what = "; it matches no catalogued mistake"
        else:
            what = ""
        return f"{head}: {bad} of {ran} cases fail{raised}{what}"

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "verdict": self.verdict,
            "target": self.target,
            "kind": self.kind,
            "kind_reason": self.kind_reason,
            "layout": self.layout,
            "layout_reason": self.layout_reason,
            "input": self.input,
            "input_reason": self.input_reason,
            "reduction": self.reduction,
            "reduction_reason": self.reduction_reason,
            "call": self.call,
            "call_reason": self.call_reason,
            "targets": list(self.targets),
            "targets_reason": self.targets_reason,
            "result": self.result,
            "result_reason": self.result_reason,
            "flagged": self.flagged,
            "array": self.array,
            "array_reason": self.array_reason,
            "reference": self.reference,
            "tolerances": {k: v.to_dict() for k, v in self.tolerances.items()},
            "trials": self.trials,
            "seed": self.seed,
            "summary": self.counts(),
            "diagnosis": [d.to_dict() for d in self.diagnosis],
            "ambiguous": list(self.ambiguous),
            "distinguishing_input": self.distinguishing_input.to_dict() if self.distinguishing_input else None,
            "other_input": self.other_input.to_dict() if self.other_input else None,
            "notes": list(self.notes),
            "printed": self.printed,
            "cases": [c.to_dict() for c in self.cases],
        }
