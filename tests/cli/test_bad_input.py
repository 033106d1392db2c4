"""Table-driven bad input across the commands: each gives one line on stderr naming where and what,
exit code 2, nothing on stdout, and no traceback. `{d}` in an argument is a folder of prepared files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.conftest import run
from tests.inputs.special import one_line, softgrad

EX = ("--z", "1.75", "1.75", "--t", "0", "1")

#: (id, arguments, expected part of the message, stdin)
CASES: list[tuple[str, tuple[str, ...], str, str | None]] = [
    # values on the command line
    ("missing z", ("check", "--t", "0", "1"), "--z: missing", None),
    ("missing t", ("check", "--z", "1", "2"), "--t: missing", None),
    ("z without value", ("check", "--z"), "Option '--z' requires an argument", None),
    ("empty z value", ("check", "--z", "", "--t", "0", "1"), "--z: expected at least one number", None),
    ("z/t length mismatch", ("check", "--z", "1", "2", "--t", "0", "1", "0"), "--t: has 3 values but --z has 2", None),
    ("grad length mismatch", ("check", *EX, "--grad", "1", "2", "3"), "--grad: has 3 values but --z has 2", None),
    ("jacobian size", ("check", *EX, "--jacobian", "1", "2", "3"), "--jacobian: expected K×K = 4 values", None),
    ("K = 1", ("check", "--z", "1", "--t", "1"), "--z: softmax needs at least 2 classes, got 1", None),
    ("non-number", ("check", "--z", "1", "abc", "--t", "0", "1"), "--z: value 2: 'abc' is not a number", None),
    ("1e999", ("check", "--z", "1e999", "1", "--t", "0", "1"), "--z: value 1: '1e999' is not a finite number", None),
    ("nan", ("check", "--z", "nan", "1", "--t", "0", "1"), "--z: value 1: 'nan' is not a finite number", None),
    ("inf target", ("check", "--z", "1", "1", "--t", "inf", "1"), "--t: value 1: 'inf' is not a finite number", None),
    ("-inf", ("check", "--z", "-inf", "1", "--t", "0", "1"), "--z: value 1: '-inf' is not a finite number", None),
    ("hex float", ("check", "--z", "0x1p3", "1", "--t", "0", "1"), "hex floats are not accepted", None),
    (
        "negative target",
        ("check", "--z", "1", "2", "--t", "-0.5", "1"),
        "--t: value 1 is -0.5: targets must be >= 0",
        None,
    ),
    ("label out of range", ("check", "--z", "1", "2", "--label", "2"), "--label: class index 2 is out of range", None),
    ("label negative", ("check", "--z", "1", "2", "--label", "-1"), "--label: class index -1 is out of range", None),
    ("label not integer", ("check", "--z", "1", "2", "--label", "1.5"), "'1.5' is not a valid integer", None),
    ("label and t", ("check", "--z", "1", "2", "--t", "0", "1", "--label", "1"), "--label: give either --t", None),
    ("unknown option", ("check", *EX, "--tt", "1"), "No such option '--tt'", None),
    ("unknown option hint", ("check", "--zz", "1", "2", "--t", "0", "1"), "Did you mean", None),
    ("unknown format", ("check", *EX, "--format", "xml"), "'xml' is not one of 'table', 'json'", None),
    ("unknown dtype", ("check", *EX, "--dtype", "float16"), "'float16' is not one of 'float64', 'float32'", None),
    ("unknown fd", ("check", *EX, "--fd", "forward"), "Invalid value for '--fd'", None),
    ("temperature zero", ("check", *EX, "--temperature", "0"), "--temperature: must be a finite number > 0", None),
    ("temperature nan", ("check", *EX, "--temperature", "nan"), "--temperature: must be a finite number > 0", None),
    ("negative rtol", ("check", *EX, "--rtol", "-1"), "--rtol: must be a finite number >= 0, got -1", None),
    ("nan atol", ("check", *EX, "--atol", "nan"), "--atol: must be a finite number >= 0, got nan", None),
    ("seed not int", ("check", *EX, "--seed", "x"), "'x' is not a valid integer", None),
    ("unknown command", ("chek",), "No such command 'chek'. Did you mean 'check'?", None),
    ("z and z-file", ("check", "--z", "1", "2", "--z-file", "{d}/z.txt", "--t", "0", "1"), "--z: give either", None),
    # files
    ("no such file", ("check", "--z-file", "{d}/nope.txt", "--t", "0", "1"), "nope.txt: no such file", None),
    ("directory", ("check", "--z-file", "{d}", "--t", "0", "1"), "is a directory, not a file", None),
    ("empty file", ("check", "--z-file", "{d}/empty.txt", "--t", "0", "1"), "empty.txt: no numbers found", None),
    (
        "bad number in file",
        ("check", "--z-file", "{d}/bad.txt", "--t", "0", "1"),
        "bad.txt:2:6: 'abc' is not a number",
        None,
    ),
    ("non-UTF-8", ("check", "--z-file", "{d}/latin1.txt", "--t", "0", "1"), "is not UTF-8 text (byte 0xe9", None),
    (
        "truncated gzip",
        ("check", "--z-file", "{d}/cut.txt.gz", "--t", "0", "1"),
        "cut.txt.gz: the gzip data is truncated",
        None,
    ),
    ("bad t-file", ("check", "--z", "1", "2", "--t-file", "{d}/neg.txt"), "targets must be >= 0", None),
    ("bad grad-file", ("check", *EX, "--grad-file", "{d}/bad.txt"), "bad.txt:2:6: 'abc' is not a number", None),
    ("missing jacobian-file", ("check", *EX, "--jacobian-file", "{d}/nope.txt"), "nope.txt: no such file", None),
    ("two stdin readers", ("check", "--z-file", "-", "--t-file", "-"), "only one input can read stdin", "1 2"),
    ("bad stdin", ("check", "--z-file", "-", "--t", "0", "1"), "<stdin>:1:3: 'x' is not a number", "1 x"),
    # case files
    (
        "case not json",
        ("check", "--case", "{d}/broken.json"),
        "broken.json:1:14: invalid JSON: Expecting ',' delimiter",
        None,
    ),
    ("case array", ("check", "--case", "{d}/array.json"), "expected a JSON object", None),
    (
        "case z string",
        ("check", "--case", "{d}/zstring.json"),
        "key 'z': expected a list of numbers, got a string",
        None,
    ),
    ("case z element", ("check", "--case", "{d}/zelem.json"), "key 'z'[1]: 'abc' is not a number", None),
    ("case z null", ("check", "--case", "{d}/znull.json"), "key 'z'[0]: expected a number, got null", None),
    ("case no z", ("check", "--case", "{d}/noz.json"), "missing key 'z'", None),
    ("case unknown key", ("check", "--case", "{d}/unknown.json"), "unknown key 'target'", None),
    ("case label bool", ("check", "--case", "{d}/labelbool.json"), "key 'label': expected an integer", None),
    ("case temperature", ("check", "--case", "{d}/temp.json"), "key 'temperature': expected a number", None),
    ("case empty", ("check", "--case", "{d}/empty.txt"), "empty.txt: is empty; expected a JSON object", None),
    ("case missing", ("check", "--case", "{d}/nope.json"), "nope.json: no such file", None),
    # output
    ("output dir missing", ("check", *EX, "--output", "{d}/no/such/dir/out.txt"), "--output: directory", None),
    ("output is a dir", ("check", *EX, "--output", "{d}"), "--output: ", None),
    ("output over input", ("check", "--case", "{d}/ok.json", "--output", "{d}/ok.json"), "refusing to overwrite", None),
    # explain and mistakes
    ("explain missing t", ("explain", "--z", "1", "2"), "--t: missing", None),
    ("explain bad grad", ("explain", *EX, "--grad", "1", "x"), "--grad: value 2: 'x' is not a number", None),
    ("mistakes unknown id", ("mistakes", "jacobian_at_logit"), "did you mean jacobian_at_logits?", None),
    ("mistakes z without id", ("mistakes", "--z", "1", "2"), "give a mistake ID", None),
    # verify targets
    ("verify no such file", ("verify", "{d}/nope.py:grad"), "nope.py: no such file", None),
    ("verify not python", ("verify", "{d}/z.txt:grad"), "is not a Python file (.py)", None),
    ("verify syntax error", ("verify", "{d}/broken.py:grad"), "SyntaxError", None),
    ("verify import error", ("verify", "{d}/importerror.py:grad"), "ModuleNotFoundError", None),
    ("verify no such function", ("verify", "{d}/module.py:nope"), "nope", None),
    ("verify not callable", ("verify", "{d}/module.py:VALUE"), "VALUE is an int, not a function", None),
    ("verify no module", ("verify", "no_such_package_xyz.mod:f"), "no_such_package_xyz", None),
    ("verify bad kind", ("verify", "{d}/module.py:grad", "--kind", "hessian"), "'hessian' is not one of", None),
    ("mistakes bad z", ("mistakes", "no_jacobian", "--z", "1", "q", "--t", "0", "1"), "'q' is not a number", None),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "z.txt").write_text("1.75 1.75\n")
    (d / "empty.txt").write_text("")
    (d / "bad.txt").write_text("1.75\n1.75 abc\n")
    (d / "latin1.txt").write_bytes("1.75 caf\xe9\n".encode("latin-1"))
    (d / "cut.txt.gz").write_bytes(gzip.compress(b"1.75 1.75\n" * 100)[:-12])
    (d / "neg.txt").write_text("0 -1\n")
    (d / "broken.json").write_text('{"z": [1, 2] "t": [0, 1]}')
    (d / "array.json").write_text("[1, 2]")
    (d / "zstring.json").write_text('{"z": "1 2", "t": [0, 1]}')
    (d / "zelem.json").write_text('{"z": [1, "abc"], "t": [0, 1]}')
    (d / "znull.json").write_text('{"z": [null, 1], "t": [0, 1]}')
    (d / "noz.json").write_text('{"t": [0, 1]}')
    (d / "unknown.json").write_text('{"z": [1, 2], "target": [0, 1]}')
    (d / "labelbool.json").write_text('{"z": [1, 2], "label": true}')
    (d / "temp.json").write_text('{"z": [1, 2], "t": [0, 1], "temperature": "hot"}')
    (d / "ok.json").write_text('{"z": [1, 2], "t": [0, 1]}')
    (d / "broken.py").write_text("def grad(z, t):\n    return (z\n")
    (d / "importerror.py").write_text("import no_such_module_xyz\n\ndef grad(z, t):\n    return z\n")
    (d / "module.py").write_text("VALUE = 3\n\ndef grad(z, t):\n    return z\n")
    return d


def test_there_are_sixty_nine_cases_with_distinct_names() -> None:
    # the batch table adds its own rows (tests/cli/test_bad_input_batch.py)
    assert len(CASES) == 69
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "args", "message", "stdin"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(folder: Path, name: str, args: tuple[str, ...], message: str, stdin: str | None) -> None:
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    r = run(*(a.replace("{d}", str(folder)) for a in args), input=stdin)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == ""
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before  # nothing modified


def test_unreadable_file(tmp_path: Path) -> None:
    # a real file without read permission (as root: a child without the power to ignore permissions)
    f = tmp_path / "z.txt"
    f.write_text("1.75 1.75\n")
    f.chmod(0)
    r = softgrad("check", "--z-file", str(f), "--t", "0", "1", obey_permissions=True)
    assert r.returncode == 2
    assert one_line(r.stderr) == f"softgrad: error: {f}: permission denied"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.txt", "\ufeff1.75 1.75\n".encode()),
        ("crlf.txt", b"1.75\r\n1.75\r\n"),
        ("trailing.txt", b"1.75,1.75,\n"),
        ("blank-lines.txt", b"\n1.75\n\n1.75\n\n"),
        ("z.txt.gz", gzip.compress(b"1.75 1.75\n", mtime=0)),
    ],
)
def test_recoverable_text_files_are_read(tmp_path: Path, name: str, content: bytes) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    r = run("check", "--z-file", str(f), "--t", "0", "1")
    assert r.exit_code == 0, r.stderr
