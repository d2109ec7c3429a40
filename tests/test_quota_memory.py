"""The in-process store forgets expired windows and old reservations (bounded memory)."""

from __future__ import annotations

import asyncio

from hydrawatch.quota import Reservation, Usage, load_limits
from hydrawatch.quota.memory import InMemoryQuotaStore


def test_expired_counters_and_reservations_are_dropped() -> None:
    store = InMemoryQuotaStore(load_limits(None))
    t0 = 1_800_000_000.0

    async def go() -> None:
        for i in range(500):
            assert isinstance(await store.reserve(f"a{i}", None, Usage(10, 10), t0), Reservation)
        assert len(store._counters) > 500 and len(store._pending) == 500
        # three days later only the new request's counters and reservation remain
        r = await store.reserve("late", None, Usage(1, 1), t0 + 3 * 86_400)
        assert isinstance(r, Reservation)
        assert len(store._pending) == 1
        assert all(k.startswith("account:late:") for k in store._counters)
        assert len(store._expiries) == len(store._counters) + 1

    asyncio.run(go())
