"""Bad input for `softgrad batch`: unusable files and options give one stderr line and exit 2; bad rows are
reported in the output (stdout), counted, and give exit 2 too."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run

ROWS = "z0,z1,t0,t1\n1.75,1.75,0,1\n"

#: (id, arguments, expected part of the one-line message)
CASES: list[tuple[str, tuple[str, ...], str]] = [
    ("no such file", ("batch", "{d}/nope.csv"), "nope.csv: no such file"),
    ("directory", ("batch", "{d}"), "is a directory, not a file"),
    ("empty file", ("batch", "{d}/empty.csv"), "empty.csv: is empty"),
    ("only a header", ("batch", "{d}/header.csv"), "header.csv: has only a header, no rows"),
    ("truncated gzip", ("batch", "{d}/rows.csv.gz"), "rows.csv.gz: the gzip data is truncated"),
    ("non-UTF-8 header", ("batch", "{d}/latin1.csv"), "is not UTF-8 text"),
    ("duplicate column", ("batch", "{d}/dup.csv"), "dup.csv:1: duplicate column name 'z1'"),
    ("no z columns", ("batch", "{d}/noz.csv"), "noz.csv:1: no logit columns"),
    ("no t columns", ("batch", "{d}/not.csv"), "not.csv:1: no target columns"),
    ("t/z count", ("batch", "{d}/tcount.csv"), "3 target columns but 2 logit columns"),
    ("gap in columns", ("batch", "{d}/gap.csv"), "are not numbered 0..K-1 or 1..K without gaps"),
    ("label and t", ("batch", "{d}/both.csv"), "both target columns and a 'label' column"),
    ("K = 1", ("batch", "{d}/k1.csv"), "softmax needs at least 2 classes"),
    ("no-header without k", ("batch", "{d}/rows.csv", "--no-header"), "--k: --no-header needs --k K"),
    ("label-column with header", ("batch", "{d}/rows.csv", "--label-column"), "--label-column: only applies with"),
    ("no-header width", ("batch", "{d}/plain.csv", "--no-header", "--k", "3"), "expected 6 (z, t) or 9 (with g)"),
    ("bad delimiter", ("batch", "{d}/rows.csv", "--delimiter", "ab"), "--delimiter: expected one character"),
    ("unknown format", ("batch", "{d}/rows.csv", "--format", "xml"), "'xml' is not one of"),
    ("unknown reduction", ("batch", "{d}/rows.csv", "--reduction", "avg"), "'avg' is not one of"),
    ("batch size 0", ("batch", "{d}/rows.csv", "--batch-size", "0"), "--batch-size: must be a whole number from 1"),
    ("k 1", ("batch", "{d}/rows.csv", "--no-header", "--k", "1"), "--k: must be a whole number from 2"),
    ("stdin twice", ("batch", "-", "-"), "'-' (stdin) can be given only once"),
    ("no files", ("batch",), "Missing argument 'FILE...'"),
    ("npz without z", ("batch", "{d}/noz.npz"), "no array 'z'"),
    ("npz bad shape", ("batch", "{d}/shape.npz"), "array 't': expected shape (3, 2)"),
    ("not an npz", ("batch", "{d}/fake.npz"), "fake.npz: is not an .npz archive"),
    ("empty jsonl", ("batch", "{d}/empty.jsonl"), "empty.jsonl: is empty"),
    ("output over input", ("batch", "{d}/rows.csv", "--output", "{d}/rows.csv"), "refusing to overwrite"),
    (
        "negative temperature",
        ("batch", "{d}/rows.csv", "--temperature", "-1"),
        "--temperature: must be a finite number > 0",
    ),
]

#: every test here runs with the numpy-only CSV path and with the fast parser
pytestmark = pytest.mark.usefixtures("both_readers")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("badbatch")
    (d / "rows.csv").write_text(ROWS)
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("z0,z1,t0,t1\n")
    (d / "rows.csv.gz").write_bytes(gzip.compress(ROWS.encode() * 50)[:-12])
    (d / "latin1.csv").write_bytes("z0,z1,t0,t1,caf\xe9\n1,2,0,1,x\n".encode("latin-1"))
    (d / "dup.csv").write_text("z0,z1,z1,t0,t1\n1,2,3,0,1\n")
    (d / "noz.csv").write_text("a,b,t0,t1\n1,2,0,1\n")
    (d / "not.csv").write_text("z0,z1,b\n1,2,0\n")
    (d / "tcount.csv").write_text("z0,z1,t0,t1,t2\n1,2,0,1,0\n")
    (d / "gap.csv").write_text("z0,z2,t0,t1\n1,2,0,1\n")
    (d / "both.csv").write_text("z0,z1,t0,t1,label\n1,2,0,1,1\n")
    (d / "k1.csv").write_text("z0,t0\n1,1\n")
    (d / "plain.csv").write_text("1,2,3,4\n")
    np.savez(d / "noz.npz", t=np.eye(2))
    np.savez(d / "shape.npz", z=np.zeros((3, 2)), t=np.zeros((2, 2)))
    (d / "fake.npz").write_text("not a zip")
    (d / "empty.jsonl").write_text("")
    return d


def test_twenty_nine_bad_batch_invocations_and_sixteen_bad_rows() -> None:
    assert len(CASES) == 29
    assert len(BAD_ROWS) == 16
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "args", "message"), CASES, ids=[c[0] for c in CASES])
def test_batch_bad_input(folder: Path, name: str, args: tuple[str, ...], message: str) -> None:
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    r = run(*(a.replace("{d}", str(folder)) for a in args), input="")
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


#: (id, file content, expected bad-row message)
BAD_ROWS: list[tuple[str, bytes, str]] = [
    ("non-number", b"z0,z1,t0,t1\n1,abc,0,1\n", ":2: column 'z1': 'abc' is not a number"),
    ("empty field", b"z0,z1,t0,t1\n1,,0,1\n", ":2: column 'z1': empty field"),
    ("ragged short", b"z0,z1,t0,t1\n1,2,0\n", ":2: expected 4 fields, got 3"),
    ("ragged long", b"z0,z1,t0,t1\n1,2,0,1,5\n", ":2: expected 4 fields, got 5"),
    ("nan", b"z0,z1,t0,t1\n1,nan,0,1\n", ":2: column 'z1': 'nan' is not a finite number"),
    ("inf target", b"z0,z1,t0,t1\n1,2,inf,1\n", ":2: column 't0': 'inf' is not a finite number"),
    ("1e999", b"z0,z1,t0,t1\n1e999,2,0,1\n", ":2: column 'z0': '1e999' is not a finite number"),  # as written
    ("negative target", b"z0,z1,t0,t1\n1,2,-0.5,1\n", ":2: column 't0': -0.5 is negative"),
    ("label out of range", b"z0,z1,label\n1,2,2\n", ":2: column 'label': class index 2 is out of range for K = 2"),
    ("label not integer", b"z0,z1,label\n1,2,0.5\n", ":2: column 'label': 0.5 is not a class index"),
    ("hex float", b"z0,z1,t0,t1\n0x1p3,2,0,1\n", ":2: column 'z0': '0x1p3' is not a number"),
    ("non-UTF-8 row", b"z0,z1,t0,t1\n1,2,0,1\n1,\xff,0,1\n", ":3: not UTF-8 text"),
    ("bad json line", b'{"z": [1, 2], "t": [0, 1]}\n{"z": [1, 2]\n', ":2: invalid JSON"),
    ("json not object", b'{"z": [1, 2], "t": [0, 1]}\n[1, 2]\n', ":2: expected a JSON object"),
    ("json wrong K", b'{"z": [1, 2], "t": [0, 1]}\n{"z": [1, 2, 3], "t": [0, 1, 0]}\n', ":2: key 'z': has 3 values"),
    ("json wrong type", b'{"z": [1, 2], "t": [0, 1]}\n{"z": [1, "x"], "t": [0, 1]}\n', "'x' is not a number"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
def test_bad_rows_are_reported_not_dropped(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    f = tmp_path / ("rows.jsonl" if content.startswith(b"{") else "rows.csv")
    f.write_bytes(content)
    r = run("batch", str(f), "--format", "json")
    assert r.exit_code == 2, r.stderr
    d = json.loads(r.stdout)
    assert d["total"]["counts"]["bad"] == 1
    reported = [f"{b['file']}:{b['line']}: {b['message']}" for b in d["total"]["bad_rows"]]
    assert any(line.startswith(str(f)) and message in line for line in reported), reported
    r = run("batch", str(f), "--skip-bad", "--format", "json")
    d = json.loads(r.stdout)
    assert d["total"]["counts"]["bad"] == 1
    if d["total"]["rows"] > 1:
        assert r.exit_code in (0, 1)
    else:  # the only row is bad: nothing was checked, and that is not a pass
        assert r.exit_code == 2
        assert d["status"] == "bad"
        assert r.stderr.startswith("softgrad: error: no row could be checked: the 1 bad row:\n")
