"""`softgrad check` through the CLI: exit codes, stdout and stderr kept apart, the JSON schema."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SAMPLES, run, run_json

EXAMPLE = ("check", "--z", "1.75", "1.75", "--t", "0", "1")


def test_worked_example_table() -> None:
    r = run(*EXAMPLE)
    assert r.exit_code == 0
    assert r.stderr == ""
    out = r.stdout
    assert "softmax(z) = [0.5, 0.5]" in out
    assert "fused s·Σt − t (reference)" in out
    assert "jacobian_at_logits: g · J(z)" in out
    assert "6.125" in out
    assert "2.625" in out
    assert "|a − b| <= atol + rtol·|ref|" in out
    assert out.rstrip().endswith("status: PASS")
    assert "\x1b[" not in out  # plain when not a terminal


def test_worked_example_json_numbers() -> None:
    code, d = run_json(*EXAMPLE)
    assert code == 0
    assert d["status"] == "pass"
    assert d["softmax"] == [0.5, 0.5]
    assert d["gradients"]["fused"] == [0.5, -0.5]
    assert d["gradients"]["chained"] == [0.5, -0.5]
    assert d["gradients"]["finite_difference"] == pytest.approx([0.5, -0.5], abs=1e-9)
    mistake = next(m for m in d["mistakes"] if m["id"] == "jacobian_at_logits")
    assert mistake == {
        "id": "jacobian_at_logits",
        "title": mistake["title"],
        "gradient": [6.125, 2.625],
        "differs": True,
    }


def test_json_schema_keys() -> None:
    _, d = run_json(*EXAMPLE, "--grad", "0.5", "-0.5")
    assert {"status", "softmax", "gradients", "comparisons", "mistakes", "user", "tolerance"} <= d.keys()
    assert set(d["gradients"]) == {"fused", "chained", "finite_difference"}
    for name in ("chained", "finite_difference"):
        assert {"max_abs_err", "max_rel_err", "worst_index", "ok"} <= d["comparisons"][name].keys()
    assert {"gradient", "ok", "max_abs_err", "matches"} <= d["user"].keys()


def test_wrong_gradient_exits_1_and_names_the_mistake() -> None:
    r = run(*EXAMPLE, "--grad", "6.125", "2.625")
    assert r.exit_code == 1
    assert "it matches jacobian_at_logits" in r.stdout
    code, d = run_json(*EXAMPLE, "--grad", "6.125", "2.625")
    assert code == 1
    assert d["status"] == "fail"
    assert d["user"]["ok"] is False
    assert d["user"]["matches"][0] == "jacobian_at_logits"


def test_right_gradient_exits_0() -> None:
    r = run(*EXAMPLE, "--grad", "0.5", "-0.5")
    assert r.exit_code == 0
    assert "your gradient matches the reference" in r.stdout


def test_label_instead_of_targets() -> None:
    code, d = run_json("check", "--z", "1.75", "1.75", "--label", "1")
    assert code == 0
    assert d["input"]["t"] == [0.0, 1.0]


def test_comma_separated_and_negative_values() -> None:
    code, d = run_json("check", "--z", "2,0.5,-1", "--t", "0", "1", "0")
    assert code == 0
    assert d["gradients"]["fused"] == pytest.approx([0.7856, -0.8247, 0.0391], abs=1e-4)


def test_unstable_is_exit_0_with_reason() -> None:
    r = run("check", "--z", "0", "-800", "--t", "0", "1")
    assert r.exit_code == 0
    assert "unstable: chained: s[1] underflows to 0, so −t/s is infinite" in r.stdout
    _code, d = run_json("check", "--z", "0", "-800", "--t", "0", "1")
    assert d["status"] == "unstable"
    assert d["gradients"]["chained"] is None
    assert d["gradients"]["fused"] == [1.0, -1.0]
    assert d["gradients"]["finite_difference"] is not None


def test_unstable_with_wrong_user_gradient_fails() -> None:
    code, d = run_json("check", "--z", "0", "-800", "--t", "0", "1", "--grad", "0", "0")
    assert code == 1
    assert d["status"] == "fail"


def test_files_and_stdin(tmp_path: pytest.TempPathFactory) -> None:
    zf = tmp_path / "z.txt"  # type: ignore[operator]
    zf.write_text("1.75\n1.75\n")
    r = run("check", "--z-file", str(zf), "--t-file", "-", input="0, 1\n")
    assert r.exit_code == 0, r.stderr


def test_case_file_and_override() -> None:
    _code, d = run_json("check", "--case", str(SAMPLES / "worked_example.json"), "--t", "1", "0")
    assert d["input"]["t"] == [1.0, 0.0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "--z", "1", "abc", "--t", "0", "1"), "--z: value 2: 'abc' is not a number"),
        (("check", "--z", "1", "2", "--t", "0", "1", "0"), "--t: has 3 values but --z has 2"),
        (("check", "--z", "1", "--t", "1"), "--z: softmax needs at least 2 classes, got 1"),
        (("check", "--z", "1", "nan", "--t", "0", "1"), "--z: value 2: 'nan' is not a finite number"),
        (("check", "--z", "1", "2", "--t", "-1", "1"), "--t: value 1 is -1: targets must be >= 0"),
        (("check", "--z", "1", "2", "--label", "2"), "--label: class index 2 is out of range for K = 2"),
        (("check", "--z", "1", "2"), "--t: missing"),
        (("check", "--t", "0", "1"), "--z: missing"),
        (("check", "--z", "1", "2", "--t", "0", "1", "--tt", "3"), "No such option '--tt'"),
        (("check", "--z-file", "/nonexistent/z.txt", "--t", "0", "1"), "/nonexistent/z.txt: no such file"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], message: str) -> None:
    r = run(*args)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_file_errors_name_line_and_column(tmp_path: pytest.TempPathFactory) -> None:
    zf = tmp_path / "z.txt"  # type: ignore[operator]
    zf.write_text("1.75\n1.75 abc\n")
    r = run("check", "--z-file", str(zf), "--t", "0", "1")
    assert r.exit_code == 2
    assert f"{zf}:2:6: 'abc' is not a number" in r.stderr


def test_large_k_vertical_layout_nothing_cut() -> None:
    k = 1000
    z = [str((i % 17) / 3) for i in range(k)]
    r = run("check", "--z", *z, "--label", "3")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert any(line.strip().startswith("999 ") for line in lines)
    assert "directional" in r.stdout


def test_json_is_valid_with_nan_user_gradient() -> None:
    code, d = run_json("check", "--z", "1000", "0", "--t", "0", "1", "--grad", "nan", "-1")
    assert code == 1
    assert d["user"]["gradient"] == [None, -1.0]
    assert d["user"]["matches"][0] == "no_max_shift"


def test_python_m_softgrad_works() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "softgrad", *EXAMPLE, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status"] == "pass"


def test_output_file_is_written(tmp_path: pytest.TempPathFactory) -> None:
    out = tmp_path / "report.json"  # type: ignore[operator]
    r = run(*EXAMPLE, "--format", "json", "--output", str(out))
    assert r.exit_code == 0
    assert r.stdout == ""
    assert json.loads(out.read_text())["status"] == "pass"


def test_output_refuses_to_overwrite_an_input(tmp_path: pytest.TempPathFactory) -> None:
    case = tmp_path / "case.json"  # type: ignore[operator]
    case.write_text('{"z": [1, 2], "t": [0, 1]}')
    r = run("check", "--case", str(case), "--output", str(case))
    assert r.exit_code == 2
    assert "refusing to overwrite the input file" in r.stderr
    assert case.read_text() == '{"z": [1, 2], "t": [0, 1]}'


@given(
    st.text(
        alphabet=st.sampled_from(list("0123456789.-+eE[](), \n\tarytensordype=_.<>'…naif")), min_size=0, max_size=40
    )
)
@settings(max_examples=150)
def test_any_pasted_text_is_numbers_or_one_line_error(text: str) -> None:
    r = run("check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", text)
    assert r.exit_code in (0, 1, 2), r.stderr
    if r.exit_code == 2:
        assert r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1
        assert "Traceback" not in r.stderr


def test_printouts_round_trip_through_the_help_examples() -> None:
    r = run("check", "--z", "2", "0.5", "-1", "--label", "1", "--grad", "tensor([0.7856, -0.8247, 0.0391])")
    assert r.exit_code == 0
    assert "to the 4 decimals you gave" in r.stdout


def test_mistakes_shows_a_batch_level_entry_and_refuses_an_input() -> None:
    r = run("mistakes", "batch_sum_not_mean")
    assert r.exit_code == 0
    assert r.stdout.startswith("batch_sum_not_mean — ")
    assert "softgrad batch ROWS.csv --reduction mean" in r.stdout
    r = run("mistakes", "batch_sum_not_mean", "--z", "1", "2", "--t", "0", "1")
    assert r.exit_code == 2
    assert "is a batch-level mistake" in r.stderr
