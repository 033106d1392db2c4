from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

from softgrad.cli.app import cli

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")


def run(*args: str, input: str | bytes | None = None) -> Result:
    """Invoke the CLI in-process with stdout and stderr kept apart."""
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def invoke() -> Callable[..., Result]:
    return run


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    r = run(*args, "--format", "json")
    return r.exit_code, json.loads(r.stdout)


@pytest.fixture(params=["numpy", "fast"])
def both_readers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the numpy-only CSV path (``SOFTGRAD_FAST=0``) and with the fast parser, when installed."""
    if request.param == "numpy":
        monkeypatch.setenv("SOFTGRAD_FAST", "0")
    else:
        pytest.importorskip("polars", reason="the fast parser (softgrad[fast]) is not installed")
        monkeypatch.delenv("SOFTGRAD_FAST", raising=False)
        from softgrad.inputs import fast

        monkeypatch.setattr(fast, "MIN_BYTES", 0)  # small test inputs take the fast path too
    return str(request.param)
