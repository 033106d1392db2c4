"""Settings in one place: [tool.softgrad] in the nearest pyproject.toml or a softgrad.toml, SOFTGRAD_*
variables, the command line — in that order of precedence, reversed — and `softgrad config`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, run

MIXED = str(SAMPLES / "batch" / "mixed.csv")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a sub-folder the commands run in (settings are found walking up)."""
    for var in ("SOFTGRAD_RTOL", "SOFTGRAD_ATOL", "SOFTGRAD_DTYPE", "SOFTGRAD_FORMAT", "SOFTGRAD_SHOW"):
        monkeypatch.delenv(var, raising=False)
    sub = tmp_path / "src" / "deeper"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    return tmp_path


def _config(*args: str) -> dict[tuple[str, str], tuple[object, str]]:
    r = run("config", *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return {(s["command"], s["key"]): (s["value"], s["source"]) for s in json.loads(r.stdout)["settings"]}


def test_precedence_command_line_environment_file_default(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.softgrad]\nrtol = 1e-3\nformat = "junit"\n\n[tool.softgrad.batch]\nshow = 2\n'
    )
    got = _config()
    assert got["batch", "rtol"] == (0.001, "../../pyproject.toml [tool.softgrad]")
    assert got["batch", "show"] == (2, "../../pyproject.toml [tool.softgrad.batch]")
    assert got["verify", "show"][1] == "default"
    assert got["batch", "format"] == ("junit", "../../pyproject.toml [tool.softgrad]")
    assert got["check", "format"] == ("table", "default")  # check writes no junit: the shared key skips it
    assert got["batch", "atol"] == (None, "default")
    monkeypatch.setenv("SOFTGRAD_FORMAT", "json")
    monkeypatch.setenv("SOFTGRAD_RTOL", "1e-5")
    got = _config("batch")
    assert got["batch", "format"] == ("json", "environment SOFTGRAD_FORMAT")
    assert got["batch", "rtol"] == (1e-5, "environment SOFTGRAD_RTOL")
    assert {c for c, _ in got} == {"batch"}
    # the environment's json is what batch writes; the command line beats it
    r = run("batch", MIXED, "--quiet")
    assert json.loads(r.stdout)["options"]["tolerance"]["rtol"] == 1e-5
    assert len(json.loads(r.stdout)["total"]["worst_rows"]) == 2
    r = run("batch", MIXED, "--quiet", "--format", "github", "--rtol", "1e-7", "--show", "1")
    assert r.stdout.count("::error") == 1


def test_softgrad_toml_wins_over_pyproject_in_the_same_folder(project: Path) -> None:
    (project / "src" / "pyproject.toml").write_text('[tool.softgrad]\ndtype = "float32"\nseed = 3\n')
    (project / "src" / "softgrad.toml").write_text('dtype = "float64"\n[verify]\ntrials = 4\n')
    got = _config()
    assert got["check", "dtype"] == ("float64", "../softgrad.toml")
    assert got["check", "seed"] == (3, "../pyproject.toml [tool.softgrad]")
    assert got["verify", "trials"] == (4, "../softgrad.toml [verify]")


def test_a_pyproject_without_the_table_is_passed_over(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.softgrad]\nshow = 7\n")
    (project / "src" / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    assert _config()["batch", "show"] == (7, "../../pyproject.toml [tool.softgrad]")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.softgrad]\nrtoll = 1e-3\n", "[tool.softgrad] rtoll: unknown setting 'rtoll' (did you mean 'rtol'?)"),
        ("[tool.softgrad.batch]\ntrials = 3\n", "[tool.softgrad.batch] trials: unknown setting 'trials'"),
        ("[tool.softgrad.batch]\nshow = 'many'\n", "[tool.softgrad.batch] show: expected a whole number, got 'many'"),
        ("[tool.softgrad]\ndtype = 'float16'\n", "[tool.softgrad] dtype: expected one of float64, float32"),
        ("[tool.softgrad]\nskip-bad = 'yes'\n", "[tool.softgrad] skip-bad: expected true or false, got 'yes'"),
        ("[tool.softgrad]\nshow = -2\n", "[tool.softgrad] show: must be a whole number >= 0, got -2"),
        ("[tool.softgrad]\nformat = 'yaml'\n", "[tool.softgrad] format: expected one of table, json"),
        ("[tool.softgrad]\nrtol = [1]\n", "[tool.softgrad] rtol: expected a number, got [1]"),
        ("[tool.softgrad.nosuch]\nrtol = 1\n", "[tool.softgrad] nosuch: unknown setting 'nosuch'"),
        ("[tool.softgrad\n", "pyproject.toml: not valid TOML"),
    ],
)
def test_a_bad_setting_is_one_line_naming_file_and_key(project: Path, text: str, message: str) -> None:
    (project / "pyproject.toml").write_text(text)
    r = run("check", "--z", "1", "2", "--t", "0", "1")
    assert r.exit_code == 2
    assert r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith("softgrad: error: ../../pyproject.toml")
    assert message in line


def test_bad_environment_variables(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFTGRAD_RTOLL", "1")
    r = run("check", "--z", "1", "2", "--t", "0", "1")
    assert (r.exit_code, r.stderr) == (
        2,
        "softgrad: error: SOFTGRAD_RTOLL: unknown setting 'rtoll' (did you mean 'rtol'?)\n",
    )
    monkeypatch.delenv("SOFTGRAD_RTOLL")
    monkeypatch.setenv("SOFTGRAD_DTYPE", "double")
    r = run("check", "--z", "1", "2", "--t", "0", "1")
    assert r.exit_code == 2
    assert "environment SOFTGRAD_DTYPE: expected one of float64, float32, got 'double'" in r.stderr


def test_verbose_says_which_settings_came_from_where(project: Path) -> None:
    (project / "softgrad.toml").write_text("[check]\natol = 1e-9\n")
    r = run("check", "--z", "1", "2", "--t", "0", "1", "-v")
    assert r.exit_code == 0
    assert "softgrad: setting atol = 1e-09 (from ../../softgrad.toml [check])" in r.stderr
    assert (
        json.loads(run("check", "--z", "1", "2", "--t", "0", "1", "--format", "json").stdout)["tolerance"]["atol"]
        == 1e-9
    )


def test_config_table_and_unknown_command(project: Path) -> None:
    r = run("config")
    assert r.exit_code == 0
    assert "files: none" in r.stdout
    assert "batch" in r.stdout
    assert "junit-cases" in r.stdout
    r = run("config", "nosuch")
    assert r.exit_code == 2
    assert "no command 'nosuch'" in r.stderr


def test_quiet_and_verbose_as_settings(project: Path) -> None:
    (project / "softgrad.toml").write_text("verbose = true\n")
    r = run("check", "--z", "1", "2", "--t", "0", "1")
    assert r.exit_code == 0
    assert r.stderr == "softgrad: setting verbose = True (from ../../softgrad.toml)\n"
    r = run("check", "--z", "1", "2", "--t", "0", "1", "-q")
    assert (r.exit_code, r.stderr) == (0, "")


def test_a_run_imports_only_its_own_command_unless_settings_need_every_one(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.inputs.special import child_env

    cmd = [sys.executable, "-X", "importtime", "-m", "softgrad", "check", "--z", "1.75", "1.75", "--t", "0", "1"]
    quiet = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=child_env(), check=False)
    assert quiet.returncode == 0, quiet.stderr
    assert "softgrad.commands.verify" not in quiet.stderr
    assert "softgrad.commands.batch" not in quiet.stderr
    wrong = subprocess.run(
        cmd, capture_output=True, text=True, cwd=tmp_path, env=child_env({"SOFTGRAD_NO_SUCH": "1"}), check=False
    )
    assert wrong.returncode == 2  # a setting no command takes is still an error: every command was asked
    assert "softgrad.commands.verify" in wrong.stderr
