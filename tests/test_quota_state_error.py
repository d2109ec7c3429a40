"""Redis unreachable: reserve answers per ``on_state_error`` and never hangs."""

from __future__ import annotations

import asyncio
import socket

import pytest

from hydrawatch.quota import Denied, Reservation, Usage, load_limits, make_quota_store


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return f"redis://127.0.0.1:{port}/0"


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_unreachable_redis_follows_the_setting(mode: str) -> None:
    limits = load_limits({"quotas": {"on_state_error": mode, "timeout_ms": 100}})
    store = make_quota_store(limits, closed_port_url())

    async def go() -> list[Reservation | Denied]:
        try:
            # bounded overall so a hang fails the test instead of blocking the suite
            return await asyncio.wait_for(
                asyncio.gather(*(store.reserve("a", "c", Usage(10, 10)) for _ in range(20))), timeout=10
            )
        finally:
            await store.close()

    results = asyncio.run(go())
    assert len(results) == 20
    for r in results:
        assert r.state_error
        if mode == "open":
            assert isinstance(r, Reservation) and r.remaining == {} and r.charged == ()
        else:
            assert isinstance(r, Denied) and r.limit == "quota state unavailable" and r.retry_after >= 1


def test_unreachable_redis_settle_and_remaining_do_not_raise() -> None:
    store = make_quota_store(load_limits({"quotas": {"timeout_ms": 100}}), closed_port_url())

    async def go() -> None:
        r = await store.reserve("a", None, Usage(1, 1))
        assert isinstance(r, Reservation)
        await store.settle(r, Usage(1, 1))
        fake = Reservation(
            "rsv_x", "a", None, Usage(1, 1), {}, charged=(("account:a:tokens:minute:1", "tokens"),)
        )
        await store.settle(fake, Usage(1, 1))
        assert await store.remaining("a", None) == {}
        assert await store.reservation("rsv_x") is None
        await store.close()

    asyncio.run(asyncio.wait_for(go(), timeout=10))
