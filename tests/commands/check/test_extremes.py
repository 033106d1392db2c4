"""Honest answers at numerical extremes: pass, fail or unstable with a reason — never NaN that passed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.conftest import run, run_json


def _never_nan_that_passed(d: dict[str, Any]) -> None:
    for name, c in d["comparisons"].items():
        if c["ok"]:
            assert c["max_abs_err"] is not None, name
            values = d["gradients"][name]
            assert values is None or all(v is not None for v in values), name
    assert all(v is not None and math.isfinite(v) for v in d["gradients"]["fused"])
    assert d["status"] in ("pass", "fail", "unstable")
    if d["status"] == "unstable":
        assert d["unstable"], "unstable needs a reason"


@pytest.mark.parametrize(
    ("z", "t", "status", "fused"),
    [
        (["1e308", "-1e308"], ["0", "1"], "unstable", [1.0, -1.0]),
        (["-1e308", "1e308"], ["0", "1"], "pass", [0.0, 0.0]),
        (["1e308", "1e308"], ["0", "1"], "pass", [0.5, -0.5]),
        (["-1e308", "-1e308"], ["0", "1"], "pass", [0.5, -0.5]),
        (["1e308", "1e-300", "0"], ["1", "0", "0"], "pass", [0.0, 0.0, 0.0]),
        (["1e308", "1e-300", "-1e308"], ["0", "1", "1"], "unstable", [2.0, -1.0, -1.0]),
        (["5", "5", "5", "5"], ["0", "1", "0", "0"], "pass", [0.25, -0.75, 0.25, 0.25]),
        (["1", "2", "3"], ["0", "0", "0"], "pass", [0.0, 0.0, 0.0]),
        (["0", "-740"], ["0", "1"], "unstable", [1.0, -1.0]),
        (["0", "-800"], ["0", "1"], "unstable", [1.0, -1.0]),
    ],
)
def test_extreme_logits(z: list[str], t: list[str], status: str, fused: list[float]) -> None:
    r = run("check", "--z", *z, "--t", *t, "--format", "json")
    assert r.stderr == ""  # no RuntimeWarning leaks
    import json

    d = json.loads(r.stdout)
    assert d["status"] == status, d["unstable"]
    assert r.exit_code == 0
    assert d["gradients"]["fused"] == pytest.approx(fused, abs=1e-15)
    _never_nan_that_passed(d)


def test_huge_logits_say_why_the_finite_difference_cannot_confirm() -> None:
    _, d = run_json("check", "--z", "1e308", "-1e308", "--t", "0", "1")
    assert any(r.startswith("finite difference: not computable") for r in d["unstable"])
    assert any("s[1] underflows to 0" in r for r in d["unstable"])
    assert d["loss"] is None  # the loss itself overflows: null, not a number


def test_loss_keeps_precision_for_huge_equal_logits() -> None:
    _, d = run_json("check", "--z", "-1e308", "-1e308", "--t", "0", "1")
    assert d["loss"] == pytest.approx(math.log(2), rel=1e-15)


def test_subnormal_probability() -> None:
    _, d = run_json("check", "--z", "0", "-740", "--t", "0", "1")
    assert d["unstable"][0].startswith("chained: s[1] is subnormal in float64")


def test_float32_probabilities_that_underflow() -> None:
    _, d = run_json("check", "--z", "0", "-100", "--t", "0", "1", "--dtype", "float32")
    assert d["status"] == "unstable"
    assert "subnormal in float32" in d["unstable"][0]
    assert "overflows float32" in d["unstable"][0]
    _, d = run_json("check", "--z", "0", "-100", "--t", "0", "1")
    assert d["status"] == "pass"  # in float64 the same input is fine


def test_targets_summing_to_zero_are_an_ignored_row() -> None:
    _, d = run_json("check", "--z", "3", "-2", "7", "--t", "0", "0", "0", "--grad", "0", "0", "0")
    assert d["status"] == "pass"
    assert d["gradients"]["fused"] == [0.0, 0.0, 0.0]
    assert d["loss"] == 0.0


def test_k_ten_thousand_is_readable() -> None:
    rng = np.random.default_rng(0)
    z = [f"{x:.4f}" for x in rng.normal(size=10_000)]
    r = run("check", "--z", *z, "--label", "17")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    rows = [ln for ln in lines if ln[:6].strip().isdigit()]
    assert len(rows) == 10_000
    assert "directional" in r.stdout
    assert max(len(ln) for ln in rows) < 120


def test_nan_user_gradient_never_passes() -> None:
    code, d = run_json("check", "--z", "1", "2", "--t", "0", "1", "--grad", "nan", "nan")
    assert code == 1
    assert d["user"]["ok"] is False
    assert d["user"]["max_abs_err"] is None
