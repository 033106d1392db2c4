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


def _batch_mean(tmp_path: Path, batch: int, decimals: int | None = None) -> Path:
    """Gradients of a loss averaged over batches of ``batch`` rows, logged per row (optionally rounded)."""
    rng = np.random.default_rng(11)
    z = np.round(rng.normal(0, 2, (N, K)), 3)
    t = np.eye(K)[rng.integers(0, K, N)]
    g = core.fused_gradient(z, t) / batch
    if decimals is not None:
        g = np.round(g, decimals)
    f = tmp_path / "batch_mean.csv"
    head = ",".join([f"z{i}" for i in range(K)] + [f"t{i}" for i in range(K)] + [f"g{i}" for i in range(K)])
    fmt = repr if decimals is None else (lambda x: f"{x:.{decimals}f}")
    f.write_text(head + "\n" + "\n".join(",".join(fmt(float(x)) for x in r) for r in np.hstack([z, t, g])) + "\n")
    return f


def test_streamed_rows_that_share_a_factor_are_named_by_it(tmp_path: Path) -> None:
    f = _batch_mean(tmp_path, 40)  # 600 rows: 15 whole batches
    for chunk in (4096, 1 << 20):  # streamed in blocks, and one block checked as one batch of N rows
        report = run_batch([str(f)], ReadOptions(chunk_bytes=chunk), BatchOptions(), RunOptions(jobs=1)).report
        assert report.total.mistakes == {"unknown": N}
        assert report.total.scaled_rows == {"0.025": N}
        note = report.total.scale_note
        assert note is not None
        assert "× 1/40" in note
        assert "--reduction mean --batch-size 40" in note
    r = run("batch", str(f), "--reduction", "mean", "--batch-size", "40")  # what the hint says to run
    assert r.exit_code == 0, r.stdout
    text = run("batch", str(f)).stdout
    assert "hint: every failing row that no catalogue entry explains (600) is the expected gradient × 1/40" in text
    level = json.loads(run("batch", str(f), "--format", "json").stdout)["total"]["batch_level"]
    assert level["scaled_rows"] == {"0.025": N}
    assert "1/40" in level["scale_note"]


def test_a_factor_is_found_in_numbers_rounded_by_hand(tmp_path: Path) -> None:
    f = _batch_mean(tmp_path, 8, decimals=4)
    report = run_batch([str(f)], ReadOptions(chunk_bytes=4096), BatchOptions(written=True), RunOptions()).report
    assert report.total.counts["fail"] > 0
    note = report.total.scale_note
    assert note is not None
    assert note.startswith("every failing row that no catalogue entry explains")  # rounding does not scatter it
    assert "× 1/8 — as if averaged over 8 rows" in note


def test_right_gradients_and_other_mistakes_have_no_factor(tmp_path: Path) -> None:
    f = _batch_mean(tmp_path, 1)  # the right per-row gradients
    report = run_batch([str(f)], ReadOptions(chunk_bytes=4096), BatchOptions(), RunOptions(jobs=1)).report
    assert report.total.counts["fail"] == 0
    assert (report.total.scaled_rows, report.total.scale_note) == ({}, None)
    assert report.to_dict()["total"]["batch_level"]["scale_note"] is None  # type: ignore[index]


def test_factors_merge_like_every_other_count(tmp_path: Path) -> None:
    from softgrad.commands.batch.report import merge_scaled

    assert merge_scaled({"0.5": 2}, {"0.5": 3, "0.25": 1}) == {"0.5": 5, "0.25": 1}
    many = {str(2.0**-i): 1 for i in range(1, 30)}
    merged = merge_scaled(many, {"other": 4})
    assert len(merged) == 17
    assert merged["other"] == 4 + 29 - 16


def test_no_reduction_is_suggested_where_it_cannot_explain_the_rows(tmp_path: Path) -> None:
    (tmp_path / "right").mkdir()
    right = _batch_mean(tmp_path / "right", 1)
    f = _batch_mean(tmp_path, 40)
    rows = f.read_text().splitlines()
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("\n".join(rows[:301] + right.read_text().splitlines()[301:]) + "\n")  # 300 ÷40, 300 right
    report = run_batch([str(mixed)], ReadOptions(), BatchOptions(), RunOptions(jobs=1)).report
    note = report.total.scale_note
    assert note is not None
    assert "× 1/40; 300 rows pass as they are" in note
    assert "--reduction" not in note
    # with a reduction in force, the factor is against its expected gradient and suggests no batch size
    report = run_batch([str(f)], ReadOptions(), BatchOptions(reduction="sum"), RunOptions(batch_size=120)).report
    note = report.total.scale_note
    assert note is not None
    assert "of the --reduction in force × 1/40" in note
    assert "--batch-size" not in note


def test_a_whole_multiple_says_so_without_a_reduction(tmp_path: Path) -> None:
    f = _batch_mean(tmp_path, 1)
    z_t_g = [r.split(",") for r in f.read_text().splitlines()[1:]]
    head = f.read_text().splitlines()[0]
    lines = [",".join(r[: 2 * K] + [repr(float(x) * 600) for x in r[2 * K :]]) for r in z_t_g]
    f.write_text(head + "\n" + "\n".join(lines) + "\n")
    note = run_batch([str(f)], ReadOptions(), BatchOptions(), RunOptions()).report.total.scale_note
    assert note is not None
    assert "× 600 — 600 times too large" in note
