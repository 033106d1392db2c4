"""JUnit XML for CI systems: a testsuite per file, a testcase per failing row (up to a cap), and a summary
testcase per file. Always valid, ASCII-safe XML: text from the data (file names, messages) has its control
characters escaped (XML 1.0 cannot hold them at all), and other characters are written as references."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from softgrad.commands.batch.report import BatchReport, WorstRow
from softgrad.inputs.files import printable


def render_junit(report: BatchReport, failing: Sequence[Sequence[WorstRow]], cap: int, skip_bad: bool) -> str:
    suites = ET.Element("testsuites", name="softgrad batch")
    total_tests = total_failures = total_errors = 0
    for f, rows in zip(report.files, failing, strict=True):
        counts = f.counts
        suite = ET.SubElement(suites, "testsuite", name=f.file)
        cases = 0
        failures = 0
        errors = 0
        summary = ET.SubElement(suite, "testcase", classname="softgrad.batch", name=f"{f.file}: all rows")
        cases += 1
        bad_counts = counts["bad"] and not skip_bad
        if counts["fail"] or bad_counts:
            failures += 1
            fail = ET.SubElement(summary, "failure", message=f"{counts['fail']} failing rows, {counts['bad']} bad rows")
            fail.text = ", ".join(f"{k}: {v}" for k, v in f.mistakes.items()) or None
        else:
            ET.SubElement(
                summary, "system-out"
            ).text = f"{f.rows} rows: {counts['pass']} pass, {counts['unstable']} unstable, {counts['bad']} bad"
        for row in rows[:cap]:
            case = ET.SubElement(suite, "testcase", classname=f"softgrad.batch.{f.file}", name=f"line {row.line}")
            failure = ET.SubElement(
                case, "failure", message=f"{row.diagnosis or 'gradient mismatch'} (max rel err {row.max_rel_err:.3g})"
            )
            failure.text = f"{row.source}:{row.line}: max abs err {row.max_abs_err:.6g}, diagnosis {row.diagnosis}"
            cases += 1
            failures += 1
        if counts["fail"] > len(rows[:cap]):
            note = ET.SubElement(suite, "system-out")
            note.text = f"{counts['fail'] - len(rows[:cap])} more failing rows not listed (cap {cap})"
        for bad in f.bad_rows[:cap]:
            case = ET.SubElement(suite, "testcase", classname=f"softgrad.batch.{f.file}", name=f"line {bad.line}")
            if skip_bad:
                ET.SubElement(case, "skipped", message=bad.message)
            else:
                ET.SubElement(case, "error", message=bad.message)
                errors += 1
            cases += 1
        suite.set("tests", str(cases))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        total_tests += cases
        total_failures += failures
        total_errors += errors
    suites.set("tests", str(total_tests))
    suites.set("failures", str(total_failures))
    suites.set("errors", str(total_errors))
    for element in suites.iter():
        element.attrib.update({k: printable(v) for k, v in element.attrib.items()})
        if element.text:
            element.text = printable(element.text)
    ET.indent(suites)
    xml = ET.tostring(suites, encoding="unicode").encode("ascii", "xmlcharrefreplace").decode("ascii")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n"
