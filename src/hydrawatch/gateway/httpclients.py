"""Pooled HTTP clients to the upstreams.

A few ``httpx.AsyncClient`` shards, used round-robin, instead of one: httpcore checks every
idle connection of a pool on each request (a ``poll`` and an attribute lookup each), so
one pool of N keep-alive connections costs O(N) per request under concurrency; shards
divide that by their number. Every shard is created once and reused; TCP_NODELAY is set
because httpcore writes request headers and body separately.
"""

from __future__ import annotations

import itertools
import socket
import ssl
from functools import lru_cache
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from hydrawatch.gateway.config import Timeouts


def no_cookies() -> httpx.Cookies:
    """A cookie jar that stores nothing: the clients are shared by every account, so an
    upstream's Set-Cookie for one tenant must never be replayed on another tenant's request."""
    return httpx.Cookies(CookieJar(policy=refuse_all_cookies()))


def refuse_all_cookies() -> DefaultCookiePolicy:
    return DefaultCookiePolicy(allowed_domains=[])


class _FreshConnection:
    """httpcore ``trace`` hook: did this request open a new connection (or reuse one)?"""

    __slots__ = ("fresh",)

    def __init__(self) -> None:
        self.fresh = False

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        if name == "connection.connect_tcp.started":
            self.fresh = True


def _upstream_closed_it(e: httpx.HTTPError, fresh: bool) -> bool:
    """True when the request certainly did not reach the upstream's application, so sending
    it again cannot run it twice: the connection was refused, or a kept-alive connection
    failed before any byte of a response (the upstream had closed it as idle)."""
    if isinstance(e, httpx.ConnectError):
        return True
    if fresh:
        return False
    if isinstance(e, httpx.RemoteProtocolError):
        return "without sending a response" in str(e)
    return isinstance(e, httpx.ReadError | httpx.WriteError)


class HttpClients:
    def __init__(self, timeouts: Timeouts, *, shards: int = 4, max_connections: int = 1000) -> None:
        per = max(1, max_connections // shards)
        tls = ssl.create_default_context()  # one context for every shard (each costs ~0.2 s to build)

        def client(keepalive: int) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(
                    verify=tls,
                    limits=httpx.Limits(
                        max_connections=per, max_keepalive_connections=keepalive, keepalive_expiry=60.0
                    ),
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                ),
                timeout=httpx.Timeout(
                    connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
                ),
                follow_redirects=False,
                trust_env=False,
            )

        self.clients = [client(per) for _ in range(max(1, shards))]
        # retries go out on a connection of their own, never on another pooled one that the
        # upstream may have closed as well
        self.fresh = client(0)
        for c in (*self.clients, self.fresh):  # httpx copies a jar given to the constructor, without policy
            c.cookies.jar.set_policy(refuse_all_cookies())
        self._next = itertools.cycle(self.clients)
        self.retries = 0

    async def post(
        self, url: str, content: bytes, headers: dict[str, str], *, stream: bool = True
    ) -> httpx.Response:
        """POST through the pool. When the upstream had closed the kept-alive connection the
        request went out on (it never saw the request), send it once more on a new connection."""
        client = self.pick()
        hook = _FreshConnection()
        req = client.build_request(
            "POST", self.url(url), content=content, headers=headers, extensions={"trace": hook}
        )
        try:
            return await client.send(req, stream=stream)
        except httpx.TimeoutException:
            raise
        except httpx.HTTPError as e:
            if not _upstream_closed_it(e, hook.fresh):
                raise
            self.retries += 1
        req = self.fresh.build_request("POST", self.url(url), content=content, headers=headers)
        return await self.fresh.send(req, stream=stream)

    @staticmethod
    @lru_cache(maxsize=4096)
    def url(text: str) -> httpx.URL:
        """A parsed URL, cached: httpx's URL parsing costs ~0.5 ms per request otherwise."""
        return httpx.URL(text)

    def pick(self) -> httpx.AsyncClient:
        return next(self._next)

    async def aclose(self) -> None:
        for c in (*self.clients, self.fresh):
            await c.aclose()
