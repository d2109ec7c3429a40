"""The Redis quota store: replicas share counters; one Lua script per reserve and per settle.

Reserve: the script reads every applicable counter, and only if all of them have room adds
the estimate to all of them (and records the pending reservation), atomically. Settle: the
script deletes the pending record and, only if it existed, adds ``actual - estimate`` to the
counters that still exist; so a reservation settles exactly once, whichever replica asks.

Every call is bounded by ``limits.timeout``; on any Redis error the ``on_state_error`` rule
answers (``open``: allow, uncharged; ``closed``: deny), and Redis is not tried again for
``limits.breaker_seconds`` so a dead server costs one timeout, not one per request.
All keys live under ``limits.key_prefix`` and carry TTLs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import ResponseError
from redis.retry import Retry

from hydrawatch.quota.limits import QuotaLimits
from hydrawatch.quota.plan import (
    Charge,
    accepted,
    denial,
    plan_charges,
    remaining_of,
    seen_values,
    settle_deltas,
    with_margin,
)
from hydrawatch.quota.store import new_reservation_id
from hydrawatch.quota.usage import Denied, Metric, Reservation, Usage

log = logging.getLogger(__name__)
T = TypeVar("T")

_PENDING_SECONDS = 86_400 + 3_600

# KEYS[1] = pending record, then per counter i: KEYS[2i] = its counter, KEYS[2i+1] = the
# previous window's counter (read only when the weight is > 0, i.e. sliding windows)
# ARGV[1] = pending payload, ARGV[2] = pending ttl, then per counter: cap, amount, ttl, weight
# The check mirrors Charge.seen/fits in plan.py: cur + floor(prev * weight) + amount <= cap.
RESERVE_LUA = """
local n = (#KEYS - 1) / 2
local cur, prev = {}, {}
local ok = 1
for i = 1, n do
  local c = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local w = tonumber(ARGV[4 * i + 2])
  local p = 0
  if w > 0 then p = tonumber(redis.call('GET', KEYS[2 * i + 1]) or '0') end
  cur[i] = c
  prev[i] = p
  local amt = tonumber(ARGV[4 * i])
  local seen = c
  if w > 0 and p > 0 then seen = c + math.floor(p * w) end
  if amt > 0 and seen + amt > tonumber(ARGV[4 * i - 1]) then ok = 0 end
end
if ok == 0 then return {0, cur, prev} end
for i = 1, n do
  redis.call('INCRBY', KEYS[2 * i], ARGV[4 * i])
  redis.call('EXPIRE', KEYS[2 * i], ARGV[4 * i + 1])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {1, cur, prev}
"""

# KEYS[1] = pending record, KEYS[2..] = counters; ARGV[i] = delta for KEYS[i + 1]
SETTLE_LUA = """
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
for i = 2, #KEYS do
  local d = tonumber(ARGV[i - 1])
  if d ~= 0 and redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], d) end
end
return 1
"""


class StateUnavailable(RuntimeError):
    """Redis could not be reached in time (or the breaker is open)."""


def _dump(r: Reservation) -> str:
    e = r.estimate
    return json.dumps(
        {
            "a": r.account_id,
            "c": r.campaign_id,
            "e": [e.input_tokens, e.output_tokens, e.requests],
            "t": r.ts,
            "k": [list(kc) for kc in r.charged],
            "r": r.remaining,
        },
        separators=(",", ":"),
    )


def _load(reservation_id: str, raw: str | bytes) -> Reservation | None:
    try:
        d = json.loads(raw)
        e = d["e"]
        charged: tuple[tuple[str, Metric], ...] = tuple((str(k), m) for k, m in d["k"])
        return Reservation(
            id=reservation_id,
            account_id=str(d["a"]),
            campaign_id=None if d["c"] is None else str(d["c"]),
            estimate=Usage(int(e[0]), int(e[1]), int(e[2])),
            remaining={str(k): int(v) for k, v in d["r"].items()},
            ts=float(d["t"]),
            charged=charged,
        )
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


class RedisQuotaStore:
    def __init__(self, limits: QuotaLimits, redis_url: str) -> None:
        self.limits = limits
        self.prefix = limits.key_prefix
        pool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=limits.max_connections,
            timeout=limits.timeout,
            socket_timeout=limits.timeout,
            socket_connect_timeout=limits.timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self.redis: Redis = Redis(connection_pool=pool)
        self._reserve = self.redis.register_script(RESERVE_LUA)
        self._settle = self.redis.register_script(SETTLE_LUA)
        self._down_until = 0.0
        self.state_errors = 0  # Redis calls that failed or timed out
        self.lost_settlements = 0  # settles that could not reach Redis (their estimate stays charged)

    async def _call(self, aw: Awaitable[T]) -> T:
        if time.monotonic() < self._down_until:
            if asyncio.iscoroutine(aw):
                aw.close()
            raise StateUnavailable("quota state unavailable (recent Redis failure)")
        try:
            async with asyncio.timeout(self.limits.timeout * 2):  # bounds pool wait + connect + reply
                return await aw
        except ResponseError as e:  # Redis answered with an error: it is up, do not trip the breaker
            self.state_errors += 1
            log.warning("quota state error: %s", e)
            raise StateUnavailable(str(e)) from e
        except Exception as e:  # any network / timeout / pool failure
            self.state_errors += 1
            self._down_until = time.monotonic() + self.limits.breaker_seconds
            log.warning("quota state unavailable: %s: %s", type(e).__name__, e)
            raise StateUnavailable(str(e) or type(e).__name__) from e

    def _on_error(
        self, account_id: str, campaign_id: str | None, estimate: Usage, now: float
    ) -> Reservation | Denied:
        if self.limits.on_state_error == "closed":
            return Denied(
                limit="quota state unavailable",
                retry_after=max(1.0, self.limits.breaker_seconds),
                state_error=True,
            )
        return Reservation(
            id="open_" + new_reservation_id(),
            account_id=account_id,
            campaign_id=campaign_id,
            estimate=estimate,
            remaining={},
            ts=now,
            state_error=True,
        )

    async def reserve(
        self,
        account_id: str,
        campaign_id: str | None,
        estimate: Usage,
        now: float | None = None,
        *,
        tier: str | None = None,
        factor: float = 1.0,
    ) -> Reservation | Denied:
        now = time.time() if now is None else now
        estimate = with_margin(self.limits, estimate)
        charges = plan_charges(self.limits, account_id, campaign_id, estimate, now, tier, factor)
        rid = new_reservation_id()
        draft = accepted(rid, account_id, campaign_id, estimate, charges, [0] * len(charges), now)
        keys = [self.prefix + "res:" + rid]
        args: list[Any] = [_dump(draft), _PENDING_SECONDS]
        for c in charges:
            keys += [self.prefix + c.key, self.prefix + (c.prev_key or c.key)]
            args += [c.cap, c.amount, c.ttl(now), repr(c.prev_weight)]
        try:
            ok, cur_raw, prev_raw = await self._call(self._reserve(keys=keys, args=args))
        except StateUnavailable:
            return self._on_error(account_id, campaign_id, estimate, now)
        current, previous = [int(v) for v in cur_raw], [int(v) for v in prev_raw]
        if not ok:
            return denial(charges, current, previous, now)
        seen = seen_values(charges, current, previous)
        return accepted(rid, account_id, campaign_id, estimate, charges, seen, now)

    async def settle(self, reservation: Reservation, actual: Usage) -> None:
        if reservation.state_error:
            return
        deltas = settle_deltas(reservation, actual)
        keys = [self.prefix + "res:" + reservation.id] + [self.prefix + k for k, _ in deltas]
        try:
            await self._call(self._settle(keys=keys, args=[d for _, d in deltas]))
        except StateUnavailable:
            self.lost_settlements += 1

    def settle_later(
        self, reservation: Reservation, actual: Usage, spawn: Callable[[Coroutine[Any, Any, Any]], None]
    ) -> None:
        spawn(self.settle(reservation, actual))

    async def remaining(
        self,
        account_id: str,
        campaign_id: str | None,
        *,
        tier: str | None = None,
        factor: float = 1.0,
        now: float | None = None,
    ) -> dict[str, int]:
        now = time.time() if now is None else now
        charges: list[Charge] = plan_charges(
            self.limits, account_id, campaign_id, Usage(0, 0, 0), now, tier, factor
        )
        if not charges:
            return {}
        keys = [self.prefix + c.key for c in charges] + [self.prefix + (c.prev_key or c.key) for c in charges]
        try:
            raw = await self._call(self.redis.mget(keys))
        except StateUnavailable:
            return {}
        values = [int(v) if v is not None else 0 for v in raw]
        n = len(charges)
        return remaining_of(charges, seen_values(charges, values[:n], values[n:]))

    async def reservation(self, reservation_id: str) -> Reservation | None:
        try:
            raw = await self._call(self.redis.get(self.prefix + "res:" + reservation_id))
        except StateUnavailable:
            return None
        return None if raw is None else _load(reservation_id, raw)

    async def close(self) -> None:
        await self.redis.aclose()
