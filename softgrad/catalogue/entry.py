"""A catalogue entry and the registry that holds them: what one known mistake is, and how it computes the
wrong numbers it produces (a gradient for one row or a whole batch, a softmax, a softmax Jacobian, the
gradients of a layer)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from softgrad.core import Array, fused_gradient
from softgrad.core.layer import Forward, Gradients, Network

RowFn = Callable[[Array, Array], Array]
#: ``(u, t, reduction) -> wrong dE/du of the whole batch``, or None where the mistake cannot arise
BatchFn = Callable[[Array, Array, str], "Array | None"]
#: ``(network, forward pass, right gradients) -> the wrong values by quantity (row form)``, or None where the
#: mistake cannot arise in this network (typed loosely so that the row and batch calls keep their types)
LayerFn = Callable[..., Any]


@dataclass(frozen=True)
class Scale:
    """One constant factor of a scaled gradient: its label, its value, and what usually causes it."""

    label: str
    factor: float
    advice: str


@dataclass(frozen=True)
class Mistake:
    """One known way to get the softmax + cross-entropy gradient wrong."""

    id: str
    title: str
    #: the wrong formula, in the catalogue's notation
    formula: str
    #: which inputs expose it (where it differs from the reference)
    exposes: str
    #: row entries: ``(u, t) -> wrong dE/du`` for (N, K) arrays; the catalogue divides by τ unless ``scaled``
    #: is False. Batch entries: ``(u, t, reduction) -> wrong dE/du`` of the whole batch, or None. Layer
    #: entries: a :data:`LayerFn`
    fn: RowFn | BatchFn | LayerFn
    #: ``(u) -> wrong ds/du`` (N, K, K), for mistakes that live in the softmax Jacobian itself
    jacobian_fn: Callable[[Array], Array] | None = None
    #: ``(u) -> wrong s`` (N, K), for mistakes that live in the softmax itself
    softmax_fn: Callable[[Array], Array] | None = None
    #: batch entries: ``(N, reduction) -> what the user's batch gradient is instead``, in words
    advice: Callable[[int, str], str] | None = None
    #: False when the mistake is forgetting the 1/τ of the temperature
    scaled: bool = True
    #: "row" (one example), "batch" (across rows) or "layer" (a layer's weights, bias, hidden layer)
    scope: str = "row"
    #: the derivation step (see :data:`STEPS`) where this mistake departs from the right derivation
    step: str = "gradient"
    #: for Jacobian mistakes: the wrong Jacobian as a formula
    jacobian_formula: str = ""
    #: a floating-point failure (overflow, underflow) rather than a wrong formula: preferred when the user's
    #: gradient holds NaN or inf
    numerical: bool = False
    #: a family of wrong gradients, each the reference times a constant: ``(K, τ) -> the factors``
    scales: Callable[[int, float], list[Scale]] | None = None
    #: a generic explanation, named only where no other entry matches
    fallback: bool = False
    #: layer entries: the quantities it makes wrong (``delta``, ``dW``, ``db``, ``da``, ``delta_h``, …)
    quantities: tuple[str, ...] = ()

    def gradient(self, z: Array, t: Array, temperature: float = 1.0) -> Array:
        """The wrong gradient dE/dz this row mistake produces at (z, t), shape (N, K)."""
        if self.scope != "row":
            use = "batch_gradient" if self.scope == "batch" else "layer_values"
            raise ValueError(f"{self.id} is a {self.scope}-level mistake: use {use}")
        with np.errstate(all="ignore"):
            out = self.fn(z / temperature, t)  # type: ignore[call-arg]
            assert out is not None
            return out / temperature if self.scaled else out

    def variants(self, z: Array, t: Array, temperature: float = 1.0) -> list[tuple[Scale | None, Array]]:
        """Every wrong gradient this row mistake stands for at (z, t): one, or one per factor of a scaled
        family (each with its :class:`Scale`)."""
        if self.scales is None:
            return [(None, self.gradient(z, t, temperature))]
        with np.errstate(all="ignore"):
            ref = fused_gradient(z, t, temperature)
            return [(sc, ref * sc.factor) for sc in self.scales(z.shape[-1], temperature)]

    def batch_gradient(self, z: Array, t: Array, temperature: float, reduction: str) -> Array | None:
        """The wrong gradient of a whole batch (N, K) this batch mistake produces when the user meant
        ``reduction``; None where it cannot arise (a single row, or a reduction it does not apply to)."""
        if self.scope != "batch":
            use = "gradient" if self.scope == "row" else "layer_values"
            raise ValueError(f"{self.id} is a {self.scope}-level mistake: use {use}")
        if z.shape[0] < 2:
            return None
        with np.errstate(all="ignore"):
            out = self.fn(z / temperature, t, reduction)  # type: ignore[call-arg]
            return None if out is None else out / temperature

    def layer_values(self, net: Network, fwd: Forward, ref: Gradients) -> dict[str, Array] | None:
        """The wrong values (row form, by quantity) this layer mistake produces in ``net``, whose forward pass
        is ``fwd`` and right gradients ``ref``; None where it cannot arise there."""
        if self.scope != "layer":
            raise ValueError(f"{self.id} is a {self.scope}-level mistake: use gradient or batch_gradient")
        with np.errstate(all="ignore"):
            out: dict[str, Array] | None = self.fn(net, fwd, ref)  # type: ignore[call-arg,arg-type,assignment]
            return out

    def probabilities(self, z: Array, temperature: float = 1.0) -> Array | None:
        """The wrong softmax this mistake computes at z, or None if it is not a softmax mistake."""
        if self.softmax_fn is None:
            return None
        with np.errstate(all="ignore"):
            return self.softmax_fn(z / temperature)

    def jacobian(self, z: Array, temperature: float = 1.0) -> Array | None:
        """The wrong softmax Jacobian ds/dz this mistake uses at z, or None if it is not a Jacobian mistake."""
        if self.jacobian_fn is None:
            return None
        with np.errstate(all="ignore"):
            return self.jacobian_fn(z / temperature) / temperature

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "id": self.id,
            "title": self.title,
            "formula": self.formula,
            "exposes": self.exposes,
            "scope": self.scope,
            "jacobian": self.jacobian_fn is not None,
        }
        if self.scope == "layer":
            d["quantities"] = list(self.quantities)
        return d


#: The steps of the derivation, in order, as ``explain`` shows them.
STEPS = ("softmax", "loss", "dE_ds", "jacobian", "vjp", "fused", "temperature", "gradient")


class Catalogue(Mapping[str, Mistake]):
    """An ordered, read-only registry of mistakes keyed by id."""

    def __init__(self, entries: list[Mistake]) -> None:
        self._entries = {m.id: m for m in entries}
        if len(self._entries) != len(entries):
            raise ValueError("duplicate mistake id in the catalogue")

    def __getitem__(self, key: str) -> Mistake:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def rows(self) -> list[Mistake]:
        """The entries that apply to a single example."""
        return [m for m in self._entries.values() if m.scope == "row"]

    def batches(self) -> list[Mistake]:
        """The entries that show only across the rows of a batch."""
        return [m for m in self._entries.values() if m.scope == "batch"]

    def layers(self) -> list[Mistake]:
        """The entries that live in a layer's weights, bias or hidden layer (``softgrad layer``)."""
        return [m for m in self._entries.values() if m.scope == "layer"]
