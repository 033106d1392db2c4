"""Wiring for ``softgrad batch``: options into reader/check/run options, the run, and the chosen output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from softgrad.commands.batch.api import BatchOptions, BatchReport
from softgrad.commands.batch.run import JUNIT_CAP, RunOptions, default_jobs, run_batch
from softgrad.errors import ExitCode, InputError
from softgrad.inputs.rows import ReadOptions
from softgrad.render.layout import Document


@dataclass
class BatchOutput:
    data: dict[str, Any]
    document: Callable[[], Document]
    text: str | IO[str] | None
    code: int


def _delimiter(value: str | None) -> str | None:
    if value is None:
        return None
    if value.lower() in ("tab", "\\t", "\t"):
        return "\t"
    if len(value) != 1:
        raise InputError("--delimiter", f"expected one character (or 'tab'), got {value!r}")
    return value


def exit_code(report: BatchReport) -> int:
    return {"bad": ExitCode.USAGE, "fail": ExitCode.FAIL}.get(report.status, ExitCode.OK)


def run_batch_command(files: tuple[str, ...], fmt: str, o: dict[str, Any], *, progress: bool) -> BatchOutput:
    """Run ``batch`` for the CLI and render the requested format."""
    if o["no_header"] and o["k"] is None:
        raise InputError("--k", "--no-header needs --k K (the number of classes)")
    if o["label_column"] and not o["no_header"]:
        raise InputError("--label-column", "only applies with --no-header (with a header, name the column 'label')")
    if files.count("-") > 1:
        raise InputError("FILE", "'-' (stdin) can be given only once")
    read = ReadOptions(
        delimiter=_delimiter(o["delimiter"]),
        header=not o["no_header"],
        k=o["k"],
        label_column=o["label_column"],
        z_prefix=o["z_prefix"],
        t_prefix=o["t_prefix"],
        grad_prefix=o["grad_prefix"],
    )
    opts = BatchOptions(o["temperature"], o["dtype"], o["rtol"], o["atol"], o["fd"], o["reduction"], o["seed"])
    if not (opts.temperature > 0 and opts.temperature != float("inf")):
        raise InputError("--temperature", f"must be a positive number, got {opts.temperature!r}")
    run = RunOptions(
        show=o["show"],
        csv_rows=fmt == "csv",
        junit_cases=fmt == "junit",
        jobs=o["jobs"] or default_jobs(),
        batch_size=o["batch_size"],
    )
    from softgrad.render.progress import ProgressBar

    with ProgressBar(progress) as bar:
        result = run_batch(files, read, opts, run, bar)
    report = BatchReport(result.report.files, result.report.total, result.report.options, skip_bad=o["skip_bad"])
    text: str | IO[str] | None = None
    if fmt == "csv":
        text = result.csv_file
    elif fmt == "junit":
        from softgrad.render.junit import render_junit

        text = render_junit(report, [r.failing for r in result.results], JUNIT_CAP, o["skip_bad"])

    def document() -> Document:
        from softgrad.render.batch_doc import batch_document

        return batch_document(report)

    return BatchOutput(report.to_dict(), document, text, exit_code(report))
