"""JSON Lines rows for ``batch``: one ``check --case`` object per line.

Every key ``check --case`` accepts is honoured: ``z``, ``t`` or ``label``, ``grad``, and also
``temperature`` (that row's softmax temperature) and ``jacobian`` (a softmax Jacobian to check, K×K,
nested or flat). A line is read up to :data:`~softgrad.inputs.files.MAX_TEXT_BYTES`; JSON is read by
:func:`~softgrad.inputs.files.load_json` (no deep nesting, no huge numbers, no key given twice).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from softgrad.core import rules
from softgrad.errors import InputError
from softgrad.inputs import files
from softgrad.inputs.files import NPY_MAGIC, ZIP_MAGIC, load_json, megabytes, open_input
from softgrad.inputs.rows import BadRow, Block
from softgrad.inputs.values import parse_case

#: Jacobian entries held per block (rows × K × K) before the block is handed on.
JACOBIAN_BUDGET = 4_000_000


@dataclass
class _Row:
    z: list[float]
    t: list[float]
    g: list[float] | None
    line: int
    temperature: float | None
    jacobian: list[float] | None


def read_jsonl(path: str, chunk_rows: int = 8192) -> Iterator[tuple[Block, int]]:
    """JSON Lines: one ``check --case`` object per line; yields (block, K)."""
    source, fh, _ = open_input(path)
    k: int | None = None
    rows: list[_Row] = []
    bad: list[BadRow] = []
    closing = contextlib.closing(fh) if path != "-" else contextlib.nullcontext()
    with closing:
        lineno = jacobians = 0
        limit = files.MAX_TEXT_BYTES
        peek = getattr(fh, "peek", None)
        if peek is not None:
            _refuse_binary(peek(1 << 16)[: 1 << 16].split(b"\n", 1)[0], source)  # before a whole "line" of it
        while raw := fh.readline(limit + 1):
            lineno += 1
            if len(raw) > limit:
                raise InputError(f"{source}:{lineno}", f"the line is longer than {megabytes(limit)}")
            if lineno == 1:
                _refuse_binary(raw, source)
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                bad.append(BadRow(source, lineno, "not UTF-8 text"))
                continue
            if lineno == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if not text:
                continue
            try:
                row, k = _row(text, lineno, k)
                rows.append(row)
                jacobians += row.jacobian is not None
            except InputError as exc:
                where = exc.where.lstrip(": ")
                bad.append(BadRow(source, lineno, f"{where}: {exc.message}" if where else exc.message))
            if len(rows) >= chunk_rows or (jacobians and len(rows) * (k or 0) ** 2 >= JACOBIAN_BUDGET):
                yield _block(rows, bad, k), k or 0
                rows, bad, jacobians = [], [], 0
    if k is None and not bad:
        raise InputError(source, "is empty: no JSON objects")
    yield _block(rows, bad, k), k or 0


def _refuse_binary(raw: bytes, source: str) -> None:
    if raw[:4] == ZIP_MAGIC:
        raise InputError(source, "is a zip or .npz archive, not JSON Lines (name it .npz, or --input-format npz)")
    if raw[:6] == NPY_MAGIC:
        raise InputError(source, "is a .npy array, not JSON Lines")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise InputError(source, f"holds binary data, not JSON Lines (a NUL byte at offset {nul})")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def _row(text: str, lineno: int, k: int | None) -> tuple[_Row, int]:
    case = parse_case(load_json(text, "", one_line=True), "")
    z = case["z"]
    if k is None:
        if len(z) < 2:
            raise InputError("key 'z'", f"softmax needs at least 2 classes, got {len(z)}")
        k = len(z)
    if len(z) != k:
        raise InputError("key 'z'", f"has {len(z)} values but K = {k} in this file")
    t = _targets(case, k)
    g = case.get("grad")
    if g is not None and len(g) != k:
        raise InputError("key 'grad'", f"has {len(g)} values but K = {k}")
    tau = case.get("temperature")
    if tau is not None:
        try:
            tau = rules.temperature(tau)
        except InputError as exc:
            raise InputError("key 'temperature'", exc.message) from None
    jac = case.get("jacobian")
    if jac is not None and len(jac) != k * k:
        raise InputError("key 'jacobian'", f"has {len(jac)} values but K×K = {k * k}")
    return _Row(z, t, g, lineno, tau, jac), k


def _targets(case: dict[str, Any], k: int) -> list[float]:
    if "t" in case:
        t = case["t"]
        if len(t) != k:
            raise InputError("key 't'", f"has {len(t)} values but K = {k}")
        if any(v < 0 for v in t):
            raise InputError("key 't'", "targets must be >= 0")
        return list(t)
    if "label" in case:
        lab = rules.class_index("key 'label'", case["label"], k)
        out = [0.0] * k
        out[lab] = 1.0
        return out
    raise InputError("", "missing key 't' or 'label'")


def _block(rows: list[_Row], bad: list[BadRow], k: int | None) -> Block:
    kk = k or 2
    n = len(rows)
    nan = float("nan")
    has_g = any(r.g is not None for r in rows)
    has_tau = any(r.temperature is not None for r in rows)
    has_jac = any(r.jacobian is not None for r in rows)
    return Block(
        z=np.array([r.z for r in rows], dtype=np.float64).reshape(n, kk),
        t=np.array([r.t for r in rows], dtype=np.float64).reshape(n, kk),
        g=np.array([r.g if r.g is not None else [nan] * kk for r in rows], dtype=np.float64).reshape(n, kk)
        if has_g
        else None,
        lines=np.array([r.line for r in rows], dtype=np.int64),
        bad=bad,
        g_rows=_given([r.g is not None for r in rows]) if has_g else None,
        temperature=np.array([nan if r.temperature is None else r.temperature for r in rows]) if has_tau else None,
        jacobian=np.array(
            [r.jacobian if r.jacobian is not None else [nan] * (kk * kk) for r in rows], dtype=np.float64
        ).reshape(n, kk, kk)
        if has_jac
        else None,
        jacobian_rows=_given([r.jacobian is not None for r in rows]) if has_jac else None,
    )


def _given(mask: list[bool]) -> Any:
    """The mask of rows that have the value, or None when all do."""
    return None if all(mask) else np.array(mask, dtype=bool)
