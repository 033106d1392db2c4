"""``softgrad batch``: every row of CSV/TSV, JSON Lines or .npz files checked, with a summary report."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import click

from softgrad.cli.options import fd_options, output_options, precision_options
from softgrad.cli.output import check_output, ci_summary, emit, say, verbosity
from softgrad.commands.batch.report import BatchReport
from softgrad.commands.batch.rows import BatchOptions
from softgrad.commands.batch.run import INPUT_FORMATS, JUNIT_CAP, RunOptions, default_jobs, run_batch
from softgrad.core import rules
from softgrad.core.rules import DEFAULT_SHOW, REDUCTIONS
from softgrad.errors import InputError, exit_code
from softgrad.inputs.rows import ReadOptions
from softgrad.render.layout import Document

if TYPE_CHECKING:
    from softgrad.render.ci_summary import CiSummary

HELP = """Check every row of CSV/TSV, JSON Lines or .npz files (- reads stdin; .gz is read as is).

CSV/TSV columns are found by name: logits z0..z{K-1} (or z_0, z1..zK, logit_0), targets t0.. (or t_0,
target_0) or one label column, and optionally your gradient g0.. (or g_0, grad_0); other columns are
carried into the report. JSON Lines rows are `check --case` objects (z, t or label, grad, temperature,
jacobian). Each row is checked as `softgrad check` does, vectorised; with gradient columns, each failing
row gets a diagnosis from the mistake catalogue. Bad rows are also listed (the first 5) on stderr.

\b
Exit codes: 0 every row passes (or is unstable), 1 a row fails, 2 usage error or a bad row
(with --skip-bad, bad rows are listed and counted but the exit code comes from the good rows;
a run in which no row could be checked is 2), 130 Ctrl-C, 141 broken pipe, 143 SIGTERM.

\b
Examples:
  softgrad batch samples/batch/mixed.csv
  softgrad batch logs/*.csv --format junit --output report.xml --junit-cases 20
  softgrad batch logs/*.csv --format github --summary        # annotations + job summary
  softgrad batch logs/*.csv --format html -o softgrad.html    # a page to keep as a CI artifact
  softgrad batch rows.tsv --no-header --k 10 --label-column
  softgrad batch grads.csv --reduction mean --batch-size 32
  softgrad batch rows.csv.gz --jobs 2
  cat rows.csv | softgrad batch - --format json | jq .total.counts
  gunzip -c rows.jsonl.gz | softgrad batch - --input-format jsonl
"""


def _rule(check: Callable[[Any], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback applying a rule of :mod:`softgrad.core.rules` (its error names the option)."""
    return lambda ctx, param, value: check(value)


@click.command("batch", help=HELP)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--input-format",
    type=click.Choice(INPUT_FORMATS),
    help="What the inputs are [default: from the file extension; for stdin, from the first bytes].",
)
@click.option(
    "--delimiter",
    metavar="C",
    callback=_rule(rules.delimiter),
    help="Field delimiter (default: sniffed; 'tab' or \\t for tabs).",
)
@click.option("--no-header", is_flag=True, help="The first line is data: columns are z (K), t (K) or a label, g (K).")
@click.option(
    "--k", "k", type=int, metavar="K", callback=_rule(rules.classes), help="Number of classes (with --no-header)."
)
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
@click.option(
    "--batch-size",
    type=int,
    metavar="B",
    callback=_rule(rules.batch_size),
    help="Rows per batch, 1 to 1e9 (default: the whole file).",
)
@click.option(
    "--show", type=int, default=DEFAULT_SHOW, show_default=True, callback=_rule(rules.show), help="Worst rows to list."
)
@click.option("--skip-bad", is_flag=True, help="Bad rows become warnings: still listed and counted.")
@click.option(
    "--junit-cases",
    type=click.IntRange(min=0),
    default=JUNIT_CAP,
    show_default=True,
    metavar="N",
    help="With --format junit: the worst N failing rows (and N bad rows) of each file listed as testcases; "
    "the suite's counts are always those of every row.",
)
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=None,
    metavar="N",
    help="Workers, one core each: threads with the fast parser, else processes; at most the number of CPUs "
    "[default: CPUs, up to 8].",
)
@output_options(["table", "json", "csv", "junit", "github", "markdown", "html"])
def batch_cmd(files: tuple[str, ...], fmt: str, output: str | None, no_color: bool, **o: Any) -> int:
    check_output(output, files)
    out = run_batch_command(files, fmt, o, progress=verbosity() >= 0)
    try:
        emit(out.data, out.document, fmt, output, no_color, files, text=out.text, ci=out.ci, show=o["show"])
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
    ci: Callable[[], CiSummary]


def cpu_count() -> int:
    """CPUs this process may run on (a container's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _jobs(value: int | None) -> int:
    if value is None:
        return default_jobs()
    cpus = cpu_count()
    jobs = rules.jobs(value, cpus)
    if jobs < value:
        say(f"softgrad: note: --jobs {value} is more than the {cpus} CPUs here; using {jobs}")
    return jobs


def run_batch_command(files: tuple[str, ...], fmt: str, o: dict[str, Any], *, progress: bool) -> BatchOutput:
    """Run ``batch`` for the CLI and render the requested format."""
    if o["no_header"] and o["k"] is None:
        raise InputError("--k", "--no-header needs --k K (the number of classes)")
    if o["label_column"] and not o["no_header"]:
        raise InputError("--label-column", "only applies with --no-header (with a header, name the column 'label')")
    if files.count("-") > 1:
        raise InputError("FILE", "'-' (stdin) can be given only once")
    delimiter = o["delimiter"]
    if o.get("input_format") == "tsv" and delimiter is None:
        delimiter = "\t"
    read = ReadOptions(
        delimiter=delimiter,
        header=not o["no_header"],
        k=o["k"],
        label_column=o["label_column"],
        z_prefix=o["z_prefix"],
        t_prefix=o["t_prefix"],
        grad_prefix=o["grad_prefix"],
        input_format=o.get("input_format"),
    )
    opts = BatchOptions(
        o["temperature"], o["dtype"], o["rtol"], o["atol"], o["fd"], o["reduction"], o["seed"], written=not o["exact"]
    )
    run = RunOptions(
        show=o["show"],
        csv_rows=fmt == "csv",
        junit_cases=fmt == "junit",
        junit_cap=o.get("junit_cases", JUNIT_CAP),
        jobs=_jobs(o["jobs"]),
        batch_size=o["batch_size"],
    )
    from softgrad.render.progress import ProgressBar

    # The fast parser (polars) runs one thread per worker: the workers are the parallelism, so --jobs 1 is
    # one core and --jobs N is N. Set before polars is first imported; a value the user set is kept.
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    _keep_freed_memory()

    with ProgressBar(progress) as bar:
        result = run_batch(files, read, opts, run, bar, note=lambda m: say(f"softgrad: warning: {m}"))
    counts = result.report.total.counts
    checked = counts["pass"] + counts["fail"] + counts["unstable"]
    skip_bad = o["skip_bad"] and checked > 0
    report = dataclasses.replace(result.report, skip_bad=skip_bad)
    _tell_bad_rows(report, o["skip_bad"], checked)
    text: str | IO[str] | None = None
    if fmt == "csv":
        text = result.csv_file
    elif fmt == "junit":
        from softgrad.render.junit import render_junit

        text = render_junit(report, [r.failing for r in result.results], run.junit_cap, skip_bad)

    def document() -> Document:
        from softgrad.render.batch_doc import batch_document

        return batch_document(report)

    ci = ci_summary(report, files, show=o["show"])
    return BatchOutput(report.to_dict(), document, text, exit_code(report.status), ci)


#: Bad rows repeated on stderr (whatever the format), so that a CI log shows them.
BAD_ON_STDERR = 5


def _tell_bad_rows(report: BatchReport, skip_bad: bool, checked: int) -> None:
    total = report.total
    n = total.counts["bad"]
    if not n:
        return
    rows = f"{n} bad row{'s' if n != 1 else ''}"
    if checked == 0:
        say(f"softgrad: error: no row could be checked: {'the' if n == 1 else 'all'} {rows}:")
    elif skip_bad:
        say(f"softgrad: warning: {rows}, skipped (--skip-bad):")
    else:
        say(f"softgrad: error: {rows} (exit code 2; --skip-bad takes the exit code from the good rows):")
    listed = len(total.bad_rows) if verbosity() > 0 else BAD_ON_STDERR
    for bad in total.bad_rows[:listed]:
        say(f"  {bad}")
    if n > listed:
        say(f"  … and {n - listed} more" + ("" if verbosity() > 0 else " (-v lists them all)"))


#: mallopt(3) parameters (glibc): the size from which blocks are mapped on their own, and the free memory at
#: the top of the heap above which it is given back to the system.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: Blocks below this size come from the heap and are reused once freed (the most mallopt allows on 64 bits).
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 128 << 20
#: Environment variables through which a user tunes glibc's allocator themselves.
USER_MALLOC = frozenset({"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"})


def _keep_freed_memory() -> None:
    """Have the C allocator (glibc) reuse freed arrays instead of unmapping them and faulting in fresh pages.

    Each chunk's checks allocate and free dozens of arrays of about a megabyte; by default glibc maps many
    of them on their own, and each costs page faults (on the benchmark's file: 300,000 faults and 0.9 s of
    system time, against 30,000 and 0.25 s with the memory kept). A setting of the user's
    (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``, ``GLIBC_TUNABLES``) wins; elsewhere than
    glibc this does nothing."""
    if USER_MALLOC.intersection(os.environ):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
