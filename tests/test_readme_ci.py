"""The README's CI recipes (a GitHub Actions workflow and a GitLab CI job) run as written: every softgrad
command in their YAML blocks is run against the samples, and what each writes is checked by its reader."""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import ROOT, run

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _ci_section() -> str:
    start = README.index("## softgrad in CI")
    return README[start : README.index("\n## ", start + 1)]


def _recipes() -> dict[str, list[str]]:
    """The softgrad commands of each YAML block of the CI section, keyed by the file the block names."""
    found: dict[str, list[str]] = {}
    for block in re.findall(r"```yaml\n(.*?)```", _ci_section(), re.DOTALL):
        name = block.splitlines()[0].lstrip("# ").strip()
        commands = [m.group(1).strip() for m in re.finditer(r"^\s*(?:- )?(?:run: )?(softgrad .+)$", block, re.M)]
        found[name] = commands
    return found


def test_both_recipes_are_there() -> None:
    recipes = _recipes()
    assert set(recipes) == {".github/workflows/gradients.yml", ".gitlab-ci.yml"}
    assert all(len(c) >= 3 for c in recipes.values())


@pytest.mark.parametrize("recipe", [".github/workflows/gradients.yml", ".gitlab-ci.yml"])
def test_the_recipe_runs(recipe: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for command in _recipes()[recipe]:
        args = shlex.split(command)
        assert args[0] == "softgrad"
        r = run(*args[1:])
        assert r.exit_code == 0, (command, r.stderr)
        if "--format" in args and args[args.index("--format") + 1] == "github":
            assert r.stdout.splitlines()[-1].startswith("softgrad verify: PASS")
    for xml in tmp_path.glob("*.xml"):
        root = ET.parse(xml).getroot()
        assert root.tag == "testsuites"
        assert root.get("failures") == "0"
        assert int(root.get("tests") or 0) > 0
    pages = list(tmp_path.glob("*.html"))
    assert pages
    for page in pages:
        parser = HTMLParser()
        parser.feed(page.read_text())
        parser.close()
        assert "<svg" in page.read_text()
    if "--summary" in " ".join(_recipes()[recipe]):
        text = summary.read_text()
        assert "softgrad verify: PASS" in text
        assert "softgrad batch: PASS" in text
