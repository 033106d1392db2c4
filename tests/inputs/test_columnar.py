"""Parquet and Arrow IPC inputs (softgrad[fast]): read by column name, streamed by row group, the same report
as the same rows in CSV; bad rows named by row number; a clear error when pyarrow is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from softgrad import core
from softgrad.catalogue.mistakes import MISTAKES
from tests.conftest import run

pa = pytest.importorskip("pyarrow", reason="the fast extra (softgrad[fast]) is not installed")
import pyarrow.feather  # noqa: E402 - after the skip
import pyarrow.parquet  # noqa: E402


def table(n: int = 300, k: int = 4) -> tuple[object, str]:
    rng = np.random.default_rng(3)
    z = np.round(rng.normal(0, 2, (n, k)), 3)
    t = np.eye(k)[rng.integers(0, k, n)]
    g = core.fused_gradient(z, t)
    g[::13] = MISTAKES["no_jacobian"].gradient(z[::13], t[::13])
    cols = {f"logit_{i}": z[:, i] for i in range(k)} | {"label": t.argmax(axis=1)}
    cols |= {f"grad_{i}": g[:, i] for i in range(k)} | {"step": np.arange(n)}
    head = ",".join(cols)
    body = "\n".join(",".join(repr(v.item()) for v in row) for row in zip(*cols.values(), strict=True))
    return pa.table(cols), head + "\n" + body + "\n"


def report(path: Path) -> dict[str, object]:
    """The JSON report without file names; rows numbered from 1 (a CSV's line 2 is its row 1)."""
    r = run("batch", str(path), "--format", "json", "--show", "3")
    assert r.exit_code == 1, r.stderr
    out = json.loads(r.stdout)
    for part in (out["total"], *out["files"]):
        part.pop("file", None)
        for w in part["worst_rows"]:
            w.pop("file")
            w["carried"] = {}
            w["line"] -= path.suffix == ".csv"
    return out


@pytest.mark.parametrize("suffix", [".parquet", ".arrow", ".feather"])
def test_columnar_inputs_give_the_report_of_the_same_rows_in_csv(tmp_path: Path, suffix: str) -> None:
    tab, text = table()
    f = tmp_path / f"rows{suffix}"
    if suffix == ".parquet":
        pyarrow.parquet.write_table(tab, f, row_group_size=64)  # several row groups
    else:
        pyarrow.feather.write_feather(tab, f, chunksize=64)
    c = tmp_path / "rows.csv"
    c.write_text(text)
    got, want = report(f), report(c)
    # binary columns carry every bit: no precision is inferred for them at all (the CSV's 17-digit numbers
    # are machine-written, so they are compared exactly too, and counted as such)
    for part in (got["total"], *got["files"], want["total"], *want["files"]):  # type: ignore[misc]
        assert part.pop("precision")["within_precision_rows"] == 0
    assert got == want
    assert got["total"]["mistakes"] == {"no_jacobian": len(range(0, 300, 13))}  # type: ignore[index]


def test_a_bad_value_is_named_by_row_number(tmp_path: Path) -> None:
    f = tmp_path / "rows.parquet"
    pyarrow.parquet.write_table(pa.table({"z0": [1.0, None, 2.0], "z1": [0.0, 1.0, np.inf], "label": [0, 1, 1]}), f)
    out = json.loads(run("batch", str(f), "--format", "json").stdout)
    assert [b["line"] for b in out["files"][0]["bad_rows"]] == [2, 3]


def test_a_column_of_text_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "rows.parquet"
    pyarrow.parquet.write_table(pa.table({"z0": ["a"], "z1": [1.0], "label": [0]}), f)
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert f"{f}: column 'z0' holds string, not numbers" in r.stderr


def test_without_pyarrow_the_error_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "rows.parquet"
    pyarrow.parquet.write_table(table()[0], f)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert r.stderr.strip() == f"softgrad: error: {f}: reading .parquet needs pip install 'softgrad[fast]'"


def test_a_file_that_is_not_parquet_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "rows.parquet"
    f.write_bytes(b"z0,z1\n")
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert "is not a readable parquet file" in r.stderr
