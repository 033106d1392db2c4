"""The catalogue of known mistakes: one registry that diagnosis, ``mistakes``, ``explain``, the docs and the
tests all read. Adding a mistake is adding one entry to :data:`MISTAKES`.

A row entry computes the *wrong* gradient dE/dz it produces, vectorised over rows: ``(N, K)`` logits and
targets in, ``(N, K)`` out. A batch entry computes the wrong gradient of a whole batch for the reduction the
user meant (``none``, ``mean`` or ``sum``), or None where it cannot arise. Entries whose mistake lives in the
softmax or its Jacobian also compute the wrong probabilities or the wrong Jacobian, so that a softmax or a
Jacobian function can be diagnosed directly. Notation as in :mod:`softgrad.core`: ``u = z/τ``,
``s = softmax(u)``, ``g = −t/s``, ``J(x) = diag(x) − x xᵀ``, ``S = Σt``.
"""

from __future__ import annotations

import numpy as np

from softgrad.catalogue.entry import STEPS, Catalogue, Mistake, Scale
from softgrad.catalogue.layer import with_layer_entries
from softgrad.core import Array, dE_ds, softmax, vjp_softmax_jacobian

__all__ = ["MISTAKES", "STEPS", "Catalogue", "Mistake", "expected_scale", "valid_rows"]


def _sum(t: Array) -> Array:
    out: Array = np.sum(t, axis=-1, keepdims=True)
    return out


def _diag(x: Array) -> Array:
    out: Array = x[..., :, None] * np.eye(x.shape[-1])
    return out


def _full_jacobian(x: Array) -> Array:
    out: Array = _diag(x) - x[..., :, None] * x[..., None, :]
    return out


def _jacobian_at_logits(u: Array, t: Array) -> Array:
    return vjp_softmax_jacobian(dE_ds(t, softmax(u)), u)


def _diagonal_only(u: Array, t: Array) -> Array:
    s = softmax(u)
    out: Array = dE_ds(t, s) * s * (1 - s)
    return out


def _missing_outer_term(u: Array, t: Array) -> Array:
    s = softmax(u)
    out: Array = dE_ds(t, s) * s
    return out


def _hadamard_rowsum(u: Array, t: Array) -> Array:
    s = softmax(u)
    row_sums_of_j = s - s * _sum(s)  # Σ_k J(s)_jk, zero up to rounding
    out: Array = dE_ds(t, s) * row_sums_of_j
    return out


def _no_jacobian(u: Array, t: Array) -> Array:
    return dE_ds(t, softmax(u))


def _sign_flipped(u: Array, t: Array) -> Array:
    out: Array = t - softmax(u) * _sum(t)
    return out


def _logits_as_probabilities(u: Array, t: Array) -> Array:
    out: Array = u * _sum(t) - t
    return out


def _double_softmax(u: Array, t: Array) -> Array:
    s = softmax(u)
    return vjp_softmax_jacobian(softmax(s) * _sum(t) - t, s)


def _nll_on_probabilities(u: Array, t: Array) -> Array:
    return vjp_softmax_jacobian(-t, softmax(u))


def _assumes_one_hot(u: Array, t: Array) -> Array:
    out: Array = softmax(u) - t
    return out


def _soft_targets_as_argmax(u: Array, t: Array) -> Array:
    out: Array = softmax(u)
    hard = np.zeros_like(t)
    np.put_along_axis(hard, np.argmax(t, axis=-1)[..., None], 1.0, axis=-1)
    return out - hard


def _binary_ce_through_softmax(u: Array, t: Array) -> Array:
    s = softmax(u)
    with np.errstate(all="ignore"):
        upstream = dE_ds(t, s) + np.where(t == 1, 0.0, (1 - t) / (1 - s))
    return vjp_softmax_jacobian(upstream, s)


def _softmax_no_shift(u: Array) -> Array:
    with np.errstate(all="ignore"):
        e = np.exp(u)
        out: Array = e / np.sum(e, axis=-1, keepdims=True)
    return out


def _no_max_shift(u: Array, t: Array) -> Array:
    out: Array = _softmax_no_shift(u) * _sum(t) - t
    return out


def _chained_underflow(u: Array, t: Array) -> Array:
    s = softmax(u)
    with np.errstate(all="ignore"):
        g = -t / s
        return vjp_softmax_jacobian(g, s)


def valid_rows(t: Array) -> int:
    """Rows of a batch whose targets are not all zero (ignored rows do not count in a mean)."""
    return max(1, int(np.count_nonzero(np.sum(t, axis=-1) > 0)))


def expected_scale(t: Array, reduction: str) -> float:
    """What each row's own gradient is multiplied by in the batch gradient: 1/N_valid for a mean, else 1."""
    return 1.0 / valid_rows(t) if reduction == "mean" else 1.0


def _batch_sum_not_mean(u: Array, t: Array, reduction: str) -> Array:
    # the reduction the user did not mean: per-row/sum where mean was meant, mean where sum/none was meant
    other = 1.0 if reduction == "mean" else 1.0 / valid_rows(t)
    out: Array = _reference_unscaled(u, t) * other
    return out


def _batch_mean_twice(u: Array, t: Array, reduction: str) -> Array | None:
    if reduction == "none":
        return None
    out: Array = _reference_unscaled(u, t) / valid_rows(t) ** 2
    return out


def _softmax_over_batch_axis(u: Array, t: Array, reduction: str) -> Array:
    out: Array = (softmax(u.T).T * _sum(t) - t) * expected_scale(t, reduction)
    return out


def _softmax_all_elements(u: Array) -> Array:
    out: Array = softmax(u.reshape(1, -1)).reshape(u.shape)
    return out


def _softmax_over_all_elements(u: Array, t: Array, reduction: str) -> Array:
    out: Array = (_softmax_all_elements(u) * _sum(t) - t) * expected_scale(t, reduction)
    return out


def _ignored_rows_in_mean(u: Array, t: Array, reduction: str) -> Array | None:
    if reduction != "mean" or valid_rows(t) == u.shape[0]:
        return None
    out: Array = _reference_unscaled(u, t) / u.shape[0]
    return out


def _sum_not_mean_advice(n: int, reduction: str) -> str:
    if reduction == "mean":
        return (
            f"each row is N = {n} times the mean-reduced gradient: it is the gradient of the summed loss "
            "(reduction sum); for a mean loss divide by N"
        )
    return f"each row is the per-row gradient divided by N = {n}: it is the gradient of the mean loss (reduction mean)"


def _scales(k: int, temperature: float) -> list[Scale]:
    """The constant factors a scaled gradient is commonly off by, given K and τ. Factors of N are the batch
    entries' (batch_sum_not_mean, batch_mean_twice); × τ is missing_temperature; × −1 is sign_flipped."""
    out = [
        Scale("× 2", 2.0, "a term counted twice, or the 2 of a squared loss?"),
        Scale("÷ 2", 0.5, "a stray ½ (as in ½‖·‖²), which cross-entropy does not have?"),
        Scale(f"× K = {k}", float(k), "summed over the classes where one value per class was meant?"),
        Scale(
            f"÷ K = {k}",
            1.0 / k,
            "did you divide by len(y) — the number of classes — on a single example?",
        ),
    ]
    if temperature != 1.0:
        out.append(Scale(f"÷ τ = {temperature:g}", 1.0 / temperature, "the 1/τ of the temperature applied twice?"))
    seen: set[float] = set()
    unique = []
    for sc in out:
        if sc.factor not in seen:
            seen.add(sc.factor)
            unique.append(sc)
    return unique


def _scaled_gradient(u: Array, t: Array) -> Array:
    out: Array = 2.0 * _reference_unscaled(u, t)  # the first factor; diagnosis tries every one
    return out


def _reference_unscaled(u: Array, t: Array) -> Array:
    out: Array = softmax(u) * _sum(t) - t
    return out


MISTAKES = with_layer_entries(
    [
        Mistake(
            "jacobian_at_logits",
            "softmax Jacobian evaluated at the logits z instead of at s = softmax(z)",
            "g · J(z)",
            "almost any input; the classic z = (1.75, 1.75), t = (0, 1) gives (6.125, 2.625)",
            _jacobian_at_logits,
            jacobian_fn=_full_jacobian,
            jacobian_formula="J(z) = diag(z) − z zᵀ",
            step="jacobian",
        ),
        Mistake(
            "diagonal_only",
            "softmax differentiated element by element, like a sigmoid",
            "g ⊙ s(1 − s)",
            "any input with a target on a class whose probability is not 1",
            _diagonal_only,
            jacobian_fn=lambda u: _diag(softmax(u) * (1 - softmax(u))),
            jacobian_formula="diag(s ⊙ (1 − s))",
            step="jacobian",
        ),
        Mistake(
            "missing_outer_term",
            "softmax Jacobian taken as diag(s): the −s sᵀ term dropped",
            "g ⊙ s",
            "any input: the result is −t, which ignores the logits entirely",
            _missing_outer_term,
            jacobian_fn=lambda u: _diag(softmax(u)),
            jacobian_formula="diag(s)",
            step="jacobian",
        ),
        Mistake(
            "hadamard_rowsum",
            "element-wise product with the Jacobian, summed over each row",
            "Σ_k (g ⊙ J(s))_jk = g_j · Σ_k J(s)_jk",
            "any input: the rows of J(s) sum to 0, so the result is always the zero vector",
            _hadamard_rowsum,
            step="vjp",
        ),
        Mistake(
            "no_jacobian",
            "dE/ds reported as dE/dz: the softmax step left out of the chain",
            "g = −t / s",
            "any input with a non-zero target",
            _no_jacobian,
            step="vjp",
        ),
        Mistake(
            "sign_flipped",
            "gradient with the wrong sign",
            "t − s·S",
            "any input where the gradient is not zero",
            _sign_flipped,
            step="fused",
        ),
        Mistake(
            "logits_as_probabilities",
            "the logits z used where the probabilities s belong",
            "z·S − t",
            "any input whose logits are not already probabilities",
            _logits_as_probabilities,
            softmax_fn=lambda u: u,
            step="softmax",
        ),
        Mistake(
            "double_softmax",
            "softmax applied twice (a softmax before a loss that takes logits)",
            "J(s) · (softmax(s)·S − t)",
            "asymmetric logits with K >= 3; at z = (1.75, 1.75), t = (0, 1) it coincides with nll_on_probabilities",
            _double_softmax,
            softmax_fn=lambda u: softmax(softmax(u)),
            step="softmax",
        ),
        Mistake(
            "nll_on_probabilities",
            "negative log-likelihood fed probabilities instead of log-probabilities",
            "−J(s) · t",
            "asymmetric logits with K >= 3; at z = (1.75, 1.75), t = (0, 1) it coincides with double_softmax",
            _nll_on_probabilities,
            step="dE_ds",
        ),
        Mistake(
            "assumes_one_hot",
            "the shortcut s − t used with targets that do not sum to 1",
            "s − t",
            "targets with Σt ≠ 1 (unnormalised soft labels); equals the reference whenever Σt = 1",
            _assumes_one_hot,
            step="fused",
        ),
        Mistake(
            "soft_targets_as_argmax",
            "soft targets reduced to their argmax: right for hard labels, wrong for soft ones",
            "s − onehot(argmax t)",
            "soft or unnormalised targets (mass on several classes); equals the reference for one-hot targets",
            _soft_targets_as_argmax,
            step="fused",
        ),
        Mistake(
            "binary_ce_through_softmax",
            "binary cross-entropy differentiated through the softmax",
            "J(s) · (−t/s + (1 − t)/(1 − s))",
            "any input with K >= 2 and a target below 1 somewhere",
            _binary_ce_through_softmax,
            step="dE_ds",
        ),
        Mistake(
            "missing_temperature",
            "the 1/τ of the temperature forgotten",
            "softmax(z/τ)·S − t   (instead of (softmax(z/τ)·S − t) / τ)",
            "only with --temperature τ ≠ 1",
            _reference_unscaled,
            scaled=False,
            step="temperature",
        ),
        Mistake(
            "scaled_gradient",
            "the right gradient times a constant factor",
            "c · (s·S − t), c ∈ {2, ½, K, 1/K, 1/τ}",
            "any input where the gradient is not zero; the factor is named (÷ K: divided by len(y)?)",
            _scaled_gradient,
            scales=_scales,
            fallback=True,
            step="gradient",
        ),
        Mistake(
            "no_max_shift",
            "softmax computed without subtracting the max logit",
            "exp(z) / Σ exp(z), overflowing",
            "large logits (above about 709): overflow gives NaN or inf",
            _no_max_shift,
            softmax_fn=_softmax_no_shift,
            step="softmax",
            numerical=True,
        ),
        Mistake(
            "chained_underflow",
            "chain rule through a probability that underflowed to 0",
            "(−t/s) · J(s) with s_k = 0, so −t/s = −inf",
            "a target on a class whose logit is about 745 or more below the largest",
            _chained_underflow,
            step="dE_ds",
            numerical=True,
        ),
        Mistake(
            "batch_sum_not_mean",
            "sum and mean reductions confused: the batch gradient is N× (or 1/N×) the expected one",
            "s·S − t per row where (s·S − t)/N was meant (or the reverse)",
            "a batch of N >= 2 rows with user gradients, and the reduction that was meant",
            _batch_sum_not_mean,
            advice=_sum_not_mean_advice,
            scope="batch",
            step="gradient",
        ),
        Mistake(
            "batch_mean_twice",
            "the batch mean taken twice: the gradient divided by N²",
            "(s·S − t) / N²",
            "a batch of N >= 2 rows with a mean (or sum) reduction",
            _batch_mean_twice,
            advice=lambda n, _: f"each row is the per-row gradient divided by N = {n} twice (by N² = {n * n})",
            scope="batch",
            step="gradient",
        ),
        Mistake(
            "softmax_over_batch_axis",
            "softmax taken over the batch axis (rows) instead of the class axis",
            "softmax(z, axis=0)·S − t",
            "a batch of N >= 2 distinct rows (N ≠ K makes it unmistakable)",
            _softmax_over_batch_axis,
            softmax_fn=lambda u: softmax(u.T).T,
            advice=lambda n, _: "it takes the softmax over axis 0 (the batch) instead of over the classes (axis -1)",
            scope="batch",
            step="softmax",
        ),
        Mistake(
            "softmax_over_all_elements",
            "softmax normalised over the whole (N, K) batch array, not per row",
            "exp(z) / Σ_all exp(z), the sum over every row and class",
            "a batch of N >= 2 rows (each row's probabilities then sum to less than 1)",
            _softmax_over_all_elements,
            softmax_fn=_softmax_all_elements,
            advice=lambda n, _: (
                f"its softmax is normalised over all {n} rows at once (the whole array), not over each row's classes"
            ),
            scope="batch",
            step="softmax",
        ),
        Mistake(
            "ignored_rows_in_mean",
            "rows with all-zero targets (ignored rows) counted in the mean",
            "(s·S − t) / N instead of / N_valid",
            "a batch with a mean reduction that contains rows whose targets are all zero",
            _ignored_rows_in_mean,
            advice=lambda n, _: (
                f"rows whose targets are all zero are counted in the mean: it divides by N = {n}, "
                "not by the number of rows that have targets"
            ),
            scope="batch",
            step="gradient",
        ),
    ]
)
