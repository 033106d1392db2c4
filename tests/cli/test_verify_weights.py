"""``softgrad verify`` on layer code through the CLI: --kind weights and loss-and-grad detected or given,
the table, json and junit formats, exit codes 0/1/2, and bad input as one line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, run

VERIFY = SAMPLES / "verify"

SAMPLES_EXIT = [
    ("weights_correct.py:softmax_loss_naive", 0, None),
    ("weights_half_reg.py:softmax_loss", 0, None),
    ("weights_transposed.py:softmax_loss_naive", 1, "dW_transposed"),
    ("weights_reg_missing_2.py:softmax_loss_vectorized", 1, "reg_gradient_factor"),
    ("weights_no_max_shift.py:softmax_loss_vectorized", 1, "no_max_shift"),
    ("weights_loss_not_mean.py:softmax_loss_naive", 1, "loss_not_mean"),
    ("two_layer_correct.py:loss", 0, None),
    ("two_layer_sigma_prime_at_activation.py:loss", 1, "sigma_prime_at_activation"),
    ("two_layer_bug_W2.py:two_layer_loss", 1, "reg_gradient_missing"),
]


@pytest.mark.parametrize(("target", "code", "named"), SAMPLES_EXIT)
def test_samples_exit_codes_json_and_table(target: str, code: int, named: str | None) -> None:
    r = run("verify", f"{VERIFY / target}", "--trials", "2", "--format", "json")
    assert r.exit_code == code, r.stderr
    assert r.stderr == ""
    d = json.loads(r.stdout)
    assert d["status"] == ("pass" if code == 0 else "fail")
    assert d["kind"] in ("weights", "loss-and-grad")
    assert (d["diagnosis"][0]["id"] if d["diagnosis"] else None) == named
    table = run("verify", f"{VERIFY / target}", "--trials", "2")
    assert table.exit_code == code
    assert table.stdout.startswith(f"softgrad verify {VERIFY / target}\n")
    assert f"status: {'PASS' if code == 0 else 'FAIL'}  {d['verdict']}" in table.stdout
    if named:
        assert "diagnosis, " in table.stdout
        assert named in table.stdout


def test_weights_table_shows_the_worst_entries_and_the_convention() -> None:
    r = run("verify", f"{VERIFY}/weights_reg_missing_2.py:softmax_loss_vectorized", "--trials", "0", "--show", "1")
    assert r.exit_code == 1
    out = r.stdout
    assert "regulariser  full — detected: reg·‖W‖² (gradient 2·reg·W), read from the loss" in out
    assert "worst entries:" in out
    assert "dW[1, 0]: yours -0.20647916, expected -0.29347916" in out  # the largest difference first
    assert "it matches reg_gradient_factor" in out
    assert "\n\n\n" not in out


def test_junit() -> None:
    r = run("verify", f"{VERIFY}/two_layer_bug_W2.py:two_layer_loss", "--format", "junit")
    assert r.exit_code == 1
    root = ET.fromstring(r.stdout)
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["two_layer", "two_layer_no_reg"]
    failure = cases[0].find("failure")
    assert failure is not None
    assert failure.get("type") == "reg_gradient_missing"
    assert failure.text is not None
    assert "W2[" in failure.text
    assert cases[1].find("failure") is None


def test_kind_given_and_case_file(tmp_path: Path) -> None:
    case = tmp_path / "args.json"
    case.write_text(
        json.dumps(
            {
                "params": {"W1": [[0.5, -0.2], [0.1, 0.3]], "b1": [0.0, 0.1], "W2": [[1.0, -1.0], [0.5, 0.25]],
                           "b2": [0.0, 0.0]},
                "X": [[1.0, 2.0], [0.5, -1.0], [-0.3, 0.8]],
                "y": [0, 1, 1],
                "reg": 0.05,
            }
        )
    )  # fmt: skip
    r = run("verify", f"{VERIFY}/two_layer_correct.py:loss", "--kind", "loss-and-grad", "--case", str(case))
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "kind       loss-and-grad — given" in r.stdout
    assert f"arguments from {case}" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["weights_correct.py:softmax_loss_naive", "--case", "x.json"],
            "softgrad: error: --case: applies to kind loss-and-grad",
        ),
        (
            ["two_layer_correct.py:loss", "--labels", "one-hot"],
            "softgrad: error: --labels: applies to kind weights only",
        ),
        (["two_layer_correct.py:loss", "--case", "/nonexistent/args.json"], "no such file"),
        (["correct_grad.py:grad", "--kind", "loss-and-grad"], "cannot make up its arguments (z, t)"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    r = run("verify", f"{VERIFY}/{args[0]}", *args[1:])
    assert r.exit_code == 2
    assert r.stdout == ""
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_a_grad_function_given_kind_weights_fails_as_cases() -> None:
    r = run("verify", f"{VERIFY}/correct_grad.py:grad", "--kind", "weights", "--format", "json")
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    assert d["summary"]["error"] == d["summary"]["cases"]
    assert d["cases"][0]["error"].startswith("raised TypeError")


def test_help_lists_the_layer_kinds() -> None:
    r = run("verify", "--help")
    assert r.exit_code == 0
    for text in ("weights   f(W, X, y, reg) -> (loss, dW) or dW", "loss-and-grad", "--reg-convention", "--labels",
                 "--case FILE"):  # fmt: skip
        assert text in r.stdout
