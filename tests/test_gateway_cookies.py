"""The shared upstream clients must not carry one tenant's cookies into another's requests."""

import asyncio

import httpx

from hydrawatch.gateway.config import Timeouts
from hydrawatch.gateway.httpclients import HttpClients, no_cookies


def test_jar_refuses_set_cookie() -> None:
    jar = no_cookies()
    req = httpx.Request("GET", "http://upstream.test/v1/chat/completions")
    resp = httpx.Response(200, headers={"set-cookie": "__cf_bm=tenant-A-secret; Path=/"}, request=req)
    jar.extract_cookies(resp)
    assert len(jar) == 0
    assert "cookie" not in {k.lower() for k in httpx.Request("GET", req.url, cookies=jar).headers}


def test_clients_do_not_replay_upstream_cookies() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "__cf_bm=tenant-A-secret; Path=/"}, json={})

    async def run() -> None:
        clients = HttpClients(Timeouts(), shards=1)
        client = clients.pick()
        client._transport = httpx.MockTransport(handler)  # swap the network out, keep the client's jar
        for _ in range(3):
            await client.get("http://upstream.test/v1/models")
        await clients.aclose()

    asyncio.run(run())
    assert seen == [None, None, None]
