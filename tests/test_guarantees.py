"""The README's Guarantees, each backed by a test here (batch-specific ones live in the batch tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from softgrad import output
from tests.conftest import SAMPLES, run

EX = ("check", "--z", "1.75", "1.75", "--t", "0", "1")


def test_stdout_is_data_and_stderr_is_talk() -> None:
    r = run(*EX, "--format", "json")
    json.loads(r.stdout)
    assert r.stderr == ""
    r = run(*EX, "--z", "x")
    assert r.stdout == "" and r.stderr.startswith("softgrad")


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
    import softgrad.checks

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(softgrad.checks, "check", interrupted)
    target = tmp_path / "out.json"
    r = run(*EX, "--output", str(target))
    assert r.exit_code == 130
    assert r.stderr == "softgrad: interrupted\n"
    assert not target.exists() and list(tmp_path.iterdir()) == []


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
    assert r.exit_code == 2 and "refusing to overwrite the input file" in r.stderr
    assert case.read_text() == '{"z": [1, 2], "t": [0, 1]}'


def test_write_output_cleans_up_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        output.write_output("text", str(tmp_path / "x.txt"))
    assert list(tmp_path.iterdir()) == []


def test_no_colour_when_piped_or_asked() -> None:
    assert "\x1b[" not in run(*EX).stdout
    assert "\x1b[" not in run(*EX, "--no-color").stdout


def test_colour_renderer_respects_no_color() -> None:
    from softgrad.checks import check
    from softgrad.render.check_doc import check_document
    from softgrad.render.rich_out import render_rich

    doc = check_document(check([1.75, 1.75], [0, 1]))
    assert "\x1b[" in render_rich(doc, color=True, width=120)
    assert "\x1b[" not in render_rich(doc, color=False, width=120)
