"""Shell completion through click (`_SOFTGRAD_COMPLETE=bash_source softgrad`), with FILE.py:function
targets for verify listed from the file's syntax tree — never by importing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from softgrad.cli.app import cli
from softgrad.cli.completion import function_location, public_functions

ENTRY = [sys.executable, "-c", "from softgrad.cli.app import main; main()"]


def _complete(cwd: Path, words: str, shell: str = "bash") -> list[str]:
    env = {"_SOFTGRAD_COMPLETE": f"{shell}_complete", "COMP_WORDS": words}
    env["COMP_CWORD"] = str(len(words.split()) - (0 if words.endswith(" ") else 1))
    old = os.getcwd()
    os.chdir(cwd)
    try:
        r = CliRunner().invoke(cli, [], env=env, prog_name="softgrad", catch_exceptions=False)
    finally:
        os.chdir(old)
    assert r.exit_code == 0, r.stderr
    return [x for x in r.stdout.splitlines() if x]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    (tmp_path / "model.py").write_text(
        "import sys\nsys.exit('imported!')\n\n"
        "def grad(z, t):\n    return z\n\n"
        "def _helper():\n    pass\n\n"
        "async def gradient_async(z, t):\n    return z\n\n"
        "class Softmax:\n    def backward(self, s, g):\n        return g\n    def _private(self):\n        pass\n"
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "notes.txt").write_text("")
    return tmp_path


def test_scripts_for_bash_zsh_fish() -> None:
    env = {**os.environ, "_SOFTGRAD_COMPLETE": "bash_source"}
    r = subprocess.run(ENTRY, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0
    assert "complete -o nosort -F _softgrad_completion softgrad" in r.stdout
    for shell, marker in (("zsh", "#compdef softgrad"), ("fish", "complete --no-files --command softgrad")):
        out = CliRunner().invoke(cli, [], env={"_SOFTGRAD_COMPLETE": f"{shell}_source"}, prog_name="softgrad")
        assert out.exit_code == 0
        assert marker in out.stdout


def test_commands_and_options_complete(model: Path) -> None:
    assert "plain,batch" in _complete(model, "softgrad ba")
    assert "plain,--junit-cases" in _complete(model, "softgrad batch x.csv --junit")


def test_verify_targets_list_public_functions_without_importing(model: Path) -> None:
    assert _complete(model, "softgrad verify model.py:") == [
        "plain,model.py:grad",
        "plain,model.py:gradient_async",
        "plain,model.py:Softmax.backward",
    ]
    assert _complete(model, "softgrad verify model.py:gr") == ["plain,model.py:grad", "plain,model.py:gradient_async"]
    assert _complete(model, "softgrad verify m") == ["plain,model.py:"]
    assert _complete(model, "softgrad verify ") == ["plain,model.py:", "plain,pkg/"]
    zsh = _complete(model, "softgrad verify model.py:g", "zsh")
    assert "model.py:grad" in zsh


def test_broken_or_missing_files_complete_to_nothing(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def grad(z, t:\n")
    assert public_functions(str(tmp_path / "broken.py")) == {}
    assert public_functions(str(tmp_path / "missing.py")) == {}
    assert _complete(tmp_path, "softgrad verify broken.py:") == []


def test_function_location(model: Path) -> None:
    target = str(model / "model.py")
    assert function_location(f"{target}:grad") == (target, 4)
    assert function_location(f"{target}:Softmax.backward") == (target, 14)
    assert function_location(f"{target}:nosuch") is None
    assert function_location("package.module:grad") is None
