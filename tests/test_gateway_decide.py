"""The decision API (/v1/decide, /v1/usage) and the ext_authz / auth_request endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hydrawatch.policy import Verdict
from test_gateway_support import GatewayServer, Seen, gateway_config, run_servers

SVC = {"x-hydrawatch-token": "decide-secret"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    seen = Seen()
    for up, _ in run_servers(seen):
        cfg = gateway_config(
            tmp_path_factory.mktemp("state"), up.url, quotas={"tiers": {"tiny": {"requests-day": 1}}}
        )
        with GatewayServer(cfg) as gw:
            yield gw


def decide(gw: GatewayServer, doc: dict[str, Any], headers: dict[str, str] = SVC) -> httpx.Response:
    return httpx.post(gw.url + "/v1/decide", json=doc, headers=headers)


def test_decide_needs_the_service_token(gateway: GatewayServer) -> None:
    assert decide(gateway, {"account_id": "a"}, {}).status_code == 401
    assert decide(gateway, {"account_id": "a"}, {"x-hydrawatch-token": "wrong"}).status_code == 403
    assert decide(gateway, {"account_id": "a"}, {"x-hydrawatch-token": "admin-secret"}).status_code == 200


def test_decide_then_usage_settles_and_records(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-dec")
    summary = {
        "api": "anthropic",
        "model": "claude-x",
        "max_tokens": 2000,
        "prompt_chars": 400,
        "ip": "198.51.100.4",
    }
    r = decide(gateway, {"key": key, "request": summary})
    assert r.status_code == 200
    d = r.json()
    assert d["allowed"] is True and d["status"] == 200 and d["action"] == "allow"
    assert d["account_id"] == "acct-dec" and d["reservation_id"].startswith("rsv_")
    assert d["remaining"]["tokens-day"] > 0 and "x-ratelimit-remaining-tokens" in d["headers"]
    before = gateway.call(lambda gw: gw.quota.remaining("acct-dec", None))
    u = httpx.post(
        gateway.url + "/v1/usage",
        json={
            "reservation_id": d["reservation_id"],
            "usage": {"input_tokens": 100, "output_tokens": 50},
            "status": 200,
            "latency_ms": 812.5,
        },
        headers=SVC,
    )
    assert u.status_code == 200 and u.json()["settled"] is True
    after = gateway.call(lambda gw: gw.quota.remaining("acct-dec", None))
    # the charged estimate (400/4 input x 1.2, the default input_estimate_margin, + 2000)
    # was replaced by the real 150 tokens
    assert after["tokens-day"] - before["tokens-day"] == (120 + 2000) - 150
    again = httpx.post(gateway.url + "/v1/usage", json={"reservation_id": d["reservation_id"]}, headers=SVC)
    assert again.status_code == 404
    ev = [e for e in gateway.events() if e["account_id"] == "acct-dec"]
    assert len(ev) == 1
    assert (ev[0]["input_tokens"], ev[0]["output_tokens"], ev[0]["status"]) == (100, 50, 200)
    assert (
        ev[0]["context_chars"] == 400
        and ev[0]["ip"] == "198.51.100.4"
        and ev[0]["source"] == "gateway-decide"
    )


def test_decide_with_full_body_and_account_id(gateway: GatewayServer) -> None:
    body = {"model": "gpt-x", "max_tokens": 64, "messages": [{"role": "user", "content": "describe a cat"}]}
    r = decide(gateway, {"account_id": "acct-body", "request": {"api": "openai", "body": body}})
    assert r.json()["allowed"] is True
    bad = decide(gateway, {"account_id": "acct-body", "request": {"api": "openai", "body": {"model": 1}}})
    assert bad.status_code == 400
    assert decide(gateway, {"request": {"api": "openai"}}).status_code == 400
    assert decide(gateway, {"key": "hw-nope", "request": {}}).status_code == 401


def test_decide_refusals_carry_reasons_and_retry_after(gateway: GatewayServer) -> None:
    gateway.call(
        lambda gw: gw.verdicts.put("acct-blocked", Verdict(0.97, "camp-9", ("shared payment method",)))
    )
    d = decide(gateway, {"account_id": "acct-blocked", "request": {"api": "openai", "model": "m"}}).json()
    assert d["allowed"] is False and d["status"] == 403 and d["action"] == "block"
    assert d["campaign_id"] == "camp-9" and any("shared payment" in x for x in d["reasons"])
    assert d["retry_after"] == 3600 and d["reservation_id"] is None
    gateway.call(lambda gw: gw.keys.set_account("acct-tiny", tier="tiny"))
    first = decide(gateway, {"account_id": "acct-tiny", "request": {"api": "openai", "model": "m"}}).json()
    second = decide(gateway, {"account_id": "acct-tiny", "request": {"api": "openai", "model": "m"}}).json()
    assert first["allowed"] is True and second["status"] == 429 and second["retry_after"] >= 1
    assert second["headers"]["retry-after"]


def test_authz_envoy_style(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-envoy")
    body = {"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": "hello"}]}
    r = httpx.post(gateway.url + "/v1/authz/v1/messages", json=body, headers={**SVC, "x-api-key": key})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["x-hydrawatch-account"] == "acct-envoy" and r.headers["x-hydrawatch-action"] == "allow"
    assert r.headers["x-hydrawatch-reservation"].startswith("rsv_")
    no_key = httpx.post(gateway.url + "/v1/authz/v1/messages", json=body, headers=SVC)
    assert no_key.status_code == 401 and no_key.json()["type"] == "error"
    gateway.call(lambda gw: gw.verdicts.put("acct-envoy", Verdict(0.99)))
    blocked = httpx.post(
        gateway.url + "/v1/authz/v1/chat/completions", headers={**SVC, "authorization": f"Bearer {key}"}
    )
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "account_blocked"


def test_authz_nginx_maps_429_to_403(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-nginx")
    gateway.call(lambda gw: gw.keys.set_account("acct-nginx", tier="tiny"))
    h = {
        **SVC,
        "authorization": f"Bearer {key}",
        "x-hydrawatch-mode": "nginx",
        "x-original-uri": "/v1/chat/completions",
    }
    assert httpx.get(gateway.url + "/v1/authz", headers=h).status_code == 200
    r = httpx.get(gateway.url + "/v1/authz", headers=h)
    assert (
        r.status_code == 403
        and r.headers["x-hydrawatch-status"] == "429"
        and int(r.headers["retry-after"]) >= 1
    )
