"""Shared state failing underneath the gateway, without a real Redis: the key lookup falls
back to the last answer it saw (503 for a key it never saw), and the Redis event sink keeps
rows it could not write and writes each exactly once when Redis is back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hydrawatch.gateway.auth import Authenticator
from hydrawatch.gateway.errors import GatewayError
from hydrawatch.gateway.keystore import AccountRecord, KeyRecord
from hydrawatch.gateway.recorder import RedisEventSink


class FlakyKeys:
    """A key store that can be switched off (every call raises, like an unreachable Redis)."""

    def __init__(self) -> None:
        self.down = False
        self.known = {"hw-good": KeyRecord("key_1", "acct-1", "", "hw-good", 0.0)}

    async def authenticate(self, key: str) -> KeyRecord | None:
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")
        return self.known.get(key)

    async def get_account(self, account_id: str) -> AccountRecord:
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")
        return AccountRecord(account_id, "free")


def test_key_store_down_uses_the_last_answer_else_503() -> None:
    store = FlakyKeys()
    auth = Authenticator(store, cache_seconds=0)  # type: ignore[arg-type]

    async def go() -> None:
        rec, acct = await auth.authenticate("hw-good")
        assert (rec.account_id, acct.tier) == ("acct-1", "free")
        store.down = True
        rec, acct = await auth.authenticate("hw-good")  # seen before: still served
        assert rec.key_id == "key_1" and auth.stale_hits == 1
        with pytest.raises(GatewayError) as e:
            await auth.authenticate("hw-never-seen")
        assert e.value.status == 503 and e.value.headers == {"retry-after": "1"}
        store.down = False
        with pytest.raises(GatewayError) as e:  # the store is back and says no
            await auth.authenticate("hw-never-seen")
        assert e.value.status == 401

    asyncio.run(go())


def test_revoked_key_is_forgotten_not_served_stale() -> None:
    store = FlakyKeys()
    auth = Authenticator(store, cache_seconds=0)  # type: ignore[arg-type]

    async def go() -> None:
        await auth.authenticate("hw-good")
        del store.known["hw-good"]  # revoked
        with pytest.raises(GatewayError) as e:
            await auth.authenticate("hw-good")
        assert e.value.status == 401
        store.down = True
        with pytest.raises(GatewayError) as e:
            await auth.authenticate("hw-good")
        assert e.value.status == 503  # no stale answer for a key the store refused

    asyncio.run(go())


class FlakyRedis:
    """Just enough of ``redis.asyncio.Redis`` for the sink: pipelines of XADD."""

    def __init__(self) -> None:
        self.down = False
        self.stream: list[bytes] = []

    def pipeline(self, transaction: bool = True) -> Any:
        outer = self

        class Pipe:
            def __init__(self) -> None:
                self.rows: list[bytes] = []

            def xadd(self, name: str, fields: dict[str, bytes], **kw: Any) -> None:
                self.rows.append(fields["row"])

            async def execute(self) -> None:
                if outer.down:
                    raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")
                outer.stream.extend(self.rows)

        return Pipe()

    async def aclose(self) -> None:
        pass


def test_sink_keeps_rows_while_redis_is_down_and_writes_each_once() -> None:
    r = FlakyRedis()
    sink = RedisEventSink(r, "p:events", maxsize=100, batch_size=7)

    async def go() -> None:
        for i in range(10):
            sink.submit({"i": i})
        r.down = True
        await sink.flush()
        for i in range(10, 20):
            sink.submit({"i": i})
        await sink.flush()
        assert sink.pending() == 20 and sink.dropped == 0 and sink.errors == 2 and r.stream == []
        r.down = False
        await sink.flush()
        assert sink.pending() == 0 and sink.recorded == 20

    asyncio.run(go())
    assert r.stream == [f'{{"i":{i}}}'.encode() for i in range(20)]  # all, in order, once


def test_sink_outage_longer_than_the_queue_drops_and_counts() -> None:
    r = FlakyRedis()
    r.down = True
    sink = RedisEventSink(r, "p:events", maxsize=5, batch_size=2)

    async def go() -> None:
        for i in range(8):
            sink.submit({"i": i})
            await sink.flush()
        r.down = False
        await sink.flush()

    asyncio.run(go())
    assert sink.dropped == 3 and sink.recorded == 5
    assert r.stream == [f'{{"i":{i}}}'.encode() for i in range(5)]  # the oldest kept, newest dropped
