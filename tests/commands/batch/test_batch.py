"""`softgrad batch` and `softgrad.check_batch`: samples, formats, bad rows, chunking, memory, batch mistakes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from softgrad import MISTAKES, check_batch, core
from softgrad.commands.batch.rows import BatchOptions, evaluate_rows
from softgrad.inputs.csv import open_csv, parse_chunk
from softgrad.inputs.rows import ReadOptions
from tests.conftest import SAMPLES, run

BATCH = SAMPLES / "batch"

#: sample -> (extra arguments, exit code, counts, mistakes)
EXPECTED: dict[str, tuple[tuple[str, ...], int, dict[str, int], dict[str, int]]] = {
    "mixed.csv": (
        (),
        1,
        {"pass": 15, "fail": 5, "unstable": 0, "bad": 0},
        {"jacobian_at_logits": 1, "no_jacobian": 1, "sign_flipped": 1, "diagonal_only": 1, "double_softmax": 1},
    ),
    "soft_labels.csv": ((), 1, {"pass": 7, "fail": 1, "unstable": 0, "bad": 0}, {"assumes_one_hot": 1}),
    "labels.csv": ((), 0, {"pass": 10, "fail": 0, "unstable": 0, "bad": 0}, {}),
    "bad_rows.csv": ((), 2, {"pass": 2, "fail": 0, "unstable": 0, "bad": 4}, {}),
    "arrays.npz": ((), 1, {"pass": 5, "fail": 1, "unstable": 0, "bad": 0}, {"jacobian_at_logits": 1}),
    "cases.jsonl": ((), 1, {"pass": 2, "fail": 1, "unstable": 0, "bad": 0}, {"jacobian_at_logits": 1}),
    "mean_reduced.csv": ((), 1, {"pass": 0, "fail": 6, "unstable": 0, "bad": 0}, {"batch_sum_not_mean": 6}),
}


def test_every_batch_sample_is_covered() -> None:
    on_disk = {p.name for p in BATCH.iterdir() if p.is_file() and p.suffix != ".py"}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_batch_sample(name: str) -> None:
    extra, code, counts, mistakes = EXPECTED[name]
    r = run("batch", str(BATCH / name), *extra, "--format", "json")
    assert r.exit_code == code, r.stderr
    d = json.loads(r.stdout)
    assert d["total"]["counts"] == counts
    assert d["total"]["mistakes"] == mistakes


def test_per_row_diagnoses_and_line_numbers_in_csv() -> None:
    r = run("batch", str(BATCH / "mixed.csv"), "--format", "csv")
    rows = [line.split(",") for line in r.stdout.splitlines()]
    assert rows[0] == ["file", "line", "id", "status", "max_abs_err", "max_rel_err", "diagnosis"]
    by_id = {row[2]: row for row in rows[1:]}
    assert len(by_id) == 20
    assert by_id["row1"][1] == "3"
    assert by_id["row1"][3] == "fail"
    assert by_id["row1"][6] == "jacobian_at_logits"
    assert by_id["row3"][6] == "no_jacobian"
    assert by_id["row0"][3] == "pass"
    assert by_id["row0"][6] == ""


def test_bad_row_messages() -> None:
    r = run("batch", str(BATCH / "bad_rows.csv"))
    assert r.exit_code == 2
    f = BATCH / "bad_rows.csv"
    for message in (
        f"{f}:3: column 'z1': 'abc' is not a number",
        f"{f}:4: column 't1': -1 is negative (targets must be >= 0)",
        f"{f}:5: expected 6 fields, got 5",
        f"{f}:6: column 'z2': 'nan' is not a finite number",
    ):
        assert message in r.stdout


def test_skip_bad_takes_the_exit_code_from_the_good_rows() -> None:
    r = run("batch", str(BATCH / "bad_rows.csv"), "--skip-bad", "--format", "json")
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    assert d["status"] == "pass"
    assert d["total"]["counts"]["bad"] == 4
    assert len(d["total"]["bad_rows"]) == 4


def test_junit_parses_and_counts() -> None:
    r = run("batch", str(BATCH / "mixed.csv"), str(BATCH / "bad_rows.csv"), "--format", "junit")
    assert r.exit_code == 2
    root = ET.fromstring(r.stdout)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(BATCH / "mixed.csv"), str(BATCH / "bad_rows.csv")]
    mixed = suites[0]
    assert len(mixed.findall("testcase")) == 6  # summary + 5 failing rows
    assert mixed.find("testcase/failure") is not None
    assert len(suites[1].findall("testcase/error")) == 4


def test_stdin_and_tsv(tmp_path: Path) -> None:
    text = (BATCH / "labels.csv").read_text()
    r = run("batch", "-", "--format", "json", input=text)
    assert r.exit_code == 0
    assert json.loads(r.stdout)["total"]["rows"] == 10
    tsv = tmp_path / "labels.tsv"
    tsv.write_text(text.replace(",", "\t"))
    r = run("batch", str(tsv), "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["total"]["counts"]["pass"] == 10


def test_no_header_positional(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text("1.75,1.75,1\n2,0.5,0\n")
    r = run("batch", str(f), "--no-header", "--k", "2", "--label-column", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total"]["counts"]["pass"] == 2
    g = tmp_path / "rows_g.csv"
    g.write_text("1.75,1.75,0,1,6.125,2.625\n")
    r = run("batch", str(g), "--no-header", "--k", "2", "--format", "json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["total"]["mistakes"] == {"jacobian_at_logits": 1}


def test_column_spellings_and_prefixes(tmp_path: Path) -> None:
    f = tmp_path / "spell.csv"
    f.write_text("step,z_1,z_2,label,grad_1,grad_2\n7,1.75,1.75,1,0.5,-0.5\n")
    r = run("batch", str(f), "--format", "json")
    assert r.exit_code == 0, r.stderr
    h = tmp_path / "prefix.csv"
    h.write_text("out0,out1,y0,y1\n1.75,1.75,0,1\n")
    r = run("batch", str(h), "--z-prefix", "out", "--t-prefix", "y", "--format", "json")
    assert r.exit_code == 0, r.stderr


def test_carried_columns_in_worst_rows() -> None:
    r = run("batch", str(BATCH / "mixed.csv"), "--format", "json", "--show", "2")
    worst = json.loads(r.stdout)["total"]["worst_rows"]
    assert len(worst) == 2
    assert worst[0]["carried"] == {"id": "row1"}
    assert worst[0]["line"] == 3


def test_chunked_and_unchunked_reports_are_identical(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n, k = 3000, 5
    z = np.round(rng.normal(0, 2, (n, k)), 4)
    t = np.eye(k)[rng.integers(0, k, n)]
    g = core.fused_gradient(z, t)
    g[::97] = MISTAKES["no_jacobian"].gradient(z[::97], t[::97])
    f = tmp_path / "rows.csv"
    header = ",".join([f"z{i}" for i in range(k)] + [f"t{i}" for i in range(k)] + [f"g{i}" for i in range(k)])
    f.write_text(
        header + "\n" + "\n".join(",".join(repr(float(x)) for x in row) for row in np.hstack([z, t, g])) + "\n"
    )
    from softgrad.commands.batch.run import RunOptions, run_batch

    def report(chunk_bytes: int, jobs: int) -> dict[str, object]:
        read = ReadOptions(chunk_bytes=chunk_bytes)
        result = run_batch([str(f)], read, BatchOptions(), RunOptions(show=5, jobs=jobs))
        return result.report.to_dict()

    whole = report(1 << 30, 1)
    small = report(4096, 1)
    parallel = report(4096, 2)
    levels = []
    for r in (whole, small, parallel):
        for part in (r["total"], *r["files"]):  # type: ignore[misc]
            levels.append(part.pop("batch_level"))
    assert whole == small == parallel
    # one chunk is one whole batch; streamed blocks are not, and the report says so
    assert [(lv["batches_checked"], lv["rows_not_looked_for"]) for lv in levels] == [(1, 0)] * 2 + [(0, n)] * 4
    assert "not looked for in 3000 rows" in levels[2]["note"]
    total = whole["total"]
    assert isinstance(total, dict)
    assert total["mistakes"] == {"no_jacobian": len(range(0, n, 97))}
    assert total["counts"]["fail"] == len(range(0, n, 97))


def test_chunks_stay_bounded(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text("z0,z1,t0,t1\n" + "1.5,0.25,0,1\n" * 5000)
    reader = open_csv(str(f), ReadOptions(chunk_bytes=2048), want_carried=False)
    sizes = []
    for data, first in reader.chunks:
        assert len(data) <= 2048 + 64
        block = parse_chunk(data, first, reader.spec)
        sizes.append(len(block.lines))
    assert sum(sizes) == 5000
    assert max(sizes) <= 2048 // 13 + 1


def test_batch_level_mistakes_with_reduction() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(40, 5))
    t = np.eye(5)[rng.integers(0, 5, 40)]
    t[:4] = 0.0  # ignored rows
    ref = core.fused_gradient(z, t)
    n_valid = 36
    assert check_batch(z, t, ref / n_valid, reduction="mean").status == "pass"
    cases = {
        "batch_sum_not_mean": ref,
        "batch_mean_twice": ref / n_valid**2,
        "ignored_rows_in_mean": ref / 40,
        "softmax_over_batch_axis": (np.exp(z) / np.exp(z).sum(0) * t.sum(1, keepdims=True) - t) / n_valid,
    }
    for mid, g in cases.items():
        rep = check_batch(z, t, g, reduction="mean")
        assert rep.status == "fail"
        assert set(rep.total.mistakes) == {mid}, (mid, rep.total.mistakes)


def test_batch_size_forms_batches() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(12, 4))
    t = np.eye(4)[rng.integers(0, 4, 12)]
    g = np.concatenate([core.fused_gradient(z[i : i + 4], t[i : i + 4]) / 4 for i in range(0, 12, 4)])
    assert check_batch(z, t, g, reduction="mean", batch_size=4).status == "pass"
    assert check_batch(z, t, g, reduction="mean").status == "fail"


def test_large_k_uses_directional_fd() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(size=(3, 300))
    t = np.eye(300)[[1, 2, 3]]
    rep = check_batch(z, t)
    assert rep.status == "pass"
    assert rep.files[0].finite_difference == "central/directional"
    rep = check_batch(z, t, fd="full")
    assert rep.files[0].finite_difference == "central/full"


def test_check_batch_matches_check_per_row() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0, 3, (30, 4))
    t = rng.uniform(0, 1, (30, 4))
    g = core.fused_gradient(z, t)
    g[5] = MISTAKES["sign_flipped"].gradient(z[5:6], t[5:6])[0]
    res = evaluate_rows(z, t, g, BatchOptions())
    from softgrad import check

    for i in range(30):
        assert (res.status[i] == 1) == (check(z[i], t[i], grad=g[i]).status == "fail")


def test_output_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text((BATCH / "labels.csv").read_text())
    before = f.read_bytes()
    r = run("batch", str(f), "--format", "csv", "--output", str(f))
    assert r.exit_code == 2
    assert "refusing to overwrite" in r.stderr
    assert f.read_bytes() == before


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    r = run("batch", str(BATCH / "mixed.csv"), "--format", "csv", "--output", str(out))
    assert r.exit_code == 1
    assert r.stdout == ""
    assert out.read_text().count("\n") == 21


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.csv", b"\xef\xbb\xbfz0,z1,t0,t1\n1.75,1.75,0,1\n"),
        ("crlf.csv", b"z0,z1,t0,t1\r\n1.75,1.75,0,1\r\n"),
        ("trailing.csv", b"z0,z1,t0,t1,\n1.75,1.75,0,1,\n"),
        ("quoted.csv", b'z0,z1,t0,t1\n"1.75","1.75",0,1\n'),
        ("blank-lines.csv", b"z0,z1,t0,t1\n\n1.75,1.75,0,1\n\n"),
        ("semicolon.csv", b"z0;z1;t0;t1\n1.75;1.75;0;1\n"),
    ],
)
def test_recoverable_csv_files_are_read(tmp_path: Path, name: str, content: bytes) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    r = run("batch", str(f), "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total"]["counts"] == {"pass": 1, "fail": 0, "unstable": 0, "bad": 0}
