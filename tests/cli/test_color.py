"""Colour follows the conventions people set: NO_COLOR only when not empty, FORCE_COLOR forces it,
TERM=dumb disables it, and --color auto|always|never beside --no-color."""

from __future__ import annotations

import sys

import pytest

from softgrad.cli.output import color_choice, use_color
from tests.conftest import run

CHECK = ("check", "--z", "1.75", "1.75", "--t", "0", "1")


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    return monkeypatch


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, True),
        ({"NO_COLOR": "1"}, False),
        ({"NO_COLOR": ""}, True),  # empty: not set
        ({"TERM": "dumb"}, False),
        ({"TERM": "xterm-256color"}, True),
        ({"FORCE_COLOR": "1", "TERM": "dumb"}, True),
        ({"FORCE_COLOR": ""}, True),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),  # NO_COLOR, the user's refusal, wins
    ],
)
def test_environment_on_a_terminal(clean: pytest.MonkeyPatch, env: dict[str, str], expected: bool) -> None:
    for k, v in env.items():
        clean.setenv(k, v)
    assert use_color(no_color=False) is expected
    assert use_color(no_color=True) is False


def test_force_color_colours_a_pipe(clean: pytest.MonkeyPatch) -> None:
    clean.setattr(sys.stdout, "isatty", lambda: False)
    assert use_color(no_color=False) is False
    clean.setenv("FORCE_COLOR", "1")
    assert use_color(no_color=False) is True
    assert color_choice(False, "never") == "never"


def test_color_option(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("FORCE_COLOR", "")
    r = run(*CHECK, "--color", "always")
    assert r.exit_code == 0
    assert "\x1b[" in r.stdout
    r = run(*CHECK, "--color", "never")
    assert "\x1b[" not in r.stdout
    r = run(*CHECK, "--color", "always", "--no-color")
    assert "\x1b[" not in r.stdout
    clean.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in run(*CHECK).stdout
    assert "\x1b[" not in run(*CHECK, "--color", "never").stdout
    r = run(*CHECK, "--color", "sometimes")
    assert r.exit_code == 2
    assert "'sometimes' is not one of 'auto', 'always', 'never'" in r.stderr


def test_quiet_and_verbose_on_every_command() -> None:
    for command in ("check", "explain", "mistakes", "batch", "verify", "layer"):
        r = run(command, "--help")
        assert "-q, --quiet" in r.stdout, command
        assert "-v, --verbose" in r.stdout, command
        assert "--color [auto|always|never]" in r.stdout, command
    r = run(*CHECK, "-q", "-v")
    assert r.exit_code == 2
    assert "--quiet and --verbose cannot be given together" in r.stderr


def test_quiet_drops_notes_but_keeps_warnings() -> None:
    from tests.conftest import SAMPLES

    mixed = str(SAMPLES / "batch" / "mixed.csv")
    r = run("batch", mixed, "--jobs", "999", "--format", "json")
    assert "softgrad: note: --jobs 999 is more than" in r.stderr
    r = run("batch", mixed, "--jobs", "999", "--format", "json", "-q")
    assert r.stderr == ""
    r = run("batch", str(SAMPLES / "batch" / "bad_rows.csv"), "--skip-bad", "-q", "--format", "json")
    assert "4 bad rows, skipped (--skip-bad)" in r.stderr
