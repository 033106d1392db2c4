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
