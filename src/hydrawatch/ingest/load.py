"""Exchange logs into a DuckDB table with the ``EVENT_COLUMNS`` schema."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from hydrawatch.events.schema import EVENT_COLUMNS
from hydrawatch.ingest.columns import EventBatchBuilder
from hydrawatch.ingest.errors import IngestError
from hydrawatch.ingest.exchanges import parse_rows, uses_fast_rows
from hydrawatch.ingest.native import NativeLoader, native_eligible
from hydrawatch.ingest.parallel import ParseOptions, Task, plan, read_part, remove_part, run_task
from hydrawatch.ingest.readers import detect_format, is_gzip, iter_records
from hydrawatch.ingest.record import make_parser
from hydrawatch.ingest.stats import IngestStats

if TYPE_CHECKING:
    import duckdb

Progress = Callable[[int], None]
BATCH_ROWS = 65536
AUTO_PARALLEL_BYTES = 256 << 20  # workers=0 uses a pool only when there is this much plain JSONL
ENGINES = ("python", "native")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def quote_table(name: str) -> str:
    if not _IDENT.fullmatch(name):
        raise ValueError(f"table name {name!r}: use letters, digits and underscores")
    return f'"{name}"'


def create_events_table(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Create (or replace) an empty table with the ``EVENT_COLUMNS`` schema; returns its quoted name."""
    q = quote_table(table)
    empty = EVENT_COLUMNS.empty_table()
    con.register("__hw_empty_events", empty)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {q} AS SELECT * FROM __hw_empty_events")
    finally:
        con.unregister("__hw_empty_events")
    return q


def insert_arrow(con: duckdb.DuckDBPyConnection, q: str, data: pa.Table, line_offset: int = 0) -> None:
    con.register("__hw_batch", data)
    try:
        if line_offset:
            con.execute(
                f"INSERT INTO {q} SELECT * REPLACE (line + {int(line_offset)} AS line) FROM __hw_batch"
            )
        else:
            con.execute(f"INSERT INTO {q} SELECT * FROM __hw_batch")
    finally:
        con.unregister("__hw_batch")


def is_events_parquet(path: str, fmt: str | None) -> bool:
    """True for Parquet already in ``EVENT_COLUMNS`` form (``hydrawatch ingest --out``)."""
    if (fmt or detect_format(path)) != "parquet":
        return False
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names) == list(EVENT_COLUMNS.names)
    except (pa.ArrowException, OSError):
        return False


def insert_events_parquet(con: duckdb.DuckDBPyConnection, q: str, path: str, stats: IngestStats) -> None:
    """Copy a normalised events Parquet file as it is (``line``/``source`` still name the original log)."""
    import duckdb

    stats.files += 1
    stats.bytes += os.path.getsize(path)
    try:
        inserted = con.execute(f"INSERT INTO {q} SELECT * FROM read_parquet(?)", [path]).fetchall()
    except duckdb.Error as e:
        stats.add_bad(path, 1, f"unreadable events Parquet: {str(e).splitlines()[0]}")
        return
    stats.records_ok += int(inserted[0][0]) if inserted else 0


def _plain_jsonl_bytes(paths: list[str], fmt: str | None) -> int:
    total = 0
    for p in paths:
        if (fmt or detect_format(p)) == "jsonl" and not is_gzip(p):
            total += os.path.getsize(p)
    return total


def choose_workers(paths: list[str], fmt: str | None, workers: int) -> int:
    """``workers`` if given (>= 1). For 0: the CPU count (at most 8) when there is enough work to
    share (256 MB of plain JSONL, which splits into ranges, or several files of that much), else 1."""
    if workers >= 1:
        return workers
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cpus <= 1:
        return 1
    total = sum(os.path.getsize(p) for p in paths)
    splittable = _plain_jsonl_bytes(paths, fmt)
    if splittable >= AUTO_PARALLEL_BYTES or (len(paths) >= 2 and total >= AUTO_PARALLEL_BYTES):
        return min(cpus, 8)
    return 1


def _check_inputs(paths: list[str]) -> None:
    for p in paths:
        if not os.path.isfile(p):
            raise IngestError(f"{p}: no such file")


def load_events(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str | Path],
    *,
    table: str = "events",
    workers: int = 0,
    fmt: str | None = None,
    adapter: str = "auto",
    mapping: Mapping[str, str] | None = None,
    strict: bool = False,
    max_line_bytes: int = 8 << 20,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
    range_bytes: int | None = None,
    tmp_dir: str | Path | None = None,
    engine: str = "python",
) -> IngestStats:
    """Create (or replace) DuckDB table ``table`` with one ``EVENT_COLUMNS`` row per good record.

    Rows keep input order. ``workers``: 0 = automatic (a process pool for large plain JSONL),
    1 = in this process, N = a pool of N processes. ``progress`` is called with the number
    of records read so far. Bad records are counted in the returned stats; in strict mode
    the first one raises :class:`IngestError` (``file:line: reason``) and the table keeps
    the rows inserted before it. ``engine``: ``python`` (the default) parses every file in
    Python; ``native`` reads plain JSONL with the contract/auto adapter through DuckDB SQL
    (:mod:`hydrawatch.ingest.native`: the same rows and bad lines) and the rest in Python.
    """
    files = [str(paths)] if isinstance(paths, (str, Path)) else [str(p) for p in paths]
    _check_inputs(files)
    opts = ParseOptions(fmt, adapter, dict(mapping) if mapping else None, strict, max_line_bytes, batch_rows)
    make_parser(adapter, opts.mapping)  # fail fast on a bad adapter name or mapping
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    q = create_events_table(con, table)
    if engine == "native" and any(native_eligible(p, fmt, adapter, mapping) for p in files):
        return _load_native(con, q, files, opts, progress)
    n = choose_workers(files, fmt, workers)
    if n <= 1:
        return _load_serial(con, q, files, opts, progress)
    return _load_parallel(con, q, files, opts, progress, n, range_bytes, tmp_dir)


def _load_native(
    con: duckdb.DuckDBPyConnection, q: str, files: list[str], opts: ParseOptions, progress: Progress | None
) -> IngestStats:
    """Eligible files through DuckDB SQL, the others (in order) through the Python parser."""
    stats = IngestStats()
    native = NativeLoader(con, q, opts.adapter, opts.strict, opts.max_line_bytes, progress=progress)
    for path in files:
        if native_eligible(path, opts.fmt, opts.adapter, opts.mapping):
            native.load_file(path, stats)
        else:
            done = stats.records_ok + stats.records_bad
            shifted = None if progress is None else (lambda n, done=done: progress(done + n))
            stats.merge(_load_serial(con, q, [path], opts, shifted))
    return stats


def _load_serial(
    con: duckdb.DuckDBPyConnection, q: str, files: list[str], opts: ParseOptions, progress: Progress | None
) -> IngestStats:
    stats = IngestStats()
    parse = make_parser(opts.adapter, opts.mapping, keep_extra=False)
    builder = EventBatchBuilder()

    def flush() -> None:
        if len(builder):
            insert_arrow(con, q, pa.Table.from_batches([builder.flush()]))
        if progress is not None:
            progress(stats.records_ok + stats.records_bad)

    direct = fast = uses_fast_rows(opts.adapter, opts.mapping)
    for path in files:
        if direct and is_events_parquet(path, opts.fmt):
            flush()
            insert_events_parquet(con, q, path, stats)
            continue
        stats.files += 1
        records = iter_records(path, fmt=opts.fmt, max_line_bytes=opts.max_line_bytes, stats=stats)
        rows = parse_rows(records, parse, fast=fast, source=path, strict=opts.strict, stats=stats)
        try:
            for row in rows:
                builder.add_row(row)
                if len(builder) >= opts.batch_rows:
                    flush()
        finally:
            flush()
    return stats


def _load_parallel(
    con: duckdb.DuckDBPyConnection,
    q: str,
    files: list[str],
    opts: ParseOptions,
    progress: Progress | None,
    workers: int,
    range_bytes: int | None,
    tmp_dir: str | Path | None,
) -> IngestStats:
    plain = _plain_jsonl_bytes(files, opts.fmt)
    size = range_bytes or max(16 << 20, min(256 << 20, plain // (workers * 8) + 1))
    direct = uses_fast_rows(opts.adapter, opts.mapping)
    copied = {p for p in files if direct and is_events_parquet(p, opts.fmt)}
    tasks = plan(files, opts.fmt, size)
    stats = IngestStats()
    offsets: dict[int, int] = {}  # file_no -> lines in the ranges inserted so far
    seen: dict[int, int] = {}  # file_no -> records in them
    workdir = tempfile.mkdtemp(prefix="hydrawatch-ingest-", dir=tmp_dir)
    jobs = [(opts, t, os.path.join(workdir, f"part-{i:06d}.arrow")) for i, t in enumerate(tasks)]
    jobs = [job for job in jobs if job[1].path not in copied]
    if not jobs:
        shutil.rmtree(workdir, ignore_errors=True)
        return _load_serial(con, q, files, opts, progress)
    ctx = multiprocessing.get_context("spawn")
    try:
        with ctx.Pool(max(1, min(workers, len(jobs)))) as pool:
            results = pool.imap(run_task, jobs)
            for task in tasks:
                if task.path in copied:
                    insert_events_parquet(con, q, task.path, stats)
                    continue
                res = next(results)
                offset = offsets.get(task.file_no, 0)
                stats.merge(res.stats, line_offset=offset)
                seen[task.file_no] = seen.get(task.file_no, 0) + res.stats.records_ok + res.stats.records_bad
                try:
                    if res.part and res.rows:
                        insert_arrow(con, q, read_part(res.part), offset)
                finally:
                    remove_part(res.part)
                if res.error is not None:
                    line, reason = res.error
                    raise IngestError(reason if line < 0 else f"{task.path}:{line + offset}: {reason}")
                offsets[task.file_no] = offset + res.lines
                if progress is not None:
                    progress(stats.records_ok + stats.records_bad)
                if _is_last_range(task) and seen[task.file_no] == 0:
                    stats.warnings.append(f"{task.path}: no records (empty file)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return stats


def _is_last_range(task: Task) -> bool:
    return task.end is None or task.end >= os.path.getsize(task.path)
