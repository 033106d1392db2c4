"""Running ``batch`` over files: stream each input in blocks, check the blocks (in parallel worker processes
for large CSV inputs), and fold the results into bounded summaries, per-row CSV lines and JUnit cases.

Memory stays flat in the number of rows: at most ``2 × jobs`` chunks are in flight, and only summaries (and,
for ``--format csv``, the output lines, which are spooled to a temporary file) are kept. Inputs are opened
one at a time, so any number of files can be checked in one run.

Workers never outlive the run: each asks the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG``
on Linux) and also watches its parent itself; SIGINT is left to the parent, SIGTERM ends them. A worker
that cannot be started means fewer workers (down to none: the parent checks the chunks itself), and a
worker that dies mid-run has its chunks checked again in the parent; either way with one note.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import multiprocessing
import os
import signal
import stat
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from softgrad.catalogue.diagnose import jacobian_matches, match_ratio
from softgrad.commands.batch.api import settings
from softgrad.commands.batch.report import BatchReport, WorstRow
from softgrad.commands.batch.rows import (
    DIAG_IDS,
    FAIL,
    NO_DIAGNOSIS,
    STATUS_NAMES,
    UNKNOWN,
    BatchOptions,
    RowResults,
    diagnosis_name,
    evaluate_rows,
)
from softgrad.commands.batch.summary import Summary, total_of
from softgrad.core import fd_plan
from softgrad.core.checks import errors
from softgrad.core.formulas import softmax, softmax_jacobian
from softgrad.core.numbers import shortest
from softgrad.core.rules import DEFAULT_SHOW
from softgrad.errors import InputError
from softgrad.inputs import fast
from softgrad.inputs.arrays import read_npz
from softgrad.inputs.columnar import EXTENSIONS as COLUMNAR
from softgrad.inputs.columnar import read_columnar
from softgrad.inputs.csv import CsvReader, open_csv, parse_chunk
from softgrad.inputs.files import GZIP_MAGIC, ZIP_MAGIC, open_input, printable
from softgrad.inputs.jsonl import read_jsonl
from softgrad.inputs.rows import Block, ReadOptions, RowSpec

#: Failing rows listed per file in JUnit output.
JUNIT_CAP = 100
#: The input formats batch reads (``--input-format``); tsv is csv with tabs.
INPUT_FORMATS = ("csv", "tsv", "jsonl", "npz", "parquet", "arrow")

Progress = Callable[[int, int | None], None]
Note = Callable[[str], None]


@dataclass(frozen=True)
class RunOptions:
    """What to produce besides the summary."""

    show: int = DEFAULT_SHOW
    csv_rows: bool = False
    junit_cases: bool = False
    #: failing rows kept per file for JUnit: the worst ones, by relative error
    junit_cap: int = JUNIT_CAP
    jobs: int = 1
    batch_size: int | None = None


@dataclass
class FileResult:
    summary: Summary
    failing: list[WorstRow] = field(default_factory=list)


@dataclass
class ChunkResult:
    summary: Summary
    csv_lines: list[str]
    failing: list[WorstRow]


def worst_failing(rows: Sequence[WorstRow], cap: int) -> list[WorstRow]:
    """The ``cap`` worst rows by relative error (NaN counts as the worst), ties in line order."""
    key = [(-(math.inf if math.isnan(r.max_rel_err) else r.max_rel_err), r.source, r.line) for r in rows]
    order = sorted(range(len(rows)), key=key.__getitem__)
    return [rows[i] for i in order[:cap]]


def _csv_escape(value: str) -> str:
    value = printable(value)  # an escape sequence in a carried column is written as \x1b, never raw
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _fold(
    block: Block, res: RowResults | None, source: str, run: RunOptions, carried_names: Sequence[str]
) -> ChunkResult:
    """Summary, CSV lines (in line order, bad rows included) and failing rows of one checked block."""
    summary = Summary(source, show=run.show, has_grad=block.g is not None)
    if res is not None:
        summary.add(res, block.lines, block.carried)
    summary.add_bad(block.bad)
    csv_lines: list[str] = []
    if run.csv_rows:
        entries: list[tuple[int, str]] = []
        if res is not None:
            for i in range(len(block.lines)):
                carried = block.carried[i] if block.carried else {}
                cells = [source, str(int(block.lines[i])), *(carried.get(n, "") for n in carried_names)]
                cells += [STATUS_NAMES[int(res.status[i])], shortest(res.max_abs_err[i]), shortest(res.max_rel_err[i])]
                cells.append(diagnosis_name(int(res.diagnosis[i])) or "")
                entries.append((int(block.lines[i]), ",".join(map(_csv_escape, cells))))
        for b in block.bad:
            cells = [source, str(b.line), *([""] * len(carried_names)), "bad", "", "", b.message]
            entries.append((b.line, ",".join(map(_csv_escape, cells))))
        csv_lines = [text for _, text in sorted(entries, key=lambda e: e[0])]
    failing: list[WorstRow] = []
    if run.junit_cases and res is not None and run.junit_cap > 0:
        idx = np.flatnonzero(res.status == FAIL)
        order = np.argsort(-np.nan_to_num(res.max_rel_err[idx], nan=np.inf), kind="stable")
        for i in idx[order[: run.junit_cap]]:
            failing.append(
                WorstRow(
                    float(res.max_rel_err[i]),
                    int(block.lines[i]),
                    source,
                    "fail",
                    float(res.max_abs_err[i]),
                    diagnosis_name(int(res.diagnosis[i])),
                    block.carried[i] if block.carried else {},
                )
            )
    return ChunkResult(summary, csv_lines, failing)


def _check_block(block: Block, opts: BatchOptions, whole_batch: bool) -> RowResults | None:
    """Check every row of a block: rows that share a temperature and have (or lack) a gradient are checked
    together; a row's Jacobian, if given, is checked too."""
    n = len(block.lines)
    if n == 0:
        return None
    groups = _groups(block, opts)
    if len(groups) == 1:
        tau, idx = groups[0]
        o = opts if tau == opts.temperature else dataclasses.replace(opts, temperature=tau)
        g = block.g if block.g_rows is None or bool(block.g_rows.all()) else None
        res = evaluate_rows(block.z, block.t, g, o, whole_batch=whole_batch)
    else:
        if whole_batch and opts.reduction == "mean":
            raise InputError(
                "reduction",
                "mean: every row of a batch needs the same temperature and a gradient "
                "(rows here differ; check them with --reduction none, or in separate files)",
            )
        parts = []
        for tau, idx in groups:
            has_g = block.g is not None and (block.g_rows is None or bool(block.g_rows[idx[0]]))
            o = dataclasses.replace(opts, temperature=tau)
            g = block.g[idx] if has_g and block.g is not None else None
            parts.append((idx, evaluate_rows(block.z[idx], block.t[idx], g, o, whole_batch=False)))
        res = _scatter(n, parts)
    if block.jacobian is not None:
        _check_jacobians(block, res, opts)
    return res


def _groups(block: Block, opts: BatchOptions) -> list[tuple[float, np.ndarray[Any, Any]]]:
    """(temperature, row indices) for each set of rows checked together."""
    n = len(block.lines)
    tau = _temperatures(block, opts)
    has_g = np.ones(n, bool) if block.g_rows is None else block.g_rows
    if block.temperature is None and (block.g_rows is None or bool(has_g.all()) or not has_g.any()):
        return [(opts.temperature, np.arange(n))]
    out = []
    for value in np.unique(tau):
        for flag in (True, False):
            idx = np.flatnonzero((tau == value) & (has_g == flag))
            if idx.size:
                out.append((float(value), idx))
    return out


def _temperatures(block: Block, opts: BatchOptions) -> np.ndarray[Any, Any]:
    if block.temperature is None:
        return np.full(len(block.lines), opts.temperature)
    return np.where(np.isnan(block.temperature), opts.temperature, block.temperature)


def _scatter(n: int, parts: list[tuple[np.ndarray[Any, Any], RowResults]]) -> RowResults:
    """One RowResults of n rows from the results of groups of them."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(RowResults):
        values = [getattr(res, f.name) for _, res in parts]
        if all(isinstance(v, bool) for v in values):
            fields[f.name] = any(values)
            continue
        present = [v for v in values if v is not None]
        if not present:
            fields[f.name] = None
            continue
        out = np.zeros((n, *present[0].shape[1:]), present[0].dtype)
        for (idx, _), v in zip(parts, values, strict=True):
            if v is not None:
                out[idx] = v
        fields[f.name] = out
    return RowResults(**fields)


def _check_jacobians(block: Block, res: RowResults, opts: BatchOptions) -> None:
    """Compare each given Jacobian with J(s)/τ at s = softmax(z/τ); a wrong one fails its row, with the
    catalogue mistake it matches (when the gradient did not already fail)."""
    assert block.jacobian is not None
    n, k = block.z.shape
    idx = np.arange(n) if block.jacobian_rows is None else np.flatnonzero(block.jacobian_rows)
    if idx.size == 0:
        return
    tau = _temperatures(block, opts)[idx]
    tol = opts.tolerance
    with np.errstate(all="ignore"):
        expected = softmax_jacobian(softmax(block.z[idx] / tau[:, None])) / tau[:, None, None]
        user = block.jacobian[idx].reshape(idx.size, k * k)
        flat = expected.reshape(idx.size, k * k)
        wrong = match_ratio(user, flat, tol) > 1
        abs_err, rel_err = errors(user, flat, tol)
    res.max_abs_err[idx] = np.fmax(res.max_abs_err[idx], abs_err)
    res.max_rel_err[idx] = np.fmax(res.max_rel_err[idx], rel_err)
    for j in np.flatnonzero(wrong):
        i = int(idx[j])
        res.status[i] = FAIL
        if res.diagnosis[i] == NO_DIAGNOSIS:
            ids = jacobian_matches(block.z[i], block.jacobian[i], float(tau[j]), tol)
            known = [m for m in ids if m in DIAG_IDS]
            res.diagnosis[i] = DIAG_IDS.index(known[0]) if known else UNKNOWN
            res.n_matches[i] = len(known)


def _work(
    data: bytes, first_line: int, spec: RowSpec, opts: BatchOptions, run: RunOptions, carried_names: Sequence[str]
) -> ChunkResult:
    """Worker: parse and check one CSV chunk (runs in a worker process when jobs > 1)."""
    block = parse_chunk(data, first_line, spec)
    return _fold(block, _check_block(block, opts, whole_batch=False), spec.source, run, carried_names)


@dataclass
class BatchRun:
    """The outcome of a run: the report, and the spooled CSV lines if asked for."""

    report: BatchReport
    results: list[FileResult]
    csv_file: IO[str] | None
    carried_names: list[str]


def _whole_batches(blocks: Iterator[Block], batch_size: int | None) -> Iterator[tuple[Block, bool]]:
    """Regroup blocks into whole batches of ``batch_size`` rows (all rows if None): (block, is_whole)."""
    pending: list[Block] = []
    count = 0
    for block in blocks:
        pending.append(block)
        count += len(block.lines)
        while batch_size is not None and count >= batch_size:
            allrows = _joined(pending)
            head = _slice(allrows, slice(0, batch_size))
            head.bad = allrows.bad
            yield head, True
            rest = _slice(allrows, slice(batch_size, None))
            pending, count = [rest], len(rest.lines)
    if pending:
        allrows = _joined(pending)
        if len(allrows.lines) or allrows.bad:
            yield allrows, True


def _joined(parts: list[Block]) -> Block:
    if len(parts) == 1:
        return parts[0]
    n = [len(p.lines) for p in parts]
    k = parts[0].z.shape[1]

    def cat(get: Callable[[Block], Any], fill: Callable[[int], Any]) -> Any:
        if all(get(p) is None for p in parts):
            return None
        return np.concatenate([get(p) if get(p) is not None else fill(m) for p, m in zip(parts, n, strict=True)])

    def given(values: Callable[[Block], Any], mask: Callable[[Block], Any]) -> Any:
        if all(values(p) is not None and mask(p) is None for p in parts):
            return None
        if all(values(p) is None for p in parts):
            return None
        return np.concatenate([
            np.zeros(m, bool) if values(p) is None else np.ones(m, bool) if mask(p) is None else mask(p)
            for p, m in zip(parts, n, strict=True)
        ])  # fmt: skip

    carried = None if any(p.carried is None for p in parts) else [c for p in parts for c in p.carried or []]
    return Block(
        np.concatenate([p.z for p in parts]),
        np.concatenate([p.t for p in parts]),
        cat(lambda p: p.g, lambda m: np.full((m, k), np.nan)),
        np.concatenate([p.lines for p in parts]),
        carried,
        [b for p in parts for b in p.bad],
        g_rows=given(lambda p: p.g, lambda p: p.g_rows),
        temperature=cat(lambda p: p.temperature, lambda m: np.full(m, np.nan)),
        jacobian=cat(lambda p: p.jacobian, lambda m: np.full((m, k, k), np.nan)),
        jacobian_rows=given(lambda p: p.jacobian, lambda p: p.jacobian_rows),
    )


def _slice(b: Block, sl: slice) -> Block:
    def part(a: Any) -> Any:
        return None if a is None else a[sl]

    return Block(
        b.z[sl], b.t[sl], part(b.g), b.lines[sl], part(b.carried), [],
        g_rows=part(b.g_rows), temperature=part(b.temperature), jacobian=part(b.jacobian),
        jacobian_rows=part(b.jacobian_rows),
    )  # fmt: skip


def run_batch(
    paths: Sequence[str],
    read: ReadOptions,
    opts: BatchOptions,
    run: RunOptions,
    progress: Progress | None = None,
    note: Note | None = None,
) -> BatchRun:
    """Check every row of every input; see the module docstring for how memory stays bounded.

    ``note`` receives one-line notes on how the run went (fewer workers than asked for, a worker that died).
    """
    say: Note = note or (lambda message: None)
    want_carried = run.csv_rows or run.show > 0
    kinds = [input_kind(p, read) for p in paths]
    for path in paths:
        _exists(path)
    carried_names: list[str] = []
    stdin_reader: CsvReader | None = None
    if run.csv_rows:  # the CSV header names every carried column: read each header first, one file at a time
        for path, kind in zip(paths, kinds, strict=True):
            if kind != "csv":
                continue
            reader = open_csv(path, read, want_carried)
            if path == "-":
                stdin_reader = reader
            else:
                reader.close()
            _add_carried(reader, carried_names)
    csv_file = None
    if run.csv_rows:
        csv_file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115 - returned to the caller
        csv_file.write(csv_header(carried_names))
    total_bytes = sum(_size(p) for p in paths) or None
    done = 0
    batched = opts.reduction != "none" or run.batch_size is not None
    parallel = run.jobs > 1 and not batched
    processes = _Pool(run.jobs, say) if parallel else None
    threads = _Threads(run.jobs) if parallel else None
    pools: list[_Pool | _Threads] = [p for p in (processes, threads) if p is not None]
    results: list[FileResult] = []
    try:
        for path, kind in zip(paths, kinds, strict=True):
            fr = FileResult(Summary(path, show=run.show, per_row=opts.reduction == "none"))
            if kind == "csv":
                reader = (
                    stdin_reader if path == "-" and stdin_reader is not None else open_csv(path, read, want_carried)
                )
                if run.csv_rows and any(
                    reader.spec.layout.names[c] not in carried_names for c in reader.spec.layout.carried
                ):
                    reader.close()
                    raise InputError(reader.source, "changed while softgrad was reading it (its header is new)")
                fr.summary.source = reader.source
                fr.summary.k = reader.spec.layout.k
                fr.summary.has_grad = reader.spec.layout.g is not None
                pool = threads if threads is not None and _fast_csv(reader) else processes
                chunks = _csv_results(reader, opts, run, carried_names, pool, batched)
            else:
                chunks = _array_results(path, kind, read, opts, run, carried_names, batched, fr.summary)
            for chunk, nbytes in chunks:
                fr.summary.merge(chunk.summary)
                if chunk.failing:
                    fr.failing = worst_failing([*fr.failing, *chunk.failing], run.junit_cap)
                if csv_file is not None:
                    csv_file.writelines(line + "\n" for line in chunk.csv_lines)
                done += nbytes
                if progress is not None:
                    progress(done, total_bytes)
            if fr.summary.rows + fr.summary.counts["bad"] == 0:
                raise InputError(fr.summary.source, _nothing_to_check(kind))
            if fr.summary.k:
                fr.summary.fd_mode = "/".join(fd_plan(opts.fd, fr.summary.k))
            results.append(fr)
    except BaseException:
        for pool in pools:
            pool.kill()
        if csv_file is not None:
            csv_file.close()
        raise
    finally:
        for pool in pools:
            pool.close()
    summaries = [r.summary for r in results]
    report = BatchReport(tuple(s.report() for s in summaries), total_of(summaries), settings(opts, run.batch_size))
    return BatchRun(report, results, csv_file, carried_names)


def _nothing_to_check(kind: str) -> str:
    if kind == "npz":
        return "has no rows to check (its arrays have 0 rows)"
    if kind == "jsonl":
        return "has no rows to check (only blank lines)"
    if kind in COLUMNAR:
        return "has no rows to check"
    return "has no rows to check (only a header and blank lines)"


def _add_carried(reader: CsvReader, names: list[str]) -> None:
    for c in reader.spec.layout.carried:
        name = reader.spec.layout.names[c]
        if name not in names:
            names.append(name)


def _exists(path: str) -> None:
    """Fail fast (before any row is checked) on a file that is not there or is a folder."""
    if path == "-":
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, "is a directory, not a file")


def _size(path: str) -> int:
    if path == "-" or path.lower().endswith(".gz"):
        return 0
    try:
        st = os.stat(path)
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def input_kind(path: str, read: ReadOptions) -> str:
    """csv, jsonl or npz: ``--input-format`` if given; else the file's extension (after ``.gz``); else, for
    stdin and other names, what the data starts with (``{``: JSON Lines; a zip archive: npz; else CSV)."""
    if read.input_format is not None:
        return "csv" if read.input_format == "tsv" else read.input_format
    low = path.lower().removesuffix(".gz")
    if low.endswith(".npz"):
        return "npz"
    for kind, extensions in COLUMNAR.items():
        if low.endswith(extensions):
            return kind
    if low.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if low.endswith((".csv", ".tsv", ".tab", ".txt")):
        return "csv"
    return _sniff(path)


def _sniff(path: str) -> str:
    """What the first bytes say (peeked, not consumed, on stdin; a pipe or device by name is CSV)."""
    if path == "-":
        head = _peek_stdin(1 << 16)
        if head[:2] == GZIP_MAGIC:
            with contextlib.suppress(zlib.error):
                head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64)
    else:
        try:
            st = os.stat(path)
        except OSError:
            return "csv"  # the CSV reader names the problem
        if not stat.S_ISREG(st.st_mode):
            return "csv"  # a pipe or device is read once: as CSV (or as --input-format says)
        _, fh, _ = open_input(path)
        with fh:
            head = fh.read(64)
    if head[:4] == ZIP_MAGIC:
        return "npz"
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:6] == b"ARROW1":
        return "arrow"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" else "csv"


def _peek_stdin(n: int) -> bytes:
    """Up to ``n`` first bytes of stdin, left for the reader (peeked, or read and sought back)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return b""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if hasattr(stream, "peek"):
            data: bytes = stream.peek(n)
            return data
        if stream.seekable():
            pos = stream.tell()
            data = stream.read(n)
            stream.seek(pos)
            return data
    return b""


class _Pool:
    """Worker processes, started when first needed, that die with their parent; fewer (or none) when they
    cannot all be started; and chunks checked again in the parent if a worker dies."""

    def __init__(self, jobs: int, note: Note) -> None:
        self.jobs = jobs
        self.executor: ProcessPoolExecutor | None = None
        self._note = note
        self._started = False

    def start(self) -> ProcessPoolExecutor | None:
        """The executor (started at the first call), or None: check in this process."""
        if self._started:
            return self.executor
        self._started = True
        if sys.platform != "linux":
            self.jobs = 1
            return None
        asked, reason = self.jobs, ""
        for n in _fewer(asked):
            try:
                self.executor = _start(n)
                self.jobs = n
                break
            except (OSError, BrokenProcessPool, ValueError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        if self.executor is None:
            self.jobs = 1
            self._note(f"could not start {asked} worker processes ({reason}); checking the rows in this process")
        elif self.jobs < asked:
            self._note(f"could start only {self.jobs} of {asked} worker processes ({reason}); using {self.jobs}")
        return self.executor

    def lost(self, exc: BaseException) -> None:
        """A worker died: stop using the pool (the caller checks what was in flight itself); said once."""
        if self.executor is not None:
            self._note("a worker process died; checking the rest of the rows in this process")
        self.kill()

    def kill(self) -> None:
        executor, self.executor = self.executor, None
        if executor is None:
            return
        processes = list(getattr(executor, "_processes", {}).values())
        for p in processes:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                p.kill()
        with contextlib.suppress(OSError, RuntimeError):
            executor.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            with contextlib.suppress(OSError, ValueError, AssertionError, AttributeError):
                p.join(5)

    def close(self) -> None:
        executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class _Threads:
    """Worker threads in this process, for CSV inputs the fast parser takes whole: polars and numpy do their
    work without holding the interpreter lock, so the threads run in parallel and no chunk is copied to
    another process (the parent's reading and sending was a third of the run's time)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.executor: ThreadPoolExecutor | None = None

    def start(self) -> ThreadPoolExecutor:
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="softgrad-check")
        return self.executor

    def lost(self, exc: BaseException) -> None:
        raise exc  # a thread cannot die as a process can: whatever failed is the error

    def kill(self) -> None:
        executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _fast_csv(reader: CsvReader) -> bool:
    """Will the fast parser take this input's chunks (it is installed and on, and every column is a number)?"""
    lay = reader.spec.layout
    return fast.engine() is not None and sorted(lay.numeric) == list(range(len(lay.names)))


def _fewer(jobs: int) -> Iterator[int]:
    n = jobs
    while n > 1:
        yield n
        n = max(1, n // 2) if n > 2 else 1


def _start(n: int) -> ProcessPoolExecutor:
    """A pool of ``n`` started workers (with fork, all start at the first submission)."""
    executor = ProcessPoolExecutor(
        max_workers=n, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init, initargs=(os.getpid(),)
    )
    try:
        executor.submit(os.getpid).result(timeout=60)
    except BaseException:
        for p in list(getattr(executor, "_processes", {}).values()):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                p.kill()
        with contextlib.suppress(OSError, RuntimeError):
            executor.shutdown(wait=False, cancel_futures=True)
        raise
    return executor


#: prctl(2) option: the signal a process gets when its parent dies (Linux).
PR_SET_PDEATHSIG = 1


def _worker_init(parent: int) -> None:
    """In each worker: Ctrl-C is the parent's to report; SIGTERM and SIGHUP end the worker; and the worker
    dies with its parent, whatever kills the parent (even SIGKILL)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("POLARS_MAX_THREADS", "1")  # the workers are the parallelism: one thread each
    fast.after_fork()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="softgrad-parent-watch").start()


def _watch_parent(parent: int) -> None:
    """A second guard (and the only one where PR_SET_PDEATHSIG does not exist): leave when reparented."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(1)


def _csv_results(
    reader: CsvReader,
    opts: BatchOptions,
    run: RunOptions,
    carried_names: Sequence[str],
    pool: _Pool | _Threads | None,
    batched: bool,
) -> Iterator[tuple[ChunkResult, int]]:
    spec = reader.spec
    if batched:
        sizes: list[int] = []

        def blocks() -> Iterator[Block]:
            for data, first in reader.chunks:
                sizes.append(len(data))
                yield parse_chunk(data, first, spec)

        for block, whole in _whole_batches(blocks(), run.batch_size):
            res = _check_block(block, opts, whole)
            yield _fold(block, res, spec.source, run, carried_names), sum(sizes)
            sizes.clear()
        return
    chunks = iter(reader.chunks)
    head = list(itertools.islice(chunks, 2))
    if len(head) == 1:
        # the whole input is one chunk: check it as one batch, so the mistakes across rows show too
        data, first = head[0]
        block = parse_chunk(data, first, spec)
        yield _fold(block, _check_block(block, opts, whole_batch=True), spec.source, run, carried_names), len(data)
        return
    everything = itertools.chain(head, chunks)
    inflight: list[tuple[Future[ChunkResult], bytes, int]] = []

    def finished(item: tuple[Future[ChunkResult], bytes, int]) -> ChunkResult:
        fut, data, first = item
        try:
            return fut.result()
        except BrokenProcessPool as exc:
            assert pool is not None
            pool.lost(exc)
            return _work(data, first, spec, opts, run, carried_names)

    for data, first in everything:
        executor = pool.start() if pool is not None else None
        if executor is None:
            while inflight:
                item = inflight.pop(0)
                yield finished(item), len(item[1])
            yield _work(data, first, spec, opts, run, carried_names), len(data)
            continue
        try:
            inflight.append((executor.submit(_work, data, first, spec, opts, run, carried_names), data, first))
        except (BrokenProcessPool, RuntimeError) as exc:
            assert pool is not None
            pool.lost(exc)
            yield _work(data, first, spec, opts, run, carried_names), len(data)
            continue
        if len(inflight) >= 2 * max(1, pool.jobs if pool is not None else 1):
            item = inflight.pop(0)
            yield finished(item), len(item[1])
    while inflight:
        item = inflight.pop(0)
        yield finished(item), len(item[1])


def _array_results(
    path: str,
    kind: str,
    read: ReadOptions,
    opts: BatchOptions,
    run: RunOptions,
    carried_names: Sequence[str],
    batched: bool,
    summary: Summary,
) -> Iterator[tuple[ChunkResult, int]]:
    source = "<stdin>" if path == "-" else path
    gen = read_npz(path) if kind == "npz" else read_jsonl(path) if kind == "jsonl" else read_columnar(path, kind, read)
    if kind != "jsonl":  # binary arrays carry every bit: compared at the tolerance alone, never to "decimals"
        opts = dataclasses.replace(opts, written=None)
    ks: list[int] = []

    def blocks() -> Iterator[Block]:
        for block, k in gen:
            ks.append(k)
            summary.k = summary.k or k or None
            summary.has_grad = summary.has_grad or block.g is not None
            yield block

    if batched:
        for block, whole in _whole_batches(blocks(), run.batch_size):
            yield _fold(block, _check_block(block, opts, whole), source, run, carried_names), 0
        return
    # one block (a small input) is checked as one batch, as in CSV
    previous: Block | None = None
    single = True
    for block in blocks():
        if previous is not None:
            yield _fold(previous, _check_block(previous, opts, False), source, run, carried_names), 0
        previous = block
        single = len(ks) == 1
    if previous is not None:
        yield _fold(previous, _check_block(previous, opts, single), source, run, carried_names), 0


def csv_header(carried_names: Sequence[str]) -> str:
    cols = ["file", "line", *carried_names, "status", "max_abs_err", "max_rel_err", "diagnosis"]
    return ",".join(map(_csv_escape, cols)) + "\n"


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


__all__ = ["INPUT_FORMATS", "BatchRun", "RunOptions", "csv_header", "default_jobs", "input_kind", "run_batch"]
