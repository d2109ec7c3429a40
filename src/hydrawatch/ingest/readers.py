"""Source files to decoded records: JSONL (plain or gzip), CSV (plain or gzip), Parquet.

Readers yield ``(line, record)`` where ``line`` is the 1-based line (JSONL, CSV: the line
the record starts on) or row (Parquet) number, and ``record`` is a decoded dict or a
:class:`Bad` with the reason it could not be decoded. A file that breaks off (truncated
gzip, corrupt Parquet) yields one ``Bad`` at the point where reading stopped.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, cast

import orjson

from hydrawatch.ingest.errors import IngestError
from hydrawatch.ingest.stats import IngestStats

FORMATS: Final = ("jsonl", "csv", "parquet")
CHUNK_BYTES: Final = 4 << 20
_GZIP_MAGIC: Final = b"\x1f\x8b"
_PARQUET_MAGIC: Final = b"PAR1"
_BOM: Final = b"\xef\xbb\xbf"
_READ_ERRORS: Final = (EOFError, OSError, zlib.error, gzip.BadGzipFile)


@dataclass(slots=True, frozen=True)
class Bad:
    """A line or row that could not be decoded, and why."""

    reason: str


Record = tuple[int, Any]  # (line, dict | Bad | any decoded JSON value)


@dataclass(slots=True)
class LineCount:
    """Set by :func:`iter_jsonl` when it finishes: the newline-terminated lines it read."""

    n: int = 0


def detect_format(path: str | Path) -> str:
    """``jsonl``, ``csv`` or ``parquet`` from the name, else from the first bytes."""
    name = str(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    head = _head(path)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(64)
        except _READ_ERRORS:
            return "jsonl"
    return "jsonl" if head.lstrip()[:1] in (b"{", b"[", b"") else "csv"


def _head(path: str | Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(64)
    except OSError as e:
        raise IngestError(f"{path}: cannot read: {e.strerror or e}") from None


def is_gzip(path: str | Path) -> bool:
    return _head(path).startswith(_GZIP_MAGIC)


def open_binary(path: str | Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip (by content, not by name)."""
    try:
        if is_gzip(path):
            return cast(IO[bytes], gzip.open(path, "rb"))
        return open(path, "rb")
    except OSError as e:
        raise IngestError(f"{path}: cannot read: {e.strerror or e}") from None


def _too_long(max_line_bytes: int) -> Bad:
    return Bad(f"line too long: over {max_line_bytes:,} bytes")


def iter_jsonl(
    fh: IO[bytes],
    *,
    max_line_bytes: int,
    stats: IngestStats,
    end: int | None = None,
    start: int = 0,
    count: LineCount | None = None,
) -> Iterator[Record]:
    """Decoded JSON lines from ``fh`` (positioned at ``start``) up to byte ``end``.

    Blank lines are skipped (but counted for line numbers). Lines longer than
    ``max_line_bytes`` are skipped without being held in memory.
    """
    line = 0
    pending: list[bytes] = []  # the start of a line that continues in the next chunk
    pending_len = 0
    skipping = False
    pos = start
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    # read1 on gzip returns what one step decompressed, so a truncated stream loses only its last block
    read = fh.read1 if isinstance(fh, gzip.GzipFile) else fh.read
    while True:
        size = CHUNK_BYTES if end is None else min(CHUNK_BYTES, end - pos)
        if size <= 0:
            break
        try:
            chunk = read(size)
        except _READ_ERRORS as e:
            yield line + 1, Bad(f"file ends early: {e} (records after this point are lost)")
            return
        if not chunk:
            break
        if pos == 0 and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM) :]
            pos = len(_BOM)
            stats.bytes += len(_BOM)
        pos += len(chunk)
        stats.bytes += len(chunk)
        pieces = chunk.split(b"\n")
        tail = pieces.pop()
        for i, piece in enumerate(pieces):
            line += 1
            if i == 0:
                if skipping:
                    skipping = False
                    yield line, _too_long(max_line_bytes)
                    continue
                if pending:
                    pending.append(piece)
                    piece = b"".join(pending)
                    pending, pending_len = [], 0
            if len(piece) > max_line_bytes:
                yield line, _too_long(max_line_bytes)
                continue
            if not piece or piece.isspace():
                continue
            try:
                yield line, loads(piece)
            except decode_error as e:
                yield line, Bad(f"invalid JSON: {e}")
        if not skipping:
            if pieces:
                pending, pending_len = ([tail], len(tail)) if tail else ([], 0)
            elif tail:
                pending.append(tail)
                pending_len += len(tail)
            if pending_len > max_line_bytes:
                skipping = True
                pending, pending_len = [], 0
    if count is not None:
        count.n = line
    if skipping:
        yield line + 1, _too_long(max_line_bytes)
    elif pending:
        last = b"".join(pending)
        if not last.isspace():
            try:
                yield line + 1, loads(last)
            except decode_error as e:
                yield line + 1, Bad(f"invalid JSON: {e}")


def _has_surrogates(row: list[str]) -> bool:
    try:
        "".join(row).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _nest(header: list[str]) -> list[tuple[str, str | None]]:
    """Header names, with ``params.x`` columns split into (params, x)."""
    out: list[tuple[str, str | None]] = []
    for name in header:
        head, dot, sub = name.partition(".")
        out.append((head, sub) if dot and head == "params" and sub else (name, None))
    return out


def iter_csv(fh: IO[bytes], *, max_line_bytes: int, stats: IngestStats) -> Iterator[Record]:
    """CSV rows (first line: header) as dicts; ``params.X`` columns are gathered into ``params``."""
    counted = _CountingReader(fh, stats)
    buffered = io.BufferedReader(counted, 1 << 20)
    text = io.TextIOWrapper(buffered, encoding="utf-8", errors="surrogateescape", newline="")
    csv.field_size_limit(max(max_line_bytes, 1024))
    reader = csv.reader(text, strict=False)
    try:
        header = next(reader)
    except StopIteration:
        return
    except (csv.Error, *_READ_ERRORS) as e:
        yield 1, Bad(f"unreadable CSV header: {e}")
        return
    header = [h.strip().lstrip("\ufeff") for h in header]
    columns = _nest(header)
    width = len(header)
    prev_end = reader.line_num
    while True:
        start = prev_end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            prev_end = reader.line_num
            yield start, Bad(f"bad CSV row: {e}")
            continue
        except _READ_ERRORS as e:
            yield start, Bad(f"file ends early: {e} (records after this point are lost)")
            return
        prev_end = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            yield start, Bad(f"CSV row: expected {width} fields, found {len(row)}")
            continue
        if _has_surrogates(row):
            yield start, Bad("CSV row: invalid UTF-8")
            continue
        rec: dict[str, Any] = {}
        for (name, sub), value in zip(columns, row, strict=True):
            if sub is None:
                rec[name] = value
            elif value != "":
                params = rec.setdefault(name, {})
                if isinstance(params, dict):
                    params[sub] = _csv_scalar(value)
        yield start, rec


def _csv_scalar(value: str) -> Any:
    """A ``params.X`` cell: JSON when it parses (numbers, booleans, lists), else the text."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


class _CountingReader(io.RawIOBase):
    """Counts the bytes a text wrapper pulls from a binary file."""

    def __init__(self, fh: IO[bytes], stats: IngestStats) -> None:
        self._fh = fh
        self._stats = stats

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self._fh.read(len(buf))
        n = len(data)
        buf[:n] = data
        self._stats.bytes += n
        return n


def iter_parquet(path: str | Path, *, stats: IngestStats, batch_rows: int = 65536) -> Iterator[Record]:
    """Parquet rows as dicts (nested columns become dicts and lists)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = 0
    try:
        pf = pq.ParquetFile(path)
        stats.bytes += os.path.getsize(path)
        for batch in pf.iter_batches(batch_size=batch_rows):
            for rec in batch.to_pylist():
                row += 1
                yield row, rec
    except (pa.ArrowException, OSError, ValueError) as e:
        yield row + 1, Bad(f"unreadable Parquet: {e}")


def iter_records(
    path: str | Path,
    *,
    fmt: str | None = None,
    max_line_bytes: int = 8 << 20,
    stats: IngestStats,
) -> Iterator[Record]:
    """Every record of one file, whatever its format."""
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise IngestError(f"{path}: unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        yield from iter_parquet(path, stats=stats)
        return
    with open_binary(path) as fh:
        if fmt == "csv":
            yield from iter_csv(fh, max_line_bytes=max_line_bytes, stats=stats)
        else:
            yield from iter_jsonl(fh, max_line_bytes=max_line_bytes, stats=stats)


__all__ = ["FORMATS", "Bad", "LineCount", "Record", "detect_format", "iter_records", "open_binary"]
