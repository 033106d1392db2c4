"""The layer catalogue: the known ways to get a layer's weight, bias and hidden-layer gradients wrong, one
:class:`Mistake` entry each (scope ``"layer"``), registered in the one registry (``MISTAKES``).

A layer entry's function takes the network (row form, see :mod:`softgrad.core.layer`), its forward pass
and the right gradients, and returns the wrong values it produces, by quantity (``delta``, ``dW``, ``db``,
``da``, ``delta_h``, ``dW_h``, ``db_h``, the intermediate ``sigma_prime``, and for the loss-value entries
``loss``, a 0-d array: see :data:`LOSS`) in the row form — or None where
the mistake cannot arise in that network (no hidden layer, no bias, no regulariser, shapes that do not
allow it). Where a mistake replaces an intermediate, the right formulas carry it on
(:func:`softgrad.core.layer.backward`). Formulas are written in the column convention (``z = W a + b``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from softgrad.catalogue.entry import Catalogue, Mistake
from softgrad.core import Array
from softgrad.core.layer import Forward, Gradients, Network, backward, sigma_prime

#: The steps of the layer's derivation, in order, as ``explain`` shows them.
LAYER_STEPS = ("forward", "delta", "dW", "db", "da", "sigma_prime", "delta_h", "dW_h", "db_h")

Values = dict[str, Array] | None
#: The quantity of the entries that make the loss value wrong (``verify --kind weights`` checks the loss a
#: ``softmax_loss(W, X, y, reg)`` returns; ``softgrad layer`` takes no loss).
LOSS = "loss"


def _present(values: dict[str, Array | None]) -> dict[str, Array]:
    return {k: v for k, v in values.items() if v is not None}


def _downstream(net: Network, g: Gradients, names: Sequence[str]) -> dict[str, Array]:
    return _present({n: g.get(n) for n in names})


def _dW_transposed(net: Network, fwd: Forward, ref: Gradients) -> Values:
    return _present({"dW": ref.dW.T, "dW_h": None if ref.dW_h is None else ref.dW_h.T})


def _delta_through_W(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if net.h != net.k:
        return None  # W δ has the shape of Wᵀ δ only when H = K
    g = backward(net, fwd, da=ref.delta @ net.W)
    return _downstream(net, g, ("da", "delta_h", "dW_h", "db_h"))


def _sigma_prime_at_activation(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if net.activation not in ("sigmoid", "tanh"):
        return None  # for relu and identity σ′(σ(z)) = σ′(z)
    sp = sigma_prime(net.activation, fwd.a)
    g = backward(net, fwd, sigma_prime_value=sp)
    return {"sigma_prime": sp, **_downstream(net, g, ("delta_h", "dW_h", "db_h"))}


def _sigma_prime_formula_at_z(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if net.activation not in ("sigmoid", "tanh") or fwd.z_h is None:
        return None  # relu and identity have no shortcut in terms of a
    z = fwd.z_h
    sp = z * (1.0 - z) if net.activation == "sigmoid" else 1.0 - z * z
    g = backward(net, fwd, sigma_prime_value=sp)
    return {"sigma_prime": sp, **_downstream(net, g, ("delta_h", "dW_h", "db_h"))}


def _sigma_prime_missing(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if not net.hidden or net.activation == "identity":
        return None  # σ′ = 1 for the identity
    sp = np.ones((net.n, net.h))
    g = backward(net, fwd, sigma_prime_value=sp)
    return {"sigma_prime": sp, **_downstream(net, g, ("delta_h", "dW_h", "db_h"))}


def _hadamard_as_matmul(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if not net.hidden or ref.sigma_prime is None:
        return None
    da, sp = ref.da, ref.sigma_prime
    if net.single:  # one example as vectors: np.dot of two vectors is their inner product, a scalar
        dh = np.array([float(np.dot(da[0], sp[0]))])
    elif net.n != net.h:
        return None  # the matrix product of two N×H arrays needs N = H
    elif net.convention == "row":
        dh = da @ sp
    else:  # the columns' matrix product (H×N)(H×N), back in the row form
        dh = sp @ da
    g = backward(net, fwd, delta_h=dh)
    return {"delta_h": dh, **_downstream(net, g, ("dW_h", "db_h"))}


def _data_terms(net: Network, ref: Gradients, factor: float) -> Values:
    out: dict[str, Array | None] = {"dW": factor * (ref.dW - 2 * net.reg_coef * net.W) + 2 * net.reg_coef * net.W}
    if ref.dW_h is not None and net.W_h is not None:
        out["dW_h"] = factor * (ref.dW_h - 2 * net.reg_coef * net.W_h) + 2 * net.reg_coef * net.W_h
    return _present(out)


def _dW_missing_mean(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if net.reduction != "mean" or net.n < 2:
        return None
    return _data_terms(net, ref, float(net.n))


def _dW_mean_twice(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if net.reduction != "mean" or net.n < 2:
        return None
    return _data_terms(net, ref, 1.0 / net.n)


def _db_not_summed(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if net.n < 2:
        return None
    out = _present(
        {
            "db": None if ref.db is None else ref.delta,
            "db_h": None if ref.db_h is None else ref.delta_h,
        }
    )
    return out or None


def _db_summed_over_classes(net: Network, fwd: Forward, ref: Gradients) -> Values:
    out = _present(
        {
            "db": None if ref.db is None else np.sum(ref.delta, axis=1),
            "db_h": None if ref.db_h is None or ref.delta_h is None else np.sum(ref.delta_h, axis=1),
        }
    )
    return out or None


def _reg_gradient(net: Network, ref: Gradients, factor: float) -> Values:
    """dW with the regulariser's gradient ``factor·reg·W`` instead of ``2·coef·W``."""
    if net.reg == 0:
        return None
    out: dict[str, Array | None] = {"dW": ref.dW - 2 * net.reg_coef * net.W + factor * net.reg * net.W}
    if ref.dW_h is not None and net.W_h is not None:
        out["dW_h"] = ref.dW_h - 2 * net.reg_coef * net.W_h + factor * net.reg * net.W_h
    return _present(out)


def _reg_gradient_missing(net: Network, fwd: Forward, ref: Gradients) -> Values:
    return _reg_gradient(net, ref, 0.0)


def _reg_gradient_factor(net: Network, fwd: Forward, ref: Gradients) -> Values:
    return _reg_gradient(net, ref, 1.0 if net.reg_convention == "full" else 2.0)


def _loss_not_mean(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if net.reduction != "mean" or net.n < 2:
        return None
    return {"loss": np.array(float(np.sum(fwd.losses)) + fwd.reg_loss)}


def _loss_reg_missing(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if net.reg == 0 or fwd.reg_loss == 0:
        return None
    return {"loss": np.array(fwd.data_loss)}


def _reg_on_bias(net: Network, fwd: Forward, ref: Gradients) -> Values:
    if net.reg == 0:
        return None
    f = net.reg_factor * net.reg
    out = _present(
        {
            "db": None if ref.db is None or net.b is None else ref.db + f * net.b,
            "db_h": None if ref.db_h is None or net.b_h is None else ref.db_h + f * net.b_h,
        }
    )
    return out or None


LAYER_MISTAKES: list[Mistake] = [
    Mistake(
        "dW_transposed",
        "the weight gradient transposed: a δᵀ instead of δ aᵀ",
        "a δᵀ   (instead of δ aᵀ; row convention Δᵀ A instead of Aᵀ Δ)",
        "any input; shape-compatible only when H = K, so the values tell: the worked example gives "
        "[[0.5, −0.5], [−0.25, 0.25]]",
        _dW_transposed,
        scope="layer",
        step="dW",
        quantities=("dW", "dW_h"),
    ),
    Mistake(
        "delta_through_W_not_transposed",
        "δ carried back through W instead of Wᵀ",
        "W δ   (instead of Wᵀ δ)",
        "H = K (otherwise the shapes do not fit) and a W that is not symmetric",
        _delta_through_W,
        scope="layer",
        step="da",
        quantities=("da", "delta_h", "dW_h", "db_h"),
    ),
    Mistake(
        "sigma_prime_at_activation",
        "σ′ evaluated at the activation a_h = σ(z_h) instead of at z_h",
        "(Wᵀ δ) ⊙ σ′(a_h)   (instead of ⊙ σ′(z_h))",
        "a sigmoid or tanh hidden layer (for relu and identity σ′(σ(z)) = σ′(z))",
        _sigma_prime_at_activation,
        scope="layer",
        step="sigma_prime",
        quantities=("delta_h", "dW_h", "db_h"),
    ),
    Mistake(
        "sigma_prime_formula_at_z",
        "the shortcut σ′ = a(1 − a) (or 1 − a²) applied to z_h instead of to a_h",
        "(Wᵀ δ) ⊙ z_h(1 − z_h)   (tanh: ⊙ (1 − z_h²))",
        "a sigmoid or tanh hidden layer",
        _sigma_prime_formula_at_z,
        scope="layer",
        step="sigma_prime",
        quantities=("delta_h", "dW_h", "db_h"),
    ),
    Mistake(
        "sigma_prime_missing",
        "σ′ left out of the chain (for relu: the mask of z_h > 0 dropped)",
        "Wᵀ δ   (without ⊙ σ′(z_h))",
        "a hidden layer whose σ is not the identity (for relu: some z_h < 0)",
        _sigma_prime_missing,
        scope="layer",
        step="sigma_prime",
        quantities=("delta_h", "dW_h", "db_h"),
    ),
    Mistake(
        "hadamard_as_matmul",
        "the element-wise product with σ′ written as a matrix product",
        "(Wᵀ δ) · σ′(z_h)   (a dot product where ⊙ belongs)",
        "a hidden layer where the shapes allow it: one example as vectors (the dot product is a scalar), or N = H",
        _hadamard_as_matmul,
        scope="layer",
        step="delta_h",
        quantities=("delta_h", "dW_h", "db_h"),
    ),
    Mistake(
        "dW_missing_mean",
        "the weight gradient not divided by N (the loss is a mean)",
        "Aᵀ Δ·N + ∂R/∂W   (the data term without its 1/N)",
        "a batch of N >= 2 rows with a mean loss",
        _dW_missing_mean,
        scope="layer",
        step="dW",
        quantities=("dW", "dW_h"),
    ),
    Mistake(
        "dW_mean_twice",
        "the weight gradient divided by N twice",
        "Aᵀ Δ / N + ∂R/∂W   (Δ already holds the 1/N)",
        "a batch of N >= 2 rows with a mean loss",
        _dW_mean_twice,
        scope="layer",
        step="dW",
        quantities=("dW", "dW_h"),
    ),
    Mistake(
        "db_not_summed",
        "the bias gradient per example, not summed over the batch",
        "∂L/∂b = Δ   (N×K, instead of Σ_n Δ_n)",
        "a batch of N >= 2 examples",
        _db_not_summed,
        scope="layer",
        step="db",
        quantities=("db", "db_h"),
    ),
    Mistake(
        "db_summed_over_classes",
        "the bias gradient summed over the classes instead of over the examples",
        "Σ_k δ_k   (always 0 at the output: Σ_k (s_k·Σt − t_k) = 0)",
        "any input where ∂L/∂b is not zero (sum(axis=1) where axis=0 was meant)",
        _db_summed_over_classes,
        scope="layer",
        step="db",
        quantities=("db", "db_h"),
    ),
    Mistake(
        "reg_gradient_missing",
        "the regulariser left out of the weight gradient",
        "δ aᵀ   (without + 2·reg·W)",
        "reg ≠ 0",
        _reg_gradient_missing,
        scope="layer",
        step="dW",
        quantities=("dW", "dW_h"),
    ),
    Mistake(
        "reg_gradient_factor",
        "the regulariser's gradient with the other convention's factor",
        "δ aᵀ + reg·W for reg·‖W‖²   (or + 2·reg·W for ½·reg·‖W‖²)",
        "reg ≠ 0; the loss's convention (--reg-convention) says which factor is right",
        _reg_gradient_factor,
        scope="layer",
        step="dW",
        quantities=("dW", "dW_h"),
    ),
    Mistake(
        "reg_on_bias",
        "the bias regularised too",
        "δ + 2·reg·b   (biases are not regularised)",
        "reg ≠ 0 and a bias that is not zero",
        _reg_on_bias,
        scope="layer",
        step="db",
        quantities=("db", "db_h"),
    ),
    Mistake(
        "loss_not_mean",
        "the loss summed over the examples, not averaged (its gradient is a mean)",
        "L = Σ_n CE(z_n, t_n) + R   (instead of (1/N)·Σ_n CE(z_n, t_n) + R)",
        "a batch of N >= 2 examples with a mean loss (the loss value, as softmax_loss(W, X, y, reg) returns it)",
        _loss_not_mean,
        scope="layer",
        step="forward",
        quantities=("loss",),
    ),
    Mistake(
        "loss_reg_missing",
        "the regulariser left out of the loss value",
        "L = (1/N)·Σ_n CE(z_n, t_n)   (without + reg·‖W‖² or ½·reg·‖W‖²)",
        "reg ≠ 0 and W ≠ 0 (the loss value, as softmax_loss(W, X, y, reg) returns it)",
        _loss_reg_missing,
        scope="layer",
        step="forward",
        quantities=("loss",),
    ),
]


def with_layer_entries(entries: list[Mistake]) -> Catalogue:
    """The one registry: ``entries`` (row and batch entries) followed by the layer entries."""
    return Catalogue([*entries, *LAYER_MISTAKES])
