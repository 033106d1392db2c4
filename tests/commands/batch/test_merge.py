"""Mergeable batch reports: parts of a data set checked apart merge into exactly the report of all rows, in
any grouping; and the Dask recipe (samples/batch/dask_recipe.py) on a two-worker local cluster."""

from __future__ import annotations

import importlib.util
import sys
from functools import reduce
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import softgrad
from softgrad import core
from softgrad.catalogue.mistakes import MISTAKES
from softgrad.errors import InputError
from tests.conftest import SAMPLES

B = 8  # rows per batch


def data(seed: int, batches: int, k: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rounded logits, one-hot targets and gradients with a few row-level mistakes and ties in errors."""
    rng = np.random.default_rng(seed)
    n = batches * B
    z = np.round(rng.normal(0, 2, (n, k)), 2)
    t = np.eye(k)[rng.integers(0, k, n)]
    g = core.fused_gradient(z, t)
    g[::5] = MISTAKES["no_jacobian"].gradient(z[::5], t[::5])
    g[1::7] = -g[1::7]
    g[2::11] = g[2::11] * 2
    return z, t, g


@settings(max_examples=20)
@given(
    st.integers(0, 1000),
    st.lists(st.integers(1, 3), min_size=1, max_size=5),
    st.integers(0, 5),
    st.booleans(),
)
def test_merged_parts_are_the_report_of_all_rows(seed: int, sizes: list[int], show: int, left: bool) -> None:
    z, t, g = data(seed, sum(sizes))
    whole = softgrad.check_batch(z, t, g, batch_size=B, show=show, source="all")
    parts = []
    start = 0
    for size in sizes:
        sl = slice(start * B, (start + size) * B)
        parts.append(softgrad.check_batch(z[sl], t[sl], g[sl], batch_size=B, show=show, source="all",
                                          first_row=start * B + 1))  # fmt: skip
        start += size
    if left:
        merged = reduce(softgrad.BatchReport.merge, parts)
    else:  # the other grouping: a ∘ (b ∘ (c ∘ …))
        merged = reduce(lambda acc, p: p.merge(acc), reversed(parts[:-1]), parts[-1])
    assert merged.to_dict() == whole.to_dict()
    assert merged == whole


def test_reports_of_different_options_or_k_do_not_merge() -> None:
    z, t, g = data(1, 2)
    a = softgrad.check_batch(z, t, g)
    with pytest.raises(InputError, match="different options"):
        a.merge(softgrad.check_batch(z, t, g, rtol=1e-3))
    with pytest.raises(InputError, match="K = 3 into one of K = 4"):
        a.merge(softgrad.check_batch(z[:, :3], t[:, :3], g[:, :3]))


def test_check_frame_reads_columns_by_name_as_csv_headers_are() -> None:
    z, t, g = data(2, 2)
    frame = {f"z{i}": z[:, i] for i in range(4)} | {"label": t.argmax(axis=1)} | {f"g{i}": g[:, i] for i in range(4)}
    assert softgrad.check_frame(frame) == softgrad.check_batch(z, t, g, source="<frame>")
    with pytest.raises(InputError, match="no logit columns"):
        softgrad.check_frame({"a": [1.0]})


def test_the_dask_recipe_on_a_two_worker_local_cluster(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed", reason="the dask extra (softgrad[dask]) is not installed")
    pd = pytest.importorskip("pandas")
    from dask.distributed import Client, LocalCluster

    z, t, g = data(3, 12)
    names = [f"z{i}" for i in range(4)] + [f"t{i}" for i in range(4)] + [f"g{i}" for i in range(4)]
    rows = np.hstack([z, t, g])
    for shard in range(4):  # shards of whole batches, as a training run logs them
        pd.DataFrame(rows[shard * 24 : (shard + 1) * 24], columns=names).to_parquet(tmp_path / f"part{shard}.parquet")
    spec = importlib.util.spec_from_file_location("dask_recipe", SAMPLES / "batch" / "dask_recipe.py")
    assert spec is not None
    assert spec.loader is not None
    recipe = importlib.util.module_from_spec(spec)
    sys.modules["dask_recipe"] = recipe
    spec.loader.exec_module(recipe)
    pattern = str(tmp_path / "*.parquet")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        report = recipe.check_parquet(pattern, batch_size=B)
    assert report == softgrad.check_batch(z, t, g, batch_size=B, source=pattern)
    assert report.total.rows == 96
    assert report.total.batches_checked == 12
    assert report.total.mistakes["no_jacobian"] > 0
