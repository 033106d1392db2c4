"""Reading is bounded and strict: special files that never end or never start, huge files, hostile JSON,
gzip, and stdin of every kind — each ends with exit 2 and one line, or is read correctly; never a hang, a
MemoryError or a traceback."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from pathlib import Path

import pytest

from softgrad.inputs import files
from tests.conftest import SAMPLES, run
from tests.inputs.special import one_line, softgrad

T = ("--t", "0", "1")
BATCH = SAMPLES / "batch"


@pytest.fixture
def sparse(tmp_path: Path) -> Path:
    f = tmp_path / "sparse.txt"
    with f.open("wb") as fh:
        fh.truncate(2 << 30)  # 2 GB of nothing, taking no space
    return f


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "--z-file", "/dev/zero", *T), "/dev/zero: holds binary data, not text (a NUL byte at offset 0)"),
        (("check", "--case", "/dev/zero"), "/dev/zero: holds binary data, not text (a NUL byte at offset 0)"),
        (("check", "--z-file", "/dev/urandom", *T), "/dev/urandom:"),
        (("batch", "/dev/zero"), "/dev/zero: holds binary data, not CSV text (a NUL byte at offset 0)"),
        (("batch", "/dev/urandom"), "/dev/urandom:"),  # random bytes may hold a short first line: :1:
        (("batch", "/dev/zero", "--input-format", "jsonl"), "/dev/zero: holds binary data, not JSON Lines"),
        (("batch", "/dev/zero", "--input-format", "npz"), "/dev/zero: is not an .npz archive"),
        (("batch", "/dev/urandom", "--input-format", "npz"), "/dev/urandom: is not an .npz archive"),
    ],
)
def test_endless_devices_end_with_exit_2(args: tuple[str, ...], message: str) -> None:
    r = run(*args)
    assert r.exit_code == 2
    assert message in one_line(r.stderr)


def test_endless_stdin_ends_with_exit_2() -> None:
    with open("/dev/zero", "rb") as zero:
        for args in (("batch", "-"), ("check", "--case", "-"), ("batch", "-", "--input-format", "npz")):
            r = softgrad(*args, stdin=zero)
            assert r.returncode == 2, args
            assert "<stdin>: " in one_line(r.stderr)


def test_a_2_gb_sparse_file_is_refused_without_reading_it(sparse: Path) -> None:
    for args in (("check", "--z-file", str(sparse), *T), ("check", "--case", str(sparse))):
        r = run(*args)
        assert r.exit_code == 2
        assert one_line(r.stderr) == f"softgrad: error: {sparse}: is 2 GB; softgrad reads text inputs of at most 64 MB"
    r = run("batch", str(sparse))
    assert r.exit_code == 2
    assert one_line(r.stderr).endswith("holds binary data, not CSV text (a NUL byte at offset 0)")


def test_a_text_input_past_the_size_limit_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_TEXT_BYTES", 1000)
    z = tmp_path / "z.txt"
    z.write_text("1.5 " * 300)
    r = run("check", "--z-file", str(z), *T)
    assert one_line(r.stderr) == f"softgrad: error: {z}: is 1.2 KB; softgrad reads text inputs of at most 1000 bytes"
    r = run("check", "--z-file", "-", *T, input="1.5 " * 300)  # a pipe: no size known, the limit still holds
    assert (
        one_line(r.stderr)
        == "softgrad: error: <stdin>: is larger than 1000 bytes, the most softgrad reads from a text input"
    )
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"z": [1, 2], "t": [0, 1]}\n{"z": [' + "1, " * 600 + "2]}\n")
    r = run("batch", str(rows))
    assert one_line(r.stderr) == f"softgrad: error: {rows}:2: the line is longer than 1000 bytes"
    csv = tmp_path / "rows.csv"
    csv.write_text("z0,z1,t0,t1\n1,2,0,1\n" + "1" * (5 << 20))  # no line end for longer than a read chunk
    r = run("batch", str(csv))
    assert one_line(r.stderr) == f"softgrad: error: {csv}:3: the line is longer than 1000 bytes"
    csv.write_text("z0,z1,t0,t1," + ",".join(f"c{i}" for i in range(300_000)))  # 2 MB with no line end
    r = run("batch", str(csv))
    assert one_line(r.stderr) == f"softgrad: error: {csv}:1: the first line is longer than 1000 bytes"


def test_a_fifo_nobody_writes_to_is_given_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "FIFO_WAIT", 0.2)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (("check", "--z-file", str(fifo), *T), ("check", "--case", str(fifo)), ("batch", str(fifo))):
        start = time.monotonic()
        r = run(*args)
        assert time.monotonic() - start < 5
        assert r.exit_code == 2
        assert one_line(r.stderr) == (
            f"softgrad: error: {fifo}: is a named pipe (FIFO) and nothing was written to it within 0.2 s"
        )


def test_a_fifo_someone_writes_to_is_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def writer() -> None:
        time.sleep(0.3)  # after softgrad has opened it
        with fifo.open("w") as fh:
            fh.write("1.75 1.75\n")

    thread = threading.Thread(target=writer)
    thread.start()
    r = run("check", "--z-file", str(fifo), *T, "--format", "json")
    thread.join()
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["input"]["z"] == [1.75, 1.75]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
        ('{"z": [' + "9" * 5000 + ', 1], "t": [0, 1]}', "an integer of 5000 digits is too large for a float"),
        ('{"z": [1e999, 1], "t": [0, 1]}', "the number 1e999 overflows a float (the largest is about 1.8e308)"),
        ('{"z": [1, 2], "t": [0, 1], "z": [3, 4]}', "key 'z' is given twice"),
        ('{"z": [1, 2], "t": [0, 1]', "invalid JSON: Expecting ',' delimiter"),
    ],
    ids=["deep", "huge integer", "overflow", "duplicate key", "syntax"],
)
def test_hostile_json_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    case = tmp_path / "case.json"
    case.write_text(text)
    r = run("check", "--case", str(case))
    assert r.exit_code == 2
    assert message in one_line(r.stderr)
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"z": [1.75, 1.75], "t": [0, 1]}\n' + text.replace("\n", " ") + "\n")
    r = run("batch", str(rows), "--format", "json")
    assert r.exit_code == 2
    bad = json.loads(r.stdout)["total"]["bad_rows"]
    assert [b["line"] for b in bad] == [2]
    assert message in bad[0]["message"]


@pytest.mark.parametrize("name", ["mixed.csv", "cases.jsonl", "arrays.npz"])
def test_gzip_inputs_are_read_natively(tmp_path: Path, name: str) -> None:
    plain = run("batch", str(BATCH / name), "--format", "json")
    packed = tmp_path / (name + ".gz")
    packed.write_bytes(gzip.compress((BATCH / name).read_bytes()))
    for args, stdin in (((str(packed),), None), (("-",), packed.read_bytes()), (("-",), (BATCH / name).read_bytes())):
        r = run("batch", *args, "--format", "json", input=stdin)
        assert r.exit_code == plain.exit_code, r.stderr
        got, want = json.loads(r.stdout), json.loads(plain.stdout)
        assert got["total"]["counts"] == want["total"]["counts"]
        assert got["total"]["mistakes"] == want["total"]["mistakes"]


def test_gunzip_into_batch_reads_json_lines(tmp_path: Path) -> None:
    # the README's `gunzip -c rows.jsonl.gz | softgrad batch -`, as a real pipe
    data = (BATCH / "cases.jsonl").read_bytes()
    r = softgrad("batch", "-", "--format", "json", stdin=_pipe(data))
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["total"]["counts"] == {"pass": 2, "fail": 1, "unstable": 0, "bad": 0}
    r = softgrad("batch", "-", "--input-format", "csv", "--format", "json", stdin=_pipe(data))
    assert r.returncode == 2  # told it is CSV: it is not
    assert "no logit columns" in one_line(r.stderr)


def _pipe(data: bytes) -> int:
    """The read end of a real pipe that holds ``data`` (the writer closed)."""
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return read


def test_input_format_says_what_stdin_is(tmp_path: Path) -> None:
    tsv = (BATCH / "mixed.csv").read_text().replace(",", "\t")
    r = run("batch", "-", "--input-format", "tsv", "--format", "json", input=tsv)
    assert json.loads(r.stdout)["total"]["counts"] == {"pass": 15, "fail": 5, "unstable": 0, "bad": 0}
    r = run("batch", "-", "--input-format", "npz", "--format", "json", input=(BATCH / "arrays.npz").read_bytes())
    assert json.loads(r.stdout)["total"]["counts"] == {"pass": 5, "fail": 1, "unstable": 0, "bad": 0}
    r = run("batch", "-", "--input-format", "npz", input=(BATCH / "mixed.csv").read_bytes())
    assert one_line(r.stderr) == "softgrad: error: <stdin>: is not an .npz archive (it does not start like a zip file)"


def test_a_truncated_gzip_input_is_one_line(tmp_path: Path) -> None:
    packed = tmp_path / "rows.csv.gz"
    packed.write_bytes(gzip.compress((BATCH / "mixed.csv").read_bytes())[:-20])
    r = run("batch", str(packed))
    assert r.exit_code == 2
    assert (
        one_line(r.stderr) == f"softgrad: error: {packed}: the gzip data is truncated (it ends before its end marker)"
    )
