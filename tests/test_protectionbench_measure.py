"""The protection replay's figures: harvest before the first action, overall harvest, and
legitimate accounts that saw an action above throttle (bench/protection/measure.py), and the
replay's request builder."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

sys.path.append(str(Path(__file__).resolve().parent.parent / "bench" / "protection"))

from measure import Label, Outcome, first_actions, measure
from replay import build_request

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
