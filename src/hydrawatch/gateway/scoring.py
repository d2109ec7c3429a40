"""Live scoring in its own process, supervised by the gateway.

The serving process never runs analysis. It starts a scorer process
(``python -m hydrawatch.score``) and keeps it running:

- **embedded** (no Redis): the child is fed through its stdin. ``submit`` serialises the
  event row and queues it (bounded; the request path never waits: a full queue drops the row
  and counts it); rows are written to the pipe every ``FEED_EVERY_S`` (5 ms). The child answers
  with verdicts, which land in the in-process verdict cache, and acknowledgements; a row is
  forgotten only once acknowledged, so when the child dies the restarted one is sent
  every row the dead one had not finished: no exchange is lost.
- **redis**: the child consumes the replicas' shared event stream itself (one leader among
  all replicas' scorers, see ``hydrawatch.score.redis_worker``) and writes the shared
  verdict cache; the gateway only supervises it.

A child that exits is logged and restarted (back-off 0.5 s doubling to 30 s). While it is
down the policy's ``scoring_down`` setting says whether requests are served as usual
(fail open, the default) or with a minimum action (fail closed). ``state``: ``starting``,
``loading`` (models loading), ``on``, ``down`` (restarting), ``off``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import sys
import time
from typing import Any

import orjson

from hydrawatch.policy import VerdictCache
from hydrawatch.score.pipe import encode_row, verdict_of_message

log = logging.getLogger("hydrawatch.gateway")

RESTART_MIN_S = 0.5
RESTART_MAX_S = 30.0
STABLE_S = 60.0  # a child up this long resets the back-off
# rows go down the pipe at most this often: one write (and one wake-up of the child) per
# interval rather than per request; the child batches its scoring at a coarser step anyway
FEED_EVERY_S = 0.005


# the gateway's own scorer runs at a lower CPU priority: sharing a core, a request waiting to
# be served goes before analysis, which only ever makes verdicts a little later
SCORER_NICE = 10


def scorer_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "hydrawatch.score", "--nice", str(SCORER_NICE), *args]


class ScorerProcess:
    """Start, feed (embedded), read, restart and stop the scorer child."""

    def __init__(
        self,
        argv: list[str],
        cache: VerdictCache | None,
        *,
        feed: bool,
        maxsize: int = 20_000,
        lease_check: Any = None,
        lease_close: Any = None,
    ) -> None:
        self.argv = argv
        self.cache = cache
        self.feed = feed
        self.maxsize = maxsize
        self.state = "starting"
        self.leader: bool | None = None  # redis mode: does this replica's scorer lead?
        self.dropped = 0
        self.restarts = 0
        self.verdicts = 0
        self.acked = 0
        self._seq = 0
        self._unacked: collections.deque[tuple[int, bytes]] = collections.deque()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._strikes = 0
        self._lease_check = lease_check  # redis mode: async () -> bool, is any scorer leading?
        self._leader_seen = True
        self._lease_task: asyncio.Task[None] | None = None
        self._lease_close = lease_close

    # ----------------------------------------------------------------- control
    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise())
        if self._lease_check is not None:
            self._lease_task = asyncio.get_running_loop().create_task(self._watch_lease())

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    @property
    def down(self) -> bool:
        """True while no scorer is working: ours died (restarting), or in redis mode no
        replica's scorer holds the leader lease."""
        if self.state == "down":
            return True
        return not self._leader_seen

    def pending(self) -> int:
        return len(self._unacked)

    # ------------------------------------------------------------------ feeding
    def submit(self, row: dict[str, Any]) -> bool:
        """Hand one event row to the scorer (never blocks; False when dropped)."""
        if not self.feed or self._closing:
            return False
        if len(self._unacked) >= self.maxsize:
            self.dropped += 1
            return False
        self._seq += 1
        frame = encode_row(self._seq, row)
        self._unacked.append((self._seq, frame))
        self._out.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(FEED_EVERY_S, self._flush)
        return True

    def _flush(self) -> None:
        self._flush_scheduled = False
        frames, self._out = self._out, []
        proc = self._proc
        if not frames or proc is None or proc.stdin is None or proc.stdin.is_closing():
            return  # kept in _unacked: a (re)started child is sent everything unacknowledged
        try:
            proc.stdin.write(b"".join(frames))
        except (ConnectionError, RuntimeError) as e:  # the child just died: the restart resends
            log.debug("scorer pipe write failed: %r", e)

    # ------------------------------------------------------------- supervision
    async def _spawn(self) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # the scorer's logs go where the gateway's go
            start_new_session=True,  # a terminal's Ctrl-C reaches the gateway only
            limit=1 << 24,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._proc = proc
        if self.feed and self._unacked and proc.stdin is not None:
            proc.stdin.write(b"".join(frame for _, frame in self._unacked))
        self._out.clear()  # everything queued so far was just sent whole
        return proc

    async def _supervise(self) -> None:
        backoff = RESTART_MIN_S
        while not self._closing:
            try:
                proc = await self._spawn()
            except OSError as e:
                log.error("cannot start the scorer (%s); retrying in %.1f s", e, backoff)
                self.state = "down"
                await asyncio.sleep(backoff)
                backoff = min(RESTART_MAX_S, backoff * 2)
                continue
            if self.state != "down":
                self.state = "loading"
            started = time.monotonic()
            acked_before = self.acked
            await self._read(proc)
            code = await proc.wait()
            if self._closing:
                return
            self.restarts += 1
            self.state = "down"
            if time.monotonic() - started > STABLE_S:
                backoff = RESTART_MIN_S
            self._poison_check(progress=self.acked > acked_before)
            log.error(
                "the scorer process exited (code %s); the gateway keeps serving (policy scoring_down); "
                "restarting it in %.1f s with %d unscored rows",
                code,
                backoff,
                len(self._unacked),
            )
            await asyncio.sleep(backoff)
            backoff = min(RESTART_MAX_S, backoff * 2)

    def _poison_check(self, *, progress: bool) -> None:
        """A child that dies twice in a row without finishing a row: drop the oldest row, which
        may be what kills it."""
        if progress or not self._unacked:
            self._strikes = 0
            return
        self._strikes += 1
        if self._strikes >= 2:
            seq, _ = self._unacked.popleft()
            self.dropped += 1
            self._strikes = 0
            log.error("scorer: dropped row %d, the scorer died twice on it", seq)

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            try:
                line = await proc.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError, ConnectionError) as e:
                log.warning("scorer: unreadable output: %r", e)
                proc.kill()
                return
            if not line:
                return
            try:
                msg = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(msg, dict):
                await self._handle(msg)

    async def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("t")
        if kind == "v":
            got = verdict_of_message(msg)
            if got is not None and self.cache is not None:
                await self.cache.put(got[0], got[1])
                self.verdicts += 1
        elif kind == "ack":
            s = msg.get("s")
            if isinstance(s, int):
                q = self._unacked
                while q and q[0][0] <= s:
                    q.popleft()
                    self.acked += 1
                self._strikes = 0
        elif kind == "ready":
            self.state = "on"
            log.info("live scoring is on (scorer pid %s)", self.pid)
        elif kind == "role":
            self.leader = bool(msg.get("leader"))

    async def _watch_lease(self) -> None:
        while not self._closing:
            with contextlib.suppress(Exception):
                self._leader_seen = bool(await self._lease_check())
            await asyncio.sleep(2.0)

    async def drain(self, timeout: float = 60.0) -> None:
        """Wait until every submitted row has been scored (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        while self._unacked and time.monotonic() < deadline and not self._closing:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self._closing = True
        self.state = "off"
        if self._lease_task is not None:
            self._lease_task.cancel()
        if self._lease_close is not None:
            with contextlib.suppress(Exception):
                await self._lease_close()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()  # end of input: the child exits
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 3.0)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
