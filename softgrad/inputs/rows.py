"""Rows for ``batch``: which columns hold what (by header name, or positionally), the blocks of rows the
readers produce, and the rows that cannot be read, each as ``file:line: what``."""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from softgrad.core import Array
from softgrad.errors import InputError

#: Default column-name prefixes; a column is ``prefix`` + index (0- or 1-based, contiguous).
Z_PREFIXES = ("z", "z_", "logit", "logit_", "logits_")
T_PREFIXES = ("t", "t_", "target", "target_", "y_")
G_PREFIXES = (
    "g",
    "g_",
    "grad",
    "grad_",
    "gradient_",
    "gradient",
    "grads",
    "grads_",
    "dz",
    "dz_",
    "dlogits",
    "dlogits_",
)
#: a numbered group of K carried columns whose prefix looks like a derivative (``dE_dz0``, ``d_z0``,
#: ``gradz0``) is more likely the user's gradient under a name softgrad does not know than data to carry
_LOOKS_LIKE_GRADIENT = re.compile(r"^(d|grad)", re.IGNORECASE)
LABEL_NAMES = ("label", "class")
CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class ReadOptions:
    """How to find the columns."""

    delimiter: str | None = None
    header: bool = True
    k: int | None = None
    label_column: bool = False
    z_prefix: str | None = None
    t_prefix: str | None = None
    grad_prefix: str | None = None
    chunk_bytes: int = CHUNK_BYTES
    #: what every input is (csv, tsv, jsonl, npz); None: by extension, else by what the data starts with
    input_format: str | None = None


@dataclass(frozen=True)
class Layout:
    """Which columns hold what."""

    names: tuple[str, ...]
    z: tuple[int, ...]
    t: tuple[int, ...] | None
    label: int | None
    g: tuple[int, ...] | None
    carried: tuple[int, ...]

    @property
    def k(self) -> int:
        return len(self.z)

    @functools.cached_property
    def numeric(self) -> tuple[int, ...]:
        """Numeric columns in the order z, t (or label), g."""
        cols = list(self.z) + (list(self.t) if self.t else [self.label] if self.label is not None else [])
        return tuple(int(c) for c in cols + list(self.g or ()))


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read: where and why."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.source, "line": self.line, "message": self.message}


@dataclass
class Block:
    """Rows read from one part of an input: arrays, their line numbers, carried columns, and bad rows."""

    z: Array
    t: Array
    g: Array | None
    lines: NDArray[np.int64]
    carried: list[dict[str, str]] | None = None
    bad: list[BadRow] = field(default_factory=list)
    #: which rows have a gradient in ``g`` (JSON Lines rows may leave it out); None: all of them
    g_rows: NDArray[np.bool_] | None = None
    #: per-row softmax temperature (JSON Lines key ``temperature``; NaN: the run's); None: the run's for all
    temperature: Array | None = None
    #: per-row softmax Jacobians to check, (n, K, K) (JSON Lines key ``jacobian``)
    jacobian: Array | None = None
    #: which rows have a Jacobian in ``jacobian``; None: all of them
    jacobian_rows: NDArray[np.bool_] | None = None


def _group(names: Sequence[str], prefixes: Sequence[str], what: str) -> list[int] | None:
    """Columns named prefix+index for the one prefix that matches, ordered by index.

    Two spellings of the same index (``z1`` and ``z01``, ``z1`` and ``Z1``) and two prefixes that both
    match (``z0…`` and ``logit_0…``) are errors, never a silent choice.
    """
    groups: list[tuple[str, dict[int, int]]] = []
    lowered = [n.lower() for n in names]
    for prefix in prefixes:
        pat = re.compile(re.escape(prefix) + r"(\d+)$", re.IGNORECASE)
        start = prefix.lower()
        found: dict[int, int] = {}
        for i, n in enumerate(names):
            m = pat.match(n) if lowered[i].startswith(start) else None
            if m is None:
                continue
            index = int(m.group(1))
            if index in found:
                raise InputError("", f"columns {names[found[index]]!r} and {n!r} both name {what} {index}: keep one")
            found[index] = i
        if found:
            groups.append((prefix, found))
    if not groups:
        return None
    if len(groups) > 1:
        (_, f1), (_, f2) = groups[:2]
        a, b = names[f1[min(f1)]], names[f2[min(f2)]]
        raise InputError("", f"both {a!r}… and {b!r}… columns are {what} columns: keep one set or name its prefix")
    prefix, found = groups[0]
    idx = sorted(found)
    if idx != list(range(idx[0], idx[0] + len(idx))) or idx[0] not in (0, 1):
        raise InputError("", f"columns {prefix}{idx[0]}… are not numbered 0..K-1 or 1..K without gaps")
    return [found[i] for i in idx]


def layout_from_header(names: Sequence[str], opts: ReadOptions, where: str) -> Layout:
    """Find the z, t (or label) and g columns by name; the other columns are carried."""
    names = [n.strip() for n in names]
    seen: dict[str, int] = {}
    for n in names:
        if n and n in seen:
            raise InputError(where, f"duplicate column name {n!r}")
        seen[n] = 1
    try:
        z = _group(names, (opts.z_prefix,) if opts.z_prefix else Z_PREFIXES, "logit")
        t = _group(names, (opts.t_prefix,) if opts.t_prefix else T_PREFIXES, "target")
        g = _group(names, (opts.grad_prefix,) if opts.grad_prefix else G_PREFIXES, "gradient")
    except InputError as exc:
        raise InputError(where, exc.message) from None
    if not z:
        raise InputError(
            where,
            "no logit columns: expected z0, z1, … (or z_0, logit_0, z1..zK; or name the prefix with --z-prefix)",
        )
    labels = [i for i, n in enumerate(names) if n.lower() in LABEL_NAMES]
    if len(labels) > 1:
        raise InputError(where, f"two class-index columns {names[labels[0]]!r} and {names[labels[1]]!r}: keep one")
    if t and labels:
        raise InputError(where, f"both target columns and a {names[labels[0]]!r} column: keep one")
    if not t and not labels:
        raise InputError(
            where, "no target columns: expected t0, t1, … (or t_0, target_0; or --t-prefix) or a label column"
        )
    roles = [("logit", z), ("target", t or labels), ("gradient", g or [])]
    for a, (role_a, cols_a) in enumerate(roles):
        for role_b, cols_b in roles[a + 1 :]:
            both = sorted(set(cols_a) & set(cols_b))
            if both:
                raise InputError(where, f"column {names[both[0]]!r} cannot be both a {role_a} and a {role_b} column")
    k = len(z)
    if k < 2:
        raise InputError(where, f"softmax needs at least 2 classes, found {k} logit column")
    if t and len(t) != k:
        raise InputError(where, f"{len(t)} target columns but {k} logit columns")
    if g and len(g) != k:
        raise InputError(where, f"{len(g)} gradient columns but {k} logit columns")
    used = set(z) | set(t or ()) | set(g or ()) | set(labels[:1])
    carried = tuple(i for i, n in enumerate(names) if i not in used and n)
    if g is None and not opts.grad_prefix:
        _refuse_an_unread_gradient([names[i] for i in carried], k, where)
    return Layout(tuple(names), tuple(z), tuple(t) if t else None, labels[0] if labels else None,
                  tuple(g) if g else None, carried)  # fmt: skip


def _refuse_an_unread_gradient(carried: Sequence[str], k: int, where: str) -> None:
    """K carried columns numbered 0..K-1 (or 1..K) under a derivative-looking prefix would be a gradient that
    is never checked, and a run that passes without looking at it: an error naming the prefix to give."""
    groups: dict[str, list[int]] = {}
    for n in carried:
        m = re.match(r"(.*?[^\d])(\d+)$", n)
        if m and _LOOKS_LIKE_GRADIENT.match(m.group(1)):
            groups.setdefault(m.group(1), []).append(int(m.group(2)))
    for prefix, idx in groups.items():
        if sorted(idx) in (list(range(k)), list(range(1, k + 1))):
            first, last = min(idx), max(idx)
            raise InputError(
                where,
                f"columns {prefix}{first}..{prefix}{last} look like a gradient, but {prefix!r} is not a gradient "
                f"prefix softgrad knows (g, grad, gradient_, dz, dlogits …): check them with --grad-prefix {prefix}, "
                "or rename them to keep them as carried columns",
            )


def positional_layout(nfields: int, opts: ReadOptions, where: str) -> Layout:
    """``--no-header --k K``: z, then t (or one label column), then g if the row is long enough."""
    k = opts.k
    assert k is not None
    tw = 1 if opts.label_column else k
    if nfields == k + tw:
        has_g = False
    elif nfields == 2 * k + tw:
        has_g = True
    else:
        want = f"{k + tw} (z, {'label' if opts.label_column else 't'}) or {2 * k + tw} (with g)"
        raise InputError(where, f"expected {want} fields for K = {k}, got {nfields}")
    z = tuple(range(k))
    names = [f"z{i}" for i in range(k)]
    if opts.label_column:
        t, label = None, k
        names.append("label")
    else:
        t, label = tuple(range(k, 2 * k)), None
        names += [f"t{i}" for i in range(k)]
    g = tuple(range(k + tw, 2 * k + tw)) if has_g else None
    names += [f"g{i}" for i in range(k)] if has_g else []
    return Layout(tuple(names), z, t, label, g, ())


def split_fields(line: str, delimiter: str) -> list[str]:
    """One CSV line into fields (quotes allowed); ValueError with the reason when it cannot be split."""
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise ValueError(f"cannot split the line into fields ({exc})") from None


def sniff_delimiter(line: str, path: str) -> str:
    if path.lower().removesuffix(".gz").endswith((".tsv", ".tab")) or "\t" in line:
        return "\t"
    for d in (",", ";", "|"):
        if d in line:
            return d
    return ","


@dataclass(frozen=True)
class RowSpec:
    """Everything a worker needs to turn a chunk of an input into a :class:`Block`: where it comes from,
    its layout, the field delimiter (CSV) and whether carried columns are kept."""

    source: str
    layout: Layout
    delimiter: str
    want_carried: bool


def to_block(
    arr: Array,
    lines: NDArray[np.int64],
    data: bytes | None,
    starts: NDArray[np.intp] | None,
    ends: NDArray[np.intp] | None,
    spec: RowSpec,
    carried_rows: list[list[str]] | None = None,
) -> Block:
    """Split parsed numeric columns into z/t/g and turn invalid values into bad rows."""
    lay = spec.layout
    k = lay.k
    arr = np.asfortranarray(arr)  # column-major: the per-row checks reduce across classes fastest that way
    z = arr[:, :k]
    if lay.t is not None:
        t = arr[:, k : 2 * k]
        rest = 2 * k
    else:
        t = None
        rest = k + 1
    g = arr[:, rest : rest + k] if lay.g else None
    bad_mask = ~np.all(np.isfinite(z), axis=1)
    if t is not None:
        bad_mask |= ~np.all(np.isfinite(t), axis=1) | np.any(t < 0, axis=1)
        tv = t
    else:
        lab = arr[:, k]
        bad_mask |= ~np.isfinite(lab) | (lab != np.round(lab)) | (lab < 0) | (lab >= k)
        tv = np.zeros((len(arr), k))
        ok = ~bad_mask
        tv[np.flatnonzero(ok), lab[ok].astype(np.int64)] = 1.0
    bad: list[BadRow] = []
    for i in np.flatnonzero(bad_mask):
        texts = carried_rows[i] if carried_rows else None  # the row's fields, from the line-by-line reader
        bad.append(BadRow(spec.source, int(lines[i]), explain_bad(arr[i], spec, texts)))
    keep = ~bad_mask
    carried = None
    if spec.want_carried and lay.carried:
        if carried_rows is None:
            assert data is not None
            assert starts is not None
            assert ends is not None
            carried_rows = [
                data[starts[i] : ends[i]].decode("utf-8").split(spec.delimiter) for i in np.flatnonzero(keep)
            ]
            carried = [{lay.names[c]: r[c] for c in lay.carried} for r in carried_rows]
        else:
            carried = [
                {lay.names[c]: r[c] for c in lay.carried} for r, ok in zip(carried_rows, keep, strict=True) if ok
            ]
    if not bad:
        return Block(z=z, t=tv, g=g, lines=lines, carried=carried, bad=bad)
    return Block(
        z=np.asfortranarray(z[keep]),
        t=np.asfortranarray(tv[keep]),
        g=None if g is None else np.asfortranarray(g[keep]),
        lines=lines[keep],
        carried=carried,
        bad=bad,
    )


def explain_bad(values: Array, spec: RowSpec, texts: Sequence[str] | None = None) -> str:
    """Why a parsed row is bad, quoting the field as written where ``texts`` (the row's fields) is given."""
    lay = spec.layout
    k = lay.k
    names = [lay.names[c] for c in lay.numeric]
    for j, v in enumerate(values[: k + (k if lay.t else 1)]):
        name = names[j]
        if not np.isfinite(v):
            written = texts[lay.numeric[j]].strip() if texts is not None else repr(float(v))
            return f"column {name!r}: {written!r} is not a finite number"
        if j >= k and lay.t is not None and v < 0:
            return f"column {name!r}: {v:g} is negative (targets must be >= 0)"
        if j == k and lay.t is None:
            if v != round(v):
                return f"column {name!r}: {v:g} is not a class index"
            if not 0 <= v < k:
                return f"column {name!r}: class index {v:g} is out of range for K = {k} (0 to {k - 1})"
    return "invalid row"  # pragma: no cover - every bad mask above has a reason
