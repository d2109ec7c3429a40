"""The pooled HTTP client to the upstreams (aiohttp).

aiohttp rather than httpx: on this gateway's forwarding path httpx (httpx -> httpcore -> h11
-> anyio) cost about 0.7 ms of CPU per request, aiohttp about 0.1 ms (a bare Starlette proxy
in front of the same stub: 1,130 vs 5,940 req/s on one core), and the request path's budget is
a few milliseconds in all.

What the rest of the gateway sees is this module's small surface: ``HttpClients.post`` /
``get`` return an ``UpstreamResponse`` (``status_code``, ``headers``, ``aread``, ``aiter_raw``,
``aclose``) and failures are ``UpstreamTimeout`` or ``UpstreamUnavailable``, whatever the
library underneath raises.

- One connection pool for every upstream, TCP_NODELAY, keep-alive 60 s, no cookies (the pool is
  shared by every account, so an upstream's Set-Cookie for one tenant must never be replayed on
  another tenant's request), no redirects, no proxy settings from the environment, bodies passed
  through undecoded.
- A request that failed on a kept-alive connection before any byte of a response (the upstream
  had closed the connection as idle) is sent once more on a new connection: the upstream never
  saw it. A failure on a new connection is never retried (the upstream may have seen it).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from typing import Any

import aiohttp

from hydrawatch.gateway.config import Timeouts


class UpstreamError(Exception):
    """The upstream could not be used for this request."""


class UpstreamTimeout(UpstreamError):
    """No connection, or no bytes, within the configured timeout."""


class UpstreamUnavailable(UpstreamError):
    """Refused, reset, or broken off (the message names the underlying error)."""


def _mapped(e: BaseException) -> UpstreamError:
    if isinstance(e, TimeoutError):
        return UpstreamTimeout(type(e).__name__)
    return UpstreamUnavailable(type(e).__name__)


class UpstreamResponse:
    """An upstream's answer, its body read later (whole or as it arrives)."""

    __slots__ = ("_r",)

    def __init__(self, r: aiohttp.ClientResponse) -> None:
        self._r = r

    @property
    def status_code(self) -> int:
        return self._r.status

    @property
    def headers(self) -> Mapping[str, str]:
        """Case-insensitive."""
        return self._r.headers

    async def aread(self) -> bytes:
        """The whole body; the connection is given back (or closed) either way."""
        try:
            return await self._r.read()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise _mapped(e) from e
        finally:
            await self.aclose()

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (chunked encoding removed, nothing decoded)."""
        try:
            async for chunk in self._r.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as e:
            raise _mapped(e) from e

    async def aclose(self) -> None:
        """Give the connection back when the body was read to its end, else close it."""
        if self._r.content.at_eof():
            self._r.release()
        else:
            self._r.close()


class _Attempt:
    """Per request: did it go out on a new connection (or on a kept-alive one)?"""

    __slots__ = ("fresh",)

    def __init__(self) -> None:
        self.fresh = False


# the request being sent by the current task (each request runs in a task of its own)
_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("hydrawatch_upstream_attempt", default=None)


class _Connector(aiohttp.TCPConnector):
    """Marks the current request's attempt when it needs a new connection.

    Not an aiohttp ``TraceConfig`` hook: with a trace config aiohttp builds trace objects and
    sends a dozen signals on every request (about 2% of the gateway's CPU per request)."""

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        attempt = _ATTEMPT.get()
        if attempt is not None:
            attempt.fresh = True
        return await super()._create_connection(req, traces, timeout)


def _upstream_closed_it(e: BaseException, fresh: bool) -> bool:
    """True when the request certainly did not reach the upstream's application, so sending
    it again cannot run it twice: the connection was refused, or a kept-alive connection
    failed before any byte of a response (the upstream had closed it as idle)."""
    if isinstance(e, aiohttp.ClientConnectorError):
        return True
    if fresh:
        return False
    return isinstance(e, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError)


class HttpClients:
    """The gateway's connection pool to its upstreams. The aiohttp session is made on first
    use, inside the running event loop."""

    def __init__(self, timeouts: Timeouts, *, max_connections: int = 1000) -> None:
        self.timeouts = timeouts
        self.max_connections = max_connections
        self.retries = 0
        self._session: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None
        self._tls: ssl.SSLContext | None = None

    def _timeout(self) -> aiohttp.ClientTimeout:
        t = self.timeouts
        return aiohttp.ClientTimeout(
            total=None, connect=t.pool + t.connect, sock_connect=t.connect, sock_read=t.read
        )

    def _make(self, *, keepalive: bool) -> aiohttp.ClientSession:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        connector = _Connector(
            limit=self.max_connections,
            limit_per_host=0,
            keepalive_timeout=60.0 if keepalive else None,
            force_close=not keepalive,
            ssl=self._tls,
        )  # aiohttp sets TCP_NODELAY on every connection
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout(),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=("User-Agent", "Content-Type", "Accept", "Accept-Encoding"),
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = self._make(keepalive=True)
        return self._session

    @property
    def fresh(self) -> aiohttp.ClientSession:
        """Retries go out on a connection of their own, never on another pooled one that the
        upstream may have closed as well."""
        if self._fresh is None:
            self._fresh = self._make(keepalive=False)
        return self._fresh

    async def post(self, url: str, content: bytes, headers: Mapping[str, str]) -> UpstreamResponse:
        """POST through the pool; the body is read by the caller. Raises ``UpstreamError``."""
        return await self._send("POST", url, content, headers)

    async def get(self, url: str, headers: Mapping[str, str]) -> UpstreamResponse:
        return await self._send("GET", url, None, headers)

    async def _send(
        self, method: str, url: str, content: bytes | None, headers: Mapping[str, str]
    ) -> UpstreamResponse:
        attempt = _Attempt()
        token = _ATTEMPT.set(attempt)
        try:
            r = await self.session.request(method, url, data=content, headers=headers, allow_redirects=False)
            return UpstreamResponse(r)
        except TimeoutError as e:
            raise _mapped(e) from e
        except aiohttp.ClientError as e:
            if not _upstream_closed_it(e, attempt.fresh):
                raise _mapped(e) from e
            self.retries += 1
        finally:
            _ATTEMPT.reset(token)
        try:
            r = await self.fresh.request(method, url, data=content, headers=headers, allow_redirects=False)
            return UpstreamResponse(r)
        except (TimeoutError, aiohttp.ClientError) as e:
            raise _mapped(e) from e

    async def aclose(self) -> None:
        for s in (self._session, self._fresh):
            if s is not None:
                await s.close()
        self._session = self._fresh = None
