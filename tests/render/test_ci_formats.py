"""--format github, markdown and html, each checked by its consumer's rules: the workflow-command syntax
and escaping, CommonMark (with pipe tables) parsed by markdown-it, and HTML parsed by html.parser with no
reference to anything outside the file; and --summary appending to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from softgrad.render.ci_summary import Annotation
from softgrad.render.github import annotation, escape_data, escape_property
from softgrad.render.markdown import md_text
from tests.conftest import SAMPLES, run

#: A workflow command as the runner parses it: ::name key=value,key=value::message (no raw CR/LF).
COMMAND = re.compile(
    r"^::(error|warning|notice)"
    r"(?: ((?:file|line|title|col)=[^,:\r\n]*(?:,(?:file|line|title|col)=[^,:\r\n]*)*))?"
    r"::([^\r\n]*)$"
)

MIXED = str(SAMPLES / "batch" / "mixed.csv")
DF2 = str(SAMPLES / "verify" / "df2_on_logits.py")


def _commands(text: str) -> list[re.Match[str]]:
    found = []
    lines = text.splitlines()
    for ln in lines[:-1]:
        m = COMMAND.match(ln)
        assert m, ln
        found.append(m)
    assert not lines[-1].startswith("::")
    return found


def test_escaping_follows_the_runner_rules() -> None:
    assert escape_data("100% off\r\nnext") == "100%25 off%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    line = annotation(Annotation("error", "row 1: x::y\nz", "we,ird:name.csv", 3, "t"))
    assert line == "::error file=we%2Cird%3Aname.csv,line=3,title=t::row 1: x::y%0Az"
    assert COMMAND.match(line)


def test_batch_github_annotates_the_input_rows_then_counts() -> None:
    r = run("batch", MIXED, "--format", "github", "--show", "3")
    assert r.exit_code == 1
    found = _commands(r.stdout)
    assert len(found) == 3
    assert found[0].group(2).startswith(f"file={escape_property(MIXED)},line=3")
    assert found[0].group(3).startswith("row 3: jacobian_at_logits")
    assert r.stdout.splitlines()[-1] == (
        "softgrad batch: FAIL (rows: 15 pass, 5 fail, 0 unstable, 0 bad) "
        "(2 more not annotated; --show N annotates more)"
    )


def test_batch_github_warns_for_skipped_bad_rows() -> None:
    r = run("batch", str(SAMPLES / "batch" / "bad_rows.csv"), "--skip-bad", "--format", "github")
    assert r.exit_code == 0
    found = _commands(r.stdout)
    assert {m.group(1) for m in found} == {"warning"}
    assert "4 bad rows, skipped" in r.stderr


def test_verify_github_points_at_the_function() -> None:
    r = run("verify", f"{DF2}:grad", "--trials", "2", "--format", "github", "--show", "2")
    assert r.exit_code == 1
    found = _commands(r.stdout)
    assert len(found) == 2
    line = next(i for i, text in enumerate(Path(DF2).read_text().splitlines(), 1) if text.startswith("def grad"))
    assert found[0].group(2).startswith(f"file={escape_property(DF2)},line={line},")
    assert "jacobian_at_logits" in found[0].group(3)


def test_check_and_layer_github() -> None:
    r = run("check", "--z", "1.75", "1.75", "--t", "0", "1", "--grad", "6.125", "2.625", "--format", "github")
    assert r.exit_code == 1
    (m,) = _commands(r.stdout)
    assert "matches jacobian_at_logits" in m.group(3)
    r = run("layer", "--case", str(SAMPLES / "layer" / "wrong_dW.json"), "--format", "github")
    assert r.exit_code == 1
    (m,) = _commands(r.stdout)
    assert "dW_transposed" in m.group(3)
    r = run("check", "--z", "1.75", "1.75", "--t", "0", "1", "--format", "github")
    assert r.exit_code == 0
    assert _commands(r.stdout) == []


def _markdown(text: str) -> list[str]:
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    return [t.type for t in tokens]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("batch", MIXED), 1),
        (("verify", f"{DF2}:grad", "--trials", "2"), 1),
        (("check", "--z", "1.75", "1.75", "--t", "0", "1"), 0),
        (("layer", "--case", str(SAMPLES / "layer" / "wrong_dW.json")), 1),
    ],
)
def test_markdown_parses_as_headings_tables_and_a_code_block(args: tuple[str, ...], code: int) -> None:
    r = run(*args, "--format", "markdown")
    assert r.exit_code == code
    types = _markdown(r.stdout)
    assert types[0] == "heading_open"
    assert types.count("table_open") >= 1
    assert ("fence" in types) == (args[0] != "layer")  # layer gives no reproduce command
    html = MarkdownIt("commonmark").enable("table").render(r.stdout)
    assert "<em>" not in html
    assert "<a " not in html
    if args[0] == "batch":
        assert "<td>jacobian_at_logits</td>" in html
        assert "FAIL" in html


def test_markdown_escapes_text_from_the_data() -> None:
    hostile = "*bold* _it_ [link](http://x) <b>|pipe| `code` 1. item"
    html = MarkdownIt("commonmark").enable("table").render("| a |\n| --- |\n| " + md_text(hostile) + " |\n")
    assert "<td>*bold* _it_ [link](http://x) &lt;b&gt;|pipe| `code` 1. item</td>" in html
    assert md_text("- starts a list") == "\\- starts a list"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("src", "href", "xlink:href", "action", "srcset") and value:
                self.refs.append(value)


@pytest.mark.parametrize(
    "args",
    [("batch", MIXED), ("verify", f"{DF2}:grad", "--trials", "3"), ("batch", str(SAMPLES / "batch" / "labels.csv"))],
)
def test_html_is_self_contained_with_svg_charts(args: tuple[str, ...]) -> None:
    r = run(*args, "--format", "html")
    page = _Page()
    page.feed(r.stdout)
    page.close()
    assert page.refs == []
    assert "<script" not in r.stdout
    assert "url(" not in r.stdout
    assert "@import" not in r.stdout
    assert page.tags[:2] == ["html", "head"]
    assert "svg" in page.tags
    assert "rect" in page.tags
    assert "max relative error (decades, log scale)" in r.stdout
    if r.exit_code == 1:
        assert "mistakes found" in r.stdout


def test_summary_appends_to_the_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    r = run("batch", MIXED, "--format", "github", "--summary")
    assert r.exit_code == 1
    r = run("verify", f"{DF2}:grad", "--trials", "2", "--format", "junit", "--summary")
    assert r.exit_code == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n\n### ❌ softgrad batch: FAIL")
    assert "### ❌ softgrad verify: FAIL" in text
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    r = run("check", "--z", "1", "2", "--t", "0", "1", "--summary")
    assert r.exit_code == 0
    assert "GITHUB_STEP_SUMMARY is not set" in r.stderr


def test_hostile_file_names_and_ids_stay_one_annotation_each(tmp_path: Path) -> None:
    path = tmp_path / "we,ird:na%me\n.csv"
    path.write_text("z0,z1,t0,t1,g0,g1,id\n1,2,0,1,5,5,x::y%0A\n1,2,0,1,6,5,a|b*c*\n")
    r = run("batch", str(path), "--format", "github")
    assert r.exit_code == 1
    found = _commands(r.stdout)
    assert len(found) == 2
    assert "we%2Cird%3Ana%25me\\x0a.csv,line=" in found[0].group(2)  # the newline shown, never raw
    assert found[1].group(3).endswith("[id=x::y%250A]")
    md = run("batch", str(path), "--format", "markdown").stdout
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<td>a|b*c*</td>" in html


def test_explain_refuses_the_ci_formats() -> None:
    r = run("layer", "--case", str(SAMPLES / "layer" / "wrong_dW.json"), "--explain", "--format", "github")
    assert r.exit_code == 2
    assert "--explain writes table or json, not github" in r.stderr


def test_check_github_names_the_case_file() -> None:
    case = str(SAMPLES / "worked_example_jacobian_at_logits.json")
    r = run("check", "--case", case, "--format", "github")
    assert r.exit_code == 1
    (m,) = _commands(r.stdout)
    assert m.group(2).startswith(f"file={escape_property(case)},title=")


def test_layer_code_kinds_in_the_ci_formats() -> None:
    target = str(SAMPLES / "verify" / "weights_reg_missing_2.py") + ":softmax_loss_vectorized"
    r = run("verify", target, "--trials", "1", "--format", "github", "--show", "1")
    assert r.exit_code == 1
    (m,) = _commands(r.stdout)
    assert "dW reg_gradient_factor" in m.group(3)
    assert m.group(2).startswith("file=")
    md = run("verify", target, "--trials", "1", "--format", "markdown").stdout
    assert "table_open" in _markdown(md)
    page = run("verify", target, "--trials", "1", "--format", "html").stdout
    assert "<svg" in page
