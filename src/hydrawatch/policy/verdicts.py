"""The verdict cache: the only thing the request path reads about an account's risk.

Analysis (the live scorer, hunts) ``put``s verdicts; the gateway ``get``s them and never
waits on analysis: a missing or expired verdict is the benign default (risk 0), and in
Redis mode an unreachable server answers the last verdict this process saw (else the
default) within a short timeout."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import OrderedDict
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hydrawatch.policy.decision import Verdict

log = logging.getLogger(__name__)

DEFAULT_VERDICT = Verdict(risk=0.0)
DEFAULT_TTL = 3600.0


class VerdictCache(Protocol):
    async def get(self, account_id: str) -> Verdict: ...

    async def put(self, account_id: str, v: Verdict) -> None: ...


def verdict_to_json(v: Verdict, expires_at: float) -> str:
    return json.dumps(
        {"risk": v.risk, "campaign_id": v.campaign_id, "reasons": list(v.reasons), "exp": expires_at},
        separators=(",", ":"),
    )


def verdict_from_json(raw: str | bytes) -> tuple[Verdict, float] | None:
    """A stored verdict and its expiry; None for anything malformed."""
    try:
        d = json.loads(raw)
        risk = float(d["risk"])
        campaign = d.get("campaign_id")
        reasons = d.get("reasons") or []
        exp = float(d["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if not math.isfinite(risk) or not isinstance(reasons, list):
        return None
    return Verdict(risk, str(campaign) if campaign else None, tuple(str(r) for r in reasons)), exp


class InMemoryVerdictCache:
    """A dict with a TTL per entry and a bound on its size (oldest entries go first)."""

    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = 1_000_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Verdict, float]] = OrderedDict()

    async def get(self, account_id: str) -> Verdict:
        entry = self._entries.get(account_id)
        if entry is None:
            return DEFAULT_VERDICT
        if entry[1] <= time.time():
            del self._entries[account_id]
            return DEFAULT_VERDICT
        return entry[0]

    async def put(self, account_id: str, v: Verdict) -> None:
        self._entries.pop(account_id, None)
        self._entries[account_id] = (v, time.time() + self.ttl)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        return None


class RedisVerdictCache:
    """One Redis hash (``<prefix>verdicts``) of account -> JSON verdict with its expiry.

    Expired fields read as the default; ``put`` removes a few expired fields as it goes."""

    def __init__(
        self,
        redis_url: str,
        *,
        ttl: float = DEFAULT_TTL,
        key_prefix: str = "hydrawatch:",
        timeout: float = 0.1,
    ) -> None:
        self.ttl = ttl
        self.key = key_prefix + "verdicts"
        self.timeout = timeout
        self.redis: Redis = Redis.from_url(
            redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._seen = InMemoryVerdictCache(ttl=ttl, max_entries=100_000)
        self.errors = 0

    async def _bounded(self, aw: Any) -> Any:
        return await asyncio.wait_for(aw, timeout=self.timeout * 2)

    async def get(self, account_id: str) -> Verdict:
        try:
            raw = await self._bounded(self.redis.hget(self.key, account_id))
        except Exception as e:  # unreachable / slow Redis must not stall the request
            self.errors += 1
            log.debug("verdict cache get failed: %s", e)
            return await self._seen.get(account_id)
        if raw is None:
            return DEFAULT_VERDICT
        parsed = verdict_from_json(raw)
        if parsed is None or parsed[1] <= time.time():
            return DEFAULT_VERDICT
        await self._seen.put(account_id, parsed[0])
        return parsed[0]

    async def put(self, account_id: str, v: Verdict) -> None:
        await self._seen.put(account_id, v)
        try:
            await self._bounded(
                self.redis.hset(self.key, account_id, verdict_to_json(v, time.time() + self.ttl))
            )
        except Exception as e:
            self.errors += 1
            log.warning("verdict cache put failed: %s", e)

    async def purge_expired(self, batch: int = 1000) -> int:
        """Delete expired fields (run it from a background task); returns how many went."""
        now, gone, cursor = time.time(), 0, 0
        while True:
            cursor, found = await self.redis.hscan(self.key, cursor, count=batch)
            fields = found if isinstance(found, dict) else {}
            dead = [k for k, raw in fields.items() if (p := verdict_from_json(raw)) is None or p[1] <= now]
            if dead:
                gone += int(await self.redis.hdel(self.key, *dead))
            if cursor == 0:
                return gone

    async def close(self) -> None:
        await self.redis.aclose()


def make_verdict_cache(
    redis_url: str | None, *, ttl: float = DEFAULT_TTL, key_prefix: str = "hydrawatch:"
) -> InMemoryVerdictCache | RedisVerdictCache:
    """In-process when ``redis_url`` is None, else shared through Redis."""
    if redis_url is None:
        return InMemoryVerdictCache(ttl=ttl)
    return RedisVerdictCache(redis_url, ttl=ttl, key_prefix=key_prefix)
