"""Live scoring off the request path.

Each finished exchange is handed to a bounded queue; a worker thread computes its
request features (``hydrawatch.features.request.describe``, the same code the batch hunt
uses), feeds the online scorer (``hydrawatch.detect.online.OnlineScorer``), and writes the
account's new verdict into the verdict cache, which the request path reads. A periodic
``link`` pass promotes accounts into campaigns. If the scorer is not installed, live
scoring is off and verdicts come only from whoever writes the cache (hunts, admins).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from hydrawatch.events.schema import Exchange, Message
from hydrawatch.policy import Verdict, VerdictCache

log = logging.getLogger("hydrawatch.gateway")

_STOP = object()


def to_verdict(v: Any) -> Verdict:
    reasons = getattr(v, "reasons", ()) or ()
    risk = float(getattr(v, "risk", 0.0) or 0.0)
    return Verdict(
        risk=min(1.0, max(0.0, risk)),
        campaign_id=getattr(v, "campaign_id", None),
        reasons=tuple(str(r) for r in reasons),
    )


Loader = Callable[[Callable[[], bool]], tuple[Any, Callable[[Exchange], Any]]]


class Stopped(Exception):
    """The gateway shut down while the scorer was still loading."""


def load_scorer(stopping: Callable[[], bool] = lambda: False) -> tuple[Any, Callable[[Exchange], Any]]:
    """The online scorer and the request describer, with their models loaded (slow: seconds).
    ``stopping`` is checked between the slow steps so a shutdown does not wait for all of them."""
    online = importlib.import_module("hydrawatch.detect.online")
    if stopping():
        raise Stopped
    request = importlib.import_module("hydrawatch.features.request")
    if stopping():
        raise Stopped
    describe: Callable[[Exchange], Any] = request.describe
    describe(Exchange(ts=0.0, account_id="warm-up", messages=[Message("user", "warm up")]))
    return online.OnlineScorer(), describe


class LiveScoring:
    """The worker. The scorer is loaded by the worker thread itself, so ``serve`` starts at
    once; exchanges submitted meanwhile wait in the queue. ``state``: loading, on, off."""

    def __init__(
        self,
        loader: Loader,
        cache: VerdictCache,
        loop: asyncio.AbstractEventLoop,
        *,
        link_seconds: float = 60.0,
        maxsize: int = 20_000,
    ) -> None:
        self._loader = loader
        self._scorer: Any = None
        self._describe: Callable[[Exchange], Any] | None = None
        self.state = "loading"
        self._cache = cache
        self._loop = loop
        self._link_every = link_seconds
        self._q: queue.Queue[Any] = queue.Queue(maxsize)
        self._last: dict[str, tuple[float, str | None, tuple[str, ...]]] = {}
        self._recent: set[str] = set()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = threading.Event()
        self.dropped = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._main, name="hydrawatch-live", daemon=True)
        self._thread.start()

    @classmethod
    def try_start(cls, cache: VerdictCache, *, link_seconds: float = 60.0) -> LiveScoring | None:
        """None when the online scorer is not part of this installation."""
        try:
            found = importlib.util.find_spec("hydrawatch.detect.online") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            log.warning("live scoring disabled: hydrawatch.detect.online is not installed")
            return None
        return cls(load_scorer, cache, asyncio.get_running_loop(), link_seconds=link_seconds)

    def _main(self) -> None:
        try:
            self._scorer, self._describe = self._loader(self._stopping.is_set)
        except Stopped:
            self.state = "off"
            self._idle.set()
            return
        except Exception as e:  # a broken detector install: run without live scoring
            log.warning("live scoring disabled: %r", e)
            self.state = "off"
            while True:  # keep draining so nothing waits on a dead worker
                if self._q.get() is _STOP:
                    return
                if self._q.empty():
                    self._idle.set()
        self.state = "on"
        self._run()

    def submit(self, ex: Exchange) -> bool:
        if self.state == "off":
            return False
        self._idle.clear()
        try:
            self._q.put_nowait(ex)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def pending(self) -> int:
        return self._q.qsize()

    def _publish(self, account_id: str) -> None:
        v = to_verdict(self._scorer.score(account_id))
        sig = (round(v.risk, 4), v.campaign_id, v.reasons)
        if self._last.get(account_id) == sig:
            return
        self._last[account_id] = sig
        asyncio.run_coroutine_threadsafe(self._cache.put(account_id, v), self._loop)

    def _run(self) -> None:
        next_link = time.monotonic() + self._link_every
        while True:
            timeout = max(0.0, next_link - time.monotonic())
            try:
                item = self._q.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP or self._stopping.is_set():
                return
            try:
                if isinstance(item, Exchange) and self._describe is not None:
                    self._scorer.observe(item, self._describe(item))
                    self._publish(item.account_id)
                    self._recent.add(item.account_id)
                if time.monotonic() >= next_link:
                    next_link = time.monotonic() + self._link_every
                    self._scorer.link(time.time())
                    for account_id in list(self._recent):
                        self._publish(account_id)
                    self._recent.clear()
            except Exception as e:  # a scorer bug must not stop the worker
                self.errors += 1
                if self.errors <= 10:
                    log.warning("live scoring failed: %r", e)
            if self._q.empty():
                self._idle.set()

    async def drain(self) -> None:
        """Wait until every submitted exchange has been scored."""
        while self.state != "off" and (not self._idle.is_set() or not self._q.empty()):
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self._stopping.set()
        with contextlib.suppress(queue.Full):  # a full queue: the busy worker sees the flag
            self._q.put_nowait(_STOP)
        await asyncio.to_thread(self._thread.join, 60.0)
        if self._thread.is_alive():
            log.warning("live scoring worker did not stop within 60 s")
