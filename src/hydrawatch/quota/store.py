"""The quota store contract, and the factory choosing its backend."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from hydrawatch.quota.limits import QuotaLimits
from hydrawatch.quota.usage import Denied, Reservation, Usage


class QuotaStore(Protocol):
    """Reserve an estimate before forwarding, settle with real usage after.

    ``tier`` picks the account's limits (default tier when None or unknown); ``factor``
    multiplies the account limits (a throttle decision passes e.g. 0.2)."""

    async def reserve(
        self,
        account_id: str,
        campaign_id: str | None,
        estimate: Usage,
        now: float | None = None,
        *,
        tier: str | None = None,
        factor: float = 1.0,
    ) -> Reservation | Denied: ...

    async def settle(self, reservation: Reservation, actual: Usage) -> None: ...

    def settle_later(
        self, reservation: Reservation, actual: Usage, spawn: Callable[[Coroutine[Any, Any, Any]], None]
    ) -> None:
        """``settle`` off the request path: ``spawn`` runs a coroutine in the background (a
        store with nothing to wait for settles at once, without a task per request)."""
        ...

    async def remaining(
        self,
        account_id: str,
        campaign_id: str | None,
        *,
        tier: str | None = None,
        factor: float = 1.0,
        now: float | None = None,
    ) -> dict[str, int]: ...

    async def reservation(self, reservation_id: str) -> Reservation | None: ...

    async def close(self) -> None: ...


def new_reservation_id() -> str:
    return "rsv_" + secrets.token_hex(12)


def make_quota_store(limits: QuotaLimits, redis_url: str | None) -> QuotaStore:
    """The in-process store when ``redis_url`` is None, else the Redis store (shared by replicas)."""
    if redis_url is None:
        from hydrawatch.quota.memory import InMemoryQuotaStore

        return InMemoryQuotaStore(limits)
    from hydrawatch.quota.redis_store import RedisQuotaStore

    return RedisQuotaStore(limits, redis_url)
