"""``--format github``: GitHub Actions workflow commands. One ``::error`` (a failing row or case) or
``::warning`` (an unstable row, a skipped bad row) per finding, up to ``--show``, each pointing at the input
row or at the user's function, then one line with the counts.

Escaping follows the runner's rules: in the message ``%``, CR and LF become ``%25``, ``%0D``, ``%0A``; in the
properties (file, line, title) ``:`` and ``,`` also become ``%3A`` and ``%2C``, so that no text from the data
can end a property or start a new command."""

from __future__ import annotations

from softgrad.inputs.files import printable
from softgrad.render.ci_summary import Annotation, CiSummary


def escape_data(text: str) -> str:
    """A workflow command's message, escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value, escaped."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _visible(text: str) -> str:
    """Control characters as visible escapes, line breaks kept (they are escaped afterwards)."""
    return "\n".join(printable(part) for part in text.replace("\r\n", "\n").split("\n"))


def annotation(a: Annotation) -> str:
    """One workflow command line."""
    props = []
    if a.file:
        props.append(f"file={escape_property(printable(a.file))}")
    if a.line is not None:
        props.append(f"line={a.line}")
    if a.title:
        props.append(f"title={escape_property(printable(a.title))}")
    head = f"::{a.level}" + (" " + ",".join(props) if props else "")
    return f"{head}::{escape_data(_visible(a.message))}"


def render_github(s: CiSummary, show: int) -> str:
    """The annotations (the first ``show``) and a count line."""
    lines = [annotation(a) for a in s.annotations[:show]]
    more = len(s.annotations) - len(lines) + s.unlisted
    counts = ", ".join(f"{n} {k}" for k, n in s.counts.items())
    tail = f" ({more} more not annotated; --show N annotates more)" if more > 0 else ""
    lines.append(f"softgrad {s.command}: {s.status.upper()} ({s.unit}: {counts}){tail}")
    return "\n".join(lines) + "\n"
