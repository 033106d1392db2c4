"""The README's Guarantees, each backed by a test here (batch-specific ones live in the batch tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from softgrad.cli import output
from softgrad.errors import InputError
from tests.conftest import SAMPLES, run
from tests.inputs.special import children

EX = ("check", "--z", "1.75", "1.75", "--t", "0", "1")


def test_stdout_is_data_and_stderr_is_talk() -> None:
    r = run(*EX, "--format", "json")
    json.loads(r.stdout)
    assert r.stderr == ""
    r = run(*EX, "--z", "x")
    assert r.stdout == ""
    assert r.stderr.startswith("softgrad")


def test_output_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("previous report\n")
    r = run(*EX, "--format", "json", "--output", str(target))
    assert r.exit_code == 0
    assert json.loads(target.read_text())["status"] == "pass"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_interrupted_write_keeps_the_old_file_and_no_partial_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("previous report\n")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    r = run(*EX, "--format", "json", "--output", str(target))
    assert r.exit_code == 130
    assert r.stderr.strip() == "softgrad: interrupted"
    assert target.read_text() == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_interrupt_during_the_work_exits_130_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import softgrad.commands.check.api

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(softgrad.commands.check.api, "check", interrupted)
    target = tmp_path / "out.json"
    r = run(*EX, "--output", str(target))
    assert r.exit_code == 130
    assert r.stderr == "softgrad: interrupted\n"
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_inputs_are_never_modified(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_bytes((SAMPLES / "worked_example_jacobian_at_logits.json").read_bytes())
    before = case.read_bytes(), case.stat().st_mtime_ns
    for command in ("check", "explain"):
        run(command, "--case", str(case), "--format", "json")
        run(command, "--case", str(case), "--output", str(case))
    assert (case.read_bytes(), case.stat().st_mtime_ns) == before


def test_output_refuses_an_input_even_by_another_path(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    case.write_text('{"z": [1, 2], "t": [0, 1]}')
    link = tmp_path / "link.json"
    link.symlink_to(case)
    r = run("check", "--case", str(case), "--output", str(link))
    assert r.exit_code == 2
    assert "refusing to overwrite the input file" in r.stderr
    assert case.read_text() == '{"z": [1, 2], "t": [0, 1]}'


def test_write_output_cleans_up_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(InputError, match=r"cannot write .*x\.txt: No space left on device"):
        output.write_output("text", str(tmp_path / "x.txt"))
    assert list(tmp_path.iterdir()) == []


def test_no_colour_when_piped_or_asked() -> None:
    assert "\x1b[" not in run(*EX).stdout
    assert "\x1b[" not in run(*EX, "--no-color").stdout


def test_colour_renderer_respects_no_color() -> None:
    from softgrad.commands.check.api import check
    from softgrad.render.check_doc import check_document
    from softgrad.render.rich_out import render_rich

    doc = check_document(check([1.75, 1.75], [0, 1]))
    assert "\x1b[" in render_rich(doc, color=True, width=120)
    assert "\x1b[" not in render_rich(doc, color=False, width=120)


def test_no_color_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from softgrad.cli.output import use_color

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(no_color=False) is True
    assert use_color(no_color=True) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(no_color=False) is False


def test_ctrl_c_on_a_real_batch_run(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    rows = tmp_path / "rows.csv"
    line = "0.5,-1.25,2.0,0.75,0,0,1,0\n"
    rows.write_text("z0,z1,z2,z3,t0,t1,t2,t3\n" + line * 1_000_000)
    out = tmp_path / "out.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "softgrad", "batch", str(rows), "--format", "csv", "--output", str(out), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30

    def started() -> bool:  # two worker processes, or (with the fast parser) worker threads beside the main one
        try:
            threads = len(os.listdir(f"/proc/{proc.pid}/task"))
        except OSError:
            threads = 0
        return len(children(proc.pid)) >= 2 or threads >= 3

    while not started() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # Ctrl-C once the run is under way (its workers started), not during start-up
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:  # finished before the signal on a fast machine: nothing to check
        pytest.skip("the run finished before Ctrl-C")
    assert proc.returncode == 130, stderr
    assert stderr == "softgrad: interrupted\n"
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


def test_verify_leaves_no_bytecode_beside_the_users_file(tmp_path: Path) -> None:
    module = tmp_path / "mygrad.py"
    module.write_text((SAMPLES / "verify" / "correct_grad.py").read_text())
    r = run("verify", f"{module}:grad", "--trials", "1", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mygrad.py"]


def test_every_test_the_readme_guarantees_name_exists() -> None:
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Guarantees\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"\btest_[a-z0-9_]+\b(?!\.py)", section))  # test functions, not files
    defined = {
        m
        for f in (ROOT / "tests").rglob("test_*.py")
        for m in re.findall(r"^def (test_[a-z0-9_]+)", f.read_text(), re.M)
    }
    assert len(named) > 60
    assert sorted(named - defined) == []


@pytest.mark.parametrize(("sig", "code", "said"), [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_signal_while_softgrad_is_still_importing_numpy_is_quiet(sig: str, code: int, said: str) -> None:
    """Ctrl-C in the tenths of a second the command spends importing numpy and its commands: the documented exit
    code and one line, not a traceback from inside an import."""
    import subprocess
    import sys

    # the signal arrives exactly while numpy is being imported: a finder on sys.meta_path sends it
    script = (
        "import os, signal, sys\n"
        "class Finder:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == 'numpy': os.kill(os.getpid(), signal.{sig})\n"
        "        return None\n"
        "sys.meta_path.insert(0, Finder())\n"
        "from softgrad.__main__ import run\n"
        "sys.argv = ['softgrad', 'check', '--z', '1.75', '1.75', '--t', '0', '1']\n"
        "sys.exit(run())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr == f"softgrad: {said}\n"
    assert proc.stdout == ""
