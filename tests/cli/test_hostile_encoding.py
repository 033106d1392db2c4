"""Output that is not UTF-8, control characters from the data, and terminals that report no width."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from softgrad.cli.app import cli
from tests.conftest import SAMPLES, run
from tests.inputs.special import child_env, softgrad

MIXED = str(SAMPLES / "batch" / "mixed.csv")
COMMANDS = [
    ("check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "6.125", "2.625"),
    ("explain", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "6.125", "2.625"),
    ("mistakes",),
    ("mistakes", "jacobian_at_logits"),
    ("batch", MIXED),
    ("batch", MIXED, "--format", "csv"),
    ("batch", MIXED, "--format", "junit"),
    ("check", "--case", str(SAMPLES / "temperature.json")),
    ("verify", str(SAMPLES / "verify" / "df2_on_logits.py") + ":df2", "--trials", "2"),
]


def _in(encoding: str, *args: str) -> Result:
    """The CLI in-process with stdout in ``encoding`` (strict, as PYTHONIOENCODING=ascii makes it)."""
    return CliRunner(charset=encoding).invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
@pytest.mark.parametrize(
    "args", COMMANDS, ids=[" ".join(a[:2]) + (" " + a[-1] if len(a) > 3 else "") for a in COMMANDS]
)
def test_output_in_a_legacy_encoding_never_crashes(encoding: str, args: tuple[str, ...]) -> None:
    utf8 = run(*args)
    legacy = _in(encoding, *args)
    assert legacy.exit_code == utf8.exit_code, legacy.stderr
    assert legacy.exit_code in (0, 1)
    text = legacy.stdout_bytes.decode(encoding)  # every byte is valid in that encoding
    assert text.count("\n") == utf8.stdout.count("\n")  # the same lines, other symbols


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_a_real_process_with_pythonioencoding(encoding: str) -> None:
    for args in (COMMANDS[0], ("batch", MIXED, "--format", "json")):
        r = softgrad(*args, env={"PYTHONIOENCODING": encoding})
        assert r.returncode == 1, r.stderr
        assert b"Traceback" not in r.stderr
        r.stdout.decode(encoding)


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
@pytest.mark.parametrize("command", ["check", "explain", "batch"])
def test_json_is_ascii_safe_and_says_the_same(encoding: str, command: str) -> None:
    args = ("batch", MIXED) if command == "batch" else (command, "--case", str(SAMPLES / "temperature.json"))
    utf8 = run(*args, "--format", "json")
    legacy = _in(encoding, *args, "--format", "json")
    legacy.stdout_bytes.decode("ascii")
    assert json.loads(legacy.stdout) == json.loads(utf8.stdout)
    assert command == "batch" or "\\u03c4" in legacy.stdout  # τ, escaped


def test_tables_fall_back_to_ascii_symbols() -> None:
    r = _in("ascii", "check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "6.125", "2.625")
    text = r.stdout_bytes.decode("ascii")
    assert "fused s*sum t - t (reference)    0.5   -0.5  ref" in text
    assert "chained (-t/s)*J(s)              0.5   -0.5  ok" in text
    assert "yours                          6.125  2.625  FAIL" in text
    cp = _in("cp1252", "check", "--z", "1.75", "1.75", "--t", "0", "1").stdout_bytes.decode("cp1252")
    assert "softgrad check — K = 2" in cp  # what cp1252 can hold is kept


CONTROL_ROWS = (
    "id,z0,z1,t0,t1,g0,g1\n\x1b[31mRED\x1b]0;pwned\x07,1.75,1.75,0,1,6.125,2.625\nok\u202eevil,1.75,1.75,0,1,0.5,-0.5\n"
)


@pytest.fixture
def hostile_rows(tmp_path: Path) -> Path:
    f = tmp_path / "x\x1b[2Jy.csv"  # a file name with an escape sequence in it
    f.write_text(CONTROL_ROWS)
    return f


@pytest.mark.parametrize("fmt", ["table", "csv", "junit", "json"])
def test_control_characters_from_the_data_never_reach_the_output_raw(hostile_rows: Path, fmt: str) -> None:
    r = run("batch", str(hostile_rows), "--format", fmt, "--show", "5")
    assert r.exit_code == 1, r.stderr
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in r.stdout
        assert raw not in r.stderr
    if fmt == "json":
        d = json.loads(r.stdout)
        assert d["files"][0]["file"] == str(hostile_rows)  # the data itself is intact, only escaped
        assert {w["carried"]["id"] for w in d["total"]["worst_rows"]} == {"\x1b[31mRED\x1b]0;pwned\x07", "ok\u202eevil"}
    elif fmt == "junit":
        ET.fromstring(r.stdout.split("\n", 1)[1])  # valid XML (XML 1.0 cannot hold control characters)
        assert "x\\x1b[2Jy.csv" in r.stdout
    else:
        assert "\\x1b[31mRED\\x1b]0;pwned\\x07" in r.stdout
        assert "x\\x1b[2Jy.csv" in r.stdout


def test_control_characters_in_error_messages_are_escaped(tmp_path: Path) -> None:
    r = run("check", "--z-file", str(tmp_path / "nope\x1b[2J\u202e.txt"), "--t", "0", "1")
    assert r.exit_code == 2
    assert r.stderr == f"softgrad: error: {tmp_path}/nope\\x1b[2J\\u202e.txt: no such file\n"


def _on_a_terminal(args: tuple[str, ...], env: dict[str, str]) -> tuple[int, str]:
    """Run softgrad with stdout on a real pseudo-terminal; (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "softgrad", *args], stdout=slave, stderr=subprocess.PIPE, env=child_env(env)
    )
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed
            break
        if not data:
            break
        out += data
    os.close(master)
    _, err = proc.communicate(timeout=60)
    assert err == b"", err
    return proc.returncode, out.decode("utf-8", "replace")


@pytest.mark.parametrize("columns", ["0", "5", "abc", ""])
def test_a_terminal_that_reports_no_width_still_gets_the_report(columns: str) -> None:
    code, out = _on_a_terminal(("check", "--z", "1.75", "1.75", "--t", "0", "1"), {"COLUMNS": columns})
    assert code == 0
    assert "\x1b[" in out  # the terminal renderer, in colour
    out = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "finite difference (central)      0.5    -0.5   ✓" in out
    assert "status: PASS" in out


def test_an_ascii_terminal_gets_ascii_tables() -> None:
    code, out = _on_a_terminal(("check", "--z", "1.75", "1.75", "--t", "0", "1"), {"PYTHONIOENCODING": "ascii"})
    assert code == 0
    out.encode("ascii")
    assert "softgrad check - K = 2" in out
