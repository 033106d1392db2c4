"""Fuzzing: random argument lists never crash softgrad. The exit code is 0, 1 or 2, stderr never holds a
traceback, and stdout is valid JSON whenever --format json was asked for (and the exit code is not 2)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from softgrad.cli.app import cli

OPTIONS = [
    "--z", "--t", "--label", "--grad", "--jacobian", "--temperature", "--dtype", "--rtol", "--atol", "--fd",
    "--seed", "--format", "--no-color", "--case", "--z-file", "--t-file", "--",
]  # fmt: skip
WORDS = ["json", "table", "float32", "float64", "complex", "full", "directional", "-", "nan", "inf", "-inf", "1e999",
         "0x10", "abc", "", " ", "1,2", "-0", "1e-320", "1e308", "-1e308", "0", "1", "2", "-1", "3.5"]  # fmt: skip
numbers = st.floats(allow_nan=True, allow_infinity=True).map(repr)
tokens = st.one_of(st.sampled_from(OPTIONS), st.sampled_from(WORDS), numbers, st.text(max_size=6))


def _invoke(args: list[str]) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, args, catch_exceptions=True)
    assert r.exc_info is None or r.exc_info[0] is SystemExit, "".join(
        __import__("traceback").format_exception(*r.exc_info)
    )
    return r.exit_code, r.stdout, r.stderr


def _assert_sane(args: list[str]) -> None:
    code, out, err = _invoke(args)
    assert code in (0, 1, 2), (args, code, err)
    assert "Traceback" not in err
    if "--format" in args and "json" in args and code != 2 and "--" not in args:
        json.loads(out)


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(["check", "explain", "mistakes"]), st.lists(tokens, max_size=12))
@example("check", ["--z", "1e308", "-1e308", "--t", "0", "1", "--format", "json"])
@example("check", ["--z", "nan", "--t"])
@example("check", ["--z", "1", "1e-320", "--t", "1e-320", "1", "--grad", "inf", "-inf", "--format", "json"])
@example("explain", ["--z", "1", "2", "--t", "0", "1", "--jacobian", "nan", "1", "2", "3", "--format", "json"])
@example("mistakes", ["no_max_shift", "--z", "1000", "0", "--t", "0", "1", "--format", "json"])
@example("check", ["--z", "0", "0", "--t", "0", "1", "--temperature", "1e-300", "--format", "json"])
def test_random_arguments(command: str, args: list[str]) -> None:
    _assert_sane([command, *args])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.floats(-1e308, 1e308), min_size=2, max_size=6),
    st.lists(st.floats(0, 1e6), min_size=2, max_size=6),
    st.sampled_from(["auto", "complex", "full"]),
    st.floats(1e-3, 1e3),
)
@example([1e308, -1e308], [0.0, 1.0], "auto", 1.0)
@example([5e-324, 0.0], [1e6, 0.0], "complex", 1e-3)
@example([0.0, 8.98846567431158e307], [0.0, 0.0], "auto", 0.5)
def test_random_numbers_give_an_honest_status(z: list[float], t: list[float], fd: str, tau: float) -> None:
    n = min(len(z), len(t))
    args = ["check", "--z", *map(repr, z[:n]), "--t", *map(repr, t[:n]), "--fd", fd]
    args += ["--temperature", repr(tau), "--format", "json"]
    code, out, err = _invoke(args)
    if code == 2:  # the only input error possible here: z/τ not representable
        assert "z/τ overflows" in err
        return
    assert code in (0, 1), err
    d = json.loads(out)
    assert d["status"] in ("pass", "unstable", "fail")
    if d["status"] == "unstable":
        assert d["unstable"]
    assert all(v is not None for v in d["gradients"]["fused"])


VALID_CSV = "id,z0,z1,z2,t0,t1,t2,g0,g1,g2\na,1.5,0.25,-1,0,1,0,0.6,-0.8,0.2\nb,2,0.5,-1,0,1,0,0.79,-0.82,0.04\n"


def _batch(data: bytes, *extra: str) -> None:
    import os
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        for fmt in ("json", "csv", "junit", "table"):
            code, out, err = _invoke(["batch", path, "--format", fmt, "--jobs", "1", *extra])
            assert code in (0, 1, 2), (data, err)
            assert "Traceback" not in err
            if (fmt == "json" and code in (0, 1)) or (fmt == "json" and out):
                json.loads(out)
            if code == 2 and not out:
                assert len(err.strip().splitlines()) == 1, err
    finally:
        os.unlink(path)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
@example(b"\x1f\x8b\x08\x00")
@example(b"z0,z1,t0,t1\n\xff\xfe\n")
@example(b"\xef\xbb\xbfz0,z1,t0,t1\r\n1,2,0,1\r\n")
def test_random_bytes_to_batch(data: bytes) -> None:
    _batch(data)


@st.composite
def near_valid_csv(draw: st.DrawFn) -> bytes:
    text = VALID_CSV
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from([",", "\n", '"', "nan", "-", "1e999", "x", "", " ", "\r\n", "\t", "0"]))
        if action == "insert":
            text = text[:pos] + piece + text[pos:]
        elif action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 5)) :]
        else:
            text = text[:pos] + piece + text[pos + 1 :]
    return text.encode()


@settings(max_examples=200, deadline=None)
@given(near_valid_csv(), st.sampled_from([(), ("--skip-bad",), ("--reduction", "mean"), ("--no-header", "--k", "3")]))
@example(b"id,z0,z1,z2,t0,t1,t2,g0,g1,g2\na,1.5,0.25,-1,0,1,0,0.6,-0.8,0.2,\n", ())
@example(b"\r,\nid,z0,z1,z2,t0,t1,t2,g0,g1,g2\na,1.5,0.25,-1,0,1,0,0.6,-0.8,0.2\n", ())
def test_near_valid_csv_to_batch(data: bytes, extra: tuple[str, ...]) -> None:
    _batch(data, *extra)


VERIFY_TARGETS = [
    "samples/verify/correct_grad.py:grad",
    "samples/verify/df2_on_logits.py:df2",
    "samples/verify/raises.py:grad",
    "samples/verify/wrong_shape.py:grad",
    "samples/verify/correct_softmax.py:softmax",
    "samples/verify/correct_backward.py:softmax_backward",
]
VERIFY_OPTIONS = ["--kind", "grad", "jacobian", "softmax", "backward", "--layout", "row", "batch", "both", "auto",
                  "--reduction", "mean", "sum", "--trials", "0", "1", "-1", "--seed", "--rtol", "--atol", "--show",
                  "--format", "json", "junit", "table", "--jacobian-input", "s", "z", "--backward-input", "upstream",
                  "targets", "nan", "1e-3"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(VERIFY_TARGETS), st.lists(st.sampled_from(VERIFY_OPTIONS), max_size=6))
@example("samples/verify/df2_on_logits.py:df2", ["--kind", "grad", "--format", "json"])
def test_random_verify_options(target: str, args: list[str]) -> None:
    from tests.conftest import ROOT

    _assert_sane(["verify", str(ROOT / target), *args])


VALID_CASE = b'{"z": [1.75, 1.75], "t": [0, 1], "grad": [6.125, 2.625], "temperature": 1, "jacobian": [[1, 0], [0, 1]]}'
JSON_PIECES = [b"{", b"}", b"[", b"]", b",", b":", b'"z"', b'"t"', b'"label"', b"1e999", b"-0", b"NaN", b"Infinity",
               b"9" * 400, b"null", b"true", b'"\\ud800"', b"\xff", b"\x00", b"\n", b'"jacobian"', b"[["]  # fmt: skip


@st.composite
def near_valid(draw: st.DrawFn, base: bytes, pieces: list[bytes]) -> bytes:
    data = base
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        piece = draw(st.sampled_from(pieces))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert":
            data = data[:pos] + piece + data[pos:]
        elif action == "delete":
            data = data[:pos] + data[pos + draw(st.integers(1, 8)) :]
        else:
            data = data[:pos] + piece + data[pos + len(piece) :]
    return data


def _file(data: bytes, suffix: str, args: list[str]) -> tuple[int, str, str]:
    import os
    import tempfile

    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return _invoke([a.replace("{}", path) for a in args])
    finally:
        os.unlink(path)


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.binary(max_size=200), near_valid(VALID_CASE, JSON_PIECES)))
@example(b"[" * 5000)
@example(b'{"z": [' + b"9" * 5000 + b', 1], "t": [0, 1]}')
def test_random_json_case_files(data: bytes) -> None:
    code, out, err = _file(data, ".json", ["check", "--case", "{}", "--format", "json"])
    assert code in (0, 1, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err
    else:
        json.loads(out)


VALID_JSONL = b'{"z": [1.75, 1.75], "t": [0, 1], "grad": [0.5, -0.5]}\n{"z": [1, 2], "label": 1, "temperature": 2}\n'


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=200), near_valid(VALID_JSONL, JSON_PIECES)))
def test_random_json_lines(data: bytes) -> None:
    for fmt in ("json", "csv"):
        code, out, err = _file(data, ".jsonl", ["batch", "{}", "--format", fmt, "--jobs", "1"])
        assert code in (0, 1, 2), err
        assert "Traceback" not in err
        if fmt == "json" and out:
            json.loads(out)


def _valid_npz() -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, z=np.array([[1.75, 1.75], [1.0, 2.0]]), t=np.eye(2), grad=np.array([[0.5, -0.5], [0.1, 0.2]]))
    return buf.getvalue()


NPZ_PIECES = [b"\x00", b"\xff" * 4, b"PK\x03\x04", b"\x93NUMPY", b"'shape': (99999999999, 2)", b"|O", b"<U8", b"<c16",
              b"'fortran_order': True", b"(2,)", b"\x01\x00"]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=300), near_valid(_valid_npz(), NPZ_PIECES)))
def test_random_npz_bytes(data: bytes) -> None:
    code, out, err = _file(data, ".npz", ["batch", "{}", "--format", "json", "--jobs", "1"])
    assert code in (0, 1, 2), err
    assert "Traceback" not in err
    if code == 2 and not out:
        assert len(err.strip().splitlines()) == 1, err
    if out:
        json.loads(out)


def _npy_member(name: str) -> bytes:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(_valid_npz())) as zf:
        return zf.read(name)


@st.composite
def npz_with_mutated_members(draw: st.DrawFn) -> bytes:
    """A well-formed zip (right CRCs) whose .npy members are mutated: the member parser itself is fuzzed."""
    import io
    import zipfile

    buf = io.BytesIO()
    compression = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name in draw(st.sampled_from([["z.npy", "t.npy"], ["z.npy", "t.npy", "grad.npy"], ["z.npy", "label.npy"]])):
            base = _npy_member(name if name != "label.npy" else "t.npy")
            zf.writestr(name, draw(near_valid(base, NPZ_PIECES)) if draw(st.booleans()) else base)
    return buf.getvalue()


@settings(max_examples=60, deadline=None)
@given(npz_with_mutated_members())
def test_npz_members_with_mutated_headers_and_data(data: bytes) -> None:
    test_random_npz_bytes.hypothesis.inner_test(data)  # type: ignore[attr-defined]
