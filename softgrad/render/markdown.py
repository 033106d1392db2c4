"""``--format markdown``: a compact summary for ``$GITHUB_STEP_SUMMARY`` or a merge-request comment — the
status, counts per status and per mistake, the worst rows and the commands that reproduce them. CommonMark
with pipe tables (GitHub's and GitLab's flavour); text from the data is escaped so that it renders as
written (no stray emphasis, links, HTML or table cells)."""

from __future__ import annotations

import re

from softgrad.inputs.files import printable
from softgrad.render.ci_summary import CiSummary

#: ASCII punctuation that means something to CommonMark anywhere in a line, escaped with a backslash.
_INLINE = re.compile(r"([\\`*_\[\]<>|#!~&$])")
#: What starts a block at the beginning of a line (a list item, a heading, a quote, a thematic break).
_LEADING = re.compile(r"^(\s*)([-+=>]|\d+[.)])")

ICON = {"pass": "✅", "fail": "❌", "unstable": "⚠️", "bad": "❌"}


def md_text(text: str) -> str:
    """Inline text from the data, escaped: one line, rendering as written."""
    one = " ".join(printable(text).split())
    return _LEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), _INLINE.sub(r"\\\1", one))


def _code_block(lines: list[str]) -> list[str]:
    body = [printable(x) for x in lines]
    fence = "```"
    while any(fence in b for b in body):
        fence += "`"
    return [fence + "sh", *body, fence]


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    out = ["| " + " | ".join(md_text(h) for h in head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    out += ["| " + " | ".join(md_text(c) if c else " " for c in row) + " |" for row in rows]
    return out


def render_markdown(s: CiSummary, show: int) -> str:
    """The summary as Markdown (ends with a blank line, so that several can be appended one after another)."""
    icon = ICON.get(s.status, "")
    out = [f"### {icon} softgrad {s.command}: {s.status.upper()}", ""]
    out += [f"**{md_text(s.subject)}**: {md_text(s.verdict)}", ""]
    out += _table(("status", s.unit), [(k, str(v)) for k, v in s.counts.items()])
    out.append("")
    if s.mistakes:
        out += _table(("mistake", s.unit), [(k, str(v)) for k, v in s.mistakes.items()])
        out.append("")
    if s.rows[:show]:
        out += [f"Worst {s.unit} (--show {show}):", ""]
        out += _table(s.columns, list(s.rows[:show]))
        out.append("")
    for note in s.notes:
        out += [f"Note: {md_text(note)}", ""]
    if s.reproduce:
        out += ["Reproduce:", "", *_code_block(list(s.reproduce)), ""]
    return "\n".join(out) + "\n"
