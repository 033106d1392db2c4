"""`softgrad verify` through the CLI: exit codes, stdout and stderr apart, the formats, bad targets."""

from __future__ import annotations

import json
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import softgrad
from tests.conftest import SAMPLES, run

VERIFY = SAMPLES / "verify"
DF2 = str(VERIFY / "df2_on_logits.py")
GOOD = textwrap.dedent(
    """
    import numpy as np

    def grad(z, t):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        s = e / e.sum(axis=-1, keepdims=True)
        g = s * t.sum(axis=-1, keepdims=True) - t
        return g / len(z) if z.ndim == 2 else g
    """
)


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def test_correct_function_exits_0() -> None:
    r = run("verify", str(VERIFY / "correct_grad.py:grad"))
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    out = r.stdout
    assert out.startswith("softgrad verify ")
    assert "kind       grad — detected: two parameters (z, t): logits and targets" in out
    assert "\x1b[" not in out
    assert out.rstrip().splitlines()[-1].startswith("status: PASS  right: matches dE/dz = s·Σt − t on all 17 cases")


def test_the_df2_gradient_exits_1_with_the_diagnosis_and_a_check_command() -> None:
    r = run("verify", f"{DF2}:grad", "--show", "1")
    assert r.exit_code == 1
    assert r.stderr == ""
    out = r.stdout
    assert "✗ asymmetric: asymmetric logits, K = 4, target off the largest logit" in out
    assert "it matches jacobian_at_logits" in out
    assert "reproduce: softgrad check --z 2 1 0.1 -1.5 --t 0 0 1 0 --grad 2.069478814286175" in out
    assert "16 more failing cases not shown in full" in out
    assert "diagnosis: jacobian_at_logits — softmax Jacobian evaluated at the logits z" in out
    assert "status: FAIL  wrong: 17 of 17 cases fail; diagnosed jacobian_at_logits" in out


def test_the_df2_jacobian_passes_and_says_what_passing_z_gives() -> None:
    r = run("verify", f"{DF2}:df2")
    assert r.exit_code == 0
    out = r.stdout
    assert "input      s — detected: given s = softmax(z) it passes every case" in out
    assert "layout     batch — detected: it takes batches (N, K) only" in out
    assert "a caller that passes z instead of s = softmax(z) gets something else:" in out
    assert "[-1.3125  -3.0625]" in out
    assert "[-3.0625  -1.3125]" in out
    assert "that is jacobian_at_logits" in out
    assert "the chained gradient (−t/s)·J becomes [6.125, 2.625] instead of [0.5, -0.5]" in out
    assert "reproduce: softgrad check --z 1.75 1.75 --t 0 1 --grad 6.125 2.625" in out


def test_json_is_the_api_report() -> None:
    r = run("verify", f"{DF2}:grad", "--format", "json", "--trials", "3", "--seed", "4")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data == softgrad.verify(f"{DF2}:grad", trials=3, seed=4).to_dict()
    assert data["target"] == f"{DF2}:grad"
    assert {"status", "verdict", "kind", "layout", "summary", "diagnosis", "cases", "tolerances"} <= data.keys()
    assert {"name", "status", "z", "t", "output", "expected", "matches", "command", "error"} <= data["cases"][0].keys()


def test_junit_parses_with_a_testcase_per_case() -> None:
    r = run("verify", str(VERIFY / "no_max_shift.py:grad"), "--format", "junit", "--trials", "2")
    assert r.exit_code == 1
    root = ET.fromstring(r.stdout)
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases][:3] == ["asymmetric", "shift_1000", "gap_800"]
    assert suite.get("tests") == str(len(cases)) == "9"
    assert suite.get("failures") == "1"
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("type") == "no_max_shift"
    assert failure.text is not None
    assert "reproduce: softgrad check --z 1002 1001 1000.1 998.5" in failure.text


def test_junit_errors_and_skips() -> None:
    r = run("verify", str(VERIFY / "raises.py:grad"), "--format", "junit", "--trials", "0")
    suite = ET.fromstring(r.stdout).find("testsuite")
    assert suite is not None
    assert suite.get("errors") == "7"
    error = suite.findall("testcase")[0].find("error")
    assert error is not None
    assert "AxisError" in (error.get("message") or "")


def test_output_file_and_refusing_to_overwrite_the_target(tmp_path: Path) -> None:
    target = _write(tmp_path, "good.py", GOOD)
    out = tmp_path / "report.json"
    r = run("verify", f"{target}:grad", "--format", "json", "-o", str(out))
    assert r.exit_code == 0
    assert r.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["status"] == "pass"
    before = Path(target).read_text(encoding="utf-8")
    r = run("verify", f"{target}:grad", "-o", target)
    assert r.exit_code == 2
    assert "refusing to overwrite the input file" in r.stderr
    assert Path(target).read_text(encoding="utf-8") == before


def test_what_the_users_code_prints_is_captured_into_the_report(tmp_path: Path) -> None:
    target = _write(
        tmp_path,
        "chatty.py",
        'print("importing")\n' + GOOD.replace("def grad(z, t):", "def grad(z, t):\n    print('called')"),
    )
    r = run("verify", f"{target}:grad", "--format", "json", "--trials", "0")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["status"] == "pass"
    assert data["printed"].startswith("importing\ncalled\n")
    assert r.stderr == ""
    r = run("verify", f"{target}:grad", "--trials", "0")
    assert "your code printed" in r.stdout
    assert "  | importing" in r.stdout


def test_package_module_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "verifypkg_cli"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    _write(pkg, "layers.py", GOOD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    r = run("verify", "verifypkg_cli.layers:grad", "--trials", "0")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("softgrad verify verifypkg_cli.layers:grad")


def test_without_func_the_only_public_function_is_used(tmp_path: Path) -> None:
    target = _write(tmp_path, "only.py", GOOD)
    r = run("verify", target, "--trials", "0")
    assert r.exit_code == 0
    assert f"softgrad verify {target}:grad" in r.stdout


@pytest.mark.parametrize(
    ("files", "spec", "message"),
    [
        ({}, "{d}/missing.py:grad", "{d}/missing.py: no such file"),
        ({"data.txt": "x"}, "{d}/data.txt:grad", "is not a Python file (.py)"),
        ({"m.py": "def grad(z, t):\n    return (z\n"}, "{d}/m.py:grad", "cannot import {d}/m.py:grad: SyntaxError"),
        (
            {"m.py": "import numpy\nx = 1 / 0\n"},
            "{d}/m.py:grad",
            "{d}/m.py:2: importing {d}/m.py:grad raised ZeroDivisionError",
        ),
        ({"m.py": "import sys\nsys.exit(3)\n"}, "{d}/m.py:grad", "importing {d}/m.py:grad raised SystemExit: 3"),
        (
            {"m.py": "def grad(z, t):\n    return z\n"},
            "{d}/m.py:gard",
            "has no attribute 'gard' (functions it defines: grad)",
        ),
        ({"m.py": "grad = 3\n"}, "{d}/m.py:grad", "{d}/m.py:grad: grad is an int, not a function"),
        (
            {"m.py": "def a(z):\n    pass\ndef b(z):\n    pass\n"},
            "{d}/m.py",
            "say which function to verify, as {d}/m.py:FUNC; public functions: a, b",
        ),
        ({}, "no_such_module_xyz:grad", "no module named 'no_such_module_xyz'"),
        ({}, "{d}/m.py:1bad", "'1bad' is not a function name"),
        (
            {"m.py": "def f(a, b, c):\n    return a\n"},
            "{d}/m.py:f",
            "cannot tell what it computes from its signature (3 parameters (a, b, c)",
        ),
    ],
)
def test_bad_targets_exit_2_with_one_line(tmp_path: Path, files: dict[str, str], spec: str, message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    d = str(tmp_path)
    r = run("verify", spec.format(d=d))
    assert r.exit_code == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert message.format(d=d) in lines[0], lines[0]


def test_syntax_error_names_the_line_and_column(tmp_path: Path) -> None:
    target = _write(tmp_path, "bad.py", "def grad(z, t):\n    return z +* t\n")
    r = run("verify", f"{target}:grad")
    assert r.exit_code == 2
    assert f"softgrad: error: {target}:2:" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "-1"], "Invalid value for '--trials'"),
        (["--kind", "hessian"], "Invalid value for '--kind'"),
        (["--rtol", "inf"], "--rtol: must be a finite number >= 0, got inf"),
        (["--format", "csv"], "Invalid value for '--format'"),
    ],
)
def test_bad_options_exit_2(args: list[str], message: str) -> None:
    r = run("verify", str(VERIFY / "correct_grad.py:grad"), *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert r.stdout == ""


def test_a_keyboard_interrupt_raised_by_the_users_code_is_a_failed_case(tmp_path: Path) -> None:
    """In its own process a KeyboardInterrupt is the code's own doing (Ctrl-C at the terminal reaches softgrad:
    see test_isolation.py::test_ctrl_c_ends_softgrad_and_the_child_group)."""
    target = _write(tmp_path, "slow.py", "def grad(z, t):\n    raise KeyboardInterrupt\n")
    r = run("verify", f"{target}:grad", "--trials", "0", "--format", "json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["cases"][0]["error"].startswith("raised KeyboardInterrupt (at ")


def test_ctrl_c_inside_a_function_object_exits_130() -> None:
    def grad(z: object, t: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        softgrad.verify(grad, trials=0)


def test_help_documents_the_options_and_warns_that_code_runs() -> None:
    r = run("verify", "--help")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    for option in ("--kind", "--layout", "--reduction", "--jacobian-input", "--backward-input", "--trials"):
        assert option in text
    for option in ("--seed", "--rtol", "--atol", "--show", "--format", "--output", "--no-color"):
        assert option in text
    assert "RUNS ITS CODE" in text
    assert "softgrad verify samples/verify/df2_on_logits.py:grad" in text
    assert "verify" in run("--help").stdout


def test_dotted_function_and_sibling_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    _write(tmp_path, "verify_helpers_sibling.py", GOOD)
    target = _write(
        tmp_path,
        "model.py",
        """
        import verify_helpers_sibling

        class Model:
            @staticmethod
            def grad(z, t):
                return verify_helpers_sibling.grad(z, t)
        """,
    )
    r = run("verify", f"{target}:Model.grad", "--trials", "0")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"softgrad verify {target}:Model.grad")


def test_many_trials_are_one_summary_row() -> None:
    r = run("verify", str(VERIFY / "assumes_one_hot.py:grad"), "--trials", "12", "--show", "0")
    assert r.exit_code == 1
    row = next(line for line in r.stdout.splitlines() if line.startswith("random_1…random_12"))
    assert "12 random cases (seed 0)" in row
    failing = softgrad.verify(str(VERIFY / "assumes_one_hot.py:grad"), trials=12).failed
    randoms = sum(c.random for c in failing)
    assert row.endswith(f"✗ {randoms} of 12 fail: assumes_one_hot")
    assert "random_3 " not in r.stdout
    assert f"{len(failing)} more failing cases not shown in full" in r.stdout


def test_a_module_that_makes_numpy_raise_does_not_crash_softgrad(tmp_path: Path) -> None:
    import numpy as np

    target = _write(tmp_path, "strict.py", 'import numpy as np\nnp.seterr(all="raise")\n' + GOOD)
    before = np.geterr()
    try:
        r = run("verify", f"{target}:grad", "--format", "json", "--trials", "0")
    finally:
        np.seterr(**before)
    assert r.exit_code == 1, r.stderr
    bad = [c for c in json.loads(r.stdout)["cases"] if c["status"] != "pass"]
    assert [c["name"] for c in bad] == ["gap_800"]  # exp underflows in the user's own softmax: their rule
    assert bad[0]["error"].startswith("raised FloatingPointError: underflow encountered in exp")


def test_base_exceptions_from_the_users_code_are_failed_cases(tmp_path: Path) -> None:
    target = _write(tmp_path, "odd.py", "class Odd(BaseException):\n    pass\n\ndef grad(z, t):\n    raise Odd('x')\n")
    r = run("verify", f"{target}:grad", "--format", "json", "--trials", "0")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["cases"][0]["error"].startswith("raised Odd: x (at ")


def test_junit_survives_control_characters_in_messages(tmp_path: Path) -> None:
    target = _write(tmp_path, "ctl.py", "def grad(z, t):\n    raise ValueError('bad\\x00\\x1bchar <&>')\n")
    r = run("verify", f"{target}:grad", "--format", "junit", "--trials", "0")
    assert r.exit_code == 1
    suite = ET.fromstring(r.stdout).find("testsuite")
    assert suite is not None
    error = suite.findall("testcase")[0].find("error")
    assert error is not None
    assert "bad\\x00\\x1bchar <&>" in (error.get("message") or "")  # visible escapes, as batch writes them
