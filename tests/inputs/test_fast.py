"""The fast CSV parser (softgrad[fast]): bit-identical numbers to the numpy path, the same bad rows at the
same lines, and the numpy path whenever it does not take a chunk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from softgrad.inputs import fast
from softgrad.inputs.csv import parse_chunk
from softgrad.inputs.rows import Block, Layout, RowSpec
from tests.conftest import run

pytest.importorskip("polars", reason="the fast parser (softgrad[fast]) is not installed")


@pytest.fixture(autouse=True)
def small_chunks_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "MIN_BYTES", 0)


K = 3
LAYOUT = Layout(
    tuple([f"z{i}" for i in range(K)] + [f"t{i}" for i in range(K)] + [f"g{i}" for i in range(K)]),
    tuple(range(K)),
    tuple(range(K, 2 * K)),
    None,
    tuple(range(2 * K, 3 * K)),
    (),
)
SPEC = RowSpec("rows.csv", LAYOUT, ",", want_carried=False)


def both(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Block, Block]:
    """(numpy path, fast path) blocks of one chunk."""
    monkeypatch.setenv(fast.SWITCH, "0")
    slow = parse_chunk(data, 2, SPEC)
    monkeypatch.delenv(fast.SWITCH)
    quick = parse_chunk(data, 2, SPEC)
    return slow, quick


def same(a: Block, b: Block) -> None:
    for x, y in ((a.z, b.z), (a.t, b.t), (a.g, b.g)):
        assert x is not None
        assert y is not None
        assert x.shape == y.shape
        assert np.array_equal(x.view(np.int64), y.view(np.int64))  # bit for bit, -0.0 and all
    assert a.lines.tolist() == b.lines.tolist()
    assert [str(r) for r in a.bad] == [str(r) for r in b.bad]


def test_the_fast_parser_takes_a_plain_chunk_and_the_switch_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"1.5,-2,3e-5,0,1,0,0.1,-0.2,0.1\n"
    assert fast.engine() == "polars"
    arr = fast.parse_numbers(data, 9, ",")
    assert arr is not None
    assert arr.tolist() == [[1.5, -2.0, 3e-5, 0.0, 1.0, 0.0, 0.1, -0.2, 0.1]]
    monkeypatch.setenv(fast.SWITCH, "0")
    assert fast.engine() is None
    assert fast.parse_numbers(data, 9, ",") is None


@pytest.mark.parametrize(
    "data",
    [
        b"1, 2,3,0,1,0,1,2,3\n",  # a space
        b"1,2,3,0,1,0,1,2,3\r\n",  # CRLF
        b'"1",2,3,0,1,0,1,2,3\n',  # quotes
        b"inf,2,3,0,1,0,1,2,3\n",  # an inf spelling
        b"1,,3,0,1,0,1,2,3\n",  # an empty field
        b"1,2,3,0,1,0,1,2\n",  # a short row
        b"1,2,3,0,1,0,1,2,3,4\n",  # a long row
        b"1,2,3,0,1,0,1,2,3\n1,2,3,0,1,0,1,2\n",  # a short row after a good one
        b"1e,2,3,0,1,0,1,2,3\n",  # not a number, in the alphabet of numbers
        b"1.2.3,2,3,0,1,0,1,2,3\n",
    ],
)
def test_what_the_fast_parser_does_not_take_goes_to_the_numpy_path(data: bytes) -> None:
    assert fast.parse_numbers(data, 9, ",") is None


@pytest.mark.parametrize(
    "data",
    [
        b"1,2,3,0,1,0,1,2,3\n1,2,3,0,1,0,1,2\n1,2,3,0,1,0,1,2,3\n",
        b"1,2,3,0,1,0,1,2,3\n1,2,x,0,1,0,1,2,3\n",
        b"1,2,3,0,1,0,1,2,3\n1,2,1e999,0,1,0,1,2,3\n",
        b"1,2,3,0,1,0,1,2,3\n1,2,3,-1,1,0,1,2,3\n",
        b"1,2,3,0,1,0,1,2,3\n\n1,2,3,0,1,0,1,2,3\n",
        b"-0,2,3,0,1,0,NaN,-inf,Infinity\n1,2,3,0,1,0,1,2,3\r\n",
        b' 1 ,2,"3",0,1,0,1,2,3\n1,2,3,0,1,0,1,2,3,\n',
    ],
)
def test_bad_rows_are_the_same_at_the_same_lines(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    same(*both(data, monkeypatch))


def seventeen_digits() -> st.SearchStrategy[str]:
    """Numbers as programs write them: repr, %.17g, %.17e, exponents of every size, -0, integers."""
    value = st.floats(allow_nan=False, allow_infinity=False)
    return st.one_of(
        value.map(repr),
        value.map(lambda x: f"{x:.17g}"),
        value.map(lambda x: f"{x:.17e}"),
        value.map(lambda x: f"{x:.17E}"),
        st.floats(-1e3, 1e3).map(lambda x: f"{x:.25f}"),
        st.integers(-(10**20), 10**20).map(str),
        st.sampled_from(["-0", "+0", "0.0", "-0.0", ".5", "5.", "+.5e-3", "1e-400", "2.4703282292062328e-324"]),
        st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str),
    )


@given(st.lists(st.lists(seventeen_digits(), min_size=3 * K, max_size=3 * K), min_size=1, max_size=20))
def test_numbers_are_bit_identical_to_the_numpy_path(rows: list[list[str]]) -> None:
    for row in rows:
        row[K : 2 * K] = [v.lstrip("-") for v in row[K : 2 * K]]  # targets >= 0 (mostly: -0 stays -0 free)
    data = "".join(",".join(r) + "\n" for r in rows).encode()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fast, "MIN_BYTES", 0)
        same(*both(data, mp))


def test_written_precision_is_the_same_on_both_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "rounded.csv"
    lines = ["z0,z1,t0,t1,g0,g1"] + ["1.75,1.75,0,1,0.5,-0.5", "0.3,-1.2,1,0,-0.1824,0.1824"] * 3000
    f.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(fast, "MIN_BYTES", 0)
    outs = []
    for value in ("0", "1"):
        monkeypatch.setenv(fast.SWITCH, value)
        r = run("batch", str(f), "--format", "json", "--quiet")
        outs.append(json.loads(r.stdout))
    assert outs[0] == outs[1]
    assert outs[0]["total"]["precision"]["within_precision_rows"] == 3000


def test_workers_forked_after_polars_was_loaded_do_not_use_it(tmp_path: Path) -> None:
    """polars' threads do not survive a fork: a worker forked after the parent loaded it takes the numpy
    path (same report) instead of hanging."""
    assert fast.parse_numbers(b"1,2\n", 2, ",") is not None  # polars loaded and its threads started here
    f = tmp_path / "rows.csv"
    row = "0.5,1.5,-0.25,0,1,0,0.2312,-0.3714,0.1402"
    f.write_text("z0,z1,z2,t0,t1,t2,g0,g1,g2\n" + (row + "\n") * 4000)
    from softgrad.commands.batch.rows import BatchOptions
    from softgrad.commands.batch.run import RunOptions, run_batch
    from softgrad.inputs.rows import ReadOptions

    report = run_batch([str(f)], ReadOptions(chunk_bytes=8192), BatchOptions(), RunOptions(jobs=2)).report
    assert report.total.rows == 4000
    fast._forked = True
    try:
        assert fast.engine() is None
    finally:
        fast._forked = False
