"""The in-process quota store: plain dicts, updated without any ``await`` in between.

asyncio runs one coroutine at a time, so a reserve's "read all counters, check, add" is
atomic without a lock. Counters are dropped once their window (plus one window of grace)
has passed, unsettled reservations after a day and an hour."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Coroutine
from typing import Any

from hydrawatch.quota.limits import QuotaLimits
from hydrawatch.quota.plan import (
    accepted,
    denial,
    plan_charges,
    remaining_of,
    seen_values,
    settle_deltas,
    with_margin,
)
from hydrawatch.quota.store import new_reservation_id
from hydrawatch.quota.usage import Denied, Reservation, Usage

_PENDING_SECONDS = 86_400 + 3_600  # an unsettled reservation is forgotten (its estimate stays charged)


class InMemoryQuotaStore:
    def __init__(self, limits: QuotaLimits) -> None:
        self.limits = limits
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (value, expires_at)
        self._pending: dict[str, tuple[Reservation, float]] = {}
        # (expires_at, kind, key): a key's expiry never changes (windows are fixed), so
        # pruning pops expired keys off the heap in O(log n) each instead of sweeping
        self._expiries: list[tuple[float, int, str]] = []

    def _prune(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now:
            _, kind, key = heapq.heappop(heap)
            store: dict[str, Any] = self._counters if kind == 0 else self._pending
            entry = store.get(key)
            if entry is not None and entry[1] <= now:
                del store[key]

    def _value(self, key: str, now: float) -> int:
        entry = self._counters.get(key)
        return entry[0] if entry is not None and entry[1] > now else 0

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
        self._prune(now)
        estimate = with_margin(self.limits, estimate)
        charges = plan_charges(self.limits, account_id, campaign_id, estimate, now, tier, factor)
        current = [self._value(c.key, now) for c in charges]
        previous = [self._value(c.prev_key, now) if c.prev_key else 0 for c in charges]
        seen = seen_values(charges, current, previous)
        if not all(c.fits(v) for c, v in zip(charges, seen, strict=True)):
            return denial(charges, current, previous, now)
        for c, v in zip(charges, current, strict=True):
            entry = self._counters.get(c.key)
            if entry is None or entry[1] <= now:
                expires = now + c.ttl(now)
                heapq.heappush(self._expiries, (expires, 0, c.key))
            else:
                expires = entry[1]
            self._counters[c.key] = (v + c.amount, expires)
        r = accepted(new_reservation_id(), account_id, campaign_id, estimate, charges, seen, now)
        self._pending[r.id] = (r, now + _PENDING_SECONDS)
        heapq.heappush(self._expiries, (now + _PENDING_SECONDS, 1, r.id))
        return r

    async def settle(self, reservation: Reservation, actual: Usage) -> None:
        self._settle(reservation, actual)

    def settle_later(
        self, reservation: Reservation, actual: Usage, spawn: Callable[[Coroutine[Any, Any, Any]], None]
    ) -> None:
        self._settle(reservation, actual)  # nothing here waits: no task needed

    def _settle(self, reservation: Reservation, actual: Usage) -> None:
        if self._pending.pop(reservation.id, None) is None:
            return  # unknown, failed-open or already settled: exactly once
        for key, delta in settle_deltas(reservation, actual):
            entry = self._counters.get(key)
            if entry is not None and delta:
                self._counters[key] = (entry[0] + delta, entry[1])

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
        charges = plan_charges(self.limits, account_id, campaign_id, Usage(0, 0, 0), now, tier, factor)
        current = [self._value(c.key, now) for c in charges]
        previous = [self._value(c.prev_key, now) if c.prev_key else 0 for c in charges]
        return remaining_of(charges, seen_values(charges, current, previous))

    async def reservation(self, reservation_id: str) -> Reservation | None:
        entry = self._pending.get(reservation_id)
        return None if entry is None else entry[0]

    async def close(self) -> None:
        return None
