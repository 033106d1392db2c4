"""``softgrad batch``: every row of CSV/TSV, JSON Lines or .npz files checked, with a summary report."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import click

from softgrad.cli.options import fd_options, output_options, precision_options
from softgrad.cli.output import emit
from softgrad.commands.batch.rows import BatchOptions
from softgrad.commands.batch.run import JUNIT_CAP, RunOptions, default_jobs, run_batch
from softgrad.core.rules import DEFAULT_SHOW, REDUCTIONS
from softgrad.errors import InputError, exit_code
from softgrad.inputs.rows import ReadOptions
from softgrad.render.layout import Document

HELP = """Check every row of CSV/TSV, JSON Lines or .npz files (- reads stdin).

CSV/TSV columns are found by name: logits z0..z{K-1} (or z_0, z1..zK, logit_0), targets t0.. (or t_0,
target_0) or one label column, and optionally your gradient g0.. (or g_0, grad_0); other columns are
carried into the report. Each row is checked as `softgrad check` does, vectorised; with gradient
columns, each failing row gets a diagnosis from the mistake catalogue.

\b
Exit codes: 0 every row passes (or is unstable), 1 a row fails, 2 usage error or a bad row
(with --skip-bad, bad rows are listed and counted but the exit code comes from the good rows).

\b
Examples:
  softgrad batch samples/batch/mixed.csv
  softgrad batch logs/*.csv --format junit --output report.xml
  softgrad batch rows.tsv --no-header --k 10 --label-column
  softgrad batch grads.csv --reduction mean --batch-size 32
  cat rows.csv | softgrad batch - --format json | jq .total.counts
"""


@click.command("batch", help=HELP)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--delimiter", metavar="C", help="Field delimiter (default: sniffed; 'tab' or \\t for tabs).")
@click.option("--no-header", is_flag=True, help="The first line is data: columns are z (K), t (K) or a label, g (K).")
@click.option("--k", "k", type=click.IntRange(min=2), metavar="K", help="Number of classes (with --no-header).")
@click.option("--label-column", is_flag=True, help="With --no-header: one class-index column instead of K targets.")
@click.option("--z-prefix", metavar="P", help="Name prefix of the logit columns (e.g. 'logit_').")
@click.option("--t-prefix", metavar="P", help="Name prefix of the target columns.")
@click.option("--grad-prefix", metavar="P", help="Name prefix of your gradient columns.")
@precision_options(temperature_default=1.0)
@fd_options("Finite difference: every component up to K = 256, random directions above (full forces all).")
@click.option(
    "--reduction",
    type=click.Choice(REDUCTIONS),
    default="none",
    show_default=True,
    help="What your gradient rows are: per-row (none), or a batch mean or sum.",
)
@click.option("--batch-size", type=click.IntRange(min=1), metavar="B", help="Rows per batch (default: the whole file).")
@click.option("--show", type=click.IntRange(min=0), default=DEFAULT_SHOW, show_default=True, help="Worst rows to list.")
@click.option("--skip-bad", is_flag=True, help="Bad rows become warnings: still listed and counted.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, metavar="N", help="Worker processes [default: CPUs]."
)
@output_options(["table", "json", "csv", "junit"])
def batch_cmd(files: tuple[str, ...], fmt: str, output: str | None, no_color: bool, **o: Any) -> int:
    out = run_batch_command(files, fmt, o, progress=not o["quiet"])
    try:
        emit(out.data, out.document, fmt, output, no_color, files, text=out.text)
    finally:
        if out.text is not None and not isinstance(out.text, str):
            out.text.close()
    return out.code


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
    opts = BatchOptions(
        o["temperature"], o["dtype"], o["rtol"], o["atol"], o["fd"], o["reduction"], o["seed"], written=not o["exact"]
    )
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
    report = dataclasses.replace(result.report, skip_bad=o["skip_bad"])
    text: str | IO[str] | None = None
    if fmt == "csv":
        text = result.csv_file
    elif fmt == "junit":
        from softgrad.render.junit import render_junit

        text = render_junit(report, [r.failing for r in result.results], JUNIT_CAP, o["skip_bad"])

    def document() -> Document:
        from softgrad.render.batch_doc import batch_document

        return batch_document(report)

    return BatchOutput(report.to_dict(), document, text, exit_code(report.status))
