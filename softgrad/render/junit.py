"""JUnit XML for CI systems, with the counts dashboards read: a testsuite per file whose ``tests``,
``failures``, ``errors`` and ``skipped`` are the true numbers of rows (checked, failed, bad, bad and
skipped), the worst failing rows listed as testcases up to a cap (``--junit-cases``), the bad rows, and
one testcase that stands for the rows not listed. Always valid, ASCII-safe XML: control characters from
the data (file names, carried columns, messages) are escaped (XML 1.0 cannot hold them at all) and other
characters are written as references."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from softgrad.commands.batch.report import BatchReport, FileReport, WorstRow
from softgrad.inputs.files import printable
from softgrad.render.layout import num

#: Characters XML 1.0 cannot hold, even as references (control characters other than tab, LF, CR; lone
#: surrogates; U+FFFE and U+FFFF).
INVALID_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Text as XML 1.0 can hold it: characters it cannot are written as visible escapes (``\\x1b``)."""
    return INVALID_XML.sub(lambda m: printable(m.group()), text)


def class_name(*parts: str) -> str:
    """A JUnit classname: dotted words (``softgrad.batch.rows_csv``), never a path with slashes."""
    words = [re.sub(r"[^A-Za-z0-9_]+", "_", p).strip("_") or "_" for p in parts]
    return ".".join(words)


def finish(root: ET.Element) -> str:
    """The tree as an XML document: every attribute and text made XML-safe, indented, ASCII."""
    for element in root.iter():
        element.attrib.update({k: xml_text(v) for k, v in element.attrib.items()})
        if element.text:
            element.text = xml_text(element.text)
    ET.indent(root)
    xml = ET.tostring(root, encoding="unicode").encode("ascii", "xmlcharrefreplace").decode("ascii")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n"


def _carried(row: WorstRow) -> str:
    return ", ".join(f"{k}={printable(v)}" for k, v in row.carried.items())


def _failure_case(suite: ET.Element, classname: str, row: WorstRow) -> None:
    ids = _carried(row)
    name = f"line {row.line}" + (f" ({ids})" if ids else "")
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, file=row.source, line=str(row.line))
    known = row.diagnosis if row.diagnosis not in (None, "unknown") else None
    what = known or "gradient mismatch, no catalogued mistake matches"
    failure = ET.SubElement(
        case, "failure", message=f"{what} (max rel err {num(row.max_rel_err, 3)})", type=known or "mismatch"
    )
    text = [f"{row.source}:{row.line}: max abs err {num(row.max_abs_err, 6)}, max rel err {num(row.max_rel_err, 6)}"]
    text.append(f"diagnosis: {known or 'no catalogued mistake matches'}")
    if ids:
        text.append(f"row: {ids}")
    failure.text = "\n".join(text)


def _suite(suites: ET.Element, f: FileReport, rows: Sequence[WorstRow], cap: int, skip_bad: bool) -> dict[str, int]:
    counts = f.counts
    bad = counts["bad"]
    numbers = {
        "tests": f.rows,
        "failures": counts["fail"],
        "errors": 0 if skip_bad else bad,
        "skipped": bad if skip_bad else 0,
    }
    suite = ET.SubElement(suites, "testsuite", {"name": f.file, **{k: str(v) for k, v in numbers.items()}})
    props = ET.SubElement(suite, "properties")
    for key in ("pass", "fail", "unstable", "bad"):
        ET.SubElement(props, "property", name=f"rows_{key}", value=str(counts[key]))
    for mid, n in f.mistakes.items():
        ET.SubElement(props, "property", name=f"mistake_{mid}", value=str(n))
    classname = class_name("softgrad", "batch", f.file.rsplit("/", 1)[-1])
    listed = list(rows[:cap])
    for row in listed:
        _failure_case(suite, classname, row)
    listed_bad = f.bad_rows[:cap]
    for b in listed_bad:
        case = ET.SubElement(
            suite, "testcase", classname=classname, name=f"line {b.line}", file=b.source, line=str(b.line)
        )
        ET.SubElement(case, "skipped" if skip_bad else "error", message=b.message)
    rest = f.rows - len(listed) - len(listed_bad)
    if rest > 0:
        unlisted_fail = counts["fail"] - len(listed)
        unlisted_bad = bad - len(listed_bad)
        case = ET.SubElement(suite, "testcase", classname=classname, name=f"the other {rest} rows")
        parts = [f"{counts['pass']} pass", f"{counts['unstable']} unstable"]
        if unlisted_fail:
            parts.append(f"{unlisted_fail} more failing (not listed: --junit-cases {cap})")
        if unlisted_bad:
            parts.append(f"{unlisted_bad} more bad")
        summary = ", ".join(parts)
        if unlisted_fail or (unlisted_bad and not skip_bad):
            ET.SubElement(case, "failure", message=summary, type="unlisted")
        else:
            ET.SubElement(case, "system-out").text = summary
    if counts["unstable"]:
        reasons = "; ".join(f"{n} rows: {why}" for why, n in f.unstable_reasons.items())
        ET.SubElement(suite, "system-out").text = f"{counts['unstable']} unstable rows (not failures): {reasons}"
    return numbers


def render_junit(report: BatchReport, failing: Sequence[Sequence[WorstRow]], cap: int, skip_bad: bool) -> str:
    """JUnit XML for a batch run: ``failing`` holds each file's worst failing rows (worst first)."""
    suites = ET.Element("testsuites", name="softgrad batch")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for f, rows in zip(report.files, failing, strict=True):
        for k, v in _suite(suites, f, rows, cap, skip_bad).items():
            totals[k] += v
    for k, v in totals.items():
        suites.set(k, str(v))
    return finish(suites)
