"""Generated inputs for the batch benchmarks (never committed: written under benchmarks/data/, gitignored).

python benchmarks/make_data.py ROWS K [--digits 17] [--parquet]   # prints the path it wrote (or found)

The issue's file: 1,000,000 rows, K = 10, user gradients, 30 columns, every number written with 17
significant digits (431 MB). z ~ N(0, 3), one-hot t, g the right gradient (s - t) in float64.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"


def arrays(rows: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, t, g) of ``rows`` rows: g is the right per-row gradient softmax(z) - t."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (rows, k))
    t = np.eye(k)[rng.integers(0, k, rows)]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    g = e / e.sum(axis=1, keepdims=True) - t
    return z, t, g


def make_csv(rows: int, k: int, digits: int = 17, seed: int = 0) -> Path:
    """A CSV with header z0..,t0..,g0..; z and g written with ``digits`` significant digits."""
    path = DATA / f"rows{rows}_k{k}_d{digits}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    header = ",".join([f"z{i}" for i in range(k)] + [f"t{i}" for i in range(k)] + [f"g{i}" for i in range(k)])
    tmp = path.with_suffix(".tmp")
    step = max(1, 200_000 // k)
    with tmp.open("w") as fh:
        fh.write(header + "\n")
        for start in range(0, rows, step):
            n = min(step, rows - start)
            z, t, g = arrays(n, k, seed + start)
            fmt = [f"%.{digits}g"] * k + ["%d"] * k + [f"%.{digits}g"] * k
            np.savetxt(fh, np.hstack([z, t, g]), delimiter=",", fmt=fmt)
    tmp.rename(path)
    return path


def make_columnar(csv_path: Path, kind: str = "parquet") -> Path:
    """The same rows as ``csv_path`` as Parquet (row groups of 64k rows) or Arrow IPC (needs pyarrow)."""
    import pyarrow.csv as pacsv
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    path = csv_path.with_suffix(".parquet" if kind == "parquet" else ".arrow")
    if path.exists():
        return path
    table = pacsv.read_csv(csv_path)
    tmp = path.with_suffix(".tmp")
    if kind == "parquet":
        pq.write_table(table, tmp, row_group_size=65536)
    else:
        feather.write_feather(table, tmp, compression="uncompressed", chunksize=65536)
    tmp.rename(path)
    return path


def main(argv: list[str]) -> None:
    rows, k = int(argv[0]), int(argv[1])
    digits = int(argv[argv.index("--digits") + 1]) if "--digits" in argv else 17
    path = make_csv(rows, k, digits)
    if "--parquet" in argv:
        path = make_columnar(path)
    print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
