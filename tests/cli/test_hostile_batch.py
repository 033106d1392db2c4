"""`softgrad batch` against a hostile world: runs that check nothing, option values, bad rows in CI logs, and
more files than the process may hold open."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest

from tests.conftest import run
from tests.inputs.special import one_line, rows_csv, softgrad


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("blank.csv", "z0,z1,t0,t1\n\n  \n\n", "has only a header, no rows"),
        ("blank-many.csv", "z0,z1,t0,t1\n" + "\n" * (3 << 20), "has no rows to check (only a header and blank lines)"),
        ("blank.jsonl", "\n \n\n", "is empty: no JSON objects"),
    ],
)
def test_a_run_that_checked_nothing_is_not_a_pass(tmp_path: Path, name: str, content: str, message: str) -> None:
    f = tmp_path / name
    f.write_text(content)
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert one_line(r.stderr) == f"softgrad: error: {f}: {message}"


def test_skip_bad_with_every_row_bad_is_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text("z0,z1,t0,t1\n1,x,0,1\n1,2,-1,1\n")
    for fmt in ("json", "table", "junit", "csv"):
        r = run("batch", str(f), "--skip-bad", "--format", fmt)
        assert r.exit_code == 2, fmt
        assert r.stderr.splitlines()[0] == "softgrad: error: no row could be checked: all 2 bad rows:"
    assert json.loads(run("batch", str(f), "--skip-bad", "--format", "json").stdout)["status"] == "bad"
    g = tmp_path / "some.csv"
    g.write_text("z0,z1,t0,t1\n1,x,0,1\n1.75,1.75,0,1\n")
    r = run("batch", str(g), "--skip-bad")
    assert r.exit_code == 0
    assert r.stderr.splitlines()[0] == "softgrad: warning: 1 bad row, skipped (--skip-bad):"


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "junit"])
def test_bad_rows_are_summarised_on_stderr_whatever_the_format(tmp_path: Path, fmt: str) -> None:
    f = tmp_path / "rows.csv"
    f.write_text("z0,z1,t0,t1\n" + "1.75,1.75,0,1\n" + "".join(f"1,{i}x,0,1\n" for i in range(8)))
    r = run("batch", str(f), "--format", fmt, "--output", str(tmp_path / "report"))
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        "softgrad: error: 8 bad rows (exit code 2; --skip-bad takes the exit code from the good rows):",
        *(f"  {f}:{line}: column 'z1': '{line - 3}x' is not a number" for line in range(3, 8)),
        "  … and 3 more (-v lists them all)",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--seed", "-1"), "--seed: must be a whole number >= 0, got -1"),
        (("--jobs", "0"), "--jobs: must be a whole number >= 1, got 0"),
        (("--batch-size", "0"), "--batch-size: must be a whole number from 1 to 1000000000, got 0"),
        (("--batch-size", "10" * 20), "--batch-size: must be a whole number from 1 to 1000000000, got 1010101010"),
        (("--show", "-1"), "--show: must be a whole number >= 0, got -1"),
        (("--no-header", "--k", "99999999999999999999"), "--k: must be a whole number from 2 to 10000000"),
        (("--delimiter", '"'), "--delimiter: '\"' cannot separate fields (it is part of numbers, quotes or line ends)"),
        (("--delimiter", "ab"), "--delimiter: expected one character (or 'tab'), got 'ab'"),
        (("--temperature", "0"), "--temperature: must be a finite number > 0, got 0.0"),
    ],
)
def test_every_option_value_is_checked_before_any_row(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    rows = rows_csv(tmp_path / "rows.csv", 2)
    r = run("batch", str(rows), *args)
    assert r.exit_code == 2
    assert one_line(r.stderr).startswith(f"softgrad: error: {message}")


def test_check_validates_the_seed_up_front_too() -> None:
    r = run("check", "--z", "1", "2", "--t", "0", "1", "--seed", "-1")
    assert r.exit_code == 2
    assert one_line(r.stderr) == "softgrad: error: --seed: must be a whole number >= 0, got -1"


def test_more_jobs_than_cpus_are_capped_with_a_note(tmp_path: Path) -> None:
    import os

    rows = rows_csv(tmp_path / "rows.csv", 2)
    r = run("batch", str(rows), "--jobs", "1000")
    assert r.exit_code == 0
    cpus = len(os.sched_getaffinity(0))
    assert r.stderr == f"softgrad: note: --jobs 1000 is more than the {cpus} CPUs here; using {cpus}\n"


def test_more_files_than_the_open_file_limit(tmp_path: Path) -> None:
    paths = [str(rows_csv(tmp_path / f"f{i:03d}.csv", 1)) for i in range(120)]

    def few_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    for fmt in ("csv", "json"):
        r = softgrad("batch", *paths, "--format", fmt, "--quiet", preexec_fn=few_descriptors)
        assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total"]["counts"]["pass"] == 120
