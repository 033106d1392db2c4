"""CSV rows: headers of any width, columns that clash, quoted fields that span lines, long lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from softgrad.commands.batch.rows import BatchOptions
from softgrad.commands.batch.run import RunOptions, run_batch
from softgrad.inputs.csv import LineTooLong, open_csv, raw_chunks
from softgrad.inputs.rows import ReadOptions
from tests.conftest import run, run_json
from tests.inputs.special import one_line

#: every test here runs with the numpy-only CSV path and with the fast parser
pytestmark = pytest.mark.usefixtures("both_readers")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("z0,z1,z01,t0,t1", "columns 'z1' and 'z01' both name logit 1: keep one"),
        ("z0,z1,Z1,t0,t1", "columns 'z1' and 'Z1' both name logit 1: keep one"),
        ("z0,z1,t0,t1,T1", "columns 't1' and 'T1' both name target 1: keep one"),
        ("z0,z1,t0,t1,g0,g1,g01", "columns 'g1' and 'g01' both name gradient 1: keep one"),
        ("z0,z1,logit_0,logit_1,t0,t1", "both 'z0'… and 'logit_0'… columns are logit columns: keep one set"),
        ("z0,z1,t0,t1,target_0,target_1", "both 't0'… and 'target_0'… columns are target columns: keep one set"),
        ("z0,z1,label,class", "two class-index columns 'label' and 'class': keep one"),
        ("z0,z1, z1 ,t0,t1", "duplicate column name 'z1'"),
    ],
)
def test_duplicate_or_clashing_columns_are_an_error(tmp_path: Path, header: str, message: str) -> None:
    f = tmp_path / "rows.csv"
    f.write_text(header + "\n" + ",".join(["1"] * len(header.split(","))) + "\n")
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert one_line(r.stderr) == f"softgrad: error: {f}:1: {message}" or message in r.stderr


def test_a_prefix_that_makes_one_column_two_things_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text("z0,z1,t0,t1\n1,2,0,1\n")
    r = run("batch", str(f), "--t-prefix", "z")
    assert one_line(r.stderr) == f"softgrad: error: {f}:1: column 'z0' cannot be both a logit and a target column"


def test_a_header_of_any_width(tmp_path: Path) -> None:
    k = 100_000
    f = tmp_path / "wide.csv"
    names = [f"z{i}" for i in range(k)] + [f"t{i}" for i in range(k)]
    f.write_text(",".join(names) + "\n" + ",".join(["0.5"] * k + ["1"] + ["0"] * (k - 1)) + "\n")
    assert f.stat().st_size > 1 << 20  # the header alone is past the old limit of 1 MB
    reader = open_csv(str(f), ReadOptions(), want_carried=False)
    try:
        assert reader.spec.layout.k == k
        (data, first), *rest = list(reader.chunks)
    finally:
        reader.close()
    assert (first, rest, data.count(b"\n")) == (2, [], 1)


def test_a_quoted_field_spanning_lines_is_a_located_bad_row(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text('id,z0,z1,t0,t1\n"a\n1.75,1.75,0,1\nb",1.75,1.75,0,1\nok,1.75,1.75,0,1\n')
    d = json.loads(run("batch", str(f), "--format", "json").stdout)
    assert d["total"]["counts"] == {"pass": 1, "fail": 0, "unstable": 0, "bad": 1}  # line 3 is no row of its own
    assert d["total"]["bad_rows"] == [
        {"file": str(f), "line": 2, "message": "a quoted field spans lines 2–4; a row must be one line"}
    ]
    f.write_text('id,z0,z1,t0,t1\nok,1.75,1.75,0,1\n"never closed,1,2,0,1\n1.75,1.75,0,1\n')
    d = json.loads(run("batch", str(f), "--format", "json").stdout)
    assert d["total"]["counts"]["bad"] == 1
    assert d["total"]["bad_rows"][0]["message"] == "a quoted field opened on this line is never closed"


def test_a_literal_quote_inside_a_field_is_data(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text('id,z0,z1,t0,t1\n5" screen,1.75,1.75,0,1\n"quoted, id",1.75,1.75,0,1\n')
    d = json.loads(run("batch", str(f), "--format", "json").stdout)
    assert d["total"]["counts"] == {"pass": 2, "fail": 0, "unstable": 0, "bad": 0}
    assert {w["carried"]["id"] for w in d["total"]["worst_rows"]} == {'5" screen', "quoted, id"}


def test_a_quoted_field_across_a_chunk_boundary_stays_one_bad_row(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    good = "ok,1.75,1.75,0,1\n"
    f.write_text("id,z0,z1,t0,t1\n" + good * 300 + '"a\n' + "1.75,1.75,0,1\n" * 200 + 'b",1,2,0,1\n' + good * 300)
    lines = {"quote": 302, "close": 503}
    for chunk in (1 << 20, 256, 4096):
        result = run_batch([str(f)], ReadOptions(chunk_bytes=chunk), BatchOptions(), RunOptions(show=0))
        total = result.report.total
        assert total.counts == {"pass": 600, "fail": 0, "unstable": 0, "bad": 1}, chunk
        assert [(b.line, b.message) for b in total.bad_rows] == [
            (lines["quote"], f"a quoted field spans lines {lines['quote']}–{lines['close']}; a row must be one line")
        ]


def test_a_stream_without_line_ends_never_fills_memory() -> None:
    stream = io.BytesIO(b"1" * 10_000)
    with pytest.raises(LineTooLong, match="the line is longer than 1000 bytes"):
        list(raw_chunks(stream, 100, limit=1000))
    assert b"".join(raw_chunks(io.BytesIO(b"a\nbb\n" * 3), 4, limit=1000)) == b"a\nbb\n" * 3


@pytest.mark.parametrize("prefix", ["dz", "dz_", "gradient", "grads", "dlogits_"])
def test_common_gradient_column_names_are_read_as_the_gradient(tmp_path: Path, prefix: str) -> None:
    f = tmp_path / "rows.csv"
    f.write_text(f"z0,z1,t0,t1,{prefix}0,{prefix}1\n1,2,0,1,99,99\n")
    code, d = run_json("batch", str(f))
    assert code == 1
    assert d["total"]["counts"]["fail"] == 1


@pytest.mark.parametrize("prefix", ["dE_dz", "d_z", "gradz"])
def test_an_unknown_gradient_looking_column_group_is_an_error_not_a_pass(tmp_path: Path, prefix: str) -> None:
    f = tmp_path / "rows.csv"
    f.write_text(f"z0,z1,t0,t1,{prefix}0,{prefix}1\n1,2,0,1,99,99\n")
    r = run("batch", str(f))
    assert r.exit_code == 2
    assert f"--grad-prefix {prefix}" in r.stderr
    r = run("batch", str(f), "--grad-prefix", prefix)
    assert r.exit_code == 1


def test_other_numbered_columns_are_carried(tmp_path: Path) -> None:
    f = tmp_path / "rows.csv"
    f.write_text("z0,z1,t0,t1,feat0,feat1\n1,2,0,1,99,99\n")
    assert run("batch", str(f)).exit_code == 0
