"""Files to Exchanges, with bad records counted (or raised, in strict mode)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from hydrawatch.events.schema import Exchange
from hydrawatch.ingest.columns import EventRow, event_tuple
from hydrawatch.ingest.errors import BadRecord, IngestError
from hydrawatch.ingest.fastrow import simple_row
from hydrawatch.ingest.readers import Bad, Record, iter_records
from hydrawatch.ingest.record import RecordParser, make_parser
from hydrawatch.ingest.stats import IngestStats

# A bug in an adapter must cost one record, not the run: these are caught per record too.
_UNEXPECTED = (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError, OverflowError)


def _parse_one(obj: object, parse: RecordParser) -> Exchange | str:
    """The Exchange of a decoded record, or the reason it is bad."""
    if type(obj) is Bad:
        return obj.reason
    try:
        return parse(obj)
    except BadRecord as e:
        return str(e)
    except _UNEXPECTED as e:
        return f"record: cannot be read ({type(e).__name__}: {str(e)[:200]})"


def _reject(stats: IngestStats, source: str, line: int, reason: str, strict: bool) -> None:
    stats.add_bad(source, line, reason)
    if strict:
        raise IngestError(f"{source}:{line}: {reason}")


def parse_records(
    records: Iterator[Record],
    parse: RecordParser,
    *,
    source: str,
    strict: bool,
    stats: IngestStats,
    warn_empty: bool = True,
) -> Iterator[tuple[int, Exchange]]:
    """Decoded records to (line, Exchange); bad ones are counted in ``stats`` or raised."""
    seen = 0
    for line, obj in records:
        seen += 1
        got = _parse_one(obj, parse)
        if isinstance(got, str):
            _reject(stats, source, line, got, strict)
        else:
            stats.records_ok += 1
            yield line, got
    if seen == 0 and warn_empty:
        stats.warnings.append(f"{source}: no records (empty file)")


def uses_fast_rows(adapter: str, mapping: Mapping[str, str] | None) -> bool:
    """Whether contract records may take the fast row path (not with a mapping or another adapter)."""
    return adapter in ("auto", "contract") and not mapping


def parse_rows(
    records: Iterator[Record],
    parse: RecordParser,
    *,
    fast: bool,
    source: str,
    strict: bool,
    stats: IngestStats,
    warn_empty: bool = True,
) -> Iterator[EventRow]:
    """Decoded records to ``EVENT_COLUMNS`` rows: plain contract records by the fast path when
    ``fast``, everything else (and every bad record) by ``parse`` as in :func:`parse_records`."""
    seen = 0
    for line, obj in records:
        seen += 1
        if fast and type(obj) is dict and "request" not in obj and "request_id" not in obj:
            row = simple_row(obj, line, source)
            if row is not None:
                stats.records_ok += 1
                yield row
                continue
        got = _parse_one(obj, parse)
        if isinstance(got, str):
            _reject(stats, source, line, got, strict)
        else:
            stats.records_ok += 1
            yield event_tuple(got, line, source)
    if seen == 0 and warn_empty:
        stats.warnings.append(f"{source}: no records (empty file)")


def iter_exchanges(
    path: str | Path,
    *,
    fmt: str | None = None,
    adapter: str = "auto",
    mapping: Mapping[str, str] | None = None,
    strict: bool = False,
    stats: IngestStats | None = None,
    max_line_bytes: int = 8 << 20,
) -> Iterator[tuple[int, Exchange]]:
    """(line, Exchange) for every good record of one file, in file order.

    Bad records are skipped and counted in ``stats`` (with their line numbers); with
    ``strict=True`` the first one raises :class:`IngestError` ``"file:line: reason"``.
    """
    stats = stats if stats is not None else IngestStats()
    parse = make_parser(adapter, mapping)
    stats.files += 1
    records = iter_records(path, fmt=fmt, max_line_bytes=max_line_bytes, stats=stats)
    yield from parse_records(records, parse, source=str(path), strict=strict, stats=stats)
