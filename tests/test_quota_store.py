"""One behaviour suite for both quota stores (in-process and the real Redis)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import redis as redis_sync

from hydrawatch.quota import (
    Denied,
    QuotaLimits,
    QuotaStore,
    Reservation,
    Usage,
    load_limits,
    make_quota_store,
)

T = TypeVar("T")
REDIS_URL = "redis://127.0.0.1:6379/0"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def redis_up() -> bool:
    try:
        return bool(redis_sync.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis_sync.RedisError:
        return False


def small_limits(prefix: str, window: str = "fixed") -> QuotaLimits:
    return load_limits(
        {
            "quotas": {
                "window": window,
                "key_prefix": prefix,
                "timeout_ms": 5000,  # a loaded test machine must not turn into state errors
                "input_estimate_margin": 0,
                "tiers": {
                    "standard": {"tokens-minute": 1000, "tokens-day": 5000, "requests-minute": 10},
                    "big": {"tokens-minute": 100_000},
                    "narrow": {"output-tokens-minute": 100, "input-tokens-day": 300},
                },
                "campaign": {"tokens-minute": 1500, "requests-day": 1000},
            }
        }
    )


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def store_factory(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        yield lambda window="fixed": make_quota_store(small_limits("t:", window), None)
        return
    if not redis_up():
        pytest.skip("no Redis at 127.0.0.1:6379")
    prefix = f"hwtest:{secrets.token_hex(6)}:"
    yield lambda window="fixed": make_quota_store(small_limits(prefix, window), REDIS_URL)
    client = redis_sync.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)


NOW = 1_800_000_030.0  # 30 s into a minute


def use(store_factory: Any, body: Any, window: str = "fixed") -> Any:
    async def go() -> Any:
        store: QuotaStore = store_factory(window)
        try:
            return await body(store)
        finally:
            await store.close()

    return run(go())


def test_reserve_charges_the_estimate_and_reports_remaining(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        now = time.time()
        r = await store.reserve("acct", None, Usage(100, 200), now)
        assert isinstance(r, Reservation)
        assert r.remaining == {"tokens-minute": 700, "tokens-day": 4700, "requests-minute": 9}
        assert await store.remaining("acct", None, now=now) == r.remaining

    use(store_factory, body)


def test_denied_names_the_limit_and_when_to_retry(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        assert isinstance(await store.reserve("acct", None, Usage(600, 300), NOW), Reservation)
        d = await store.reserve("acct", None, Usage(50, 100), NOW)
        assert isinstance(d, Denied)
        assert d.limit == "account tokens per minute"
        assert d.retry_after == pytest.approx(30.0)
        assert d.remaining["tokens-minute"] == 100
        # a denial charges nothing; a request that fits still passes
        ok = await store.reserve("acct", None, Usage(50, 50), NOW)
        assert isinstance(ok, Reservation) and ok.remaining["tokens-minute"] == 0

    use(store_factory, body)


def test_denial_prefers_the_limit_that_resets_last(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        for i in range(5):  # 5 x 1000 tokens fills the day, in five different minutes
            assert isinstance(await store.reserve("acct", None, Usage(1000, 0), NOW + 60 * i), Reservation)
        d = await store.reserve("acct", None, Usage(1000, 0), NOW + 300)
        assert isinstance(d, Denied) and d.limit == "account tokens per day"
        assert d.retry_after > 3600

    use(store_factory, body)


def test_settle_replaces_the_estimate_exactly_once(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        now = time.time()
        r = await store.reserve("acct", None, Usage(100, 500), now)
        assert isinstance(r, Reservation)
        await store.settle(r, Usage(100, 50))
        await store.settle(r, Usage(100, 50))  # a second settle changes nothing
        left = await store.remaining("acct", None, now=now)
        assert left["tokens-minute"] == 1000 - 150
        assert left["requests-minute"] == 9

    use(store_factory, body)


def test_settle_later_settles_through_spawn_or_at_once(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        now = time.time()
        r = await store.reserve("acct", None, Usage(100, 500), now)
        assert isinstance(r, Reservation)
        spawned: list[asyncio.Task[Any]] = []
        store.settle_later(r, Usage(100, 50), lambda c: spawned.append(asyncio.create_task(c)))
        await asyncio.gather(*spawned)
        left = await store.remaining("acct", None, now=now)
        assert left["tokens-minute"] == 1000 - 150

    use(store_factory, body)


def test_settle_above_the_estimate_is_counted(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        now = time.time()
        r = await store.reserve("acct", None, Usage(10, 10), now)
        assert isinstance(r, Reservation)
        await store.settle(r, Usage(10, 1200))  # usage beyond the estimate is never lost
        left = await store.remaining("acct", None, now=now)
        assert left["tokens-minute"] == 0
        assert left["tokens-day"] == 5000 - 1210
        assert isinstance(await store.reserve("acct", None, Usage(1, 0), now), Denied)

    use(store_factory, body)


def test_reservation_can_be_found_by_id_until_settled(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        r = await store.reserve("acct", "camp", Usage(5, 6), time.time())
        assert isinstance(r, Reservation)
        found = await store.reservation(r.id)
        assert found is not None
        assert (found.account_id, found.campaign_id, found.estimate, found.charged) == (
            r.account_id,
            r.campaign_id,
            r.estimate,
            r.charged,
        )
        await store.settle(found, Usage(5, 1))
        assert await store.reservation(r.id) is None

    use(store_factory, body)


def test_campaign_budget_is_shared_across_accounts(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        assert isinstance(await store.reserve("a1", "camp", Usage(900, 0), NOW), Reservation)
        r = await store.reserve("a2", "camp", Usage(500, 0), NOW)
        assert isinstance(r, Reservation) and r.remaining["campaign-tokens-minute"] == 100
        d = await store.reserve("a3", "camp", Usage(200, 0), NOW)
        assert isinstance(d, Denied) and d.limit == "campaign tokens per minute"
        # the same account outside the campaign is not limited by it
        assert isinstance(await store.reserve("a3", None, Usage(200, 0), NOW), Reservation)

    use(store_factory, body)


def test_tiers_and_unknown_tier(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        r = await store.reserve("vip", None, Usage(50_000, 0), NOW, tier="big")
        assert isinstance(r, Reservation) and r.remaining == {"tokens-minute": 50_000}
        d = await store.reserve("someone", None, Usage(50_000, 0), NOW, tier="no-such-tier")
        assert isinstance(d, Denied) and "alone exceeds" in d.limit
        n = await store.reserve("n", None, Usage(250, 101), NOW, tier="narrow")
        assert isinstance(n, Denied) and n.limit.startswith("account output-tokens per minute")
        n2 = await store.reserve("n", None, Usage(250, 100), NOW, tier="narrow")
        assert isinstance(n2, Reservation)
        assert n2.remaining == {"output-tokens-minute": 0, "input-tokens-day": 50}

    use(store_factory, body)


def test_throttle_factor_scales_account_limits_only(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        r = await store.reserve("t", "camp", Usage(150, 0), NOW, factor=0.2)
        assert isinstance(r, Reservation)
        assert r.remaining["tokens-minute"] == 50  # 1000 * 0.2 - 150
        assert r.remaining["requests-minute"] == 1  # 10 * 0.2 - 1
        assert r.remaining["campaign-tokens-minute"] == 1350  # campaign limit untouched
        assert isinstance(await store.reserve("t", "camp", Usage(100, 0), NOW, factor=0.2), Denied)
        assert isinstance(await store.reserve("t", None, Usage(100, 0), NOW, factor=1.0), Reservation)

    use(store_factory, body)


def test_new_window_starts_empty(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        now = time.time()
        assert isinstance(await store.reserve("w", None, Usage(1000, 0), now), Reservation)
        assert isinstance(await store.reserve("w", None, Usage(1, 0), now), Denied)
        later = await store.reserve("w", None, Usage(1000, 0), now + 60)
        assert isinstance(later, Reservation) and later.remaining["tokens-day"] == 3000

    use(store_factory, body)


def test_concurrent_reservations_never_overshoot(store_factory: Any) -> None:
    """300 concurrent clients race for 1000 tokens/minute: exactly 10 of 100 tokens fit."""

    async def body(store: QuotaStore) -> None:
        now = time.time()

        async def client(i: int) -> Reservation | Denied:
            return await store.reserve(f"acct-{i % 3}", "camp", Usage(60, 40), now, tier="big")

        results = await asyncio.gather(*(client(i) for i in range(300)))
        ok = [r for r in results if isinstance(r, Reservation)]
        assert len(ok) == 15  # the campaign's 1500 tokens/minute is the binding limit
        left = await store.remaining("acct-0", "camp", tier="big", now=now)
        assert left["campaign-tokens-minute"] == 0
        await asyncio.gather(*(store.settle(r, Usage(60, 10)) for r in ok))
        left = await store.remaining("acct-0", "camp", tier="big", now=now)
        assert left["campaign-tokens-minute"] == 1500 - 15 * 70

    use(store_factory, body)


def test_input_margin_holds_budget_until_settle(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        object.__setattr__(store.limits, "input_margin", 0.5)  # type: ignore[attr-defined]
        now = time.time()
        r = await store.reserve("m", None, Usage(100, 100), now)
        assert isinstance(r, Reservation)
        assert r.estimate == Usage(150, 100, 1) and r.remaining["tokens-minute"] == 750
        await store.settle(r, Usage(130, 20))
        assert (await store.remaining("m", None, now=now))["tokens-minute"] == 850

    use(store_factory, body)


def test_absurd_estimates_are_clamped_not_errors(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        d = await store.reserve("huge", None, Usage(10**30, 2**70), NOW)
        assert isinstance(d, Denied) and not d.state_error and "alone exceeds" in d.limit
        r = await store.reserve("huge", None, Usage(10, 10), NOW)
        assert isinstance(r, Reservation) and not r.state_error
        await store.settle(r, Usage(10**30, 10**30))  # garbage usage from upstream: clamped, counted
        assert (await store.remaining("huge", None, now=NOW))["tokens-minute"] == 0

    use(store_factory, body)


MINUTE = 1_800_000_000.0  # a minute boundary


def test_sliding_window_counts_the_previous_window_share(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        assert isinstance(await store.reserve("s", None, Usage(1000, 0), MINUTE - 30), Reservation)
        # 15 s into the next minute, 3/4 of the previous minute still counts: 750 seen
        assert (await store.remaining("s", None, now=MINUTE + 15))["tokens-minute"] == 250
        d = await store.reserve("s", None, Usage(300, 0), MINUTE + 15)
        assert isinstance(d, Denied) and d.limit == "account tokens per minute"
        assert d.retry_after == pytest.approx(3.0)  # at +18 s only 700 of the old 1000 count
        ok = await store.reserve("s", None, Usage(300, 0), MINUTE + 18)
        assert isinstance(ok, Reservation) and ok.remaining["tokens-minute"] == 0
        # fixed windows would have allowed the whole limit again right after the boundary
        again = await store.reserve("s", None, Usage(400, 0), MINUTE + 30)
        assert isinstance(again, Denied)

    use(store_factory, body, window="sliding")


def test_sliding_denial_waits_for_the_current_window_to_decay(store_factory: Any) -> None:
    async def body(store: QuotaStore) -> None:
        assert isinstance(await store.reserve("s", None, Usage(800, 0), MINUTE + 10), Reservation)
        d = await store.reserve("s", None, Usage(400, 0), MINUTE + 20)
        assert isinstance(d, Denied)
        # next minute, the 800 must decay to 600: 1/4 into it, i.e. 15 s after the boundary
        assert d.retry_after == pytest.approx(40.0 + 15.0)

    use(store_factory, body, window="sliding")
