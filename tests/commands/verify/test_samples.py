"""Every user module in samples/verify/ is verified, with its expected kind, diagnosis and exit code."""

from __future__ import annotations

import json

import pytest

from softgrad import MISTAKES
from tests.conftest import SAMPLES, run

VERIFY = SAMPLES / "verify"

#: file -> [(function, kind, exit code, diagnosed id or None)]
EXPECTED: dict[str, list[tuple[str, str, int, str | None]]] = {
    "correct_grad.py": [("grad", "grad", 0, None)],
    "correct_jacobian.py": [("softmax_jacobian", "jacobian", 0, None)],
    "df2_on_logits.py": [("grad", "grad", 1, "jacobian_at_logits"), ("df2", "jacobian", 0, None)],
    "jacobian_diagonal_only.py": [("jacobian", "jacobian", 1, "diagonal_only")],
    "diagonal_only.py": [("grad", "grad", 1, "diagonal_only")],
    "missing_outer_term.py": [("grad", "grad", 1, "missing_outer_term")],
    "no_max_shift.py": [("grad", "grad", 1, "no_max_shift")],
    "assumes_one_hot.py": [("grad", "grad", 1, "assumes_one_hot")],
    "chained_underflow.py": [("grad", "grad", 1, "chained_underflow")],
    "raises.py": [("grad", "grad", 1, None)],
    "wrong_shape.py": [("grad", "grad", 1, None)],
    "correct_softmax.py": [("softmax", "softmax", 0, None)],
    "softmax_no_max_shift.py": [("softmax", "softmax", 1, "no_max_shift")],
    "softmax_wrong_axis.py": [("softmax", "softmax", 1, "softmax_over_batch_axis")],
    "summed_not_mean.py": [("grad", "grad", 1, "batch_sum_not_mean")],
    "correct_backward.py": [("softmax_backward", "backward", 0, None)],
}

CASES = [(name, *spec) for name, specs in EXPECTED.items() for spec in specs]


#: layer code (--kind weights, loss-and-grad): tests/commands/verify/test_weights_samples.py
LAYER_SAMPLES = ("weights_", "two_layer_")


def test_every_sample_is_covered() -> None:
    on_disk = {p.name for p in VERIFY.iterdir() if p.is_file() and not p.name.startswith(LAYER_SAMPLES)}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize(("name", "func", "kind", "code", "diagnosed"), CASES)
def test_sample(name: str, func: str, kind: str, code: int, diagnosed: str | None) -> None:
    r = run("verify", f"{VERIFY / name}:{func}", "--format", "json")
    assert r.exit_code == code, r.stderr
    d = json.loads(r.stdout)
    assert d["kind"] == kind
    assert d["kind_reason"].startswith("detected")
    assert d["status"] == ("pass" if code == 0 else "fail")
    if diagnosed is None:
        assert d["diagnosis"] == []
    else:
        assert d["diagnosis"][0]["id"] == diagnosed
        if MISTAKES[diagnosed].scope == "row":  # a batch-level mistake shows on the batch cases only
            assert d["diagnosis"][0]["consistent"]
        assert all(diagnosed in c["matches"] for c in d["cases"] if c["status"] == "fail")
    for case in d["cases"]:
        if case["status"] == "fail":
            assert case["command"].startswith("softgrad check --z ")
    # the table renders too, with the same exit code
    assert run("verify", f"{VERIFY / name}:{func}", "--trials", "2").exit_code == code


def test_the_motivating_df2_sample_states_what_a_caller_passing_z_gets() -> None:
    d = json.loads(run("verify", f"{VERIFY / 'df2_on_logits.py'}:df2", "--format", "json").stdout)
    assert d["input"] == "s"
    assert d["layout"] == "batch"
    other = d["other_input"]
    assert other["matches"] == ["jacobian_at_logits"]
    assert other["gradient"] == [6.125, 2.625]
    assert other["reference"] == [0.5, -0.5]


def test_raising_and_wrong_shape_samples_say_what_happened() -> None:
    d = json.loads(run("verify", f"{VERIFY / 'raises.py'}:grad", "--format", "json").stdout)
    assert {c["status"] for c in d["cases"]} == {"error"}
    assert d["cases"][0]["error"].startswith("raised AxisError: axis 2 is out of bounds")
    assert "raises.py:11)" in d["cases"][0]["error"]
    d = json.loads(run("verify", f"{VERIFY / 'wrong_shape.py'}:grad", "--format", "json").stdout)
    assert d["cases"][0]["error"] == "returned a single number, expected an array of shape (4,)"
    batch = next(c for c in d["cases"] if c["name"] == "batch")
    assert batch["error"] == "returned shape (3,), expected an array of shape (3, 4)"


def test_softmax_wrong_axis_sample_names_the_axis() -> None:
    d = json.loads(run("verify", f"{VERIFY / 'softmax_wrong_axis.py'}:softmax", "--format", "json").stdout)
    assert [c["name"] for c in d["cases"] if c["status"] == "fail"] == ["batch"]
    assert "axis 0" in d["verdict"]
