"""JUnit that dashboards read right: true counts, the worst failures listed up to a cap, carried ids in
the failure text, a classname that is a name, and valid XML whatever the data holds — checked against a
schema of the shape CI systems read (tests/render/junit.xsd)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from tests.conftest import SAMPLES, run

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).with_name("junit.xsd")))


def _rows_csv(path: Path, n: int, wrong: dict[int, float], bad: tuple[int, ...] = ()) -> None:
    """``n`` two-class rows with the right gradient except the rows in ``wrong`` (off by the given amount),
    and unreadable rows at the indices in ``bad``; an id column carries ``r<i>``."""
    lines = ["z0,z1,t0,t1,g0,g1,id"]
    for i in range(n):
        if i in bad:
            lines.append(f"abc,0,0,1,0,0,r{i}")
            continue
        z0, z1 = 0.5, -0.25
        s0 = 1 / (1 + math.exp(z1 - z0))
        g0, g1 = s0, (1 - s0) - 1
        g0 += wrong.get(i, 0.0)
        lines.append(f"{z0},{z1},0,1,{g0!r},{g1!r},r{i}")
    path.write_text("\n".join(lines) + "\n")


def _junit(*args: str) -> tuple[int, ET.Element, str]:
    r = run("batch", *args, "--format", "junit", "--quiet")
    SCHEMA.validate(r.stdout)
    return r.exit_code, ET.fromstring(r.stdout), r.stderr


def test_counts_are_the_rows_and_the_worst_failures_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    wrong = {i: 0.01 * (1 + i % 7) + i * 1e-5 for i in range(10, 2000, 50)}  # 40 failing rows
    _rows_csv(path, 2000, wrong)
    code, root, _ = _junit(str(path), "--junit-cases", "5")
    assert code == 1
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "2000",
        "40",
        "0",
        "0",
    )
    assert root.get("tests") == "2000"
    assert root.get("failures") == "40"
    cases = suite.findall("testcase")
    listed = [c for c in cases if c.get("line")]
    assert len(listed) == 5
    # the worst five: the largest offsets (7 × 0.01 plus the most 1e-5 steps), worst first
    worst = sorted(wrong, key=lambda i: -wrong[i])[:5]
    assert [int(c.get("line", "0")) for c in listed] == [i + 2 for i in worst]  # line = index + 2 (header)
    first = listed[0].find("failure")
    assert first is not None
    assert f"id=r{worst[0]}" in (first.text or "")
    assert (first.get("message") or "").startswith("gradient mismatch, no catalogued mistake matches (max rel err")
    assert first.get("type") == "mismatch"
    assert f"id=r{worst[0]}" in (listed[0].get("name") or "")
    assert {c.get("classname") for c in cases} == {"softgrad.batch.rows_csv"}
    rest = cases[-1]
    assert rest.get("name") == "the other 1995 rows"
    failure = rest.find("failure")
    assert failure is not None
    assert "35 more failing" in (failure.get("message") or "")


def test_bad_rows_are_errors_or_skipped_with_skip_bad(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    _rows_csv(path, 20, {3: 0.5}, bad=(7, 8))
    code, root, _ = _junit(str(path))
    assert code == 2
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "20",
        "1",
        "2",
        "0",
    )
    code, root, err = _junit(str(path), "--skip-bad")
    assert code == 1
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("errors"), suite.get("skipped")) == ("0", "2")
    assert "2 bad rows, skipped (--skip-bad)" in err


def test_a_passing_file_is_one_summary_testcase(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    _rows_csv(path, 300, {})
    code, root, _ = _junit(str(path))
    assert code == 0
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("300", "0")
    (case,) = suite.findall("testcase")
    assert case.find("failure") is None
    assert "300 pass" in (case.findtext("system-out") or "")


def test_control_characters_in_names_and_data_stay_valid_xml(tmp_path: Path) -> None:
    path = tmp_path / "ro\x1bws\x07.csv"
    path.write_text("z0,z1,t0,t1,g0,g1,id\n1,2,0,1,5,5,a\x01b\x0bc\n")
    code, root, _ = _junit(str(path))
    assert code == 1
    suite = root.find("testsuite")
    assert suite is not None
    assert "\\x1b" in (suite.get("name") or "")
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert "id=a\\x01b\\x0bc" in (failure.text or "")
    assert suite.find("testcase").get("classname") == "softgrad.batch.ro_ws_csv"  # type: ignore[union-attr]


def test_mixed_sample_lists_every_failing_row_under_the_default_cap() -> None:
    code, root, _ = _junit(str(SAMPLES / "batch" / "mixed.csv"))
    assert code == 1
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("20", "5")
    assert len([c for c in suite.findall("testcase") if c.find("failure") is not None]) == 5


@pytest.mark.parametrize(
    ("target", "code"),
    [("correct_grad.py:grad", 0), ("df2_on_logits.py:grad", 1), ("raises.py", 1)],
)
def test_verify_junit_is_valid_with_a_dotted_classname(target: str, code: int) -> None:
    r = run("verify", str(SAMPLES / "verify" / target), "--trials", "2", "--format", "junit")
    assert r.exit_code == code
    SCHEMA.validate(r.stdout)
    root = ET.fromstring(r.stdout)
    stem = target.split(".py")[0]
    classes = {c.get("classname") for c in root.iter("testcase")}
    assert len(classes) == 1
    (name,) = classes
    assert name is not None
    assert name.startswith(f"softgrad.verify.{stem}")
    assert "/" not in name
    n = len(list(root.iter("testcase")))
    assert root.get("tests") == str(n)
