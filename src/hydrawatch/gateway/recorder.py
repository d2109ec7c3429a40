"""Event recording off the request path.

``submit`` only appends to a bounded in-memory queue (a full queue drops the event
and counts it); a background worker writes batches: into the DuckDB table ``events``
(EVENT_COLUMNS) in embedded mode, or with XADD to the Redis stream ``{prefix}events``
in redis mode (field ``row``: the EVENT_COLUMNS row as JSON). Rows that cannot be written
(database locked, Redis down) stay queued and are retried: an outage shorter than the queue
(``record.queue_size`` rows) loses no event. Retention deletes (or
trims) events older than ``record.retention_days``.

DuckDB allows one writer process at a time, so the writer opens the database for each
flush and closes it again: ``hydrawatch hunt`` can read ``events.duckdb`` between flushes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import orjson

from hydrawatch.events.schema import EVENT_COLUMNS

log = logging.getLogger("hydrawatch.gateway")

RETENTION_EVERY_S = 3600.0
WRITE_SLICE = 256  # rows joined per write call of a batch file
T = TypeVar("T")

_DUCKDB_TYPES = {
    "double": "DOUBLE",
    "string": "VARCHAR",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "bool": "BOOLEAN",
}
# the DuckDB table ``events``: EVENT_COLUMNS, same names, order and types
EVENTS_DDL = ", ".join(f"{f.name} {_DUCKDB_TYPES[str(f.type)]}" for f in EVENT_COLUMNS)
_COLUMNS = "{" + ", ".join(f"'{f.name}': '{_DUCKDB_TYPES[str(f.type)]}'" for f in EVENT_COLUMNS) + "}"


def lower_thread_priority(nice: int = 10) -> None:
    """Lower the calling thread's CPU priority (Linux: nice is per thread, and threads it
    starts, such as DuckDB's, inherit it): on a busy core the event loop serving requests goes
    before the batch writer. Where that is not possible the thread runs as it is."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class EventSink(Protocol):
    recorded: int
    dropped: int

    def submit(self, row: dict[str, Any]) -> bool: ...
    def pending(self) -> int: ...
    async def start(self) -> None: ...
    async def flush(self) -> None: ...
    async def close(self) -> None: ...


class _BoundedQueue(Generic[T]):
    def __init__(self, maxsize: int) -> None:
        self._q: collections.deque[T] = collections.deque()
        self._max = maxsize
        self.recorded = 0
        self.dropped = 0
        self._inflight = 0  # taken by a flush and not yet written, requeued or dropped

    def _put(self, item: T) -> bool:
        if len(self._q) >= self._max:
            self.dropped += 1
            return False
        self._q.append(item)
        return True

    def pending(self) -> int:
        """Rows not yet written: queued, or in a batch being written."""
        return len(self._q) + self._inflight

    def queued(self) -> int:
        return len(self._q)

    def _done(self, rows: list[T]) -> None:
        """A batch from ``take`` was written, requeued or dropped."""
        self._inflight -= len(rows)

    def _requeue(self, rows: list[T]) -> None:
        """Put rows that could not be written back at the front; past the bound the newest
        rows are dropped and counted."""
        for row in reversed(rows):
            self._q.appendleft(row)
        while len(self._q) > self._max:
            self._q.pop()
            self.dropped += 1

    def take(self, n: int) -> list[T]:
        """Up to ``n`` of the oldest rows. A flush takes only the rows pending when it began:
        draining "until empty" under steady traffic kept the writer busy with batches of a few
        rows, each paying a whole database open and close."""
        out: list[T] = []
        q = self._q
        while q and len(out) < n:
            out.append(q.popleft())
        self._inflight += len(out)
        return out


class DuckDBEventSink(_BoundedQueue[bytes]):
    """Batches rows into ``path`` (table ``events``) from a background thread.

    A row is serialised when it is submitted (about a microsecond, on the request path), not
    at flush time: orjson holds the GIL for the whole call, and one call over a 5,000-row batch
    (~4 ms) stalled every request in flight for that long."""

    def __init__(
        self,
        path: Path,
        *,
        maxsize: int = 50_000,
        batch_size: int = 5_000,
        flush_seconds: float = 1.0,
        retention_days: float | None = None,
    ) -> None:
        super().__init__(maxsize)
        self.path = path
        self._batch = batch_size
        self._interval = flush_seconds
        self._retention = retention_days
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_retention = 0.0
        self.errors = 0

    def submit(self, row: dict[str, Any]) -> bool:
        ok = self._put(orjson.dumps(row))
        if ok and self.pending() >= self._batch:
            self._wake.set()
        return ok

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="hydrawatch-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        lower_thread_priority()
        while not self._stop:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._flush_all()
        self._flush_all()

    def _flush_all(self) -> None:
        with self._lock:
            todo = self.queued()
            while todo > 0:
                rows = self.take(min(self._batch, todo))
                todo -= len(rows)
                try:
                    written = self._write(rows)
                finally:
                    self._done(rows)
                if not written:
                    break
            if self._retention is not None and time.time() - self._last_retention > RETENTION_EVERY_S:
                self._apply_retention()

    def _write(self, rows: list[bytes]) -> bool:
        """Append ``rows`` (each one JSON object); False (rows kept for the next try) when the
        database is locked.

        Rows go to DuckDB as one JSON file read by ``read_json`` (building Arrow from Python
        objects held the GIL ~10x longer than serialising), written in slices so that no
        single call holds the GIL for long."""
        import duckdb

        batch = self.path.with_name(self.path.name + ".batch.json")
        with batch.open("wb") as f:
            f.write(b"[")
            for i in range(0, len(rows), WRITE_SLICE):
                if i:
                    f.write(b",")
                f.write(b",".join(rows[i : i + WRITE_SLICE]))
            f.write(b"]")
        try:
            con = duckdb.connect(str(self.path), config={"threads": 1})
        except duckdb.Error as e:  # another process holds the write lock: keep the rows, retry later
            self.errors += 1
            log.warning("events: cannot open %s (%s); will retry", self.path, e)
            self._requeue(rows)
            return False
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS events ({EVENTS_DDL})")
            con.execute(
                f"INSERT INTO events SELECT * FROM read_json(?, format='array', columns={_COLUMNS})",
                [str(batch)],
            )
            self.recorded += len(rows)
        except duckdb.Error as e:
            self.errors += 1
            self.dropped += len(rows)
            log.error("events: write to %s failed: %s", self.path, e)
        finally:
            con.close()
            batch.unlink(missing_ok=True)
        return True

    def _apply_retention(self) -> None:
        import duckdb

        assert self._retention is not None
        self._last_retention = time.time()
        if not self.path.exists():
            return
        cutoff = time.time() - self._retention * 86400.0
        try:
            con = duckdb.connect(str(self.path))
        except duckdb.Error:
            return
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS events ({EVENTS_DDL})")
            con.execute("DELETE FROM events WHERE ts < ?", [cutoff])
        except duckdb.Error as e:
            log.warning("events: retention failed: %s", e)
        finally:
            con.close()

    async def flush(self) -> None:
        await asyncio.to_thread(self._flush_all)

    async def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30.0)


class RedisEventSink(_BoundedQueue[dict[str, Any]]):
    """XADD batches to the stream ``{prefix}events`` from an asyncio task."""

    def __init__(
        self,
        redis: Any,
        stream: str,
        *,
        maxsize: int = 50_000,
        batch_size: int = 1_000,
        flush_seconds: float = 0.2,
        retention_days: float | None = None,
        maxlen: int = 10_000_000,
    ) -> None:
        super().__init__(maxsize)
        self._r = redis
        self.stream = stream
        self._batch = batch_size
        self._interval = flush_seconds
        self._retention = retention_days
        self._maxlen = maxlen
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stop = False
        self.errors = 0

    def submit(self, row: dict[str, Any]) -> bool:
        ok = self._put(row)
        if ok and self.pending() >= self._batch:
            self._wake.set()
        return ok

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while not self._stop:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        todo = self.queued()
        while todo > 0:
            rows = self.take(min(self._batch, todo))
            todo -= len(rows)
            try:
                if not await self._xadd(rows):
                    return
            finally:
                self._done(rows)

    async def _xadd(self, rows: list[dict[str, Any]]) -> bool:
        """One batch to the stream; False (rows requeued) when Redis failed."""
        trim: dict[str, Any]
        if self._retention is not None:
            minid = int((time.time() - self._retention * 86400.0) * 1000)
            trim = {"minid": f"{minid}-0", "approximate": True}
        else:
            trim = {"maxlen": self._maxlen, "approximate": True}
        # MULTI/EXEC: a batch is added whole or not at all, so a retry never duplicates rows
        pipe = self._r.pipeline(transaction=True)
        for row in rows:
            pipe.xadd(self.stream, {"row": orjson.dumps(row)}, **trim)
        try:
            await pipe.execute()
            self.recorded += len(rows)
        except Exception as e:  # Redis down: keep the rows (queue bound permitting), retry later
            self.errors += 1
            self._requeue(rows)
            log.warning("events: XADD to %s failed (%d pending): %s", self.stream, self.queued(), e)
            return False
        return True

    async def close(self) -> None:
        self._stop = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()
        await self._r.aclose()
