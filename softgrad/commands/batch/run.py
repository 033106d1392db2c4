"""Running ``batch`` over files: stream each input in blocks, check the blocks (in parallel worker processes
for large CSV inputs), and fold the results into bounded summaries, per-row CSV lines and JUnit cases.

Memory stays flat in the number of rows: at most ``2 × jobs`` chunks are in flight, and only summaries (and,
for ``--format csv``, the output lines, which are spooled to a temporary file) are kept.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from softgrad.commands.batch.api import settings
from softgrad.commands.batch.report import BatchReport, WorstRow
from softgrad.commands.batch.rows import FAIL, STATUS_NAMES, BatchOptions, RowResults, diagnosis_name, evaluate_rows
from softgrad.commands.batch.summary import Summary, total_of
from softgrad.core import fd_plan
from softgrad.core.numbers import shortest
from softgrad.core.rules import DEFAULT_SHOW
from softgrad.inputs.arrays import read_npz
from softgrad.inputs.csv import CsvReader, open_csv, parse_chunk
from softgrad.inputs.jsonl import read_jsonl
from softgrad.inputs.rows import Block, ReadOptions, RowSpec

#: Failing rows listed per file in JUnit output.
JUNIT_CAP = 100

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class RunOptions:
    """What to produce besides the summary."""

    show: int = DEFAULT_SHOW
    csv_rows: bool = False
    junit_cases: bool = False
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


def _csv_escape(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _fold(
    block: Block, res: RowResults | None, source: str, run: RunOptions, carried_names: Sequence[str]
) -> ChunkResult:
    """Summary, CSV lines (in line order, bad rows included) and failing rows of one checked block."""
    summary = Summary(source, show=run.show)
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
    if run.junit_cases and res is not None:
        for i in np.flatnonzero(res.status == FAIL)[:JUNIT_CAP]:
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
    if len(block.lines) == 0:
        return None
    return evaluate_rows(block.z, block.t, block.g, opts, whole_batch=whole_batch)


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

    def joined(parts: list[Block]) -> Block:
        carried = None if any(p.carried is None for p in parts) else [c for p in parts for c in p.carried or []]
        return Block(
            np.concatenate([p.z for p in parts]),
            np.concatenate([p.t for p in parts]),
            None if parts[0].g is None else np.concatenate([p.g for p in parts if p.g is not None]),
            np.concatenate([p.lines for p in parts]),
            carried,
            [b for p in parts for b in p.bad],
        )

    for block in blocks:
        pending.append(block)
        count += len(block.lines)
        while batch_size is not None and count >= batch_size:
            allrows = joined(pending)
            head = _slice(allrows, slice(0, batch_size))
            head.bad = allrows.bad
            yield head, True
            rest = _slice(allrows, slice(batch_size, None))
            pending, count = [rest], len(rest.lines)
    if pending:
        allrows = joined(pending)
        if len(allrows.lines) or allrows.bad:
            yield allrows, True


def _slice(b: Block, sl: slice) -> Block:
    return Block(
        b.z[sl],
        b.t[sl],
        None if b.g is None else b.g[sl],
        b.lines[sl],
        None if b.carried is None else b.carried[sl],
        [],
    )


def run_batch(
    paths: Sequence[str],
    read: ReadOptions,
    opts: BatchOptions,
    run: RunOptions,
    progress: Progress | None = None,
) -> BatchRun:
    """Check every row of every input; see the module docstring for how memory stays bounded."""
    results: list[FileResult] = []
    readers = []
    carried_names: list[str] = []
    for path in paths:
        kind = _kind(path)
        reader = open_csv(path, read, want_carried=run.csv_rows or run.show > 0) if kind == "csv" else None
        if reader is not None:
            for c in reader.spec.layout.carried:
                name = reader.spec.layout.names[c]
                if name not in carried_names:
                    carried_names.append(name)
        readers.append((path, kind, reader))
    csv_file = None
    if run.csv_rows:
        csv_file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115 - returned to the caller
        csv_file.write(csv_header(carried_names))
    total_bytes = sum((r.size or 0) for _, _, r in readers if r is not None) or None
    done = 0
    batched = opts.reduction != "none" or run.batch_size is not None
    executor = _executor(run.jobs) if run.jobs > 1 and not batched else None
    try:
        for path, kind, reader in readers:
            fr = FileResult(Summary(path, show=run.show))
            if reader is not None:
                fr.summary.source = reader.source
                fr.summary.k = reader.spec.layout.k
                fr.summary.has_grad = reader.spec.layout.g is not None
                chunks = _csv_results(reader, opts, run, carried_names, executor, batched, read.chunk_bytes)
            else:
                chunks = _array_results(path, kind, opts, run, carried_names, batched, fr.summary)
            for chunk, nbytes in chunks:
                fr.summary.merge(chunk.summary)
                fr.failing.extend(chunk.failing[: max(0, JUNIT_CAP - len(fr.failing))])
                if csv_file is not None:
                    csv_file.writelines(line + "\n" for line in chunk.csv_lines)
                done += nbytes
                if progress is not None:
                    progress(done, total_bytes)
            if fr.summary.k:
                fr.summary.fd_mode = "/".join(fd_plan(opts.fd, fr.summary.k))
            results.append(fr)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    summaries = [r.summary for r in results]
    report = BatchReport(tuple(s.report() for s in summaries), total_of(summaries), settings(opts, run.batch_size))
    return BatchRun(report, results, csv_file, carried_names)


def _kind(path: str) -> str:
    low = path.lower()
    if low.endswith(".npz"):
        return "npz"
    if low.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "csv"


def _executor(jobs: int) -> ProcessPoolExecutor | None:
    if sys.platform != "linux":
        return None
    try:
        return ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_sigint
        )
    except (OSError, ValueError):
        return None


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which reports it once and stops them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _csv_results(
    reader: CsvReader,
    opts: BatchOptions,
    run: RunOptions,
    carried_names: Sequence[str],
    executor: ProcessPoolExecutor | None,
    batched: bool,
    read_bytes: int,
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
    if reader.size is not None and reader.size <= read_bytes:
        # the whole input is one chunk: check it as one batch, so the mistakes across rows show too
        for data, first in reader.chunks:
            block = parse_chunk(data, first, spec)
            yield _fold(block, _check_block(block, opts, whole_batch=True), spec.source, run, carried_names), len(data)
        return
    if executor is None:
        for data, first in reader.chunks:
            yield _work(data, first, spec, opts, run, carried_names), len(data)
        return
    inflight: list[tuple[Future[ChunkResult], int]] = []
    for data, first in reader.chunks:
        inflight.append((executor.submit(_work, data, first, spec, opts, run, carried_names), len(data)))
        if len(inflight) >= 2 * run.jobs:
            fut, n = inflight.pop(0)
            yield fut.result(), n
    for fut, n in inflight:
        yield fut.result(), n


def _array_results(
    path: str,
    kind: str,
    opts: BatchOptions,
    run: RunOptions,
    carried_names: Sequence[str],
    batched: bool,
    summary: Summary,
) -> Iterator[tuple[ChunkResult, int]]:
    source = "<stdin>" if path == "-" else path
    gen = read_npz(path) if kind == "npz" else read_jsonl(path)
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


__all__ = ["BatchRun", "RunOptions", "csv_header", "default_jobs", "run_batch"]
