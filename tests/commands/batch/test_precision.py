"""batch: gradient fields compared to the decimals they were written with (inferred from the values read),
machine-written files compared exactly, --exact, and the float32 hint."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from softgrad import MISTAKES
from softgrad.core import fused_gradient
from tests.conftest import run, run_json

HEADER = "z0,z1,z2,t0,t1,t2,g0,g1,g2\n"
Z = np.array([[2.0, 0.5, -1.0], [1.75, 1.75, 0.0], [0.3, -1.2, 2.5], [0.0, 0.25, -0.5]])
T = np.eye(3)[[1, 1, 2, 0]]


def _csv(path: Path, g: np.ndarray, fmt: str) -> Path:
    rows = [
        ",".join([*(repr(float(x)) for x in (*z, *t)), *(format(x, fmt) for x in gg)])
        for z, t, gg in zip(Z, T, g, strict=True)
    ]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_rounded_gradients_in_a_file_pass(tmp_path: Path) -> None:
    ref = fused_gradient(Z, T, 1.0)
    f = _csv(tmp_path / "rounded.csv", ref, ".4f")
    code, d = run_json("batch", str(f))
    assert code == 0, d["total"]
    assert d["total"]["counts"]["pass"] == 4
    assert d["files"][0]["precision"]["within_precision_rows"] == 4
    assert d["options"]["tolerance"]["precision"] == "as written"
    r = run("batch", str(f))
    assert "4 rows pass to the decimals their gradient was written with" in r.stdout
    code, d = run_json("batch", str(f), "--exact")
    assert code == 1
    assert d["total"]["counts"]["fail"] == 4
    assert d["options"]["tolerance"]["precision"] == "exact"


def test_rounded_mistakes_in_a_file_are_named(tmp_path: Path) -> None:
    wrong = MISTAKES["diagonal_only"].gradient(Z, T, 1.0)
    f = _csv(tmp_path / "wrong.csv", wrong, ".5f")
    code, d = run_json("batch", str(f))
    assert code == 1
    assert d["total"]["mistakes"] == {"diagonal_only": 4}


def test_a_machine_written_file_is_compared_at_full_precision(tmp_path: Path) -> None:
    # one value with 17 significant digits: the file was written by a program, its short values are exact
    ref = fused_gradient(Z, T, 1.0)
    g = np.round(ref, 4)
    g[0, 0] = ref[0, 0]
    f = _csv(tmp_path / "repr.csv", g, ".17g")
    code, d = run_json("batch", str(f))
    assert code == 1
    assert d["files"][0]["precision"]["within_precision_rows"] == 0
    assert d["files"][0]["precision"]["full_precision_rows"] == d["total"]["counts"]["fail"] > 0


def test_json_lines_fields_keep_their_precision(tmp_path: Path) -> None:
    f = tmp_path / "rows.jsonl"
    f.write_text('{"z": [2, 0.5, -1], "label": 1, "grad": [0.7856, -0.8247, 0.0391]}\n')
    code, d = run_json("batch", str(f))
    assert code == 0
    assert d["total"]["counts"]["pass"] == 1


def test_arrays_are_exact() -> None:
    import softgrad

    ref = fused_gradient(Z, T, 1.0)
    rep = softgrad.check_batch(Z, T, np.round(ref, 4))
    assert rep.status == "fail"
    assert "precision" not in rep.to_dict()["options"]["tolerance"]


def test_float32_gradients_get_the_hint(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, (20, 3)).astype(np.float32)
    t = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 20)]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    g = e / e.sum(axis=1, keepdims=True) - t  # computed in float32
    rows = [",".join(repr(float(x)) for x in (*a, *b, *c)) for a, b, c in zip(z, t, g, strict=True)]
    f = tmp_path / "f32.csv"
    f.write_text(HEADER + "\n".join(rows) + "\n")
    r = run("batch", str(f))
    assert r.exit_code == 1
    assert "hint: these gradients agree to float32 precision: --dtype float32" in r.stdout
    _, d = run_json("batch", str(f))
    assert d["files"][0]["precision"]["float32_rows"] == d["total"]["counts"]["fail"]
    assert run("batch", str(f), "--dtype", "float32").exit_code == 0


def test_rounded_gradients_in_an_npz_are_compared_exactly(tmp_path: Path) -> None:
    """Binary arrays carry every bit: a gradient rounded to 4 decimals and stored in .npz is wrong, not
    'right to the decimals it was written with'."""
    ref = fused_gradient(Z, T, 1.0)
    f = tmp_path / "rounded.npz"
    np.savez(f, z=Z, t=T, grad=np.round(ref, 4))
    code, d = run_json("batch", str(f))
    assert code == 1
    assert d["total"]["counts"]["fail"] == 4
    assert d["files"][0]["precision"]["within_precision_rows"] == 0
    exact = tmp_path / "exact.npz"
    np.savez(exact, z=Z, t=T, grad=ref)
    code, d = run_json("batch", str(exact))
    assert code == 0


def test_a_block_is_read_to_the_most_decimals_it_shows(tmp_path: Path) -> None:
    """Trailing zeros are not seen in the parsed values: 0.5000 reads as 0.5, 0.0000 as 0. The block's format
    (the most decimals any gradient value shows) is the precision of all of them: a wrong 0.5000 beside
    4-decimal values is not allowed ±0.05, and a right 0.0000 is allowed ±5e-5."""
    f = tmp_path / "rows.csv"
    f.write_text("z0,z1,label,g0,g1\n0.16,0,1,0.5000,-0.5000\n0.3,0.1,0,-0.4502,0.4502\n")
    code, d = run_json("batch", str(f))
    assert code == 1
    assert d["total"]["counts"] == {"pass": 1, "fail": 1, "unstable": 0, "bad": 0}
    f.write_text("z0,z1,z2,label,g0,g1,g2\n3,1,-8,0,-0.1192,0.1192,0.0000\n")
    code, d = run_json("batch", str(f))
    assert code == 0
