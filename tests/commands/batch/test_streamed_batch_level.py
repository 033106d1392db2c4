"""Batch-level mistakes on inputs streamed in blocks: looked for in every --batch-size batch; where they were
not looked for, the report, the JSON and the text say so (never a silent "unknown")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from softgrad import core
from softgrad.commands.batch.rows import BatchOptions
from softgrad.commands.batch.run import RunOptions, run_batch
from softgrad.inputs.rows import ReadOptions
from tests.conftest import run

N, K = 600, 3


def mean_reduced(tmp_path: Path) -> Path:
    """A PyTorch-style batch gradient of a mean-reduced loss, logged as if it were per-row."""
    rng = np.random.default_rng(7)
    z = np.round(rng.normal(0, 2, (N, K)), 3)
    t = np.eye(K)[rng.integers(0, K, N)]
    g = core.fused_gradient(z, t) / N
    f = tmp_path / "mean.csv"
    head = ",".join([f"z{i}" for i in range(K)] + [f"t{i}" for i in range(K)] + [f"g{i}" for i in range(K)])
    f.write_text(head + "\n" + "\n".join(",".join(repr(float(x)) for x in r) for r in np.hstack([z, t, g])) + "\n")
    return f


def test_streamed_rows_say_batch_level_mistakes_were_not_looked_for(tmp_path: Path) -> None:
    f = mean_reduced(tmp_path)
    report = run_batch([str(f)], ReadOptions(chunk_bytes=4096), BatchOptions(), RunOptions(jobs=1)).report
    assert report.total.mistakes == {"unknown": N}
    assert report.total.rows_not_batch_checked == N
    assert report.total.batches_checked == 0
    level = report.to_dict()["total"]["batch_level"]  # type: ignore[index]
    assert level["rows_not_looked_for"] == N
    assert "batch_sum_not_mean" in level["note"]


def test_with_the_batch_size_they_are_looked_for_in_each_batch(tmp_path: Path) -> None:
    f = mean_reduced(tmp_path)
    report = run_batch([str(f)], ReadOptions(chunk_bytes=4096), BatchOptions(), RunOptions(jobs=1, batch_size=N)).report
    assert report.total.mistakes == {"batch_sum_not_mean": N}
    assert (report.total.batches_checked, report.total.rows_not_batch_checked) == (1, 0)


def test_the_text_report_has_the_note_and_a_small_file_needs_none(tmp_path: Path) -> None:
    f = mean_reduced(tmp_path)
    r = run("batch", str(f))  # one chunk: one whole batch
    assert r.exit_code == 1
    assert "batch_sum_not_mean" in r.stdout
    assert "not looked for" not in r.stdout
    data = json.loads(run("batch", str(f), "--format", "json").stdout)
    assert data["total"]["batch_level"]["batches_checked"] == 1
    assert data["total"]["batch_level"]["note"] is None
