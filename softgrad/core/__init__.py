"""The mathematics: softmax, the fused and chained gradients, the softmax Jacobian, finite differences,
tolerances, the rules every input value obeys, and numbers as text. numpy and the standard library only:
nothing here prints, exits, or imports click or rich."""

from softgrad.core.finite_difference import (
    FD_CHOICES,
    FD_DIRECTIONS,
    FULL_FD_MAX_K,
    FiniteDifference,
    fd_plan,
    finite_difference,
    random_directions,
)
from softgrad.core.formulas import (
    EPS,
    Array,
    Instability,
    chained_gradient,
    chained_instability,
    dE_ds,
    fused_gradient,
    logsumexp,
    loss,
    softmax,
    softmax_jacobian,
    vjp_softmax_jacobian,
)

__all__ = [
    "EPS",
    "FD_CHOICES",
    "FD_DIRECTIONS",
    "FULL_FD_MAX_K",
    "Array",
    "FiniteDifference",
    "Instability",
    "chained_gradient",
    "chained_instability",
    "dE_ds",
    "fd_plan",
    "finite_difference",
    "fused_gradient",
    "logsumexp",
    "loss",
    "random_directions",
    "softmax",
    "softmax_jacobian",
    "vjp_softmax_jacobian",
]
