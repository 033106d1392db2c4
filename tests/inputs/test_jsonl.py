"""JSON Lines rows honour every key `check --case` accepts: temperature and jacobian are used, never
silently ignored; rows without a gradient among rows with one are checked as such."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from softgrad.core import fused_gradient
from softgrad.core.formulas import softmax, softmax_jacobian
from tests.conftest import run

Z = [1.0, 2.0, 0.5]
T = [0.0, 1.0, 0.0]


def _rows(tmp_path: Path, *rows: dict[str, object]) -> Path:
    f = tmp_path / "rows.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


def _batch(f: Path, *args: str) -> tuple[int, dict[str, object]]:
    r = run("batch", str(f), "--format", "json", *args)
    return r.exit_code, json.loads(r.stdout)


def _grad(tau: float = 1.0) -> list[float]:
    return [float(x) for x in fused_gradient(np.array([Z]), np.array([T]), tau)[0]]


def test_a_row_temperature_is_honoured(tmp_path: Path) -> None:
    f = _rows(tmp_path, {"z": Z, "t": T, "temperature": 2, "grad": _grad(2.0)}, {"z": Z, "t": T, "grad": _grad()})
    code, d = _batch(f)
    assert code == 0, d
    assert d["total"]["counts"] == {"pass": 2, "fail": 0, "unstable": 0, "bad": 0}
    forgot = [2 * g for g in _grad(2.0)]  # softmax(z/τ) − t: the 1/τ forgotten
    f = _rows(tmp_path, {"z": Z, "t": T, "temperature": 2, "grad": forgot}, {"z": Z, "t": T, "grad": forgot})
    code, d = _batch(f)
    assert code == 1
    assert d["total"]["mistakes"] == {"missing_temperature": 1, "unknown": 1}  # row 2 is at τ = 1


def test_the_command_line_temperature_applies_to_rows_without_one(tmp_path: Path) -> None:
    f = _rows(tmp_path, {"z": Z, "t": T, "grad": _grad(3.0)}, {"z": Z, "t": T, "temperature": 1, "grad": _grad()})
    code, d = _batch(f, "--temperature", "3")
    assert code == 0, d


def test_a_row_jacobian_is_checked(tmp_path: Path) -> None:
    right = softmax_jacobian(softmax(np.array([Z])))[0]
    wrong = np.diag(np.diag(right))
    f = _rows(tmp_path, {"z": Z, "t": T, "jacobian": right.tolist()}, {"z": Z, "t": T, "jacobian": wrong.tolist()},
              {"z": Z, "t": T, "jacobian": right.ravel().tolist()})  # fmt: skip
    code, d = _batch(f)
    assert code == 1
    total = d["total"]
    assert total["counts"] == {"pass": 2, "fail": 1, "unstable": 0, "bad": 0}
    assert total["mistakes"] == {"diagonal_only": 1}
    assert [w["line"] for w in total["worst_rows"] if w["status"] == "fail"] == [2]


def test_a_jacobian_at_another_temperature(tmp_path: Path) -> None:
    right = softmax_jacobian(softmax(np.array(Z) / 2)[None])[0] / 2
    f = _rows(tmp_path, {"z": Z, "t": T, "temperature": 2, "jacobian": right.tolist()})
    assert _batch(f)[0] == 0
    f = _rows(tmp_path, {"z": Z, "t": T, "jacobian": right.tolist()})  # the same matrix is wrong at τ = 1
    assert _batch(f)[0] == 1


def test_rows_without_a_gradient_among_rows_with_one(tmp_path: Path) -> None:
    f = _rows(tmp_path, {"z": Z, "t": T, "grad": _grad()}, {"z": Z, "t": T}, {"z": [3.0, -1.0, 0.0], "t": T})
    code, d = _batch(f)
    assert code == 0, d
    assert d["total"]["counts"] == {"pass": 3, "fail": 0, "unstable": 0, "bad": 0}


def test_bad_temperature_and_jacobian_values_are_bad_rows(tmp_path: Path) -> None:
    f = _rows(tmp_path, {"z": Z, "t": T}, {"z": Z, "t": T, "temperature": -1}, {"z": Z, "t": T, "temperature": "2"},
              {"z": Z, "t": T, "jacobian": [1, 2, 3]})  # fmt: skip
    code, d = _batch(f)
    assert code == 2
    assert [(b["line"], b["message"]) for b in d["total"]["bad_rows"]] == [
        (2, "key 'temperature': must be a finite number > 0, got -1.0"),
        (3, "key 'temperature': expected a number, got a string"),
        (4, "key 'jacobian': has 3 values but K×K = 9"),
    ]


def test_a_mean_reduction_over_rows_of_different_temperatures_is_refused(tmp_path: Path) -> None:
    f = _rows(tmp_path, {"z": Z, "t": T, "grad": _grad()}, {"z": Z, "t": T, "temperature": 2, "grad": _grad(2.0)})
    r = run("batch", str(f), "--reduction", "mean")
    assert r.exit_code == 2
    assert r.stderr.startswith("softgrad: error: --reduction: mean: every row of a batch needs the same temperature")
