"""The native ingest path: plain contract JSONL normalised by DuckDB SQL, a block at a time.

Python only finds the newlines (numpy) and hands DuckDB the block's lines as one Arrow
string column with exact line numbers (zero copy; each value keeps its ``\\n``, which is
JSON whitespace). One SQL statement (:func:`native_sql`) turns every line into its
``EVENT_COLUMNS`` row or flags it ``fb``; flagged lines (invalid JSON, rare shapes, bad
records) and lines that are not valid UTF-8 or are too long go through the Python reader's
per-line rules and :func:`parse_rows`, so rows, bad-line numbers and reasons are exactly
those of the Python path. Rows keep file order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from hydrawatch.events.schema import EVENT_COLUMNS
from hydrawatch.ingest.columns import EventBatchBuilder
from hydrawatch.ingest.errors import IngestError
from hydrawatch.ingest.exchanges import parse_rows
from hydrawatch.ingest.native_sql import native_sql
from hydrawatch.ingest.readers import Bad, Record, detect_format, is_gzip
from hydrawatch.ingest.record import RecordParser, make_parser
from hydrawatch.ingest.stats import IngestStats

BLOCK_BYTES: Final = 32 << 20
_BOM: Final = b"\xef\xbb\xbf"
_LINES: Final = "__hw_native_lines"
_ROWS: Final = "__hw_native_rows"
_FALLBACK: Final = "__hw_native_fallback"
_COLUMNS: Final = ", ".join(f'"{n}"' for n in EVENT_COLUMNS.names)


def native_eligible(path: str, fmt: str | None, adapter: str, mapping: object) -> bool:
    """Whether the native path reads this file: plain (not gzip) JSONL, contract/auto adapter, no mapping."""
    if adapter not in ("auto", "contract") or mapping:
        return False
    return (fmt or detect_format(path)) == "jsonl" and not is_gzip(path)


@dataclass(slots=True)
class Block:
    """Complete lines of a file: ``data[starts[i]:starts[i + 1]]`` is line ``first_line + i``."""

    data: bytes
    starts: np.ndarray  # int64 offsets, one more than the number of lines
    first_line: int

    def __len__(self) -> int:
        return len(self.starts) - 1

    def piece(self, i: int) -> bytes:
        """Line ``i`` of the block without its newline (as the Python reader sees it)."""
        b = self.data[int(self.starts[i]) : int(self.starts[i + 1])]
        return b[:-1] if b.endswith(b"\n") else b


def iter_blocks(path: str, stats: IngestStats, block_bytes: int = BLOCK_BYTES) -> Iterator[Block]:
    """The file as blocks of whole lines (the last line may lack its newline); counts bytes read."""
    line = 1
    carry = b""
    first = True
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(block_bytes)
            stats.bytes += len(chunk)
            if first:
                first = False
                if chunk.startswith(_BOM):
                    chunk = chunk[len(_BOM) :]
            if not chunk:
                break
            data = carry + chunk if carry else chunk
            arr = np.frombuffer(data, dtype=np.uint8)
            ends = np.flatnonzero(arr == 10)
            if len(ends) == 0:
                carry = data
                continue
            cut = int(ends[-1]) + 1
            starts = np.empty(len(ends) + 1, dtype=np.int64)
            starts[0] = 0
            starts[1:] = ends + 1
            yield Block(data[:cut], starts, line)
            line += len(ends)
            carry = data[cut:]
    if carry:
        yield Block(carry, np.array([0, len(carry)], dtype=np.int64), line)


def _lines_table(block: Block, max_line_bytes: int) -> tuple[pa.Table, list[int]]:
    """The block as (line, raw) Arrow columns, and the indexes DuckDB must not see
    (too long, or not UTF-8): their raw value is blanked, so the SQL flags them too."""
    lengths = np.diff(block.starts)
    skip = [int(i) for i in np.flatnonzero(lengths > max_line_bytes + 1)]
    offsets = block.starts
    data = block.data
    raw = pa.Array.from_buffers(
        pa.large_string(), len(block), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    try:
        raw.validate(full=True)
    except pa.ArrowInvalid:
        skip = sorted(set(skip) | set(_not_utf8(block)))
    if skip:
        keep = np.ones(len(block), dtype=bool)
        keep[skip] = False
        pieces = [
            b"" if not k else block.data[int(s) : int(e)]
            for k, s, e in zip(keep, offsets[:-1], offsets[1:], strict=True)
        ]
        raw = pa.array([p.decode("utf-8") for p in pieces], type=pa.large_string())
    lines = pa.array(np.arange(block.first_line, block.first_line + len(block), dtype=np.int64))
    return pa.table({"line": lines, "raw": raw}), skip


def _not_utf8(block: Block) -> list[int]:
    bad = []
    for i in range(len(block)):
        try:
            block.data[int(block.starts[i]) : int(block.starts[i + 1])].decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
    return bad


_BLANK: Final = object()


def _decode(piece: bytes, max_line_bytes: int) -> object:
    """A line as the Python reader decodes it; ``_BLANK`` for a blank line (skipped)."""
    if len(piece) > max_line_bytes:
        return Bad(f"line too long: over {max_line_bytes:,} bytes")
    if not piece or piece.isspace():
        return _BLANK
    try:
        return orjson.loads(piece)
    except orjson.JSONDecodeError as e:
        return Bad(f"invalid JSON: {e}")


@dataclass(slots=True)
class NativeLoader:
    """Loads plain contract JSONL files into an events table through DuckDB SQL."""

    con: duckdb.DuckDBPyConnection
    table: str  # quoted
    adapter: str = "auto"
    strict: bool = False
    max_line_bytes: int = 8 << 20
    block_bytes: int = BLOCK_BYTES
    progress: Callable[[int], None] | None = None

    def load_file(self, path: str, stats: IngestStats) -> None:
        stats.files += 1
        seen_before = stats.records_ok + stats.records_bad
        sql = native_sql(_LINES)
        parse = make_parser(self.adapter, None, keep_extra=False)
        for block in iter_blocks(path, stats, self.block_bytes):
            self._load_block(block, sql, parse, path, stats)
            if self.progress is not None:
                self.progress(stats.records_ok + stats.records_bad)
        if stats.records_ok + stats.records_bad == seen_before:
            stats.warnings.append(f"{path}: no records (empty file)")

    def _load_block(self, block: Block, sql: str, parse: RecordParser, path: str, stats: IngestStats) -> None:
        con = self.con
        lines, _ = _lines_table(block, self.max_line_bytes)
        con.register(_LINES, lines)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_ROWS} AS {sql}", {"source": path})
        except duckdb.Error:  # a shape the SQL does not expect: the whole block goes to the Python parser
            empty = f"SELECT {_COLUMNS}, TRUE AS fb FROM {self.table} LIMIT 0"
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_ROWS} AS {empty}")
            con.execute(f"INSERT INTO {_ROWS} (line, fb) SELECT line, TRUE FROM {_LINES}")
        finally:
            con.unregister(_LINES)
        flagged = [
            int(r[0]) for r in con.execute(f"SELECT line FROM {_ROWS} WHERE fb ORDER BY line").fetchall()
        ]
        ok = con.execute(f"SELECT count(*) FROM {_ROWS} WHERE NOT fb").fetchall()[0][0]
        stats.records_ok += int(ok)
        first_bad: tuple[int, str] | None = None
        builder = EventBatchBuilder()
        if flagged:
            records: list[Record] = []
            for ln in flagged:
                obj = _decode(block.piece(ln - block.first_line), self.max_line_bytes)
                if obj is not _BLANK:
                    records.append((ln, obj))
            bad_before = len(stats.bad), stats.records_bad
            for row in parse_rows(
                iter(records), parse, fast=True, source=path, strict=False, stats=stats, warn_empty=False
            ):
                builder.add_row(row)
            if self.strict and stats.records_bad > bad_before[1]:
                first_bad = _first_bad(records, parse, path)
        try:
            if first_bad is not None:
                self._insert(builder, f"line < {first_bad[0]}")
            else:
                self._insert(builder, None)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {_ROWS}")
        if first_bad is not None:
            raise IngestError(f"{path}:{first_bad[0]}: {first_bad[1]}")

    def _insert(self, builder: EventBatchBuilder, where: str | None) -> None:
        con = self.con
        cond = f" AND {where}" if where else ""
        if not len(builder):
            con.execute(f"INSERT INTO {self.table} SELECT {_COLUMNS} FROM {_ROWS} WHERE NOT fb{cond}")
            return
        extra = pa.Table.from_batches([builder.flush()])
        con.register(_FALLBACK, extra)
        try:
            con.execute(
                f"INSERT INTO {self.table} SELECT * FROM (SELECT {_COLUMNS} FROM {_ROWS} WHERE NOT fb"
                f" UNION ALL SELECT {_COLUMNS} FROM {_FALLBACK}) WHERE TRUE{cond} ORDER BY line"
            )
        finally:
            con.unregister(_FALLBACK)


def _first_bad(records: list[Record], parse: RecordParser, path: str) -> tuple[int, str]:
    """(line, reason) of the first bad record among ``records`` (strict mode)."""
    for ln, obj in records:
        scratch = IngestStats()
        list(
            parse_rows(
                iter([(ln, obj)]),
                parse,
                fast=True,
                source=path,
                strict=False,
                stats=scratch,
                warn_empty=False,
            )
        )
        if scratch.bad:
            return ln, scratch.bad[0][2]
    raise AssertionError("no bad record")  # pragma: no cover
