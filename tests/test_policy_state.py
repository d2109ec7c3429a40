"""Verdict cache (in-process and Redis) and audit log (JSONL file, Redis stream)."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.policy import AccountInfo, AuditLog, Decision, Policy, Verdict, make_verdict_cache, read_audit

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_up() -> bool:
    try:
        return bool(redis_sync.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis_sync.RedisError:
        return False


@pytest.fixture
def prefix() -> Iterator[str]:
    if not redis_up():
        pytest.skip("no Redis at 127.0.0.1:6379")
    p = f"hwtest:{secrets.token_hex(6)}:"
    yield p
    client = redis_sync.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=p + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def cache_args(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "memory":
        yield {"redis_url": None}
        return
    if not redis_up():
        pytest.skip("no Redis at 127.0.0.1:6379")
    p = f"hwtest:{secrets.token_hex(6)}:"
    yield {"redis_url": REDIS_URL, "key_prefix": p}
    client = redis_sync.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=p + "*"))
    if keys:
        client.delete(*keys)


def test_verdict_cache_round_trip_default_and_expiry(cache_args: dict[str, Any]) -> None:
    async def go() -> None:
        cache = make_verdict_cache(**cache_args)
        assert await cache.get("nobody") == Verdict(0.0)
        v = Verdict(0.91, "camp-1", ("lockstep timing with 30 accounts",))
        await cache.put("a", v)
        assert await cache.get("a") == v
        short = make_verdict_cache(**cache_args, ttl=-1.0)  # already expired when written
        await short.put("b", v)
        assert await short.get("b") == Verdict(0.0)
        await cache.close()
        await short.close()

    asyncio.run(go())


def test_memory_verdict_cache_is_bounded() -> None:
    from hydrawatch.policy import InMemoryVerdictCache

    async def go() -> None:
        cache = InMemoryVerdictCache(max_entries=3)
        for i in range(5):
            await cache.put(f"a{i}", Verdict(0.5))
        assert await cache.get("a0") == Verdict(0.0)
        assert await cache.get("a4") == Verdict(0.5)

    asyncio.run(go())


def test_redis_verdict_cache_survives_a_dead_server() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()

    async def go() -> None:
        cache = make_verdict_cache(f"redis://127.0.0.1:{port}/0")
        await cache.put("a", Verdict(0.8))  # not stored remotely, remembered locally
        assert await cache.get("a") == Verdict(0.8)
        assert await cache.get("z") == Verdict(0.0)
        await cache.close()

    asyncio.run(asyncio.wait_for(go(), timeout=10))


def test_audit_log_writes_actions_above_allow_and_overrides(tmp_path: Path) -> None:
    policy = Policy.from_yaml(
        "bands:\n  - {min: 0, max: 0.5, action: allow}\n  - {min: 0.5, max: 1, action: block}\n"
        "accounts: {allowlist: [friend]}\n"
    )

    async def go() -> None:
        log = AuditLog(tmp_path)
        for i, (acct, risk) in enumerate([("a", 0.1), ("b", 0.9), ("friend", 0.9), ("friend", 0.1)]):
            d = policy.decide(AccountInfo(acct), Verdict(risk, None, ("why",)))
            await log.record(ts=1000.0 + i, account_id=acct, decision=d, request_id=f"req-{i}")
        await log.close()

    asyncio.run(go())
    recs = list(read_audit(tmp_path))
    assert [(r["account_id"], r["action"], r["band_action"]) for r in recs] == [
        ("b", "block", "block"),
        ("friend", "allow", "block"),
    ]
    assert recs[0]["request_id"] == "req-1" and "why" in recs[0]["reasons"]
    assert any("allowlist" in r for r in recs[1]["reasons"])


def test_read_audit_skips_bad_lines(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").write_text('{"action": "block"}\nnot json\n[1]\n{"action": "verify"}\n')
    assert [r["action"] for r in read_audit(tmp_path)] == ["block", "verify"]
    assert list(read_audit(tmp_path / "nothing-here")) == []


@pytest.mark.services
def test_audit_log_streams_to_redis(tmp_path: Path, prefix: str) -> None:
    d = Decision("verify", ("risk 0.75",), 0.75, "c1", band_action="verify")

    async def go() -> None:
        log = AuditLog(tmp_path / "audit.jsonl", redis_url=REDIS_URL, key_prefix=prefix)
        await log.record(ts=1.0, account_id="a", decision=d, request_id="r1")
        await log.close()

    asyncio.run(go())
    entries = redis_sync.Redis.from_url(REDIS_URL).xrange(prefix + "audit")
    assert len(entries) == 1
    rec = json.loads(entries[0][1][b"record"])
    assert rec["action"] == "verify" and rec["campaign_id"] == "c1"
    assert [r["request_id"] for r in read_audit(tmp_path / "audit.jsonl")] == ["r1"]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80) | st.binary(max_size=80))
def test_stored_verdicts_and_reservations_parse_or_are_ignored(raw: str | bytes) -> None:
    from hydrawatch.policy.verdicts import verdict_from_json
    from hydrawatch.quota.redis_store import _load

    parsed = verdict_from_json(raw)
    assert parsed is None or isinstance(parsed[0], Verdict)
    _load("rsv_x", raw)  # None or a Reservation, never an exception


def test_stored_verdict_round_trip() -> None:
    from hydrawatch.policy.verdicts import verdict_from_json, verdict_to_json

    v = Verdict(0.7, "c", ("a", "b"))
    assert verdict_from_json(verdict_to_json(v, 5.0)) == (v, 5.0)
    assert verdict_from_json('{"risk": "nan", "exp": 1}') is None
    assert verdict_from_json('{"risk": 0.5, "exp": 1, "reasons": "x"}') is None
