"""Routing by model across several upstreams, /v1/models merged per API, 5xx pass-through."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai

from test_gateway_support import GatewayServer, Seen, ServerThread, fake_upstream, gateway_config


def test_models_route_to_their_upstream(tmp_path: Path) -> None:
    seen_a, seen_b = Seen(), Seen()
    with ServerThread(fake_upstream(seen_a)) as a, ServerThread(fake_upstream(seen_b)) as b:
        cfg = gateway_config(
            tmp_path,
            a.url,
            upstreams=[
                {"base_url": a.url + "/v1", "api": "openai", "models": ["fake-a", "fake-5*"]},
                {"base_url": b.url, "api": "anthropic", "models": ["fake-b"]},
            ],
            upstream_5xx="passthrough",
        )
        with GatewayServer(cfg) as gw:
            key = gw.new_key("acct-route")
            oai = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
            oai.chat.completions.create(model="fake-a", messages=[{"role": "user", "content": "x"}])
            body = {"model": "fake-b", "max_tokens": 5, "messages": [{"role": "user", "content": "y"}]}
            r = httpx.post(gw.url + "/v1/messages", json=body, headers={"x-api-key": key})
            assert r.status_code == 200
            assert seen_a.paths == ["/v1/chat/completions"] and seen_b.paths == ["/v1/messages"]
            # a model served only by the other API's upstream, and a model nobody serves
            wrong = httpx.post(
                gw.url + "/v1/chat/completions", json={**body, "model": "fake-b"}, headers={"x-api-key": key}
            )
            assert wrong.status_code == 400 and "anthropic" in wrong.json()["error"]["message"]
            missing = httpx.post(
                gw.url + "/v1/messages", json={**body, "model": "gpt-9"}, headers={"x-api-key": key}
            )
            assert missing.status_code == 404 and missing.json()["type"] == "error"
            # each API lists only its own upstreams' models, filtered by the globs
            assert [m.id for m in oai.models.list()] == ["fake-a"]
            listed = httpx.get(
                gw.url + "/v1/models", headers={"x-api-key": key, "anthropic-version": "2023-06-01"}
            )
            assert [m["id"] for m in listed.json()["data"]] == ["fake-b"]
            # upstream_5xx: passthrough relays the upstream's own 500
            with_500 = httpx.post(
                gw.url + "/v1/chat/completions",
                json={"model": "fake-500", "messages": [{"role": "user", "content": "z"}]},
                headers={"x-api-key": key},
            )
            assert with_500.status_code == 500 and "fake upstream says 500" in with_500.text
