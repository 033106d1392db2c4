"""`softgrad layer` through the CLI: exit codes, stdout and stderr apart, the table and JSON, --explain,
`softgrad explain --case` for a layer case, `softgrad mistakes` for layer entries, and bad input as one line
with exit code 2."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from softgrad import MISTAKES
from tests.conftest import SAMPLES, run, run_json

LAYER = SAMPLES / "layer"
WORKED = ("layer", "--a", "1", "-0.5", "--W", "[[2, 0.5], [2, 0.5]]", "--b", "0", "0", "--t", "0", "1")
TRANSPOSED = ("--dW", "[[0.5, -0.5], [-0.25, 0.25]]")


def test_worked_example_table() -> None:
    r = run(*WORKED)
    assert r.exit_code == 0
    assert r.stderr == ""
    out = r.stdout
    assert out.startswith("softgrad layer — column convention (z = W a + b), one example; K = 2, H = 2, float64\n")
    assert "  z = W a + b    = [1.75, 1.75]\n" in out
    assert "∂L/∂W = δ aᵀ   (shape 2×2)" in out
    assert "mistake dW_transposed: a δᵀ gives [[0.5, -0.5], [-0.25, 0.25]]" in out
    assert out.rstrip().endswith("status: PASS")
    assert "\x1b[" not in out


def test_the_issue_command_runs() -> None:
    r = run("layer", "--a", "1", "-0.5", "--W", "[[0.2, 0.4], [0.1, -0.3]]", "--b", "0", "0", "--t", "0", "1")
    assert r.exit_code == 0, r.stderr
    assert "z = W a + b    = [0, 0.25]" in r.stdout


def test_transposed_dW_is_named_and_fails() -> None:
    r = run(*WORKED, *TRANSPOSED)
    assert r.exit_code == 1
    assert r.stderr == ""
    assert (
        "✗ your ∂L/∂W does not match the reference (max abs err 0.25, furthest out of tolerance at (0, 1))" in r.stdout
    )
    assert "it matches dW_transposed: the weight gradient transposed: a δᵀ instead of δ aᵀ" in r.stdout
    assert "status: FAIL  (your ∂L/∂W failed)" in r.stdout


def test_json_output_is_one_object() -> None:
    code, d = run_json(*WORKED, *TRANSPOSED)
    assert code == 1
    assert d["status"] == "fail"
    assert d["quantities"]["dW"]["user"]["matches"] == ["dW_transposed"]
    assert d["reference"] == "analytic"
    assert set(d["quantities"]) == {"delta", "dW", "db", "da"}


def test_matrices_in_the_forms_people_paste() -> None:
    for text in ("[[2, 0.5], [2, 0.5]]", "[[2. 0.5]\n [2. 0.5]]", "array([[2., 0.5], [2., 0.5]])", "2 0.5; 2 0.5"):
        code, d = run_json("layer", "--a", "1", "-0.5", "--W", text, "--t", "0", "1")
        assert code == 0, text
        assert d["input"]["W"] == [[2.0, 0.5], [2.0, 0.5]], text
    # unquoted, split by the shell into several values
    code, d = run_json("layer", "--a", "1", "-0.5", "--W", "[[2,", "0.5],", "[2,", "-0.5]]", "--t", "0", "1")
    assert code == 0
    assert d["input"]["W"] == [[2.0, 0.5], [2.0, -0.5]]


def test_row_convention_with_labels_reduction_and_regulariser() -> None:
    args = ["layer", "--convention", "row", "--a", "[[1, -0.5], [0.3, 2]]", "--W", "[[0.2, 0.4, 0], [0.1, -0.3, 1]]",
            "--b", "0.1", "0", "-0.1", "--label", "2", "0", "--reg", "0.1", "--reg-convention", "half"]  # fmt: skip
    code, d = run_json(*args)
    assert code == 0
    assert d["input"]["n"] == 2
    assert d["quantities"]["dW"]["formula"] == "Aᵀ Δ + reg·W"
    assert d["quantities"]["delta"]["shape"] == [2, 3]
    dW = d["quantities"]["dW"]["reference"]
    code, d = run_json(*args, "--dW", json.dumps(dW), "--reduction", "sum")
    assert code == 1  # the mean's gradient is not the sum's
    code, d = run_json(*args, "--dW", json.dumps(dW))
    assert code == 0


def test_hidden_layer_from_options() -> None:
    r = run("layer", "--a-in", "1", "-2", "0.5", "--W-h", "[[0.3, -0.1, 0.8], [-0.5, 0.4, 0.2]]", "--b-h",
            "0.1", "-0.2", "--activation", "tanh", "--W", "[[0.7, -1.2], [0.4, 0.9], [-0.3, 0.5]]", "--label",
            "2")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "δ_h = (Wᵀ δ) ⊙ σ′(z_h)" in r.stdout
    assert "∂L/∂W_h = δ_h a_inᵀ" in r.stdout


def test_explain_flag_and_explain_command_agree() -> None:
    flag = run("layer", "--case", str(LAYER / "wrong_dW.json"), "--explain")
    cmd = run("explain", "--case", str(LAYER / "wrong_dW.json"))
    assert flag.exit_code == cmd.exit_code == 1
    assert flag.stdout == cmd.stdout
    assert "✗ dW_transposed: the weight gradient transposed: a δᵀ instead of δ aᵀ" in flag.stdout
    assert "  where it goes wrong: step 5, the output layer's weights" in flag.stdout
    code, d = run_json("explain", "--case", str(LAYER / "hidden_layer.json"))
    assert code == 0
    assert [s["equation"] for s in d["steps"] if s["equation"]] == ["EqA1.1", "EqA1", "EqMagic", "EqA.2.1", "EqA.2"]


EXPECTED_EXPLAIN_TAIL = """\
✗ sigma_prime_at_activation: σ′ evaluated at the activation a_h = σ(z_h) instead of at z_h
  where it goes wrong: step 10, the activation's derivative, at z_h
    wrong: σ′(a_h) = σ′(σ(z_h))      right: σ′(z_h) = σ(z_h)·(1 − σ(z_h)) = a(1 − a)
      [0.219362, 0.24757]              [0.196612, 0.158685]
  which then gives: step 11, into the hidden layer: where the Hadamard product enters
    wrong: your δ_h              right: δ_h = (Wᵀ δ) ⊙ σ′(z_h)
      [0.134329, -0.112072]        [0.120398, -0.0718345]
  which then gives: step 12, the hidden layer's weights
    wrong: your ∂L/∂W_h                         right: ∂L/∂W_h = δ_h a_inᵀ
      [  0.134329   -0.268658   0.0671645]        [  0.120398   -0.240796   0.0601989]
      [ -0.112072    0.224143  -0.0560359]        [-0.0718345    0.143669  -0.0359173]
  which then gives: step 13, the hidden layer's bias
    wrong: your ∂L/∂b_h          right: ∂L/∂b_h = δ_h
      [0.134329, -0.112072]        [0.120398, -0.0718345]

✓ your ∂L/∂W matches the reference
status: FAIL
"""


def test_explain_a_wrong_hidden_layer_line_by_line() -> None:
    r = run("explain", "--case", str(LAYER / "sigma_prime_at_activation.json"))
    assert r.exit_code == 1
    assert r.stderr == ""
    tail = r.stdout[r.stdout.index("✗ sigma_prime_at_activation") :]
    assert tail.splitlines() == EXPECTED_EXPLAIN_TAIL.splitlines()
    assert "11. into the hidden layer: where the Hadamard product enters   [EqA.2.1]" in r.stdout


def test_explain_of_a_dE_dz_case_is_unchanged() -> None:
    r = run("explain", "--case", str(SAMPLES / "worked_example.json"))
    assert r.exit_code == 0
    assert r.stdout.startswith("softgrad explain — z = [1.75, 1.75], t = [0, 1]")


def test_mistakes_lists_layer_entries_and_shows_one_at_an_exposing_input() -> None:
    r = run("mistakes")
    assert r.exit_code == 0
    for m in MISTAKES.layers():
        assert m.id in r.stdout
    assert "layer entries (softgrad layer)" in r.stdout
    _code, d = run_json("mistakes")
    assert [x["scope"] for x in d["mistakes"]].count("layer") == len(MISTAKES.layers())


@pytest.mark.parametrize("mid", [m.id for m in MISTAKES.layers() if "loss" not in m.quantities])
def test_mistakes_id_of_a_layer_entry_reproduces_with_its_command(mid: str) -> None:
    code, d = run_json("mistakes", mid)
    assert code == 0
    assert d["scope"] == "layer"
    assert d["at"]["found"] is True
    command = d["exposing_command"]
    assert command.startswith("softgrad layer ")
    flags = {"delta": "--delta", "dW": "--dW", "db": "--db", "da": "--da", "delta_h": "--delta-h", "dW_h": "--dW-h",
             "db_h": "--db-h"}  # fmt: skip
    q, values = next(iter(d["values"].items()))
    args = shlex.split(command)[1:]
    code, out = run_json(*args, flags[q], json.dumps(values["wrong"]))
    assert code == 1
    assert mid in out["quantities"][q]["user"]["matches"]
    code, out = run_json(*args, flags[q], json.dumps(values["right"]))
    assert code == 0


def test_mistakes_id_of_a_layer_entry_table() -> None:
    r = run("mistakes", "dW_transposed")
    assert r.exit_code == 0
    assert r.stdout.startswith("dW_transposed — the weight gradient transposed")
    assert "softgrad layer --a-in" in r.stdout
    assert "differs from the reference here" in r.stdout


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    r = run(*WORKED, "--format", "json", "-o", str(out))
    assert r.exit_code == 0
    assert r.stdout == ""
    assert json.loads(out.read_text())["status"] == "pass"


def test_help_has_examples() -> None:
    r = run("layer", "--help")
    assert r.exit_code == 0
    assert "Examples:" in r.stdout
    assert "--reg-convention [full|half]" in r.stdout
    assert "layer" in run("--help").stdout


def _write(d: Path) -> None:
    (d / "bad.json").write_text('{"a": [1, 2], "W": [[1, "x"], [3, 4]], "t": [0, 1]}')
    (d / "unknown.json").write_text('{"a": [1, 2], "W": [[1, 2], [3, 4]], "t": [0, 1], "bias": [0, 0]}')
    (d / "broken.json").write_text('{"a": [1, 2], "W": [[1, 2], [3, 4]')
    (d / "list.json").write_text("[1, 2]")
    (d / "empty.json").write_text("")
    (d / "ragged.json").write_text('{"a": [1, 2], "W": [[1, 2], [3]], "t": [0, 1]}')
    (d / "act.json").write_text('{"a_in": [1], "W_h": [[1], [2]], "activation": 3, "W": [[1, 2], [3, 4]], "t": [0, 1]}')
    np.savez(d / "extra.npz", a=np.ones(2), W=np.ones((2, 2)), t=np.array([0.0, 1.0]), X=np.ones(2))
    np.savez(d / "nan.npz", a=np.array([1.0, np.nan]), W=np.ones((2, 2)), t=np.array([0.0, 1.0]))
    (d / "fake.npz").write_bytes(b"not a zip")


A2 = ("--a", "1", "-0.5")
W2 = ("--W", "[[2, 0.5], [2, 0.5]]")
T2 = ("--t", "0", "1")

#: (id, arguments, expected part of the one-line message)
BAD: list[tuple[str, tuple[str, ...], str]] = [
    ("missing W", ("layer", *A2, *T2), "--W: missing"),
    ("missing a", ("layer", *W2, *T2), "--a: missing"),
    ("missing t", ("layer", *A2, *W2), "--t: give the targets"),
    ("flat W", ("layer", *A2, "--W", "1", "2", *T2), "--W: expected a matrix (K×H), got shape 2"),
    ("ragged W", ("layer", *A2, "--W", "[[1, 2], [3]]", *T2), "--W: rows of different lengths"),
    ("not a number", ("layer", *A2, "--W", "[[1, x], [3, 4]]", *T2), "--W: value 2: 'x' is not a number"),
    ("unclosed", ("layer", *A2, "--W", "[[1, 2], [3, 4]", *T2), "--W: missing ']'"),
    ("nan input", ("layer", "--a", "1", "nan", *W2, *T2), "--a: value 2: 'nan' is not a finite number"),
    ("a length", ("layer", "--a", "1", "2", "3", *W2, *T2), "--a: expected 2 values (H = 2 inputs), got 3"),
    ("b length", ("layer", *A2, *W2, "--b", "1", *T2), "--b: expected 2 values (K = 2 biases), got 1"),
    ("t length", ("layer", *A2, *W2, "--t", "0", "1", "0"), "--t: expected 2 values (K = 2 targets), got 3"),
    ("negative t", ("layer", *A2, *W2, "--t", "-1", "1"), "--t: target -1 (example 0, class 0) is negative"),
    ("label range", ("layer", *A2, *W2, "--label", "2"), "--label: class index 2 is out of range for K = 2"),
    ("label float", ("layer", *A2, *W2, "--label", "1.5"), "--label: value 1: 1.5 is not a class index"),
    ("label and t", ("layer", *A2, *W2, *T2, "--label", "1"), "--label: give either the targets t or"),
    ("dW shape", ("layer", *A2, *W2, *T2, "--dW", "1", "2", "3"), "--dW: expected shape 2×2 (K×H, the shape of W)"),
    ("db without b", ("layer", *A2, *W2, *T2, "--db", "1", "2"), "--db: ∂L/∂b was given but the layer has no bias"),
    ("delta_h no hidden", ("layer", *A2, *W2, *T2, "--delta-h", "1"), "--delta-h: δ_h was given but there is no"),
    ("a with hidden", ("layer", *A2, *W2, *T2, "--activation", "relu"), "--a: with a hidden layer a = σ(z_h)"),
    ("hidden incomplete", ("layer", "--a-in", "1", *W2, *T2, "--activation", "relu"), "--W-h: missing"),
    ("W_h shape", ("layer", "--a-in", "1", "--W-h", "[[1, 2]]", *W2, *T2, "--activation", "relu"), "--W-h: expected"),
    ("negative reg", ("layer", *A2, *W2, *T2, "--reg", "-1"), "--reg: must be a finite number >= 0, got -1.0"),
    ("bad activation", ("layer", *A2, *W2, *T2, "--activation", "softplus"), "Invalid value for '--activation'"),
    ("bad convention", ("layer", *A2, *W2, *T2, "--convention", "col"), "Invalid value for '--convention'"),
    ("negative rtol", ("layer", *A2, *W2, *T2, "--rtol", "-1"), "--rtol: must be a finite number >= 0"),
    ("K = 1", ("layer", "--a", "1", "--W", "[[1]]", "--t", "1"), "--W: softmax needs at least 2 classes, got K = 1"),
    ("no such case", ("layer", "--case", "{d}/nope.json"), "nope.json: no such file"),
    ("case not a number", ("layer", "--case", "{d}/bad.json"), "bad.json: key 'W'[0][1]: 'x' is not a number"),
    ("case unknown key", ("layer", "--case", "{d}/unknown.json"), "bad key" if False else "unknown key 'bias'"),
    ("case broken", ("layer", "--case", "{d}/broken.json"), "broken.json:1:35: invalid JSON"),
    ("case a list", ("layer", "--case", "{d}/list.json"), "list.json: expected a JSON object"),
    ("case empty", ("layer", "--case", "{d}/empty.json"), "empty.json: is empty; expected a JSON object"),
    ("case ragged", ("layer", "--case", "{d}/ragged.json"), "ragged.json: key 'W': rows of different lengths"),
    ("case activation", ("layer", "--case", "{d}/act.json"), "act.json: key 'activation': expected a string"),
    ("npz unknown", ("layer", "--case", "{d}/extra.npz"), "extra.npz: unknown array 'X'"),
    ("npz nan", ("layer", "--case", "{d}/nan.npz"), "nan.npz: array 'a': numbers must be finite"),
    ("npz fake", ("layer", "--case", "{d}/fake.npz"), "fake.npz: not a readable .npz file"),
    ("check case", ("layer", "--case", str(SAMPLES / "worked_example.json")), "a dE/dz case, for softgrad check"),
    ("case key wrong", ("layer", "--case", str(LAYER / "worked_example.json"), "--a", "1"), "--a: expected 2 values"),
    ("case shape", ("layer", "--case", "{d}/shape.json"), "shape.json: key 'a': expected 2 values"),
    ("explain layer + z", ("explain", "--case", str(LAYER / "wrong_dW.json"), "--z", "1", "2"), "is a layer case"),
    ("mistakes layer + z", ("mistakes", "dW_transposed", "--z", "1", "2"), "is a layer mistake"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, name: str, args: tuple[str, ...], message: str) -> None:
    _write(tmp_path)
    (tmp_path / "shape.json").write_text('{"a": [1, 2, 3], "W": [[1, 2], [3, 4]], "t": [0, 1]}')
    r = run(*(a.replace("{d}", str(tmp_path)) for a in args))
    assert r.exit_code == 2, (name, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert message in lines[0], (name, lines[0])
    assert "Traceback" not in r.stderr


def _layer_section() -> str:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    start = readme.index("## `softgrad layer`")
    return readme[start : readme.index("\n## ", start + 1)]


def test_readme_layer_examples_work_as_written() -> None:
    import re

    from tests.conftest import ROOT

    section = _layer_section()
    commands = [line.strip()[2:] for line in section.splitlines() if line.strip().startswith("$ softgrad layer")]
    commands += [c for c in re.findall(r"`(softgrad layer --[^`]*)`", section) if " --W " in c or " --case " in c]
    assert len(commands) >= 6
    for command in commands:
        args = [a.replace("samples/", str(ROOT / "samples") + "/") for a in shlex.split(command)[1:]]
        r = run(*args)
        assert r.exit_code in (0, 1), (command, r.stderr)
        assert r.stderr == "", command


def test_readme_python_api_example() -> None:
    import softgrad

    report = softgrad.check_layer([1, -0.5], [[2, 0.5], [2, 0.5]], [0, 0], [0, 1], dW=[[0.5, -0.5], [-0.25, 0.25]])
    assert report.status == "fail"
    assert report.quantity("dW").reference == ((0.5, -0.25), (-0.5, 0.25))
    assert report.quantity("dW").user.matches[0].id == "dW_transposed"  # type: ignore[union-attr]
    assert report.diagnosis[0].id == "dW_transposed"


LAYER_OPTIONS = [
    "--a", "--W", "--b", "--t", "--label", "--a-in", "--W-h", "--b-h", "--activation", "--dW", "--db", "--delta-h",
    "--convention", "--reduction", "--reg", "--reg-convention", "--case", "--format", "--explain", "--rtol", "--",
]  # fmt: skip
LAYER_WORDS = ["[[1, 2], [3, 4]]", "[[1e308, 1e308], [1e308, 1e308]]", "[1, 2]", "[[1], [2]]", "1 2", "0 1", "relu",
               "sigmoid", "row", "column", "sum", "half", "json", "nan", "inf", "1e999", "-1", "0", "2", "[[", "]",
               "1;2", "[[1, 2], [3]]", "[[0, 1], [1, 0]]", "-"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(LAYER_OPTIONS), st.sampled_from(LAYER_WORDS),
                          st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=5)),
                max_size=14))  # fmt: skip
@example(["--a", "1e308", "1e308", "--W", "[[1e308, 1e308], [1e308, 1e308]]", "--t", "0", "1", "--format", "json"])
@example(["--a-in", "1e308", "--W-h", "[[1e308], [1e308]]", "--activation", "relu", "--W", "[[1, 2], [3, 4]]",
          "--t", "0", "1", "--format", "json"])  # fmt: skip
@example(["--a", "1", "2", "--W", "[[1e200, 0], [0, 1]]", "--t", "0", "1", "--reg", "1e300", "--format", "json"])
def test_random_layer_arguments_never_crash(args: list[str]) -> None:
    from click.testing import CliRunner

    from softgrad.cli.app import cli

    r = CliRunner().invoke(cli, ["layer", *args], catch_exceptions=True)
    assert r.exc_info is None or r.exc_info[0] is SystemExit, r.exc_info
    assert r.exit_code in (0, 1, 2), (args, r.stderr)
    assert "Traceback" not in r.stderr
    if "--format" in args and "json" in args and r.exit_code != 2 and "--" not in args:
        json.loads(r.stdout)
