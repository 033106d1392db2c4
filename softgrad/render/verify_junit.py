"""The ``verify`` report as JUnit XML, the format CI systems read: one testsuite for the function, one
testcase per case. Wrong numbers are a ``<failure>``, an exception or a wrong shape or type an
``<error>``, the batch case skipped for a one-row function ``<skipped>``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from softgrad.catalogue.mistakes import MISTAKES
from softgrad.commands.verify.report import CaseResult, VerifyReport
from softgrad.core.numbers import shortest
from softgrad.render.junit import class_name, finish, xml_text
from softgrad.render.layout import num


def _clean(text: str) -> str:
    return xml_text(text)


def target_class(target: str) -> str:
    """The JUnit classname of a target: ``model.py:grad`` or ``pkg.model:grad`` → ``softgrad.verify.model.grad``."""
    module, _, func = target.rpartition(":") if ":" in target else (target, "", "")
    stem = module.rsplit("/", 1)[-1].removesuffix(".py")
    return class_name("softgrad", "verify", stem, *([func] if func else []))


def _details(c: CaseResult) -> str:
    lines = [f"{c.description}", f"called {c.call}, first argument of shape {tuple(c.shape)}, {c.dtype}"]
    row = c.worst[0] if c.worst is not None else 0
    lines.append(f"z = {_exact(c.z[row])}")
    lines.append(f"t = {_exact(c.t[row])}")
    if c.upstream is not None:
        lines.append(f"upstream g = −t/s = {_exact(c.upstream[row])}")
    if c.error:
        lines.append(c.error)
    if c.comparison is not None and c.output is not None and c.expected is not None:
        lines.append(f"yours    (row {row}) = {_exact(c.output[row])}")
        lines.append(f"expected (row {row}) = {_exact(c.expected[row])}")
        lines.append(f"max abs err {num(c.comparison.max_abs_err, 3)}, max rel err {num(c.comparison.max_rel_err, 3)}")
    for mid in c.matches:
        lines.append(f"matches {mid}: {MISTAKES[mid].title} — {MISTAKES[mid].formula}")
    lines += c.hints
    lines += [f"note: {n}" for n in c.notes]
    if c.command:
        lines.append(f"reproduce: {c.command}" if c.status == "fail" else f"the input: {c.command}")
    return _clean("\n".join(lines))


def _exact(values: Any) -> str:
    """Every digit: nested lists of the shortest round-tripping decimals."""
    if isinstance(values, (tuple, list)):
        return "[" + ", ".join(_exact(v) for v in values) + "]"
    return shortest(values)


def case_message(c: CaseResult) -> str:
    if c.status == "error":
        return _clean(c.error or "error")
    if c.matches:
        return _clean(f"{c.matches[0]}: {MISTAKES[c.matches[0]].title}")
    if c.hints:
        return _clean(c.hints[0])
    return "wrong numbers: no catalogued mistake matches"


def render_junit(r: VerifyReport, where: tuple[str, int] | None = None) -> str:
    """JUnit XML for the report (ASCII, with an XML declaration); ``where``: the function's file and line."""
    n = r.counts()
    attrs = {
        "tests": str(n["cases"]),
        "failures": str(n["fail"]),
        "errors": str(n["error"]),
        "skipped": str(n["skipped"]),
    }
    suites = ET.Element("testsuites", {"name": "softgrad verify", **attrs})
    suite = ET.SubElement(suites, "testsuite", {"name": _clean(f"softgrad verify {r.target}"), **attrs})
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("kind", r.kind),
        ("input", r.input or ""),
        ("layout", r.layout),
        ("reduction", r.reduction or ""),
        ("call", r.call),
        ("targets", "/".join(r.targets)),
        ("result", r.result),
        ("seed", str(r.seed)),
        ("trials", str(r.trials)),
        ("verdict", r.verdict),
    ):
        ET.SubElement(props, "property", {"name": name, "value": _clean(value)})
    for c in r.cases:
        at = {"file": where[0], "line": str(where[1])} if where else {}
        case = ET.SubElement(suite, "testcase", {"classname": target_class(r.target), "name": c.name, **at})
        if c.status == "skipped":
            ET.SubElement(case, "skipped", {"message": _clean("; ".join(c.notes) or "skipped")})
        elif c.status in ("fail", "error"):
            tag = "failure" if c.status == "fail" else "error"
            kind = c.matches[0] if c.matches else ("wrong" if c.status == "fail" else "exception")
            el = ET.SubElement(case, tag, {"message": case_message(c), "type": kind})
            el.text = _details(c)
    return finish(suites)
