"""The protection replay's figures: harvest before the first action, overall harvest, and
legitimate accounts that saw an action above throttle (bench/protection/measure.py), the
replay's request builder, and its account provisioning."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import orjson
import pytest

sys.path.append(str(Path(__file__).resolve().parent.parent / "bench" / "protection"))

import replay
from measure import Label, Outcome, first_actions, measure
from replay import build_request

from test_gateway_support import GatewayServer, gateway_config, run_servers

LABELS = {
    "h1": Label("C1", "hydra"),
    "h2": Label("C1", "hydra"),
    "u1": Label(None, "chat"),
    "u2": Label(None, "agentic"),
}


def test_harvest_before_action_and_overall() -> None:
    outs = [
        Outcome("h1", 1.0, 200, 100, 200, 100),  # served before h1's first action
        Outcome("h1", 2.0, 200, 100, 200, 50),  # served, degraded, after the action
        Outcome("h1", 3.0, 200, 100, 403, 0),  # blocked
        Outcome("h2", 1.5, 500, 0, 502, 0),  # failed when recorded: not in the unprotected figure
        Outcome("h2", 2.5, 200, 300, 200, 300),  # h2 never actioned: all of it counts before action
        Outcome("u1", 1.0, 200, 10, 200, 10),
        Outcome("u2", 1.0, 200, 10, 403, 0),
    ]
    audit = [
        {"ts": 2.0, "account_id": "h1", "action": "degrade"},
        {"ts": 3.0, "account_id": "h1", "action": "block"},
        {"ts": 1.0, "account_id": "u2", "action": "verify"},
        {"ts": 0.5, "account_id": "u1", "action": "allow"},  # not an action: ignored
    ]
    first, above = first_actions(audit)
    assert first == {"h1": 2.0, "u2": 1.0} and above == {"h1", "u2"}
    r = measure(outs, LABELS, first, above)
    c = r["campaigns"]["C1"]
    assert c["unprotected_exchanges"] == 4 and c["unprotected_tokens"] == 600
    assert c["before_action_exchanges"] == 2 and c["before_action_tokens"] == 400
    assert c["served_exchanges"] == 3 and c["served_tokens"] == 450
    assert c["before_action_exchange_share"] == pytest.approx(0.5)
    assert c["accounts"] == 2 and c["accounts_actioned"] == 1
    assert c["served_before_action_per_account"] == {"min": 1, "p50": 1, "p90": 1, "max": 1}
    lg = r["legitimate"]
    assert lg["accounts"] == 2 and lg["accounts_above_throttle"] == 1 and lg["share_above_throttle"] == 0.5
    assert lg["populations"]["agentic"]["refused_403"] == 1 and lg["populations"]["chat"]["served"] == 1


def test_build_request_keeps_what_the_scorer_reads() -> None:
    ev = {
        "ts": 1780000000.5,
        "account_id": "a",
        "model": "m",
        "ip": "198.51.100.7",
        "user_agent": "Anthropic/JS 0.39.0",
        "client_fingerprint": "t13d",
        "system": "be brief",
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "q2"},
        ],
        "params": {"max_tokens": 4096, "thinking": {"type": "enabled", "budget_tokens": 2048}},
    }
    path, body, headers = build_request(ev, "ev-7", "hw-key")
    b = orjson.loads(body)
    assert path == "/v1/messages" and headers["x-api-key"] == "hw-key"
    assert (
        headers["x-hydrawatch-replay-ts"] == "1780000000.5" and headers["x-forwarded-for"] == "198.51.100.7"
    )
    assert headers["x-ja4"] == "t13d" and headers["x-request-id"] == "ev-7"
    assert b["system"] == "be brief" and b["max_tokens"] == 4096 and b["thinking"]["budget_tokens"] == 2048
    assert [m["role"] for m in b["messages"]] == ["user", "assistant", "user"]
    ev2 = {
        **ev,
        "user_agent": "OpenAI/Python 1.0",
        "params": {"max_tokens": 8, "logprobs": True, "top_logprobs": 5},
    }
    path, body, headers = build_request(ev2, "ev-8", "hw-key")
    b = orjson.loads(body)
    assert path == "/v1/chat/completions" and headers["authorization"] == "Bearer hw-key"
    assert b["messages"][0] == {"role": "system", "content": "be brief"} and b["top_logprobs"] == 5


def test_provision_gives_the_gateway_each_accounts_payment_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "ADMIN", "admin-secret")  # the test gateway's admin token
    accounts = [
        {"account_id": "a1", "verified": True, "payment_fingerprint": "pm_shared"},
        {"account_id": "a2", "signup_path": "enterprise", "payment_fingerprint": "pm_shared"},
        {"account_id": "a3", "payment_fingerprint": None},
    ]
    for up, _ in run_servers():
        with GatewayServer(gateway_config(tmp_path, up.url)) as gw:

            async def go() -> dict[str, str]:
                async with httpx.AsyncClient(timeout=10) as http:
                    return await replay.provision(http, gw.url, accounts)

            keys = asyncio.run(go())
            got = {a: gw.call(lambda g, a=a: g.keys.get_account(a)) for a in ("a1", "a2", "a3")}
    assert sorted(keys) == ["a1", "a2", "a3"] and all(k.startswith("hw-") for k in keys.values())
    assert {a: (r.tier, r.verified, r.payment_fingerprint) for a, r in got.items()} == {
        "a1": ("standard", True, "pm_shared"),
        "a2": ("enterprise", False, "pm_shared"),
        "a3": ("standard", False, None),
    }
