"""The layer's mathematics: the softmax + cross-entropy output layer with its weights and bias, one optional
hidden layer before it, and L2 regularisation — analytic, chained through explicit Jacobians, and by finite
differences of the network's loss. numpy and the standard library only.

Two conventions are in use (shapes: N examples, D inputs, H hidden units, K classes):

- **column** (one example, or examples as columns): ``z = W a + b`` with W (K, H), a (H,) or (H, N), b (K,);
  the hidden layer ``z_h = W_h a_in + b_h``, W_h (H, D), a_in (D,) or (D, N), ``a = σ(z_h)``.
- **row** (a batch of N rows): ``Z = A W + b`` with A (N, H), W (H, K), b (K,); ``Z_h = A_in W_h + b_h``
  with A_in (N, D), W_h (D, H).

Internally everything is in the row form (a single example is N = 1); :func:`user_layout` and
:func:`internal_layout` convert an array between the two. The loss is ``L = c·Σ_n CE(z_n, t_n) + R`` with
``c = 1/N`` for a mean and 1 for a sum, and ``R = reg·(‖W‖² + ‖W_h‖²)`` (``reg_convention = "full"``,
gradient ``2·reg·W``) or ``½·reg·(‖W‖² + ‖W_h‖²)`` (``"half"``, gradient ``reg·W``); biases are not
regularised.

The quantities (row form): ``delta`` = ∂L/∂Z (N, K), ``dW`` (H, K), ``db`` (K,), ``da`` = ∂L/∂A (N, H),
``delta_h`` = ∂L/∂Z_h (N, H), ``dW_h`` (D, H), ``db_h`` (H,).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from softgrad.core.finite_difference import finite_difference
from softgrad.core.formulas import EPS, Array, chained_gradient, loss_along, softmax, unstable_targets
from softgrad.errors import InputError

Mask = NDArray[np.bool_]
Index = NDArray[np.intp]

ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
CONVENTIONS = ("column", "row")
LAYER_REDUCTIONS = ("mean", "sum")
#: ``full``: R = reg·‖W‖², gradient 2·reg·W; ``half``: R = ½·reg·‖W‖², gradient reg·W
REG_CONVENTIONS = ("full", "half")
#: Every quantity a layer check computes, in the order of the backward pass.
QUANTITIES = ("delta", "dW", "db", "da", "delta_h", "dW_h", "db_h")
#: Quantities of the hidden layer.
HIDDEN_QUANTITIES = ("delta_h", "dW_h", "db_h")
#: Quantities with one row per example (the others are parameters' gradients).
PER_EXAMPLE = ("delta", "da", "delta_h")
#: Matrices that are transposed between the conventions' parameter layouts.
WEIGHTS = ("dW", "dW_h")

#: Above this many elements (in all, built in blocks) an explicit Jacobian tensor is not built: the chained
#: path is skipped for that quantity, and the report says so.
CHAINED_MAX_ELEMENTS = 1 << 28
#: Elements of an explicit tensor built at once.
CHAINED_BLOCK = 1 << 21
#: Work (array elements touched) one parameter's finite difference may take before it samples entries.
FD_BUDGET = 1 << 26
#: At least this many entries of a parameter are always differenced.
FD_MIN_ENTRIES = 256
#: Elements of one vectorised finite-difference evaluation.
FD_BLOCK = 1 << 22


def sigma(name: str, x: Array) -> Array:
    """The activation σ, element-wise (a stable logistic function for ``sigmoid``)."""
    if name == "sigmoid":
        with np.errstate(over="ignore", under="ignore"):
            e = np.exp(-np.abs(x))
        out: Array = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return out
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "identity":
        return np.array(x, dtype=np.float64)
    raise ValueError(f"unknown activation {name!r}")


def sigma_prime(name: str, x: Array) -> Array:
    """σ′ at the pre-activation ``x``: ``σ(1 − σ)``, ``1 − tanh²``, ``1[x > 0]`` (0 at the kink), 1."""
    if name == "sigmoid":
        s = sigma(name, x)
        out: Array = s * (1.0 - s)
        return out
    if name == "tanh":
        th = np.tanh(x)
        out = 1.0 - th * th
        return out
    if name == "relu":
        return (x > 0).astype(np.float64)
    if name == "identity":
        return np.ones_like(x, dtype=np.float64)
    raise ValueError(f"unknown activation {name!r}")


@dataclass(frozen=True)
class Network:
    """A validated network in the row form. ``a`` is the output layer's input: given, or ``σ(z_h)``."""

    a: Array
    W: Array
    b: Array | None
    t: Array
    reduction: str = "mean"
    reg: float = 0.0
    reg_convention: str = "full"
    a_in: Array | None = None
    W_h: Array | None = None
    b_h: Array | None = None
    activation: str | None = None
    #: how the user lays the arrays out (``column`` or ``row``)
    convention: str = "row"
    #: column convention with one example given as vectors (its per-example quantities are vectors too)
    single: bool = False

    @property
    def n(self) -> int:
        return int(self.a.shape[0])

    @property
    def h(self) -> int:
        return int(self.W.shape[0])

    @property
    def k(self) -> int:
        return int(self.W.shape[1])

    @property
    def d(self) -> int:
        return 0 if self.a_in is None else int(self.a_in.shape[1])

    @property
    def hidden(self) -> bool:
        return self.W_h is not None

    @property
    def scale(self) -> float:
        """c: 1/N for a mean, 1 for a sum."""
        return 1.0 / self.n if self.reduction == "mean" else 1.0

    @property
    def reg_coef(self) -> float:
        """The coefficient of ‖W‖² in the loss: reg (``full``) or reg/2 (``half``)."""
        return self.reg if self.reg_convention == "full" else 0.5 * self.reg

    @property
    def reg_factor(self) -> float:
        """The factor of W in the regulariser's gradient in units of reg: 2 (``full``) or 1 (``half``)."""
        return 2.0 if self.reg_convention == "full" else 1.0

    def quantities(self) -> tuple[str, ...]:
        """The quantities this network has (no db without a bias, no hidden ones without a hidden layer)."""
        out = ["delta", "dW"]
        if self.b is not None:
            out.append("db")
        out.append("da")
        if self.hidden:
            out += ["delta_h", "dW_h"]
            if self.b_h is not None:
                out.append("db_h")
        return tuple(out)


@dataclass(frozen=True)
class Forward:
    """The forward pass, row form."""

    z_h: Array | None
    a: Array
    z: Array
    s: Array
    #: per-example cross-entropy (N,)
    losses: Array
    data_loss: float
    reg_loss: float

    @property
    def loss(self) -> float:
        return self.data_loss + self.reg_loss


@dataclass(frozen=True)
class Gradients:
    """One value (or NaN-filled estimate) per quantity, row form; None where the network has no such
    quantity. ``sigma_prime`` is the σ′(z_h) the backward pass used (an intermediate, for ``explain``)."""

    delta: Array
    dW: Array
    db: Array | None
    da: Array
    delta_h: Array | None = None
    dW_h: Array | None = None
    db_h: Array | None = None
    sigma_prime: Array | None = None

    def get(self, name: str) -> Array | None:
        out: Array | None = getattr(self, name)
        return out

    def items(self) -> Iterator[tuple[str, Array]]:
        """(name, value) of every quantity present, in the order of the backward pass."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in QUANTITIES and value is not None:
                yield f.name, value


# ---------------------------------------------------------------------------------------------------------
# building a network from the user's arrays


def _array(values: Any, where: str, *, finite: bool = True) -> Array:
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(where, f"expected numbers ({exc})") from None
    if finite:
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            idx = np.unravel_index(int(bad[0]), arr.shape)
            raise InputError(where, f"entry {_index_text(idx)} is {arr[idx]!r}: numbers must be finite")
    return arr


def _index_text(idx: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(int(i)) for i in idx) + ")" if len(idx) != 1 else str(int(idx[0]))


def _shape(arr: Array) -> str:
    return "×".join(map(str, arr.shape)) if arr.ndim else "a scalar"


def _vector(arr: Array, where: str, size: int | None, what: str) -> Array:
    """A vector, also written as a row (1, n) or a column (n, 1)."""
    v = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if v.ndim != 1:
        raise InputError(where, f"expected a vector ({what}), got shape {_shape(arr)}")
    if size is not None and v.shape[0] != size:
        raise InputError(where, f"expected {size} values ({what}), got {v.shape[0]}")
    return v


def _examples(arr: Array, where: str, convention: str, width: int | None, what: str) -> tuple[Array, bool]:
    """Per-example values (row form (N, width)) and whether they were one example given as a vector."""
    if convention == "column" and arr.ndim == 2 and arr.shape[0] == 1 and width not in (None, 1):
        arr = arr[0]  # one example written as a row
    if arr.ndim == 1:
        if width is not None and arr.shape[0] != width:
            raise InputError(where, f"expected {width} values ({what}), got {arr.shape[0]}")
        return arr[None, :], True
    if arr.ndim != 2:
        raise InputError(where, f"expected a vector or a matrix ({what}), got shape {_shape(arr)}")
    rows = arr.T if convention == "column" else arr
    if width is not None and rows.shape[1] != width:
        layout = f"{width}×N (one column per example)" if convention == "column" else f"N×{width} (one row per example)"
        raise InputError(where, f"expected shape {layout}, got {_shape(arr)}")
    return rows, False


DEFAULT_NAMES = {
    q: q
    for q in (
        "a",
        "W",
        "b",
        "t",
        "label",
        "a_in",
        "W_h",
        "b_h",
        "activation",
        "reduction",
        "reg",
        "reg_convention",
        "convention",
    )
}


def make_network(
    a: Any = None,
    W: Any = None,
    b: Any = None,
    t: Any = None,
    *,
    label: Any = None,
    a_in: Any = None,
    W_h: Any = None,
    b_h: Any = None,
    activation: str | None = None,
    convention: str = "column",
    reduction: str = "mean",
    reg: float = 0.0,
    reg_convention: str = "full",
    names: Mapping[str, str] = DEFAULT_NAMES,
) -> Network:
    """Validate the user's arrays (laid out in ``convention``) into a :class:`Network` in the row form.

    Raises :class:`InputError` naming the input as ``names`` calls it (an option, a case file's key).
    """

    def name(key: str) -> str:
        return names.get(key, key)

    if convention not in CONVENTIONS:
        raise InputError(name("convention"), f"must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    if reduction not in LAYER_REDUCTIONS:
        raise InputError(name("reduction"), f"must be one of {', '.join(LAYER_REDUCTIONS)}, got {reduction!r}")
    if reg_convention not in REG_CONVENTIONS:
        raise InputError(name("reg_convention"), f"must be one of {', '.join(REG_CONVENTIONS)}, got {reg_convention!r}")
    if isinstance(reg, bool) or not isinstance(reg, (int, float)) or not np.isfinite(reg) or reg < 0:
        raise InputError(name("reg"), f"must be a finite number >= 0, got {reg!r}")
    col = convention == "column"
    if W is None:
        raise InputError(name("W"), "missing: the output layer's weights are needed")
    w_user = _array(W, name("W"))
    if w_user.ndim != 2:
        raise InputError(name("W"), f"expected a matrix ({'K×H' if col else 'H×K'}), got shape {_shape(w_user)}")
    w = w_user.T if col else w_user
    h, k = w.shape
    if k < 2:
        raise InputError(name("W"), f"softmax needs at least 2 classes, got K = {k} (W is {'K×H' if col else 'H×K'})")
    hidden = any(x is not None for x in (a_in, W_h, b_h, activation))
    single = False
    a_in_rows = w_h = b_h_v = None
    if hidden:
        if a is not None:
            raise InputError(name("a"), f"with a hidden layer a = σ(z_h) is computed; give {name('a_in')} instead")
        for key, value in (("a_in", a_in), ("W_h", W_h), ("activation", activation)):
            if value is None:
                raise InputError(name(key), "missing: a hidden layer needs a_in, W_h and an activation")
        if activation not in ACTIVATIONS:
            raise InputError(name("activation"), f"must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        wh_user = _array(W_h, name("W_h"))
        if wh_user.ndim != 2:
            raise InputError(name("W_h"), f"expected a matrix ({'H×D' if col else 'D×H'}), got shape {_shape(wh_user)}")
        w_h = wh_user.T if col else wh_user
        if w_h.shape[1] != h:
            want = f"H×D with H = {h}" if col else f"D×H with H = {h}"
            raise InputError(name("W_h"), f"expected shape {want} (H from {name('W')}), got {_shape(wh_user)}")
        a_in_rows, single = _examples(_array(a_in, name("a_in")), name("a_in"), convention, w_h.shape[0], "D inputs")
        if b_h is not None:
            b_h_v = _vector(_array(b_h, name("b_h")), name("b_h"), h, f"H = {h} hidden biases")
        with np.errstate(all="ignore"):  # an overflow is reported below, by _finite_forward
            z_h = a_in_rows @ w_h + (0.0 if b_h_v is None else b_h_v)
            a_rows = sigma(activation, z_h)
    else:
        if a is None:
            raise InputError(name("a"), "missing: the output layer's input a is needed")
        a_rows, single = _examples(_array(a, name("a")), name("a"), convention, h, f"H = {h} inputs")
    n = a_rows.shape[0]
    b_v = None if b is None else _vector(_array(b, name("b")), name("b"), k, f"K = {k} biases")
    t_rows = _targets(t, label, name, convention, n, k, single)
    if not col:
        single = False
    out = Network(
        a=np.ascontiguousarray(a_rows),
        W=np.ascontiguousarray(w),
        b=b_v,
        t=t_rows,
        reduction=reduction,
        reg=float(reg),
        reg_convention=reg_convention,
        a_in=None if a_in_rows is None else np.ascontiguousarray(a_in_rows),
        W_h=None if w_h is None else np.ascontiguousarray(w_h),
        b_h=b_h_v,
        activation=activation if hidden else None,
        convention=convention,
        single=single and col,
    )
    _finite_forward(out, name)
    return out


def _targets(t: Any, label: Any, name: Callable[[str], str], convention: str, n: int, k: int, single: bool) -> Array:
    if (t is None) == (label is None):
        raise InputError(name("t"), f"give the targets with {name('t')} or class indices with {name('label')}")
    if label is not None:
        labels = np.atleast_1d(np.array(label))
        if labels.ndim != 1 or labels.shape[0] != n:
            raise InputError(name("label"), f"expected {n} class index{'es' if n != 1 else ''}, got {labels.size}")
        out = np.zeros((n, k))
        for i, lab in enumerate(labels.tolist()):
            if isinstance(lab, float) and lab.is_integer():
                lab = int(lab)
            if isinstance(lab, bool) or not isinstance(lab, int):
                raise InputError(name("label"), f"expected a class index, got {lab!r}")
            if not 0 <= lab < k:
                raise InputError(name("label"), f"class index {lab} is out of range for K = {k} (0 to {k - 1})")
            out[i, lab] = 1.0
        return out
    arr = _array(t, name("t"))
    if arr.ndim == 1 and n == 1:
        rows = _vector(arr, name("t"), k, f"K = {k} targets")[None, :]
    else:
        rows, _ = _examples(arr, name("t"), convention, k, f"K = {k} targets")
        if rows.shape[0] != n:
            got = rows.shape[0]
            raise InputError(name("t"), f"has {got} example{'s' if got != 1 else ''} but the input has {n}")
    neg = np.argwhere(rows < 0)
    if neg.size:
        i, j = (int(x) for x in neg[0])
        raise InputError(name("t"), f"target {rows[i, j]:g} (example {i}, class {j}) is negative: targets must be >= 0")
    return np.ascontiguousarray(rows)


# ---------------------------------------------------------------------------------------------------------
# arrays as plain data


def as_nested(value: Any) -> Any:
    """An array as nested tuples of Python floats (a number for a 0-d array), at C speed for the vectors and
    matrices a layer has."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    if arr.ndim == 1:
        return tuple(arr.tolist())
    if arr.ndim == 2:
        return tuple(map(tuple, arr.tolist()))
    return tuple(as_nested(x) for x in arr)


#: Arrays of more entries than this are left out of a report's values (its comparisons are kept).
REPORT_MAX_ENTRIES = 1 << 16


def as_listed(value: Any) -> Any:
    """:func:`as_nested`, or None for an array of more than :data:`REPORT_MAX_ENTRIES` entries."""
    arr = np.asarray(value)
    return None if arr.size > REPORT_MAX_ENTRIES else as_nested(arr)


def json_array(value: Any) -> Any:
    """Nested numbers for JSON: NaN and inf become None (JSON has no such numbers); None stays None."""
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64)
    finite = np.isfinite(arr)
    if bool(np.all(finite)):
        return arr.tolist()
    out = arr.astype(object)
    out[~finite] = None
    return out.tolist()


# ---------------------------------------------------------------------------------------------------------
# layouts


def user_layout(net: Network, name: str, value: NDArray[Any]) -> NDArray[Any]:
    """A quantity (row form) laid out as the user's convention lays it out."""
    if net.convention == "row":
        return value
    per_example = name in PER_EXAMPLE or name in ("z", "s", "z_h", "a", "t", "a_in")
    if per_example or (name in ("db", "db_h") and value.ndim == 2):  # a bias gradient per example
        return value[0] if net.single and value.ndim == 2 and value.shape[0] == 1 else value.T
    if name in WEIGHTS or name in ("W", "W_h"):
        return value.T
    return value


def internal_layout(net: Network, name: str, value: NDArray[Any]) -> NDArray[Any]:
    """The inverse of :func:`user_layout`, for arrays of the user's shape."""
    if net.convention == "row":
        return value
    if name in PER_EXAMPLE:
        return value[None, :] if value.ndim == 1 else value.T
    if name in WEIGHTS:
        return value.T
    return value


def user_shape(net: Network, name: str) -> tuple[int, ...]:
    """The shape a quantity has in the user's convention."""
    shapes = {
        "delta": (net.n, net.k),
        "dW": (net.h, net.k),
        "db": (net.k,),
        "da": (net.n, net.h),
        "delta_h": (net.n, net.h),
        "dW_h": (net.d, net.h),
        "db_h": (net.h,),
    }
    return tuple(user_layout(net, name, np.empty(shapes[name])).shape)


# ---------------------------------------------------------------------------------------------------------
# the analytic formulas


def forward(net: Network) -> Forward:
    """``z_h = a_in W_h + b_h``, ``a = σ(z_h)``, ``z = a W + b``, ``s = softmax(z)``, the loss."""
    z_h = None
    with np.errstate(all="ignore"):
        if net.hidden:
            assert net.a_in is not None
            assert net.W_h is not None
            assert net.activation is not None
            z_h = net.a_in @ net.W_h + (0.0 if net.b_h is None else net.b_h)
        z = net.a @ net.W + (0.0 if net.b is None else net.b)
        losses = loss_along(z, net.t, -1)
        data = float(net.scale * np.sum(losses))
    return Forward(z_h, net.a, z, softmax(z), losses, data, reg_loss(net))


def reg_loss(net: Network) -> float:
    """The regulariser ``coef·(‖W‖² + ‖W_h‖²)``."""
    with np.errstate(all="ignore"):
        total = float(np.sum(net.W * net.W))
        if net.W_h is not None:
            total += float(np.sum(net.W_h * net.W_h))
        return net.reg_coef * total


def _finite_forward(net: Network, name: Callable[[str], str]) -> None:
    """Bad input where the forward pass overflows: its numbers, and every gradient, would not be finite."""
    fwd = forward(net)
    for value, key, formula in ((fwd.z_h, "W_h", "z_h = W_h a_in + b_h"), (fwd.z, "W", "z = W a + b")):
        if value is not None and not np.all(np.isfinite(value)):
            n, j = (int(i) for i in np.argwhere(~np.isfinite(value))[0])
            where = f" (example {n}, entry {j})" if net.n > 1 else f" (entry {j})"
            raise InputError(name(key), f"{formula} overflows{where}: the numbers are too large for float64")
    if not (np.isfinite(fwd.reg_loss) and np.isfinite(fwd.data_loss)):
        key = "reg" if not np.isfinite(fwd.reg_loss) else "W"
        raise InputError(name(key), "the loss overflows: the numbers are too large for float64")


def output_delta(net: Network, s: Array) -> Array:
    """δ = ∂L/∂Z = c·(s·Σt − t)."""
    out: Array = net.scale * (s * np.sum(net.t, axis=1, keepdims=True) - net.t)
    return out


def backward(
    net: Network,
    fwd: Forward,
    *,
    delta: Array | None = None,
    da: Array | None = None,
    sigma_prime_value: Array | None = None,
    delta_h: Array | None = None,
) -> Gradients:
    """The analytic backward pass, each intermediate replaceable (a catalogued mistake replaces one and lets
    the right formulas carry it on): ``δ = c·(s·Σt − t)``, ``dW = aᵀ δ + 2·coef·W``, ``db = Σ_n δ_n``,
    ``da = δ Wᵀ``, ``δ_h = da ⊙ σ′(z_h)``, ``dW_h = a_inᵀ δ_h + 2·coef·W_h``, ``db_h = Σ_n δ_h``."""
    with np.errstate(all="ignore"):
        dl = output_delta(net, fwd.s) if delta is None else delta
        dW = net.a.T @ dl + 2.0 * net.reg_coef * net.W
        db = None if net.b is None else np.sum(dl, axis=0)
        d_a = dl @ net.W.T if da is None else da
        out = Gradients(dl, dW, db, d_a)
        if not net.hidden:
            return out
        assert net.a_in is not None
        assert net.W_h is not None
        assert net.activation is not None
        assert fwd.z_h is not None
        sp = sigma_prime(net.activation, fwd.z_h) if sigma_prime_value is None else sigma_prime_value
        dh = d_a * sp if delta_h is None else np.broadcast_to(delta_h, (net.n, net.h))
        dW_h = net.a_in.T @ dh + 2.0 * net.reg_coef * net.W_h
        db_h = None if net.b_h is None else np.sum(dh, axis=0)
    return Gradients(dl, dW, db, d_a, np.array(dh), dW_h, db_h, sp)


def analytic(net: Network) -> Gradients:
    """Every quantity from the closed-form backward pass."""
    return backward(net, forward(net))


# ---------------------------------------------------------------------------------------------------------
# the chain rule with explicit Jacobians


def _row_blocks(n: int, per_row: int) -> Iterator[slice]:
    step = max(1, CHAINED_BLOCK // max(1, per_row))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _through_weight_tensor(upstream: Array, x: Array) -> Array | None:
    """``Σ_{n,k} upstream[n, k] · ∂z[n, k]/∂W[i, j]`` with the tensor ``∂z_nk/∂W_ij = x_ni·[j = k]`` of
    ``z = x W`` built explicitly (None when it would exceed :data:`CHAINED_MAX_ELEMENTS`)."""
    n, k = upstream.shape
    i = x.shape[1]
    per_row = k * i * k
    if n * per_row > CHAINED_MAX_ELEMENTS:
        return None
    eye = np.eye(k)
    out = np.zeros((i, k))
    for rows in _row_blocks(n, per_row):
        tensor = x[rows, None, :, None] * eye[None, :, None, :]  # (n, k, i, j)
        out += np.einsum("nk,nkij->ij", upstream[rows], tensor)
    return out


def _through_bias(upstream: Array) -> Array:
    """``Σ_{n,k} upstream[n, k] · ∂z[n, k]/∂b[j]`` with ``∂z_nk/∂b_j = [j = k]`` (an identity per row)."""
    k = upstream.shape[1]
    out: Array = np.einsum("nk,kj->j", upstream, np.eye(k))
    return out


def _through_diagonal(upstream: Array, diagonal: Array) -> Array:
    """``upstream_n · diag(diagonal_n)`` per row, with the (N, H, H) stack of diagonal matrices built."""
    n, h = upstream.shape
    out = np.empty_like(upstream)
    for rows in _row_blocks(n, h * h):
        jac = diagonal[rows, :, None] * np.eye(h)[None]  # ∂a/∂z_h = diag(σ′(z_h))
        out[rows] = np.einsum("ng,ngh->nh", upstream[rows], jac)
    return out


@dataclass(frozen=True)
class Chained:
    """The chained quantities (NaN where not computable) and why some are not."""

    gradients: Gradients
    #: per example: the chain through −t/s cannot be evaluated (a probability a target needs underflows)
    unstable_rows: Mask
    #: quantities whose explicit tensor was too large to build
    skipped: tuple[str, ...]


def chained(net: Network, dtype: str = "float64") -> Chained:
    """Every quantity by the chain rule with explicit Jacobians: ``∂L/∂z = (−t/s)·J(s)``,
    ``∂z/∂W`` as a tensor, ``∂z/∂a = W`` as a matrix, ``∂a/∂z_h = diag(σ′(z_h))``, and so on."""
    fwd = forward(net)
    skipped: list[str] = []
    with np.errstate(all="ignore"):
        delta = net.scale * chained_gradient(fwd.z, net.t)
        unstable = np.any(unstable_targets(net.t, fwd.s, dtype), axis=1) | ~np.all(np.isfinite(delta), axis=1)
        dW = _through_weight_tensor(delta, net.a)
        if dW is None:
            skipped.append("dW")
            dW = np.full_like(net.W, np.nan)
        dW = dW + 2.0 * net.reg_coef * net.W  # ∂R/∂W of R = coef·Σ W²
        db = None if net.b is None else _through_bias(delta)
        jac_za = net.W.T  # ∂z_k/∂a_h = W[h, k] (row form): the K×H matrix Wᵀ
        da = np.einsum("nk,kh->nh", delta, jac_za)
        if not net.hidden:
            return Chained(Gradients(delta, dW, db, da), unstable, tuple(skipped))
        assert net.a_in is not None
        assert net.W_h is not None
        assert net.activation is not None
        assert fwd.z_h is not None
        sp = sigma_prime(net.activation, fwd.z_h)
        dh = _through_diagonal(da, sp)
        dW_h = _through_weight_tensor(dh, net.a_in)
        if dW_h is None:
            skipped.append("dW_h")
            dW_h = np.full_like(net.W_h, np.nan)
        dW_h = dW_h + 2.0 * net.reg_coef * net.W_h
        db_h = None if net.b_h is None else _through_bias(dh)
    return Chained(Gradients(delta, dW, db, da, dh, dW_h, db_h, sp), unstable, tuple(skipped))


# ---------------------------------------------------------------------------------------------------------
# finite differences


def fd_steps(x: Array) -> Array:
    """Central-difference steps ``ε^(1/3)·max(1, |x|)``, rounded so that ``x ± h`` is exact — the step
    policy of :mod:`softgrad.core.finite_difference`."""
    h = EPS ** (1 / 3) * np.maximum(1.0, np.abs(x))
    out: Array = (x + h) - x
    return out


def central_estimate(changes: list[Array], h: Array, base: Array | float) -> tuple[Array, Array]:
    """From the loss changes at +h, −h, +2h, −2h: the Richardson estimate ``D(h) + (D(h) − D(2h))/3``
    (fourth order) and, as its error estimate, that of ``D(h)`` alone: ``|D(h) − D(2h)|/3`` (truncation)
    ``+ 4ε·(|L| + 1)/h`` (rounding) — a bound to spare where a large input (a = 10⁴) makes the step in the
    logits large."""
    with np.errstate(all="ignore"):
        d1 = (changes[0] - changes[1]) / (2 * h)
        d2 = (changes[2] - changes[3]) / (4 * h)
        err = np.abs(d1 - d2) / 3 + 4 * EPS * (np.abs(base) + 1.0) / h
        d1 = d1 + (d1 - d2) / 3
    bad = ~(np.isfinite(d1) & np.isfinite(err))
    return np.where(bad, np.nan, d1), np.where(bad, np.inf, err)


OFFSETS = (1.0, -1.0, 2.0, -2.0)


@dataclass(frozen=True)
class ParamFD:
    """A finite-difference estimate of one array's gradient: value and error estimate (NaN / inf where not
    differenced), which entries were differenced, and where a kink of relu lay within the steps."""

    value: Array
    error: Array
    checked: Mask
    kinks: Mask

    @property
    def sampled(self) -> bool:
        return not bool(np.all(self.checked))


def _fd_result(shape: tuple[int, ...]) -> tuple[Array, Array, Mask, Mask]:
    return np.full(shape, np.nan), np.full(shape, np.inf), np.zeros(shape, bool), np.zeros(shape, bool)


def _sample(size: int, cost_per_entry: int, seed: int) -> Index:
    """Flat indices to difference: all of them, or a seeded sample within :data:`FD_BUDGET`."""
    allowed = max(FD_MIN_ENTRIES, FD_BUDGET // max(1, cost_per_entry))
    if size <= allowed:
        return np.arange(size)
    rng = np.random.default_rng(seed)
    out: Index = np.sort(rng.choice(size, allowed, replace=False))
    return out


def fd_loss(
    fn: Callable[[dict[str, Array]], float],
    params: Mapping[str, Any],
    *,
    max_entries: int | None = None,
    seed: int = 0,
) -> dict[str, ParamFD]:
    """Finite differences of an arbitrary scalar loss ``fn(params)`` of several named arrays, entry by
    entry, float64, with softgrad's step policy (:func:`fd_steps`) and error estimate
    (:func:`central_estimate`).

    ``fn`` is called with a dict of float64 arrays (one entry of one array perturbed at a time; the arrays
    are restored after each call) and must return a number. Above ``max_entries`` entries of one array a
    seeded random sample of that many is differenced (``checked`` says which). A loss that is not finite
    gives NaN with an infinite error estimate.
    """
    work = {key: np.array(v, dtype=np.float64) for key, v in params.items()}

    def call() -> float:
        try:
            return float(fn(work))
        except (ArithmeticError, ValueError):
            return float("nan")

    with np.errstate(all="ignore"):
        base = call()
        out: dict[str, ParamFD] = {}
        for key, arr in work.items():
            value, error, checked, kinks = _fd_result(arr.shape)
            flat = arr.reshape(-1)  # a view: perturbing it perturbs the array fn sees
            if max_entries is None or flat.size <= max_entries:
                idx = np.arange(flat.size)
            else:
                idx = np.sort(np.random.default_rng(seed).choice(flat.size, max_entries, replace=False))
            for i in idx.tolist():
                orig = float(flat[i])
                h = float(fd_steps(np.array(orig)))
                changes = []
                for c in OFFSETS:
                    flat[i] = orig + c * h
                    changes.append(np.array(call() - base))
                flat[i] = orig
                d1, err = central_estimate(changes, np.array(h), base)
                value.reshape(-1)[i], error.reshape(-1)[i] = float(d1), float(err)
                checked.reshape(-1)[i] = True
            out[key] = ParamFD(value, error, checked, kinks)
    return out


class _OneLogit:
    """Per-example cross-entropy when one logit column changes, from the unperturbed sums (the trick of
    :mod:`softgrad.core.finite_difference`: O(N) per evaluation instead of O(N·K))."""

    def __init__(self, z: Array, t: Array) -> None:
        m = np.max(z, axis=1, keepdims=True)
        self.d = z - m
        self.e = np.exp(self.d)
        self.se = np.sum(self.e, axis=1)
        self.s_t = np.sum(t, axis=1)
        self.td = np.sum(np.where(t > 0, t * self.d, 0.0), axis=1)
        self.t = t

    def losses(self, j: int, change: Array) -> Array:
        """Per-example losses with ``z[:, j] += change`` (``change`` (..., N))."""
        dj = self.d[:, j] + change
        shift = np.maximum(dj, 0.0)  # re-shift when the perturbed logit becomes the largest
        others = np.maximum(self.se - self.e[:, j], 0.0)
        se_c = others * np.exp(-shift) + np.exp(dj - shift)
        out: Array = self.s_t * (shift + np.log(se_c)) - (self.td + self.t[:, j] * change)
        return out


def _entry_blocks(count: int, per_entry: int) -> Iterator[slice]:
    step = max(1, FD_BLOCK // max(1, per_entry))
    for start in range(0, count, step):
        yield slice(start, min(count, start + step))


@dataclass(frozen=True)
class NetworkFD:
    """Finite differences of the network's loss for every quantity (row form)."""

    params: dict[str, ParamFD]


def network_fd(net: Network, *, seed: int = 0) -> NetworkFD:
    """Finite differences of the network's loss L with respect to every entry of W, b, W_h, b_h — and of
    the intermediates z, a and z_h, treated as free variables with the rest of the network downstream
    (that is what δ, ∂L/∂a and δ_h are). Central differences at h and 2h; each loss recomputed from the
    perturbed forward pass (using only that z = a W + b is linear in each entry), never from a gradient
    formula. Very large parameters are differenced on a seeded sample of entries (``checked``)."""
    fwd = forward(net)
    out: dict[str, ParamFD] = {}
    with np.errstate(all="ignore"):
        est = finite_difference(fwd.z, net.t, method="central")  # per example, of the per-example loss
        out["delta"] = ParamFD(
            net.scale * est.value, net.scale * est.error, np.ones(fwd.z.shape, bool), np.zeros(fwd.z.shape, bool)
        )
        one = _OneLogit(fwd.z, net.t)
        out["dW"] = _fd_weights(net, fwd, one, seed)
        if net.b is not None:
            out["db"] = _fd_bias(net, fwd, one)
        out["da"] = _fd_activations(net, fwd)
        if net.hidden:
            out["delta_h"] = _fd_pre_activations(net, fwd)
            out["dW_h"] = _fd_hidden(net, fwd, seed, bias=False)
            if net.b_h is not None:
                out["db_h"] = _fd_hidden(net, fwd, seed, bias=True)
    return NetworkFD(out)


def _fd_weights(net: Network, fwd: Forward, one: _OneLogit, seed: int) -> ParamFD:
    """∂L/∂W[i, j]: W[i, j] + c·h moves z[:, j] by c·h·a[:, i] and the regulariser by coef·((W+ch)² − W²)."""
    value, error, checked, kinks = _fd_result(net.W.shape)
    chosen = _sample(net.W.size, 4 * net.n, seed)
    rows, cols = np.unravel_index(chosen, net.W.shape)
    for j in range(net.k):
        sel = rows[cols == j]
        if sel.size == 0:
            continue
        w = net.W[sel, j]
        h = fd_steps(w)
        base_j = one.losses(j, np.zeros(net.n))
        for blk in _entry_blocks(sel.size, net.n):
            changes = []
            for c in OFFSETS:
                move = (c * h[blk])[:, None] * net.a[:, sel[blk]].T  # (entries, N)
                data = net.scale * np.sum(one.losses(j, move) - base_j, axis=1)
                wc = w[blk] + c * h[blk]
                changes.append(data + net.reg_coef * (wc * wc - w[blk] * w[blk]))
            d1, err = central_estimate(changes, h[blk], fwd.loss)
            value[sel[blk], j], error[sel[blk], j], checked[sel[blk], j] = d1, err, True
    return ParamFD(value, error, checked, kinks)


def _fd_bias(net: Network, fwd: Forward, one: _OneLogit) -> ParamFD:
    """∂L/∂b[j]: b[j] + c·h moves z[:, j] by c·h."""
    assert net.b is not None
    h = fd_steps(net.b)
    value, error = np.empty(net.k), np.empty(net.k)
    for j in range(net.k):
        base_j = one.losses(j, np.zeros(net.n))
        changes = [np.array(net.scale * np.sum(one.losses(j, np.full(net.n, c * h[j])) - base_j)) for c in OFFSETS]
        d1, err = central_estimate(changes, h[j], fwd.loss)
        value[j], error[j] = float(d1), float(err)
    return ParamFD(value, error, np.ones(net.k, bool), np.zeros(net.k, bool))


def _fd_activations(net: Network, fwd: Forward) -> ParamFD:
    """∂L/∂a[n, g]: a[n, g] + c·h moves z[n, :] by c·h·W[g, :]; every example at once (each example's loss
    depends on its own row only), units in blocks."""
    h = fd_steps(net.a)
    value, error = np.empty(net.a.shape), np.empty(net.a.shape)
    base = net.scale * fwd.losses
    for blk in _entry_blocks(net.h, net.n * net.k):
        changes = []
        for c in OFFSETS:
            z = fwd.z[None] + (c * h[:, blk].T)[:, :, None] * net.W[blk][:, None, :]  # (units, N, K)
            changes.append(net.scale * (loss_along(z, net.t[None], -1) - fwd.losses[None]))
        d1, err = central_estimate(changes, h[:, blk].T, base[None])
        value[:, blk], error[:, blk] = d1.T, err.T
    return ParamFD(value, error, np.ones(net.a.shape, bool), np.zeros(net.a.shape, bool))


def _relu_kinks(net: Network, z_h: Array, move: Array) -> Mask:
    """Where ``z_h ± 2·move`` crosses the kink of relu (the one-sided slopes differ: no derivative there)."""
    if net.activation != "relu":
        return np.zeros(np.broadcast_shapes(z_h.shape, move.shape), bool)
    reach = 2 * np.abs(move)
    out: Mask = (reach > 0) & (z_h - reach <= 0) & (z_h + reach >= 0)
    return out


def _fd_pre_activations(net: Network, fwd: Forward) -> ParamFD:
    """δ_h[n, g] = ∂L/∂z_h[n, g]: z_h[n, g] + c·h changes a[n, g] through σ, and z[n, :] with it."""
    assert fwd.z_h is not None
    assert net.activation is not None
    z_h = fwd.z_h
    h = fd_steps(z_h)
    value, error = np.empty(z_h.shape), np.empty(z_h.shape)
    base = net.scale * fwd.losses
    for blk in _entry_blocks(net.h, net.n * net.k):
        changes = []
        for c in OFFSETS:
            moved = sigma(net.activation, z_h[:, blk] + c * h[:, blk]) - fwd.a[:, blk]  # (N, units)
            z = fwd.z[None] + moved.T[:, :, None] * net.W[blk][:, None, :]
            changes.append(net.scale * (loss_along(z, net.t[None], -1) - fwd.losses[None]))
        d1, err = central_estimate(changes, h[:, blk].T, base[None])
        value[:, blk], error[:, blk] = d1.T, err.T
    kinks = _relu_kinks(net, z_h, h)
    return ParamFD(value, error, np.ones(z_h.shape, bool), kinks)


def _fd_hidden(net: Network, fwd: Forward, seed: int, *, bias: bool) -> ParamFD:
    """∂L/∂W_h[d, g] (or ∂L/∂b_h[g]): the entry + c·h moves z_h[:, g] by c·h·a_in[:, d] (or c·h), a[:, g]
    through σ, and z by the change of a[:, g] times W[g, :]."""
    assert net.a_in is not None
    assert net.W_h is not None
    assert net.activation is not None
    assert fwd.z_h is not None
    param = net.b_h if bias else net.W_h
    assert param is not None
    value, error, checked, kinks = _fd_result(param.shape)
    chosen = _sample(param.size, 4 * net.n * net.k, seed + 1)
    if bias:
        units, inputs = chosen, np.zeros_like(chosen)
    else:
        inputs, units = np.unravel_index(chosen, param.shape)
    for g in range(net.h):
        sel = inputs[units == g]
        if sel.size == 0:
            continue
        p = param[g] if bias else param[sel, g]
        h = fd_steps(np.atleast_1d(p))
        source = np.ones((net.n, 1)) if bias else net.a_in[:, sel]  # how z_h[:, g] moves per unit step
        for blk in _entry_blocks(h.size, net.n * net.k):
            changes = []
            for c in OFFSETS:
                move = (c * h[blk])[:, None] * source[:, blk].T  # (entries, N)
                moved = sigma(net.activation, fwd.z_h[:, g][None, :] + move) - fwd.a[:, g][None, :]
                z = fwd.z[None] + moved[:, :, None] * net.W[g][None, None, :]
                data = net.scale * np.sum(loss_along(z, net.t[None], -1) - fwd.losses[None], axis=1)
                reg = 0.0
                if not bias:
                    pc = p[blk] + c * h[blk]
                    reg = net.reg_coef * (pc * pc - p[blk] * p[blk])
                changes.append(data + reg)
            d1, err = central_estimate(changes, h[blk], fwd.loss)
            kink = np.any(_relu_kinks(net, fwd.z_h[:, g][None, :], h[blk][:, None] * source[:, blk].T), axis=1)
            if bias:
                value[g], error[g], checked[g], kinks[g] = float(d1[0]), float(err[0]), True, bool(kink[0])
            else:
                value[sel[blk], g], error[sel[blk], g], checked[sel[blk], g] = d1, err, True
                kinks[sel[blk], g] = kink
    return ParamFD(value, error, checked, kinks)


# ---------------------------------------------------------------------------------------------------------
# the course assignment


def softmax_loss(W: Any, X: Any, y: Any, reg: float, reg_convention: str = "full") -> tuple[float, Array]:
    """The analytic ``(loss, dW)`` of the course-assignment ``softmax_loss(W, X, y, reg)``: row convention
    (X (N, D), W (D, K)), no bias, y class indices (N,) (or (N, K) targets), the mean over the rows, and the
    regulariser ``reg·‖W‖²`` (``full``: gradient ``2·reg·W``) or ``½·reg·‖W‖²`` (``half``: ``reg·W``)."""
    y_arr = np.asarray(y)
    labels = y_arr if y_arr.ndim == 1 else None
    net = make_network(
        X,
        W,
        None,
        None if labels is not None else y_arr,
        label=None if labels is None else labels.tolist(),
        convention="row",
        reduction="mean",
        reg=float(reg),
        reg_convention=reg_convention,
    )
    fwd = forward(net)
    return fwd.loss, backward(net, fwd).dW
