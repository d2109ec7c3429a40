"""The shared scorer of a replicated gateway: one consumer of the Redis event stream.

Every replica XADDs its exchanges to ``<prefix>events``. Scoring an account needs all of
its traffic in one place, so exactly one scorer is active at a time:

- **Leadership**: a lease ``<prefix>scorer:leader`` (``SET NX PX``, renewed every third of
  its life by a thread). Every ``hydrawatch serve --redis`` starts a scorer; all but one
  stand by and take over when the lease lapses (the leader stopped or lost Redis).
- **Consumption**: the consumer group ``hydrawatch-scorers`` on the stream gives each event
  to one consumer; the leader reads with ``XREADGROUP``, scores, publishes verdicts
  (``HSET <prefix>verdicts``, the cache every replica reads) and then ``XACK``s.
- **Takeover**: a new leader rebuilds its account state from the stream's recent history
  (entries already delivered, newest ``rebuild_events`` at most, within ``rebuild_seconds``),
  without publishing per row, runs a linkage pass, then claims what the previous leader
  left unacknowledged (``XAUTOCLAIM``) and goes on from there.

A leader that cannot renew its lease stops consuming at once and stands by again. In the
short window of a lease change two scorers may both handle a batch; verdicts are
idempotent writes, so that costs work, not correctness.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import redis

from hydrawatch.policy.decision import Verdict
from hydrawatch.policy.verdicts import DEFAULT_TTL, verdict_from_json, verdict_to_json
from hydrawatch.score.engine import ScoringEngine

log = logging.getLogger("hydrawatch.score")

GROUP = "hydrawatch-scorers"
PURGE_EVERY_S = 3600.0

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _id_ms(entry_id: bytes | str) -> int:
    s = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(s.split("-", 1)[0])


def _row(fields: dict[Any, Any] | None) -> dict[str, Any] | None:
    if not fields:
        return None
    raw = fields.get(b"row", fields.get("row"))
    if raw is None:
        return None
    try:
        row = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return row if isinstance(row, dict) else None


class RedisScorer:
    """Stand by, lead, consume; ``run`` returns when ``stop`` is set."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "hydrawatch:",
        factory: Callable[[], ScoringEngine],
        lease_seconds: float = 10.0,
        batch: int = 256,
        block_ms: int = 1000,
        rebuild_events: int = 200_000,
        rebuild_seconds: float = 7 * 86400.0,
        verdict_ttl: float = DEFAULT_TTL,
        status: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.r = redis.Redis.from_url(redis_url, socket_timeout=block_ms / 1000 + 5, socket_connect_timeout=5)
        self.stream = prefix + "events"
        self.verdict_key = prefix + "verdicts"
        self.lease_key = prefix + "scorer:leader"
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
        self.factory = factory
        self.lease_ms = int(lease_seconds * 1000)
        self.batch = batch
        self.block_ms = block_ms
        self.rebuild_events = rebuild_events
        self.rebuild_seconds = rebuild_seconds
        self.verdict_ttl = verdict_ttl
        self.status = status or (lambda msg: None)
        self.engine: ScoringEngine | None = None
        self.leader: bool | None = None  # None until the first attempt to lead
        self.lost = threading.Event()
        self.published = 0
        self.consumed = 0
        self._renew = self.r.register_script(_RENEW)
        self._release = self.r.register_script(_RELEASE)

    # ---------------------------------------------------------------- leadership
    def _acquire(self) -> bool:
        return bool(self.r.set(self.lease_key, self.consumer, nx=True, px=self.lease_ms))

    def _renewer(self, stop: threading.Event, term_over: threading.Event) -> None:
        every = self.lease_ms / 3000.0
        while not stop.wait(every) and not term_over.is_set():
            try:
                ok = bool(self._renew(keys=[self.lease_key], args=[self.consumer, self.lease_ms]))
            except redis.RedisError as e:
                log.warning("scorer: cannot renew the lease: %s", e)
                ok = False
            if not ok:
                self.lost.set()
                return

    def release(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self._release(keys=[self.lease_key], args=[self.consumer])

    # ------------------------------------------------------------------- running
    def run(self, stop: threading.Event) -> None:
        base = self.factory()  # models loaded once; account state is per leadership term
        self.status({"t": "ready"})
        while not stop.is_set():
            try:
                if not self._acquire():
                    self._set_leader(False)
                    stop.wait(self.lease_ms / 3000.0)
                    continue
            except redis.RedisError as e:
                log.warning("scorer: Redis unavailable: %s", e)
                stop.wait(1.0)
                continue
            self.lost.clear()
            term_over = threading.Event()
            renewer = threading.Thread(target=self._renewer, args=(stop, term_over), daemon=True)
            renewer.start()
            self._set_leader(True)
            try:
                self.engine = base.fresh()
                self._lead(stop)
            except redis.RedisError as e:
                log.warning("scorer: Redis failed while leading: %s; standing by", e)
                stop.wait(1.0)
            finally:
                term_over.set()
                self.release()
                self._set_leader(False)
        self.release()

    def _set_leader(self, leader: bool) -> None:
        if leader != self.leader:
            self.leader = leader
            log.info("scorer %s: %s", self.consumer, "leading" if leader else "standing by")
            self.status({"t": "role", "leader": leader})

    def _ensure_group(self) -> bytes:
        """The group's last delivered id (created at the stream's end if missing)."""
        try:
            self.r.xgroup_create(self.stream, GROUP, id="$", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        for g in self.r.xinfo_groups(self.stream):
            name = g.get("name")
            if name in (GROUP, GROUP.encode()):
                last = g.get("last-delivered-id") or b"0-0"
                return last if isinstance(last, bytes) else str(last).encode()
        return b"0-0"

    def _lead(self, stop: threading.Event) -> None:
        assert self.engine is not None
        last = self._ensure_group()
        pending = self._pending_ids()
        self._rebuild(last, pending, stop)
        self._publish(self.engine.link())
        self._claim(stop)
        next_purge = time.monotonic() + PURGE_EVERY_S
        while not stop.is_set() and not self.lost.is_set():
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + PURGE_EVERY_S
                self.purge_expired()
            got: Any = self.r.xreadgroup(
                GROUP, self.consumer, {self.stream: ">"}, count=self.batch, block=self.block_ms
            )
            entries = got[0][1] if got else []
            self._consume(entries)
            if self.engine.link_due() and not self.lost.is_set():
                self._publish(self.engine.link())

    def _consume(self, entries: Iterable[tuple[Any, Any]]) -> None:
        assert self.engine is not None
        ids = []
        rows = []
        for entry_id, fields in entries:
            ids.append(entry_id)
            row = _row(fields)
            if row is not None:
                rows.append(row)
            else:
                self.engine.errors += 1
        self.engine.observe_many(rows)
        if not ids:
            return
        if self.lost.is_set():  # lease gone mid-batch: leave the entries to the next leader
            return
        self._publish(self.engine.verdicts())
        self.r.xack(self.stream, GROUP, *ids)
        self.consumed += len(ids)

    def _publish(self, verdicts: list[tuple[str, Verdict]]) -> None:
        if not verdicts:
            return
        exp = time.time() + self.verdict_ttl
        pipe = self.r.pipeline(transaction=False)
        for account_id, v in verdicts:
            pipe.hset(self.verdict_key, account_id, verdict_to_json(v, exp))
        pipe.execute()
        self.published += len(verdicts)

    # ------------------------------------------------------------------- takeover
    def _pending_ids(self) -> set[bytes]:
        out: set[bytes] = set()
        start = "-"
        while True:
            page = self.r.xpending_range(self.stream, GROUP, min=start, max="+", count=1000)
            if not page:
                return out
            for p in page:
                mid = p["message_id"]
                out.add(mid if isinstance(mid, bytes) else str(mid).encode())
            last = page[-1]["message_id"]
            last_s = last.decode() if isinstance(last, bytes) else str(last)
            ms, seq = last_s.split("-")
            start = f"({ms}-{seq}"
            if len(page) < 1000:
                return out

    def _rebuild(self, last: bytes, skip: set[bytes], stop: threading.Event) -> None:
        """Relearn the accounts from history already delivered (no per-row publishing)."""
        assert self.engine is not None
        if last in (b"0-0", b"0"):
            return
        floor_ms = _id_ms(last) - int(self.rebuild_seconds * 1000)
        # walk back to find where the newest ``rebuild_events`` entries start
        start, n, cursor = f"{max(floor_ms, 0)}-0", 0, last.decode()
        while n < self.rebuild_events and not stop.is_set():
            page = self.r.xrevrange(self.stream, max=cursor, min=f"{max(floor_ms, 0)}", count=1000)
            if not page:
                break
            n += len(page)
            oldest = page[-1][0].decode() if isinstance(page[-1][0], bytes) else str(page[-1][0])
            start = oldest
            ms, seq = oldest.split("-")
            cursor = f"({ms}-{seq}"
            if len(page) < 1000:
                break
        t0, done, cursor = time.monotonic(), 0, start
        while not stop.is_set():
            page = self.r.xrange(self.stream, min=cursor, max=last.decode(), count=1000)
            if not page:
                break
            rows = [r for eid, f in page if eid not in skip and (r := _row(f)) is not None]
            done += self.engine.observe_only(rows)
            tail = page[-1][0].decode() if isinstance(page[-1][0], bytes) else str(page[-1][0])
            ms, seq = tail.split("-")
            cursor = f"({ms}-{seq}"
            if len(page) < 1000:
                break
        if done:
            log.info("scorer: rebuilt %d events of history in %.1f s", done, time.monotonic() - t0)

    def _claim(self, stop: threading.Event) -> None:
        """Take over (and score) what earlier consumers read but never acknowledged."""
        start = "0-0"
        while not stop.is_set() and not self.lost.is_set():
            res: Any = self.r.xautoclaim(
                self.stream, GROUP, self.consumer, min_idle_time=0, start_id=start, count=500
            )
            nxt, entries = res[0], res[1]
            deleted = res[2] if len(res) > 2 else []
            if deleted:
                self.r.xack(self.stream, GROUP, *deleted)
            self._consume([(eid, f) for eid, f in entries if f is not None])
            nxt_s = nxt.decode() if isinstance(nxt, bytes) else str(nxt)
            if nxt_s == "0-0":
                return
            start = nxt_s

    # ------------------------------------------------------------------- upkeep
    def purge_expired(self) -> int:
        """Delete expired verdicts from the shared hash; how many went."""
        now, gone, cursor = time.time(), 0, 0
        while True:
            found: Any
            cursor, found = self.r.hscan(self.verdict_key, cursor, count=1000)
            dead = [k for k, raw in found.items() if (p := verdict_from_json(raw)) is None or p[1] <= now]
            if dead:
                gone += int(self.r.hdel(self.verdict_key, *dead))
            if cursor == 0:
                return gone

    def close(self) -> None:
        self.release()
        self.r.close()
