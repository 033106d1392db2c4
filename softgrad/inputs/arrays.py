"""``.npz`` arrays for ``batch``: ``z`` (N, K), ``t`` (N, K) or ``label`` (N,), optional ``grad`` (N, K)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator

import numpy as np

from softgrad.errors import InputError
from softgrad.inputs.rows import Block, Layout, RowSpec, to_block


def read_npz(path: str, chunk_rows: int = 65536) -> Iterator[tuple[Block, int]]:
    """``.npz`` with arrays ``z`` (N, K), ``t`` (N, K) or ``label`` (N,), optional ``grad`` (N, K)."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"not a readable .npz file ({exc})") from None
    with data:
        keys = set(data.files)
        if "z" not in keys:
            raise InputError(path, f"no array 'z' (arrays: {', '.join(sorted(keys)) or 'none'})")
        z = np.asarray(data["z"], dtype=np.float64)
        if z.ndim != 2 or z.shape[1] < 2:
            raise InputError(f"{path}: array 'z'", f"expected shape (N, K) with K >= 2, got {z.shape}")
        n, k = z.shape
        if "t" in keys:
            t = np.asarray(data["t"], dtype=np.float64)
            if t.shape != z.shape:
                raise InputError(f"{path}: array 't'", f"expected shape {z.shape}, got {t.shape}")
            labels = None
        elif "label" in keys:
            labels = np.asarray(data["label"])
            if labels.shape != (n,):
                raise InputError(f"{path}: array 'label'", f"expected shape ({n},), got {labels.shape}")
            t = None
        else:
            raise InputError(path, "no array 't' or 'label'")
        g = np.asarray(data["grad"], dtype=np.float64) if "grad" in keys else None
        if g is not None and g.shape != z.shape:
            raise InputError(f"{path}: array 'grad'", f"expected shape {z.shape}, got {g.shape}")
    names = tuple([f"z{i}" for i in range(k)] + ([f"t{i}" for i in range(k)] if t is not None else ["label"]))
    t_cols = tuple(range(k, 2 * k)) if t is not None else None
    g_cols = tuple(range(2 * k, 3 * k)) if g is not None else None
    layout = Layout(names, tuple(range(k)), t_cols, None if t is not None else k, g_cols, ())
    spec = RowSpec(path, layout, ",", False)
    for start in range(0, n, chunk_rows):
        sl = slice(start, min(n, start + chunk_rows))
        parts = [z[sl], t[sl] if t is not None else labels[sl, None].astype(np.float64)]  # type: ignore[index]
        if g is not None:
            parts.append(g[sl])
        arr = np.hstack(parts)
        # "line" of an .npz row: its 1-based index
        yield to_block(arr, np.arange(start + 1, sl.stop + 1, dtype=np.int64), None, None, None, spec, []), k
