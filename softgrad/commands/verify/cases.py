"""The inputs ``verify`` runs a function on: a fixed battery chosen to expose the catalogue, and seeded
random cases. Pure numpy; every value is exactly representable in the dtype it is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from softgrad import core
from softgrad.core import Array

#: Seed of the dense upstream vectors of the fixed battery (``seed`` only drives the random trials).
UPSTREAM_SEED = 20240517


@dataclass(frozen=True)
class Case:
    """One input of the battery: rows of logits and targets, (N, K) float64, exactly representable in
    ``dtype``. ``batch``: passed as an (N, K) batch; otherwise a single example."""

    name: str
    description: str
    z: Array
    t: Array
    dtype: str = "float64"
    batch: bool = False
    #: the targets are passed as class indices: an int array (N,), or an int for a single example
    labels: bool = False


#: Target families: float one-hot, soft (and unnormalised) floats, class indices.
FAMILIES = ("onehot", "soft", "index")
FAMILY_TEXT = {"onehot": "one-hot floats", "soft": "soft and unnormalised floats", "index": "class indices"}
#: Cases passed with class indices as well when a function takes both floats and indices.
LABEL_COPIES = ("asymmetric", "batch")


def hard(case: Case) -> Case:
    """The case with one-hot targets on each row's largest target (soft batch rows made hard)."""
    t = np.zeros_like(case.t)
    np.put_along_axis(t, np.argmax(case.t, axis=-1)[:, None], 1.0, axis=-1)
    if np.array_equal(t, case.t):
        return case
    return replace(case, t=t, description=case.description.replace(", one-hot and soft targets", ", one-hot targets"))


def with_families(cases: list[Case], families: Sequence[str]) -> list[Case]:
    """The cases of a target-taking battery for the target families tested: soft floats keep every case;
    one-hot floats or class indices alone make every target one-hot (dropping the soft cases); class
    indices beside floats add labelled copies of a few cases."""
    if not families or ("soft" in families and "index" not in families):
        return cases
    if "soft" not in families:
        hards = [hard(c) for c in cases if c.name not in ("soft_targets", "unnormalised_targets")]
        if "index" in families and "onehot" not in families:
            return [_labelled(c, rename=False) for c in hards]
        if "index" in families:
            return hards + [_labelled(c) for c in hards if c.name in LABEL_COPIES]
        return hards
    return cases + [_labelled(hard(c)) for c in cases if c.name in LABEL_COPIES]


def _labelled(case: Case, rename: bool = True) -> Case:
    name = f"{case.name}_labels" if rename else case.name
    return replace(case, name=name, description=f"{case.description}; targets as class indices", labels=True)


def _rows(*rows: Sequence[float]) -> Array:
    return np.array(rows, dtype=np.float64)


def _dense_targets(cases: list[Case], rng: np.random.Generator) -> list[Case]:
    """Replace the targets by dense positive ones, so that the upstream g = −t/s has no zero entry (except
    where s underflowed to 0: there g is 0 rather than infinite)."""
    out = []
    for c in cases:
        t = np.round(rng.uniform(0.1, 1.0, c.z.shape), 2)
        t = np.where(core.softmax(c.z) < np.finfo(np.float64).tiny, 0.0, t)
        out.append(replace(c, t=t))
    return out


def battery(kind: str, backward_input: str | None = None) -> list[Case]:
    """The fixed inputs every function of ``kind`` is run on (the random trials come on top)."""
    asym = (2.0, 1.0, 0.1, -1.5)
    one_hot = (0.0, 0.0, 1.0, 0.0)
    cases = [
        Case("asymmetric", "asymmetric logits, K = 4, target off the largest logit", _rows(asym), _rows(one_hot)),
        Case(
            "shift_1000",
            "the same logits + 1000: a softmax without the max shift overflows",
            _rows([x + 1000.0 for x in asym]),
            _rows(one_hot),
        ),
        Case(
            "gap_800",
            "a gap of 800 between logits, target on the low one: its probability underflows to 0",
            _rows((1.5, -798.5, 0.5, -0.25)),
            _rows((0.0, 1.0, 0.0, 0.0)),
        ),
        Case(
            "soft_targets",
            "soft targets (Σt = 1, mass on several classes)",
            _rows((0.5, -1.0, 2.0, 1.25)),
            _rows((0.125, 0.625, 0.0625, 0.1875)),
        ),
        Case(
            "unnormalised_targets",
            "unnormalised targets (Σt = 2.5)",
            _rows((-0.5, 1.5, 0.25, 0.75)),
            _rows((0.5, 0.0, 1.5, 0.5)),
        ),
        Case(
            "batch",
            "a batch of N = 3 distinct rows, K = 4 (N ≠ K), one-hot and soft targets",
            _rows((0.3, -1.2, 2.2, 0.9), (1.1, 0.4, -0.7, 2.5), (-2.0, 0.6, 1.3, 0.2)),
            _rows((0.0, 1.0, 0.0, 0.0), (0.25, 0.5, 0.125, 0.125), (1.0, 0.0, 0.0, 0.0)),
            batch=True,
        ),
        Case(
            "float32",
            "float32 inputs, K = 4 (float32 tolerances)",
            _rows((1.5, -0.5, 3.0, 0.25)),
            _rows((0.0, 0.0, 0.0, 1.0)),
            dtype="float32",
        ),
    ]
    # an element-wise derivative is judged by the gradient (−t/s) ⊙ f it leads to: the targets matter
    uses_targets = kind in ("grad", "elementwise") or (kind == "backward" and backward_input == "targets")
    if kind == "loss-backward":  # dE/ds = −t/s is infinite where a target's probability underflows
        return [c for c in cases if c.name != "gap_800"]
    if uses_targets:
        return cases
    cases = [c for c in cases if c.name not in ("soft_targets", "unnormalised_targets")]
    upstream = kind == "backward"
    cases = [replace(c, description=_WITHOUT_TARGETS[c.name] + (", dense upstream" if upstream else "")) for c in cases]
    return _dense_targets(cases, np.random.default_rng(UPSTREAM_SEED)) if upstream else cases


#: Descriptions of the battery where the targets play no part (softmax, Jacobian, backward with an upstream).
_WITHOUT_TARGETS = {
    "asymmetric": "asymmetric logits, K = 4",
    "shift_1000": "the same logits + 1000: a softmax without the max shift overflows",
    "gap_800": "a gap of 800 between logits: a probability underflows to 0",
    "batch": "a batch of N = 3 distinct rows, K = 4 (N ≠ K)",
    "float32": "float32 inputs, K = 4 (float32 tolerances)",
}


def random_cases(kind: str, backward_input: str | None, trials: int, seed: int) -> list[Case]:
    """``trials`` seeded random single examples: K from 3 to 8, logits ~ N(0, 3²) rounded to 3 decimals,
    targets one-hot (off the largest logit), soft or unnormalised in turn."""
    rng = np.random.default_rng(seed)
    out = []
    styles = ("one-hot", "soft", "unnormalised")
    for i in range(trials):
        k = int(rng.integers(3, 9))
        z = np.round(rng.normal(0.0, 3.0, k), 3)
        style = styles[i % 3]
        w = rng.uniform(0.05, 1.0, k)
        if style == "one-hot":
            choices = [j for j in range(k) if j != int(np.argmax(z))]
            t = np.zeros(k)
            t[choices[int(rng.integers(len(choices)))]] = 1.0
        elif style == "soft":
            t = np.round(w / w.sum(), 3)
        else:
            t = np.round(2 * w, 2)
        what = f"{style} targets"
        if kind == "backward" and backward_input == "upstream":
            t = np.round(rng.uniform(0.1, 1.0, k), 2)
            what = "dense upstream"
        elif kind in ("jacobian", "softmax"):
            what = "random logits"
        desc = f"random case {i + 1} of {trials} (seed {seed}): K = {k}, {what}"
        out.append(Case(f"random_{i + 1}", desc, z[None], t[None]))
    return out
