"""Live scoring, in its own process, off the request path.

Each finished exchange is handed to a bounded queue read by a scoring process; it
computes the request features (``hydrawatch.features.request.describe``, the same code the
batch hunt uses), feeds the online scorer (``hydrawatch.detect.online.OnlineScorer``), and
sends back each account's new verdict, which a reader thread writes into the verdict cache
the request path reads. A periodic ``link`` pass promotes accounts into campaigns.

A separate process, not a thread: feature extraction is CPU work, and in-process it would
share the GIL with the request path. The process loads its models itself, so ``serve``
answers at once (``state``: loading, on, off); a shutdown during loading just stops it. If
the scorer is not installed, live scoring is off and verdicts come from hunts and admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from hydrawatch.events.schema import Exchange, Message
from hydrawatch.policy import Verdict, VerdictCache

log = logging.getLogger("hydrawatch.gateway")

STOP = "stop"


def to_verdict(v: Any) -> Verdict:
    reasons = getattr(v, "reasons", ()) or ()
    risk = float(getattr(v, "risk", 0.0) or 0.0)
    return Verdict(
        risk=min(1.0, max(0.0, risk)),
        campaign_id=getattr(v, "campaign_id", None),
        reasons=tuple(str(r) for r in reasons),
    )


def load_scorer() -> tuple[Any, Callable[[Exchange], Any]]:
    """The online scorer and the request describer, with their models loaded (slow: seconds)."""
    online = importlib.import_module("hydrawatch.detect.online")
    request = importlib.import_module("hydrawatch.features.request")
    describe: Callable[[Exchange], Any] = request.describe
    describe(Exchange(ts=0.0, account_id="warm-up", messages=[Message("user", "warm up")]))
    return online.OnlineScorer(), describe


def worker_main(inbox: Any, outbox: Any, link_seconds: float) -> None:
    """The scoring process: exchanges in; ("verdict", ...) and ("ack", n) out."""
    try:
        scorer, describe = load_scorer()
    except Exception as e:  # a broken detector install: acknowledge everything, score nothing
        outbox.put(("off", repr(e)))
        while inbox.get() != STOP:
            outbox.put(("ack", 1))
        outbox.put(("exit", None))
        return
    outbox.put(("on", None))
    last: dict[str, tuple[float, str | None, tuple[str, ...]]] = {}
    recent: set[str] = set()
    errors = 0

    def publish(account_id: str) -> None:
        v = to_verdict(scorer.score(account_id))
        sig = (round(v.risk, 4), v.campaign_id, v.reasons)
        if last.get(account_id) != sig:
            last[account_id] = sig
            outbox.put(("verdict", (account_id, v.risk, v.campaign_id, v.reasons)))

    next_link = time.monotonic() + link_seconds
    while True:
        try:
            item = inbox.get(timeout=max(0.0, next_link - time.monotonic()))
        except queue.Empty:
            item = None
        if item == STOP:
            break
        try:
            if isinstance(item, Exchange):
                scorer.observe(item, describe(item))
                publish(item.account_id)
                recent.add(item.account_id)
            if time.monotonic() >= next_link:
                next_link = time.monotonic() + link_seconds
                scorer.link(time.time())
                for account_id in recent:
                    publish(account_id)
                recent.clear()
        except Exception as e:  # a scorer bug must not stop the worker
            errors += 1
            if errors <= 10:
                outbox.put(("error", repr(e)))
        if isinstance(item, Exchange):
            outbox.put(("ack", 1))
    outbox.put(("exit", None))


class LiveScoring:
    """The gateway side: a bounded queue to the scoring process and a verdict reader."""

    def __init__(
        self,
        cache: VerdictCache,
        loop: asyncio.AbstractEventLoop,
        *,
        link_seconds: float = 60.0,
        maxsize: int = 20_000,
    ) -> None:
        self._cache = cache
        self._loop = loop
        self.state = "loading"
        self.dropped = 0
        self.errors = 0
        self.submitted = 0
        self.acked = 0
        ctx = mp.get_context("spawn")
        self._inbox: Any = ctx.Queue(maxsize)
        self._outbox: Any = ctx.Queue()
        self._proc = ctx.Process(
            target=worker_main,
            args=(self._inbox, self._outbox, link_seconds),
            name="hydrawatch-live",
            daemon=True,
        )
        self._proc.start()
        self._reader = threading.Thread(target=self._read, name="hydrawatch-live-reader", daemon=True)
        self._reader.start()

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
        return cls(cache, asyncio.get_running_loop(), link_seconds=link_seconds)

    def _read(self) -> None:
        while True:
            try:
                kind, payload = self._outbox.get()
            except (EOFError, OSError, ValueError):
                break
            if kind == "verdict":
                account_id, risk, campaign_id, reasons = payload
                v = Verdict(risk=risk, campaign_id=campaign_id, reasons=tuple(reasons))
                with contextlib.suppress(RuntimeError):  # the loop is closing
                    asyncio.run_coroutine_threadsafe(self._cache.put(account_id, v), self._loop)
            elif kind == "ack":
                self.acked += payload
            elif kind == "on":
                self.state = "on"
            elif kind == "off":
                self.state = "off"
                log.warning("live scoring disabled: %s", payload)
            elif kind == "error":
                self.errors += 1
                log.warning("live scoring failed: %s", payload)
            elif kind == "exit":
                break

    def submit(self, ex: Exchange) -> bool:
        if self.state == "off":
            return False
        try:
            self._inbox.put_nowait(ex)
        except queue.Full:
            self.dropped += 1
            return False
        self.submitted += 1
        return True

    def pending(self) -> int:
        return max(0, self.submitted - self.acked)

    async def drain(self) -> None:
        """Wait until every submitted exchange has been scored (and its verdict written)."""
        while self.state != "off" and self._proc.is_alive() and self.acked < self.submitted:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # let the reader hand the last verdicts to the loop

    async def close(self) -> None:
        if self.state == "loading":  # nothing scored yet: no need to wait for the models
            self._proc.terminate()
        else:
            with contextlib.suppress(Exception):
                self._inbox.put(STOP, timeout=1.0)
        await asyncio.to_thread(self._proc.join, 30.0)
        if self._proc.is_alive():
            log.warning("live scoring process did not stop within 30 s; terminating it")
            self._proc.terminate()
            await asyncio.to_thread(self._proc.join, 5.0)
        self.state = "off"
        with contextlib.suppress(Exception):
            self._outbox.put(("exit", None))
        await asyncio.to_thread(self._reader.join, 5.0)
        self._inbox.cancel_join_thread()
