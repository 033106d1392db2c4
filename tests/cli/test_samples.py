"""Every file in samples/ is run, with its expected exit code."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLES, run

#: sample file -> (command line before the file, expected exit code, expected status or None)
EXPECTED: dict[str, tuple[tuple[str, ...], int]] = {
    "worked_example.json": (("check", "--case"), 0),
    "worked_example_jacobian_at_logits.json": (("check", "--case"), 1),
    "worked_example_jacobian.json": (("check", "--case"), 1),
    "soft_labels.json": (("check", "--case"), 0),
    "unnormalised_targets.json": (("check", "--case"), 0),
    "large_logits.json": (("check", "--case"), 0),
    "k10.json": (("check", "--case"), 0),
    "unstable_underflow.json": (("check", "--case"), 0),
    "temperature.json": (("check", "--case"), 0),
}


def test_every_sample_has_an_expectation() -> None:
    on_disk = {p.name for p in SAMPLES.iterdir() if p.is_file() and p.name != "README.md"}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample(name: str) -> None:
    prefix, code = EXPECTED[name]
    r = run(*prefix, str(SAMPLES / name), "--format", "json")
    assert r.exit_code == code, r.stderr
    json.loads(r.stdout)
