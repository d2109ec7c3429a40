"""Three gateway replicas share quotas through the real Redis: exact accounting.

30 concurrent clients (official OpenAI and Anthropic SDKs; streamed and whole answers,
``n > 1``, streams cancelled mid-way) against an upstream whose real usage differs from the
gateway's estimate. After the run every quota counter in Redis must equal the usage the
upstream really produced for the requests the gateway admitted (cancelled streams: what
was sent), no reservation may be left pending, and no token limit may be exceeded by more
than 1%. The replicas run in this process (one uvicorn server and event loop per thread);
``bench/replicas/quota_accuracy.py`` runs them as separate ``hydrawatch serve`` processes.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from hydrawatch.policy import Verdict
from test_gateway_support import GatewayServer, ServerThread, gateway_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "replicas"))
from usage_upstream import Ledger, UsageUpstream
from workload import (
    Sdks,
    compare,
    expected_totals,
    make_plans,
    overshoots,
    read_counters,
    run_clients,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.services

TIER = {"tokens-day": 12_000, "input-tokens-day": 5_000, "output-tokens-day": 9_000, "requests-day": 400}
CAMPAIGN = {"tokens-day": 30_000, "output-tokens-day": 22_000}


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"hwtest:{secrets.token_hex(6)}:"
    yield p
    r = redis.Redis.from_url(REDIS_URL)
    names = list(r.scan_iter(match=p + "*"))
    if names:
        r.delete(*names)
    r.close()


def _limits() -> dict[tuple[str, str], int]:
    out = {("account", k): v for k, v in TIER.items()}
    out.update({("campaign", k): v for k, v in CAMPAIGN.items()})
    return out


def test_three_replicas_account_every_token(prefix: str, tmp_path: Path) -> None:
    ledger = Ledger(ratio_low=3.0, ratio_high=4.6)  # real input: often above the chars/4 guess
    raw: dict[str, Any] = {
        "redis": REDIS_URL,
        "redis_prefix": prefix,
        "quotas": {"tiers": {"standard": TIER}, "campaign": CAMPAIGN, "timeout_ms": 5000},
        "keys": {"secret": "replica-test-secret-" + "x" * 24, "cache_seconds": 1},
    }
    plans = make_plans(7, clients=30, per_client=5, accounts=6)
    with ServerThread(UsageUpstream(ledger)) as up:
        cfgs = [gateway_config(tmp_path / f"r{i}", up.url, **raw) for i in range(3)]
        with GatewayServer(cfgs[0]) as g0, GatewayServer(cfgs[1]) as g1, GatewayServer(cfgs[2]) as g2:
            replicas = [g0, g1, g2]
            accounts = sorted({p.account for p in plans})
            keys = {a: g0.new_key(a) for a in accounts}
            for p in plans:
                if p.campaign:
                    g0.call(lambda gw, a=p.account, c=p.campaign: gw.verdicts.put(a, Verdict(0.3, c)))

            async def drive() -> list[Any]:
                sdks = Sdks([g.url for g in replicas], keys)
                try:
                    return await run_clients(sdks, plans, len(replicas))
                finally:
                    await sdks.aclose()

            outcomes = asyncio.run(drive())
            for g in replicas:
                g.drain()  # settles are spawned off the request path: wait for them
            truth = httpx.get(up.url + "/truth").json()
    expected, tally, unanswered = expected_totals(plans, outcomes, truth)
    r = redis.Redis.from_url(REDIS_URL)
    try:
        counters, pending = read_counters(r, prefix + "quota:")
    finally:
        r.close()
    # the run exercised every path, and the limits were reached
    known = {"completed", "completed (stream)", "cancelled stream", "status 429", "campaign verdict missed"}
    errors = {o.error for o in outcomes if o.status == -1}
    assert set(tally) <= known, (tally, errors)
    assert tally["cancelled stream"] >= 5 and tally["completed (stream)"] >= 5 and tally["completed"] >= 5
    assert tally["status 429"] >= 10, tally
    # exact accounting: every counter equals the real usage of what was admitted
    assert pending == 0
    assert not unanswered  # every client got an answer
    assert compare(counters, expected) == []
    assert {(s, o) for (s, o, _m, _w) in counters} >= {("campaign", "camp-bench"), ("account", "acct-000")}
    worst = overshoots(counters, _limits())
    assert worst and worst[0][3] <= 0.01, worst[:3]
