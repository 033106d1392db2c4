"""Diagnosis of a layer's gradients: which catalogued mistake produces a user's δ, ∂L/∂W, ∂L/∂b, δ_h, …

The candidates are the layer entries of the registry and every dE/dz entry carried through the backward
pass (a wrong δ makes every gradient after it wrong the same way). Each is compared with the user's
numbers in the user's own layout, quantity by quantity. Also: an input that tells ambiguous candidates
apart, a layer mistake evaluated at an input that exposes it, and the ``softgrad layer`` command that
reproduces an input. Pure numpy, like the rest of the catalogue.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from softgrad.catalogue.diagnose import REFERENCE, SEPARATION, Match, match_ratio
from softgrad.catalogue.entry import Scale
from softgrad.catalogue.layer import LOSS
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.core import Array
from softgrad.core.layer import (
    QUANTITIES,
    Forward,
    Gradients,
    Network,
    as_listed,
    as_nested,
    backward,
    forward,
    json_array,
    sigma,
    user_layout,
)
from softgrad.core.numbers import shortest
from softgrad.core.tolerance import Tolerance, excess

Nested = tuple[object, ...] | float
#: Inputs of more numbers than this get no command line (a case file holds them).
COMMAND_MAX_NUMBERS = 1000


@dataclass(frozen=True)
class LayerCandidate:
    """One way to be wrong in this network: a catalogue id (one factor of a scaled family), the wrong values
    it gives (row form, only the quantities it changes), and whether it is a layer entry or a dE/dz entry
    carried through the backward pass."""

    id: str
    scale: Scale | None
    values: dict[str, Array]
    #: ``"layer"`` (a layer entry) or ``"delta"`` (a dE/dz entry: the wrong δ, carried on)
    via: str

    @property
    def key(self) -> str:
        return self.id if self.scale is None else f"{self.id} {self.scale.label}"


def layer_candidates(
    net: Network, fwd: Forward | None = None, ref: Gradients | None = None, ids: Collection[str] | None = None
) -> list[LayerCandidate]:
    """Every catalogued way to be wrong that can arise in ``net`` (or those of ``ids``): the layer entries,
    then every dE/dz entry (its wrong δ, times c = 1/N for a mean, carried through the right backward pass),
    then — for a batch — the batch entries. The temperature entry is left out: a layer has no temperature."""
    fwd = forward(net) if fwd is None else fwd
    ref = backward(net, fwd) if ref is None else ref

    def wanted(mid: str) -> bool:
        return ids is None or mid in ids

    out: list[LayerCandidate] = []
    for m in MISTAKES.layers():
        values = m.layer_values(net, fwd, ref) if wanted(m.id) else None
        if values:
            out.append(LayerCandidate(m.id, None, values, "layer"))
    names = [q for q in QUANTITIES if ref.get(q) is not None]
    for m in MISTAKES.rows():
        if not m.scaled or not wanted(m.id):
            continue
        for sc, g in m.variants(fwd.z, net.t):
            with np.errstate(all="ignore"):
                delta = net.scale * g
            out.append(LayerCandidate(m.id, sc, _carried(net, fwd, delta, names), "delta"))
    if net.n >= 2 and bool(np.all(np.sum(net.t, axis=1) > 0)):  # every row counts in the mean, as in batch
        for m in MISTAKES.batches():
            if not wanted(m.id):
                continue
            wrong = m.batch_gradient(fwd.z, net.t, 1.0, net.reduction)
            if wrong is not None:
                out.append(LayerCandidate(m.id, None, _carried(net, fwd, wrong, names), "delta"))
    return out


def _carried(net: Network, fwd: Forward, delta: Array, names: Sequence[str]) -> dict[str, Array]:
    with np.errstate(all="ignore"):
        g = backward(net, fwd, delta=delta)
    return {q: v for q in names if (v := g.get(q)) is not None}


def conform(user: Array, shape: tuple[int, ...]) -> Array | None:
    """``user`` in ``shape``: as it is, or with singleton axes dropped or added (a bias written as a column
    (K, 1) or a row (1, K), one example as a vector); None when the shapes differ otherwise."""
    if user.shape == tuple(shape):
        return user
    if np.squeeze(user).shape == np.squeeze(np.empty(shape)).shape:
        return user.reshape(shape)
    return None


def comparable(user: Array, wrong: Array) -> Array | None:
    """``wrong`` in the shape of ``user`` (singleton axes aside; a single number broadcast), or None."""
    fitted = conform(wrong, user.shape)
    if fitted is not None:
        return fitted
    if wrong.size == 1:
        return np.broadcast_to(wrong.reshape(()), user.shape)
    return None


def candidate_value(net: Network, cand: LayerCandidate, name: str, ref_user: Array) -> Array:
    """The candidate's value of one quantity in the user's layout (the reference where it changes nothing)."""
    v = cand.values.get(name)
    return ref_user if v is None else user_layout(net, name, v)


@dataclass(frozen=True)
class QuantityMatches:
    """How each candidate compares with the user's value of one quantity."""

    matches: tuple[Match, ...]
    #: every candidate that changes this quantity, closest first
    ranked: tuple[Match, ...]
    #: candidates that change this quantity in general but give the reference here
    coinciding: tuple[str, ...]


def match_quantity(
    net: Network,
    name: str,
    user: Array,
    ref_user: Array,
    candidates: Sequence[LayerCandidate],
    tol: Tolerance,
) -> QuantityMatches:
    """Compare the user's value of quantity ``name`` (in the user's layout) with every candidate's."""
    rows: list[tuple[float, float, LayerCandidate]] = []
    coinciding: list[str] = []
    nonfinite = not bool(np.all(np.isfinite(user)))
    for cand in candidates:
        if name not in cand.values:
            continue
        wrong = user_layout(net, name, cand.values[name])
        fitted = comparable(ref_user, wrong)
        entry = MISTAKES[cand.id]
        plain = not (entry.numerical or entry.fallback)  # floating-point failures need huge inputs to show
        if plain and fitted is not None and _same(fitted, ref_user, tol) and cand.id not in coinciding:
            coinciding.append(cand.id)
        mine = comparable(user, wrong)
        if mine is None:
            continue
        ratio = float(match_ratio(user.reshape(1, -1), np.asarray(mine, dtype=np.float64).reshape(1, -1), tol)[0])
        with np.errstate(all="ignore"):
            diff = np.abs(user - mine)
        err = float(np.max(np.where(np.isfinite(diff), diff, 0.0))) if diff.size else 0.0
        rows.append((ratio, err, cand))

    def key(row: tuple[float, float, LayerCandidate]) -> tuple[float, float]:
        ratio, err, cand = row
        m = MISTAKES[cand.id]
        r = ratio + (1e-9 if nonfinite and not m.numerical else 0.0)
        return (r if ratio > 1.0 else (1.0 + r if m.fallback else r)) + (2.0 if ratio > 1.0 else 0.0), err

    ranked: list[Match] = []
    seen: set[str] = set()
    for ratio, err, cand in sorted(rows, key=key):
        if cand.id in seen:
            continue
        seen.add(cand.id)
        sc = cand.scale
        ranked.append(Match(cand.id, err, ratio, sc.label if sc else "", sc.advice if sc else ""))
    found = [m for m in ranked if m.ratio <= 1.0]
    specific = [m for m in found if not MISTAKES[m.id].fallback]
    return QuantityMatches(tuple(specific or found), tuple(ranked), tuple(coinciding))


def _same(a: Array, b: Array, tol: Tolerance) -> bool:
    return bool(np.all(excess(np.asarray(a, dtype=np.float64), b, tol) <= 1.0))


def _differs(a: Array, b: Array) -> bool:
    fitted = comparable(b, a)
    if fitted is None:
        return True  # different shapes are told apart by the shape alone
    ratio = match_ratio(np.asarray(fitted, dtype=np.float64).reshape(1, -1), b.reshape(1, -1), SEPARATION)
    return bool(ratio[0] > 1.0)


# ---------------------------------------------------------------------------------------------------------
# a network as the user writes it, and the command that checks it


def _text(value: Array) -> str:
    if value.ndim == 0:
        return shortest(float(value))
    if value.ndim == 1:
        return " ".join(shortest(float(x)) for x in value)
    return "'" + _nested_text(value) + "'"


def _nested_text(value: Array) -> str:
    if value.ndim == 1:
        return "[" + ", ".join(shortest(float(x)) for x in value) + "]"
    return "[" + ", ".join(_nested_text(r) for r in value) + "]"


@dataclass(frozen=True)
class LayerInput:
    """A layer input in the user's layout (nested tuples), with the options that shape it."""

    net: Network

    def arrays(self) -> dict[str, Array]:
        """The inputs as the user lays them out: a (no hidden layer) or a_in, W, b, t, W_h, b_h."""
        n = self.net
        out: dict[str, Array] = {}
        if n.hidden:
            assert n.a_in is not None
            assert n.W_h is not None
            out["a_in"] = user_layout(n, "a_in", n.a_in)
            out["W_h"] = user_layout(n, "W_h", n.W_h)
            if n.b_h is not None:
                out["b_h"] = n.b_h
        else:
            out["a"] = user_layout(n, "a", n.a)
        out["W"] = user_layout(n, "W", n.W)
        if n.b is not None:
            out["b"] = n.b
        out["t"] = user_layout(n, "t", n.t)
        return out

    def labels(self) -> Array | None:
        """The class indices, when every target row is one-hot."""
        t = self.net.t
        if np.all((t == 0) | (t == 1)) and np.all(np.sum(t, axis=1) == 1):
            out: Array = np.argmax(t, axis=1).astype(np.float64)
            return out
        return None

    def kwargs(self) -> dict[str, object]:
        """The keyword arguments of :func:`softgrad.check_layer` for this input."""
        n = self.net
        out: dict[str, object] = {k: v.tolist() for k, v in self.arrays().items()}
        if n.hidden:
            out["activation"] = n.activation
        out.update(convention=n.convention, reduction=n.reduction, reg=n.reg, reg_convention=n.reg_convention)
        return out

    def command(self) -> str | None:
        """A ready-to-run ``softgrad layer`` command at this input, every number written to round-trip; None
        for inputs of more than :data:`COMMAND_MAX_NUMBERS` numbers (use a case file for those)."""
        n = self.net
        if sum(v.size for v in self.arrays().values()) > COMMAND_MAX_NUMBERS:
            return None
        flags = {"a": "--a", "a_in": "--a-in", "W_h": "--W-h", "b_h": "--b-h", "W": "--W", "b": "--b", "t": "--t"}
        parts = ["softgrad layer"]
        labels = self.labels()
        for key, value in self.arrays().items():
            if key == "t" and labels is not None:
                parts += ["--label", " ".join(str(int(x)) for x in labels)]
                continue
            parts += [flags[key], _text(value)]
        if n.hidden:
            parts += ["--activation", str(n.activation)]
        if n.convention != "column":
            parts += ["--convention", n.convention]
        if n.reduction != "mean":
            parts += ["--reduction", n.reduction]
        if n.reg:
            parts += ["--reg", shortest(n.reg)]
            if n.reg_convention != "full":
                parts += ["--reg-convention", n.reg_convention]
        return " ".join(parts)

    def to_dict(self) -> dict[str, object]:
        n = self.net
        d: dict[str, object] = {k: json_array(as_listed(v)) for k, v in self.arrays().items()}
        d["shapes"] = {k: list(v.shape) for k, v in self.arrays().items()}
        d.update(
            {
                "activation": n.activation,
                "convention": n.convention,
                "reduction": n.reduction,
                "reg": n.reg,
                "reg_convention": n.reg_convention,
                "command": self.command(),
            }
        )
        return d


def _round(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> Array:
    out: Array = np.round(rng.normal(0.0, scale, shape), 2)
    return out


def _small(net: Network) -> Network:
    """``net`` itself, or — when it is too large for a command line — a network of the same structure with
    small sizes (N, D, H, K mapped to 2, 3, … in their order, so that equal sizes stay equal)."""
    n = LayerInput(net)
    if sum(v.size for v in n.arrays().values()) <= COMMAND_MAX_NUMBERS:
        return net
    sizes = {net.n, net.h, net.k} | ({net.d} if net.hidden else set())
    small = {v: 2 + i for i, v in enumerate(sorted(sizes))}
    N, H, K, D = small[net.n] if net.n > 1 else 1, small[net.h], small[net.k], small.get(net.d, 0)
    return replace(
        net,
        a=np.zeros((N, H)),
        W=np.zeros((H, K)),
        b=None if net.b is None else np.zeros(K),
        t=np.zeros((N, K)),
        a_in=None if net.a_in is None else np.zeros((N, D)),
        W_h=None if net.W_h is None else np.zeros((D, H)),
        b_h=None if net.b_h is None else np.zeros(H),
    )


def _networks_like(net: Network, seed: int = 0, tries: int = 200) -> Iterator[Network]:
    """Networks of the same structure as ``net`` (shapes — smaller ones for a large network —, convention,
    activation, reduction, regulariser) with seeded round numbers: asymmetric weights, targets off the
    largest logit, then soft targets that do not sum to 1; for relu no pre-activation near the kink."""
    net = _small(net)
    rng = np.random.default_rng(seed)
    reg = net.reg
    for attempt in range(tries):
        a_in = w_h = b_h = None
        if net.hidden:
            assert net.a_in is not None
            assert net.W_h is not None
            a_in = _round(rng, net.a_in.shape)
            w_h = _round(rng, net.W_h.shape)
            b_h = None if net.b_h is None else _round(rng, net.b_h.shape, 0.5)
            assert net.activation is not None
            z_h = a_in @ w_h + (0.0 if b_h is None else b_h)
            if net.activation == "relu" and (np.min(np.abs(z_h)) < 0.05 or not np.any(z_h > 0)):
                continue
            a = sigma(net.activation, z_h)
        else:
            a = _round(rng, net.a.shape)
        w = _round(rng, net.W.shape)
        b = None if net.b is None else _round(rng, net.b.shape, 0.5)
        z = a @ w + (0.0 if b is None else b)
        t = np.zeros(z.shape)
        if attempt % 2 == 0:
            for i, row in enumerate(z):
                choices = [j for j in range(z.shape[1]) if j != int(np.argmax(row))]
                t[i, choices[int(rng.integers(len(choices)))]] = 1.0
        else:
            t = np.round(rng.uniform(0.1, 0.9, z.shape), 2)
        yield replace(net, a=a, W=w, b=b, t=t, a_in=a_in, W_h=w_h, b_h=b_h, reg=reg if reg else 0.0)


@dataclass(frozen=True)
class LayerDistinguishingInput:
    """A layer input at which the given candidates (and the reference) give clearly different values."""

    input: LayerInput
    quantity: str
    separates: tuple[str, ...]

    def command(self) -> str:
        out = self.input.command()
        assert out is not None  # distinguishing inputs are small
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "input": self.input.to_dict(),
            "quantity": self.quantity,
            "separates": list(self.separates),
            "command": self.command(),
        }


def layer_distinguishing_input(
    net: Network, name: str, keys: Sequence[str], *, pairwise: bool = True
) -> LayerDistinguishingInput | None:
    """A network of the same structure at which each candidate (by key: id, or id and factor) gives a value
    of quantity ``name`` clearly different from the reference — and, with ``pairwise``, from each other."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return None
    for other in _networks_like(net):
        fwd = forward(other)
        ref = backward(other, fwd)
        right = ref.get(name)
        if right is None:
            return None
        ref_user = user_layout(other, name, right)
        by_key: dict[str, LayerCandidate] = {}
        for c in layer_candidates(other, fwd, ref, {k.split(" ")[0] for k in wanted}):
            by_key.setdefault(c.key, c)
            by_key.setdefault(c.id, c)
        if any(k not in by_key for k in wanted):
            continue
        values = [candidate_value(other, by_key[k], name, ref_user) for k in wanted]
        pairs = [(v, ref_user) for v in values]
        if pairwise:
            pairs += [(values[i], values[j]) for i in range(len(values)) for j in range(i + 1, len(values))]
        if all(_differs(x, y) for x, y in pairs):
            ids = tuple(dict.fromkeys(k.split(" ")[0] for k in wanted))
            return LayerDistinguishingInput(LayerInput(other), name, (*ids, REFERENCE))
    return None


# ---------------------------------------------------------------------------------------------------------
# one layer mistake at an input that exposes it


def exposing_network() -> Network:
    """The structure every layer mistake can arise in: row convention, N = H = K = 3 (so W δ, a δᵀ and the
    matrix product with σ′ all have shapes that fit), D = 2, a sigmoid hidden layer, biases, reg = 0.1."""
    z3 = np.zeros((3, 3))
    return Network(
        a=z3,
        W=z3,
        b=np.zeros(3),
        t=np.eye(3),
        reduction="mean",
        reg=0.1,
        reg_convention="full",
        a_in=np.zeros((3, 2)),
        W_h=np.zeros((2, 3)),
        b_h=np.zeros(3),
        activation="sigmoid",
        convention="row",
    )


@dataclass(frozen=True)
class LayerMistakeAt:
    """A layer mistake's wrong values at an input, quantity by quantity, next to the right ones."""

    id: str
    input: LayerInput
    #: (quantity, wrong value, right value), in the user's layout, for the quantities the mistake changes
    values: tuple[tuple[str, Nested, Nested], ...]

    def to_dict(self) -> dict[str, object]:
        m = MISTAKES[self.id]
        return {
            **m.to_dict(),
            "step": m.step,
            "at": {**self.input.to_dict(), "found": True},
            "values": {q: {"wrong": json_array(w), "right": json_array(r)} for q, w, r in self.values},
            "exposing_command": self.input.command(),
        }


def layer_mistake_at(mistake_id: str, net: Network | None = None) -> LayerMistakeAt:
    """A layer mistake evaluated at an input that exposes it (of ``net``'s structure, by default
    :func:`exposing_network`'s): every quantity it changes differs clearly there."""
    m = MISTAKES[mistake_id]
    if m.scope != "layer":
        raise ValueError(f"{mistake_id} is not a layer mistake")
    for other in _networks_like(exposing_network() if net is None else net):
        fwd = forward(other)
        ref = backward(other, fwd)
        values = m.layer_values(other, fwd, ref)
        if not values:
            continue
        shown: list[tuple[str, Array, Array]] = []
        for q in (*QUANTITIES, LOSS):
            right = np.array(fwd.loss) if q == LOSS else ref.get(q)
            if q not in values or right is None:
                continue
            wrong_user = user_layout(other, q, values[q])
            right_user = user_layout(other, q, right)
            shown.append((q, wrong_user, right_user))
        if shown and all(_differs(w, r) for _, w, r in shown):
            return LayerMistakeAt(m.id, LayerInput(other), tuple((q, as_nested(w), as_nested(r)) for q, w, r in shown))
    raise ValueError(f"no exposing input found for {mistake_id}")  # pragma: no cover - each entry has one
