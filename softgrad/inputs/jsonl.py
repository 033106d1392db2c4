"""JSON Lines rows for ``batch``: one ``check --case`` object per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from softgrad.core import rules
from softgrad.errors import InputError
from softgrad.inputs.files import open_input
from softgrad.inputs.rows import BadRow, Block
from softgrad.inputs.values import parse_case


def read_jsonl(path: str, chunk_rows: int = 8192) -> Iterator[tuple[Block, int]]:
    """JSON Lines: one ``check --case`` object per line; yields (block, K)."""
    source, fh, _ = open_input(path)
    k: int | None = None
    rows: list[tuple[list[float], list[float], list[float] | None, int]] = []
    bad: list[BadRow] = []
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            text = raw.decode("utf-8", errors="replace").strip()
            if lineno == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if not text:
                continue
            try:
                case = parse_case(json.loads(text), "")
                z = case["z"]
                if k is None:
                    k = len(z)
                    if k < 2:
                        raise InputError("key 'z'", f"softmax needs at least 2 classes, got {k}")
                if len(z) != k:
                    raise InputError("key 'z'", f"has {len(z)} values but K = {k} in this file")
                t = _jsonl_targets(case, k)
                g = case.get("grad")
                if g is not None and len(g) != k:
                    raise InputError("key 'grad'", f"has {len(g)} values but K = {k}")
                rows.append((z, t, g, lineno))
            except InputError as exc:
                bad.append(
                    BadRow(source, lineno, exc.message if not exc.where else f"{exc.where.lstrip(': ')}: {exc.message}")
                )
            except json.JSONDecodeError as exc:
                bad.append(BadRow(source, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})"))
            if len(rows) >= chunk_rows:
                yield _jsonl_block(rows, bad, k), k or 0
                rows, bad = [], []
    if k is None and not bad:
        raise InputError(source, "is empty: no JSON objects")
    yield _jsonl_block(rows, bad, k), k or 0


def _jsonl_targets(case: dict[str, Any], k: int) -> list[float]:
    if "t" in case:
        t = case["t"]
        if len(t) != k:
            raise InputError("key 't'", f"has {len(t)} values but K = {k}")
        if any(v < 0 for v in t):
            raise InputError("key 't'", "targets must be >= 0")
        return list(t)
    if "label" in case:
        lab = case["label"]
        lab = rules.class_index("key 'label'", lab, k)
        out = [0.0] * k
        out[lab] = 1.0
        return out
    raise InputError("", "missing key 't' or 'label'")


def _jsonl_block(
    rows: list[tuple[list[float], list[float], list[float] | None, int]], bad: list[BadRow], k: int | None
) -> Block:
    kk = k or 2
    has_g = any(r[2] is not None for r in rows)
    g_rows = [r[2] if r[2] is not None else [float("nan")] * kk for r in rows]
    return Block(
        z=np.array([r[0] for r in rows], dtype=np.float64).reshape(len(rows), kk),
        t=np.array([r[1] for r in rows], dtype=np.float64).reshape(len(rows), kk),
        g=np.array(g_rows, dtype=np.float64).reshape(len(rows), kk) if has_g else None,
        lines=np.array([r[3] for r in rows], dtype=np.int64),
        bad=bad,
    )
