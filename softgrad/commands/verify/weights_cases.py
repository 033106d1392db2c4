"""The inputs ``verify --kind weights`` runs a ``softmax_loss(W, X, y, reg)`` on: a fixed battery chosen to
expose the layer catalogue (D = C so that a transposed dW has the right shape, D ≠ C, reg = 0, logits above
1000), and seeded random cases. Every value is a round number, exactly representable in float64.

Shapes (the course-assignment layout): W (D, C), X (N, D), y (N,) class indices in 0..C−1 (passed as an
(N, C) one-hot array to a function that takes one-hot targets), reg a number >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from softgrad.core import Array

#: Seed of the fixed battery's numbers (``seed`` only drives the random cases).
BATTERY_SEED = 20261202


@dataclass(frozen=True)
class WeightsCase:
    """One input: W (D, C), X (N, D), y (N,) class indices, reg."""

    name: str
    description: str
    W: Array
    X: Array
    #: int64 class indices
    y: NDArray[np.int64]
    reg: float

    @property
    def shape_text(self) -> str:
        n, d = self.X.shape
        return f"N = {n}, D = {d}, C = {self.W.shape[1]}"


def _round(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> Array:
    out: Array = np.round(rng.normal(0.0, scale, shape), 2)
    return out


def _labels(rng: np.random.Generator, n: int, c: int) -> NDArray[np.int64]:
    """Class indices covering as many classes as there are rows (so no class is left out by chance)."""
    y = np.arange(n) % c
    out: NDArray[np.int64] = rng.permutation(y).astype(np.int64)
    return out


def _case(name: str, description: str, rng: np.random.Generator, n: int, d: int, c: int, reg: float) -> WeightsCase:
    return WeightsCase(name, description, _round(rng, (d, c), 0.5), _round(rng, (n, d), 1.0), _labels(rng, n, c), reg)


def _large_logits(rng: np.random.Generator) -> WeightsCase:
    """Every score about 1000 (X's first column 2, W's first row 500), the scores of a row within a few units
    of each other: exp(scores) overflows without the max shift, while the shifted softmax is exact."""
    n, d, c = 4, 3, 3
    X = np.column_stack([np.full(n, 2.0), _round(rng, (n, d - 1), 1.0)])
    W = np.vstack([np.full((1, c), 500.0), _round(rng, (d - 1, c), 0.5)])
    y = np.array([1, 2, 0, 1], dtype=np.int64)
    description = "scores about 1000 (N = 4, D = C = 3): exp(scores) overflows without the max shift"
    return WeightsCase("large_logits", description, W, X, y, 0.0)


def battery() -> list[WeightsCase]:
    """The fixed cases (the first, reg ≠ 0, is also where the regularisation convention is read)."""
    rng = np.random.default_rng(BATTERY_SEED)
    return [
        _case("square", "D = C = 3, N = 5, reg = 0.1: a transposed dW has the shape of dW", rng, 5, 3, 3, 0.1),
        _case("rectangular", "N = 6, D = 4, C = 3, reg = 0.25", rng, 6, 4, 3, 0.25),
        _case("no_reg", "reg = 0, N = 4, D = 3, C = 5", rng, 4, 3, 5, 0.0),
        _case("wide", "D = 2 < C = 4, N = 7, reg = 0.05", rng, 7, 2, 4, 0.05),
        _large_logits(rng),
    ]


REGS = (0.0, 0.05, 0.1, 0.5, 1.0)


def random_cases(trials: int, seed: int) -> list[WeightsCase]:
    """``trials`` seeded cases: N in 2..8, D and C in 2..6, reg one of :data:`REGS`."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(trials):
        n, d, c = int(rng.integers(2, 9)), int(rng.integers(2, 7)), int(rng.integers(2, 7))
        reg = float(REGS[int(rng.integers(len(REGS)))])
        out.append(_case(f"random_{i}", f"random: N = {n}, D = {d}, C = {c}, reg = {reg:g}", rng, n, d, c, reg))
    return out


def one_hot(y: NDArray[np.int64], c: int) -> Array:
    """Class indices (N,) as an (N, C) one-hot float64 array."""
    out: Array = np.eye(c)[y]
    return out
