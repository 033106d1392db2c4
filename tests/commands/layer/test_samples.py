"""Every file in samples/layer/ is checked, with its expected status, diagnosis and exit code."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SAMPLES, run

LAYER = SAMPLES / "layer"

#: sample -> (exit code, status, the diagnosis's first id or None)
EXPECTED: dict[str, tuple[int, str, str | None]] = {
    "worked_example.json": (0, "pass", None),
    "wrong_dW.json": (1, "fail", "dW_transposed"),
    "hidden_layer.json": (0, "pass", None),
    "sigma_prime_at_activation.json": (1, "fail", "sigma_prime_at_activation"),
    "course_batch.npz": (1, "fail", "reg_gradient_missing"),
}


def test_every_layer_sample_has_an_expectation() -> None:
    on_disk = {p.name for p in LAYER.iterdir() if p.is_file() and p.suffix in (".json", ".npz")}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layer_sample(name: str) -> None:
    code, status, first = EXPECTED[name]
    r = run("layer", "--case", str(LAYER / name), "--format", "json")
    assert r.exit_code == code, r.stderr
    assert r.stderr == ""
    d = json.loads(r.stdout)
    assert d["status"] == status
    assert (d["diagnosis"][0]["id"] if d["diagnosis"] else None) == first
    ex = run("layer", "--case", str(LAYER / name), "--explain")
    assert ex.exit_code == code
    assert ex.stdout.startswith("softgrad explain — a layer")


def test_worked_example_sample_numbers() -> None:
    r = run("layer", "--case", str(LAYER / "worked_example.json"), "--format", "json")
    d = json.loads(r.stdout)
    assert d["forward"]["z"] == [1.75, 1.75]
    assert d["quantities"]["dW"]["reference"] == [[0.5, -0.25], [-0.5, 0.25]]
    assert d["quantities"]["dW"]["mistakes"][0]["value"] == [[0.5, -0.5], [-0.25, 0.25]]
    assert d["quantities"]["dW"]["user"]["verdict"] == "correct"


def test_course_batch_is_the_row_convention_read_from_the_archive() -> None:
    r = run("layer", "--case", str(LAYER / "course_batch.npz"), "--format", "json")
    d = json.loads(r.stdout)
    assert (d["input"]["convention"], d["input"]["n"], d["input"]["h"], d["input"]["k"]) == ("row", 5, 4, 3)
    assert d["input"]["reg"] == 0.1
    assert d["quantities"]["dW"]["formula"] == "Aᵀ Δ + 2·reg·W"
    # the same file with the regulariser switched off on the command line: the user's dW is right then
    r = run("layer", "--case", str(LAYER / "course_batch.npz"), "--reg", "0", "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["quantities"]["dW"]["user"]["verdict"] == "correct"


def test_samples_are_what_the_generator_writes(tmp_path: object) -> None:
    """samples/layer/make_samples.py regenerates the JSON samples: the same keys, the same values up to the last
    bit or two (a matrix product's last bit depends on the BLAS numpy was built with)."""
    import runpy
    import shutil
    from pathlib import Path

    target = Path(str(tmp_path)) / "layer"
    target.mkdir()
    shutil.copy(LAYER / "make_samples.py", target / "make_samples.py")
    runpy.run_path(str(target / "make_samples.py"), run_name="__main__")
    for name in EXPECTED:
        if name.endswith(".json"):
            made, kept = json.loads((target / name).read_text()), json.loads((LAYER / name).read_text())
            assert made.keys() == kept.keys(), name
            for key in kept:
                if isinstance(kept[key], str):
                    assert made[key] == kept[key], (name, key)
                else:
                    np.testing.assert_allclose(made[key], kept[key], rtol=1e-14, atol=1e-15, err_msg=f"{name}: {key}")
