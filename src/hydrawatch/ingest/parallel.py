"""Parallel parsing: plain JSONL split into newline-aligned byte ranges, one process per range.

Each worker parses its range (or a whole file that cannot be split: gzip, CSV, Parquet)
and writes the rows to an Arrow IPC file with line numbers relative to its range; it
returns how many lines the range held, so the caller can shift line numbers to exact
file line numbers as it inserts the parts in order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from hydrawatch.events.schema import EVENT_COLUMNS
from hydrawatch.ingest.columns import EventBatchBuilder
from hydrawatch.ingest.errors import IngestError
from hydrawatch.ingest.exchanges import parse_rows, uses_fast_rows
from hydrawatch.ingest.readers import LineCount, detect_format, is_gzip, iter_jsonl, iter_records
from hydrawatch.ingest.record import make_parser
from hydrawatch.ingest.stats import IngestStats


@dataclass(frozen=True, slots=True)
class ParseOptions:
    fmt: str | None
    adapter: str
    mapping: dict[str, str] | None
    strict: bool
    max_line_bytes: int
    batch_rows: int


@dataclass(frozen=True, slots=True)
class Task:
    """A whole file (``end is None``) or the byte range ``[start, end)`` of a plain JSONL file.

    ``file_no`` is the file's position in the input list (a file may be listed twice)."""

    path: str
    start: int = 0
    end: int | None = None
    file_no: int = 0


@dataclass(slots=True)
class TaskResult:
    part: str | None
    lines: int
    rows: int
    stats: IngestStats = field(default_factory=IngestStats)
    # strict mode: (relative line, reason) of the first bad record; line -1: reason is a whole message
    error: tuple[int, str] | None = None


def _next_line_start(fh: os.PathLike[str] | str, pos: int, size: int) -> int:
    """The offset just after the first newline at or after ``pos`` (or ``size``)."""
    with open(fh, "rb") as f:
        f.seek(pos)
        while pos < size:
            block = f.read(1 << 16)
            if not block:
                return size
            i = block.find(b"\n")
            if i >= 0:
                return pos + i + 1
            pos += len(block)
    return size


def split_file(path: str, range_bytes: int, file_no: int = 0) -> list[Task]:
    """Newline-aligned ranges of about ``range_bytes`` covering the whole file."""
    size = os.path.getsize(path)
    tasks: list[Task] = []
    start = 0
    while start < size:
        end = size if size - start <= range_bytes else _next_line_start(path, start + range_bytes - 1, size)
        tasks.append(Task(path, start, end, file_no))
        start = end
    return tasks or [Task(path, 0, 0, file_no)]


def plan(paths: list[str], fmt: str | None, range_bytes: int) -> list[Task]:
    """Tasks for all inputs in input order: ranges for plain JSONL, whole files otherwise."""
    tasks: list[Task] = []
    for no, p in enumerate(paths):
        f = fmt or detect_format(p)
        if f == "jsonl" and not is_gzip(p):
            tasks.extend(split_file(p, range_bytes, no))
        else:
            tasks.append(Task(p, file_no=no))
    return tasks


def run_task(job: tuple[ParseOptions, Task, str]) -> TaskResult:
    """Parse one task into the Arrow IPC file ``part`` (worker side)."""
    opts, task, part = job
    stats = IngestStats()
    parse = make_parser(opts.adapter, opts.mapping, keep_extra=False)
    builder = EventBatchBuilder()
    count = LineCount()
    rows = 0
    error: tuple[int, str] | None = None
    if task.end is None:
        stats.files = 1
        records = iter_records(task.path, fmt=opts.fmt, max_line_bytes=opts.max_line_bytes, stats=stats)
    else:
        stats.files = 1 if task.start == 0 else 0
        fh = open(task.path, "rb")  # noqa: SIM115 - closed in the finally below
        fh.seek(task.start)
        records = iter_jsonl(
            fh, max_line_bytes=opts.max_line_bytes, stats=stats, start=task.start, end=task.end, count=count
        )
    try:
        with pa.OSFile(part, "wb") as sink, pa.ipc.new_file(sink, EVENT_COLUMNS) as writer:
            try:
                fast = uses_fast_rows(opts.adapter, opts.mapping)
                for row in parse_rows(
                    records,
                    parse,
                    fast=fast,
                    source=task.path,
                    strict=opts.strict,
                    stats=stats,
                    warn_empty=False,
                ):
                    builder.add_row(row)
                    if len(builder) >= opts.batch_rows:
                        rows += len(builder)
                        writer.write_batch(builder.flush())
            except IngestError as e:
                error = (stats.bad[-1][1], stats.bad[-1][2]) if stats.bad else (-1, str(e))
            if len(builder):
                rows += len(builder)
                writer.write_batch(builder.flush())
    finally:
        if task.end is not None:
            fh.close()
    return TaskResult(part=part, lines=count.n, rows=rows, stats=stats, error=error)


def read_part(part: str) -> pa.Table:
    """The rows a worker wrote (memory-mapped)."""
    with pa.memory_map(part) as source:
        return pa.ipc.open_file(source).read_all()


def remove_part(part: str | None) -> None:
    if part:
        Path(part).unlink(missing_ok=True)
